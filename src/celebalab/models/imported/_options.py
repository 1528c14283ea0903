"""What ``celebalab model import`` takes (:class:`ImportOptions`), declared with the shared
options: the flags are made from these fields (:func:`celebalab.cli_options.with_options`).
No torch here: ``celebalab --help`` reads it."""

from __future__ import annotations

from dataclasses import dataclass

from celebalab.options import ConfigError, Interval, OneOf, Options, option

KINDS: tuple[str, ...] = ("identity", "attributes")
CHANNELS: tuple[str, ...] = ("rgb", "bgr")
ALIGNMENTS: tuple[str, ...] = ("arcface", "dlib", "crop-center", "crop-none")


@dataclass(frozen=True)
class Preset:
    """Preprocessing a family of models was trained with (pixel-scale mean and std)."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channels: str
    alignment: str
    note: str


#: ``--preset arcface``: InsightFace recognition models (``w600k_mbf.onnx``, ``w600k_r50.onnx``
#: of the ``buffalo_s``/``buffalo_l`` packs): 112×112, (x − 127.5) / 127.5, RGB, ArcFace template.
PRESETS: dict[str, Preset] = {
    "arcface": Preset(
        112, (127.5,) * 3, (127.5,) * 3, "rgb", "arcface", "InsightFace ArcFace preprocessing"
    ),
}


#: Help panel of the preprocessing options (``model import --help``).
_PREPROCESS = "Preprocessing"


@dataclass(frozen=True, kw_only=True)
class ImportOptions(Options):
    """Preprocessing of a model file; ``None`` fields come from the preset or the file."""

    WHAT = "import"

    kind: str = option("identity", help="What the model outputs: identity (image → embedding) "
                       "or attributes (image → 40 logits).", check=OneOf(KINDS))  # fmt: skip
    preset: str | None = option(
        None, check=OneOf(tuple(PRESETS)), panel=_PREPROCESS,
        help="Preprocessing of a model family; arcface: InsightFace recognisers (112 px, "
        "(x − 127.5) / 127.5, RGB, ArcFace five-point alignment).",
    )  # fmt: skip
    input_size: int | None = option(
        None, help="Square input side in px (read from the file when it fixes one).",
        check=Interval(int, 16, 1024), panel=_PREPROCESS,
    )  # fmt: skip
    mean: tuple[float, ...] | None = option(
        None, panel=_PREPROCESS,
        help="Per-channel mean on the 0–255 scale, e.g. 127.5 or 123.7,116.3,103.5.",
    )  # fmt: skip
    std: tuple[float, ...] | None = option(
        None, panel=_PREPROCESS,
        help="Per-channel std on the 0–255 scale (input = (pixel − mean) / std).",
    )  # fmt: skip
    channels: str | None = option(None, help="Channel order.", check=OneOf(CHANNELS),
                                  panel=_PREPROCESS)  # fmt: skip
    alignment: str | None = option(
        None, check=OneOf(ALIGNMENTS), panel=_PREPROCESS,
        help="How a face becomes the input: arcface (five-point template), crop-center (central "
        "square of CelebA's aligned image, the default) or crop-none (whole image).",
    )  # fmt: skip
    arch: str | None = option(None, help="Network of a state dict (small_cnn, resnet18, …).")
    licence: str = option("", help="Licence note recorded in run.json (who may use the weights).")

    def check(self) -> None:
        """One or three means and stds (pixel scale), the stds positive."""
        for name, values in (("--mean", self.mean), ("--std", self.std)):
            if values is not None and len(values) not in (1, 3):
                raise ConfigError(
                    f"{name} takes 1 or 3 numbers (pixel scale 0–255), got {len(values)}"
                )
        if self.std is not None and any(v <= 0 for v in self.std):
            raise ConfigError("--std values must be positive")
