"""What an explain run computes (:class:`ExplainConfig`), declared with the shared options
(:mod:`celebalab.options`): one constraint per field, one error class, unknown keys refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from celebalab.explain.falsification import FalsificationSettings
from celebalab.explain.methods import METHOD_NAMES, AttributionSettings
from celebalab.options import FRACTION, ConfigError, Interval, IsBool, Names, OneOf, Options, option
from celebalab.runtime import SPLITS


@dataclass(frozen=True, kw_only=True)
class ExplainConfig(Options):
    """What an explain run computes; ``attribution`` and ``falsification`` hold the methods' and
    the falsification test's own settings (:class:`AttributionSettings`,
    :class:`FalsificationSettings`)."""

    WHAT = "explain"

    methods: tuple[str, ...] = option(METHOD_NAMES, help="Attribution methods.",
                                      check=Names("method", METHOD_NAMES))  # fmt: skip
    attributes: tuple[str, ...] | None = option(
        None, help="Attributes explained (default: every attribute with a region)."
    )
    n: int = option(500, help="Images per attribute (and pairs).", check=Interval(int, 1))
    split: str = option("test", help="The split images come from.", check=OneOf(SPLITS))
    pairs: bool = option(False, help="Also explain pair decisions (embedding cosine).",
                         check=IsBool())  # fmt: skip
    regions: str | None = option(None, help="JSON/YAML {attribute: [mask classes or groups]}.")
    top_fraction: float = option(0.1, help="Top fraction for recall/coherence.", check=FRACTION,
                                 flag="--top-q")  # fmt: skip
    batch_size: int = option(32, help="Images per attribution call.", check=Interval(int, 1))
    seed: int = option(0, help="Seed for image choice, Random, FR draws, CIs.",
                       check=Interval(int, 0))  # fmt: skip
    samples: int = option(3, help="Images per decision shown in the report.",
                          check=Interval(int, 0))  # fmt: skip
    attribution: AttributionSettings = field(default_factory=AttributionSettings)
    falsification: FalsificationSettings = field(default_factory=FalsificationSettings)

    def check(self) -> None:
        """Empty lists are refused (not read as "all"); a region file is read before any work."""
        from celebalab.explain.regions import load_region_table

        if not self.methods:
            raise ConfigError(f"--methods: no method given; choose from {', '.join(METHOD_NAMES)}")
        if self.attributes is not None and not self.attributes:
            raise ConfigError("--attributes: no attribute given (leave it out for every "
                              "attribute with a region)")  # fmt: skip
        if self.regions is not None:
            load_region_table(self.regions)

    def fingerprint(self, run_dir: Path, root: Path) -> str:
        """Hash of everything that changes the numbers: a checkpoint is reused only if equal."""
        text = json.dumps([str(run_dir.resolve()), str(root.resolve()), asdict(self)], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
