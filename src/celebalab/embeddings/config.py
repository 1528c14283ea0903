"""What ``embed import``, ``export``, ``extract`` and ``evaluate`` do, declared once with the
shared options (:mod:`celebalab.options`): the library functions check their arguments with these
dataclasses and the commands make their flags from them
(:func:`celebalab.cli_options.with_options`). No torch here: ``celebalab --help`` reads it."""

from __future__ import annotations

from dataclasses import dataclass

from celebalab.options import Interval, IsBool, OneOf, Options, option
from celebalab.runtime import SPLITS

#: How units are run: ``loop`` in this process, ``lightning`` through ``Trainer.predict``,
#: ``auto`` the loop on one device and Lightning on several.
ENGINES: tuple[str, ...] = ("auto", "loop", "lightning")
#: Layouts ``embed export`` writes (celeba-vis: CelebA-Vis's ``celeba_buffalo_*.csv``).
FORMATS: tuple[str, ...] = ("celeba-vis",)


@dataclass(frozen=True, kw_only=True)
class EmbeddingImportOptions(Options):
    """Settings of :func:`~celebalab.embeddings.import_celeba_vis_csv` and
    :func:`~celebalab.embeddings.import_npy` (``embed import``): paths only, nothing to check
    but the names."""

    WHAT = "import"

    images: str | None = option(None, help="Folder holding the image files (for viewers).")
    ids: str | None = option(None, help="For .npy: id list, one 'image_id [identity]' per line.")
    root: str | None = option(None, help="CelebA copy: partition (and missing labels) from it.")


@dataclass(frozen=True, kw_only=True)
class EmbeddingExportOptions(Options):
    """Settings of ``embed export``."""

    WHAT = "export"

    fmt: str = option("celeba-vis", help="celeba-vis: CelebA-Vis's celeba_buffalo_*.csv layout.",
                      check=OneOf(FORMATS), flag="--format")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ExtractOptions(Options):
    """Settings of :func:`celebalab.embeddings.extract.extract_embeddings` (``embed extract``)."""

    WHAT = "extraction"

    split: str = option("all", help="The split extracted.", check=OneOf(SPLITS))
    batch_size: int = option(256, help="Images per forward pass.", check=Interval(int, 1),
                             panel="Speed")  # fmt: skip
    normalise: bool = option(True, help="L2-normalise classifier features.", check=IsBool())
    devices: int = option(1, help="GPUs; >1 runs Lightning predict with DDP.",
                          check=Interval(int, 1), panel="Speed")  # fmt: skip
    device: str | None = option(None, help="cpu, cuda or cuda:N (default: auto).", panel="Speed")
    workers: int | None = option(
        None, check=Interval(int, 0), panel="Speed",
        help="Image decoding threads (processes when dlib detects or cuts the faces).",
    )  # fmt: skip
    engine: str = option("auto", help="How units run (tests force lightning on one CPU).",
                         check=OneOf(ENGINES), cli=False)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class EvaluateOptions(Options):
    """Settings of :func:`celebalab.embeddings.evaluate.evaluate_embeddings`
    (``embed evaluate``)."""

    WHAT = "evaluation"

    split: str = option("test", help="The split evaluated.", check=OneOf(SPLITS))
    probabilities: str | None = option(
        None, help="Set of the same images with attribute probabilities (baseline)."
    )
    max_pairs: int = option(2_000_000, help="Verification pairs (all if fewer).",
                            check=Interval(int, 10))  # fmt: skip
    pixel_size: int = option(32, help="Side of the pixel-PCA baseline images.",
                             check=Interval(int, 4))  # fmt: skip
    pca_components: int = option(128, help="Components of the pixel-PCA baseline.",
                                 check=Interval(int, 1))  # fmt: skip
    seed: int = option(0, help="Seed of the pair sample and the PCA.", check=Interval(int, 0))
    baselines: bool = option(True, help="Also measure the pixel-PCA and attribute baselines.",
                             check=IsBool())  # fmt: skip
