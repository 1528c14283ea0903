"""The planted-shortcut verdict: attribution moves to the planted region only when its share of
the attribution there is above the region's area with confidence intervals apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from celebalab.explain.summary import _shortcuts

CUT = "Male:background"


def _frame(rng: np.random.Generator, method: str, share: float, n: int = 60) -> pd.DataFrame:
    area = rng.uniform(0.28, 0.32, n)
    return pd.DataFrame(
        {
            "decision": "Male",
            "method": method,
            f"planted:{CUT}": np.clip(share + rng.normal(0, 0.03, n), 0, 1),
            f"planted_area:{CUT}": area,
            f"cue:{CUT}": np.arange(n) % 4 != 0,
        }
    )


def test_only_a_method_concentrated_on_the_planted_region_is_said_to_move() -> None:
    rng = np.random.default_rng(0)
    attrs = pd.concat(
        [_frame(rng, "gradcam", share=0.7), _frame(rng, "random", share=0.3)], ignore_index=True
    )
    verdict = _shortcuts(attrs, seed=0)[CUT]
    assert verdict["gradcam"]["moves_to_planted_region"] is True
    assert verdict["random"]["moves_to_planted_region"] is False
    cued = attrs[attrs[f"cue:{CUT}"] & (attrs["method"] == "gradcam")]
    assert verdict["gradcam"]["share"]["n"] == len(cued)
    assert np.isclose(verdict["gradcam"]["share"]["mean"], cued[f"planted:{CUT}"].mean())


def test_no_planted_columns_means_no_verdict() -> None:
    attrs = pd.DataFrame({"decision": ["Male"], "method": ["ig"], "precision": [0.5]})
    assert _shortcuts(attrs, seed=0) == {}
