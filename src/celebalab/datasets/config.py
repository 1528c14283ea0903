"""What ``data verify`` and ``data pack`` do, declared once with the shared options
(:mod:`celebalab.options`): :func:`~celebalab.datasets.verify.verify_dataset` and
:func:`~celebalab.datasets.packed.pack_images` check their arguments with these dataclasses and
the commands make their flags from them (:func:`celebalab.cli_options.with_options`).
No torch here: ``celebalab --help`` reads it."""

from __future__ import annotations

from dataclasses import dataclass

from celebalab.datasets.decode import CROPS
from celebalab.options import Interval, OneOf, Options, option

#: Largest side of a packed image, in pixels.
MAX_SIZE = 4096


@dataclass(frozen=True, kw_only=True)
class VerifyOptions(Options):
    """Settings of :func:`celebalab.datasets.verify.verify_dataset` (``data verify``)."""

    WHAT = "verification"

    sample: int | None = option(
        None, help="Decode only N randomly chosen images (and their masks).",
        check=Interval(int, 0),
    )  # fmt: skip
    workers: int | None = option(None, help="Processes for decoding (default: all cores).",
                                 check=Interval(int, 1))  # fmt: skip
    seed: int = option(0, help="Seed of the --sample draw.", check=Interval(int))
    max_listed: int = option(20, help="Problems listed per category.", check=Interval(int, 0))


@dataclass(frozen=True, kw_only=True)
class PackOptions(Options):
    """Settings of :func:`celebalab.datasets.packed.pack_images` (``data pack``)."""

    WHAT = "packing"

    size: int = option(64, help="Side of the square images, in pixels.",
                       check=Interval(int, 1, MAX_SIZE))  # fmt: skip
    crop: str = option(
        "center", check=OneOf(CROPS),
        help="'center': central square then resize; 'none': squeeze to S×S.",
    )  # fmt: skip
    workers: int | None = option(None, help="Decoding processes (default: all CPUs).",
                                 check=Interval(int, 1))  # fmt: skip
