"""What an explain run computes (:class:`ExplainConfig`, with the methods' settings
:class:`AttributionSettings` and the falsification test's :class:`FalsificationSettings`),
declared with the shared options (:mod:`celebalab.options`): one constraint per field, one error
class, unknown keys refused; ``explain``'s flags are made from the same fields
(:func:`celebalab.cli_options.with_options`). No torch here: ``celebalab --help`` reads it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from celebalab.options import FRACTION, ConfigError, Interval, IsBool, Names, OneOf, Options, option
from celebalab.runtime import SPLITS

_AT_LEAST_1 = Interval(int, 1)
#: Help panels of ``explain --help``.
_DATA, _METHODS, _MEASUREMENT = "Data", "Methods", "Measurement"
#: The attribution methods (:func:`celebalab.explain.methods.attribute`), in report order.
METHOD_NAMES: tuple[str, ...] = (
    "gradcam",
    "gradcam++",
    "ig",
    "gradshap",
    "kernelshap",
    "lime",
    "occlusion",
    "saliency",
    "random",
    "center",
)


@dataclass(frozen=True, kw_only=True)
class AttributionSettings(Options):
    """Knobs of the methods; the defaults are the libraries' usual ones, sized for CPU runs."""

    WHAT = "attribution"

    ig_steps: int = option(32, help="Integrated Gradients steps.", check=_AT_LEAST_1,
                           panel=_METHODS)  # fmt: skip
    gradshap_samples: int = option(16, help="GradientSHAP samples.", check=_AT_LEAST_1,
                                   panel=_METHODS)  # fmt: skip
    gradshap_stdev: float = option(0.1, help="GradientSHAP noise std.", check=Interval(float, 0),
                                   panel=_METHODS)  # fmt: skip
    shap_samples: int = option(128, help="KernelSHAP perturbations per image.",
                               check=_AT_LEAST_1, panel=_METHODS)  # fmt: skip
    lime_samples: int = option(128, help="LIME perturbations per image.", check=_AT_LEAST_1,
                               panel=_METHODS)  # fmt: skip
    superpixels: int = option(48, help="SLIC superpixels for LIME/KernelSHAP.",
                              check=Interval(int, 2), panel=_METHODS)  # fmt: skip
    occlusion_window: int | None = option(None, help="Occlusion window (default: a quarter of "
                                          "the side).", check=_AT_LEAST_1,
                                          panel=_METHODS)  # fmt: skip
    perturbations_per_eval: int = option(64, help="Perturbed images per forward pass.",
                                         check=_AT_LEAST_1, panel="Speed")  # fmt: skip
    center_sigma: float = option(0.25, help="Sigma of the centre baseline, of the side.",
                                 check=Interval(float, 0, strict=True),
                                 panel=_METHODS)  # fmt: skip


#: How the falsification test fills removed pixels.
FILLS: tuple[str, ...] = ("blur", "mean", "inpaint")


@dataclass(frozen=True, kw_only=True)
class FalsificationSettings(Options):
    """Knobs of the falsification test and of the deletion/insertion curves."""

    WHAT = "falsification"

    top_fraction: float = option(0.1, help="FR: fraction of pixels removed.", flag="--fr-q",
                                 check=FRACTION, panel=_MEASUREMENT)  # fmt: skip
    fill: str = option("blur", help="FR fill: blur, mean or inpaint (ROAD-style).",
                       check=OneOf(FILLS), flag="--fr-fill", panel=_MEASUREMENT)  # fmt: skip
    draws: int = option(8, help="FR: random equal-area draws per image.", flag="--fr-draws",
                        check=Interval(int, 1), panel=_MEASUREMENT)  # fmt: skip
    margin: float = option(0.0, help="FR: margin in decision-score units.", flag="--fr-margin",
                           panel=_MEASUREMENT)  # fmt: skip
    steps: int = option(10, help="Deletion/insertion steps.", flag="--curve-steps",
                        check=Interval(int, 1), panel=_MEASUREMENT)  # fmt: skip
    #: On the command line one ``--seed`` sets this and the explain run's seed.
    seed: int = option(0, help="Seed of the random draws.", check=Interval(int, 0),
                       flag="--seed")  # fmt: skip
    batch_size: int = option(256, help="FR: perturbed images per forward pass.",
                             check=Interval(int, 1), flag="--fr-batch-size",
                             panel="Speed")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ExplainConfig(Options):
    """What an explain run computes; ``attribution`` and ``falsification`` hold the methods' and
    the falsification test's own settings (:class:`AttributionSettings`,
    :class:`FalsificationSettings`)."""

    WHAT = "explain"

    methods: tuple[str, ...] = option(METHOD_NAMES, help="Attribution methods, comma-separated.",
                                      check=Names("method", METHOD_NAMES),
                                      panel=_METHODS)  # fmt: skip
    attributes: tuple[str, ...] | None = option(
        None, help="Attributes explained, comma-separated (default: every attribute with a "
        "region).", panel=_DATA,
    )  # fmt: skip
    n: int = option(500, help="Images per attribute (and pairs).", check=Interval(int, 1),
                    panel=_DATA)  # fmt: skip
    split: str = option("test", help="The split images come from.", check=OneOf(SPLITS),
                        panel=_DATA)  # fmt: skip
    pairs: bool = option(False, help="Also explain pair decisions (embedding cosine).",
                         check=IsBool(), panel=_DATA)  # fmt: skip
    regions: str | None = option(None, help="JSON/YAML {attribute: [mask classes or groups]}.",
                                 panel=_DATA)  # fmt: skip
    top_fraction: float = option(0.1, help="Top fraction for recall/coherence.", check=FRACTION,
                                 flag="--top-q", panel=_MEASUREMENT)  # fmt: skip
    batch_size: int = option(32, help="Images per attribution call.", check=Interval(int, 1),
                             panel="Speed")  # fmt: skip
    seed: int = option(0, help="Seed for image choice, Random, FR draws, CIs.",
                       check=Interval(int, 0), panel=_DATA)  # fmt: skip
    samples: int = option(3, help="Images per decision shown in the report.",
                          check=Interval(int, 0), panel="Output")  # fmt: skip
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
