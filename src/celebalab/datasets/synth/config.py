"""What ``data synth`` writes, declared once with the shared options (:mod:`celebalab.options`):
:func:`~celebalab.datasets.synth.generate` checks its arguments with :class:`SynthOptions` and
the command makes its flags from it (:func:`celebalab.cli_options.with_options`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celebalab.datasets.synth._counterfactual import PAIRABLE
from celebalab.datasets.synth._sampling import IMAGES_PER_IDENTITY
from celebalab.options import ConfigError, Constraint, Interval, Names, Options, option

#: Smallest image side synth draws (the face parts need room).
MIN_SIDE = 16


def parse_size(text: str) -> tuple[int, int] | None:
    """``"178x218"`` → ``(178, 218)``; None when ``text`` is not ``WIDTHxHEIGHT``."""
    width, sep, height = str(text).lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    return int(width), int(height)


@dataclass(frozen=True)
class WidthByHeight(Constraint):
    """``WIDTHxHEIGHT`` text whose sides are at least ``low`` pixels."""

    low: int

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is no ``WIDTHxHEIGHT`` size of at least ``low`` a side, or None."""
        size = parse_size(value) if isinstance(value, str) else None
        if size is None:
            return f"must be WIDTHxHEIGHT, e.g. 178x218, not {value!r}"
        if min(size) < self.low:
            return f"must be at least {self.low} pixels a side, got {value!r}"
        return None


@dataclass(frozen=True, kw_only=True)
class SynthOptions(Options):
    """Settings of :func:`celebalab.datasets.synth.generate` (``data synth``)."""

    WHAT = "synthesis"

    n: int = option(1000, help="Number of CelebA images.", check=Interval(int, 1))
    seed: int = option(0, help="Random seed (same seed, same bytes).", check=Interval(int, 0))
    n_hq: int | None = option(None, help="Images also in CelebAMask-HQ [default: n].",
                              check=Interval(int, 0))  # fmt: skip
    hq_size: int = option(256, help="CelebA-HQ image side (px).", check=Interval(int, MIN_SIDE))
    mask_size: int | None = option(None, help="Mask side (px) [default: hq size].",
                                   check=Interval(int, MIN_SIDE))  # fmt: skip
    aligned_size: str = option("178x218", help="Aligned CelebA size WIDTHxHEIGHT.",
                               check=WidthByHeight(MIN_SIDE))  # fmt: skip
    # Repeatable on the command line, so the command declares the flag (with this help).
    shortcuts: tuple[str, ...] = option(
        (), help="ATTR:REGION spurious cue in train only (repeatable).", flag="--shortcut",
        cli=False,
    )  # fmt: skip
    workers: int | None = option(None, help="Processes [default: CPU count].",
                                 check=Interval(int, 1))  # fmt: skip
    images_per_identity: float = option(IMAGES_PER_IDENTITY, check=Interval(float, 1),
                                        help="Faces per identity (CelebA: ~20).")  # fmt: skip
    pairs: tuple[str, ...] = option(
        (), help="Counterfactual pairs for ATTR[,ATTR…] (one region changed).",
        check=Names("pair attribute", tuple(sorted(PAIRABLE))),
    )  # fmt: skip
    pairs_per_attribute: int = option(50, help="Test images paired per attribute.",
                                      check=Interval(int, 1))  # fmt: skip

    def check(self) -> None:
        """The HQ subset is part of the CelebA images."""
        if self.n_hq is not None and self.n_hq > self.n:
            raise ConfigError(f"--n-hq must be between 0 and --n ({self.n}); got {self.n_hq}")

    @property
    def aligned_pixels(self) -> tuple[int, int]:
        """``aligned_size`` as (width, height)."""
        size = parse_size(self.aligned_size)
        assert size is not None  # checked on construction
        return size
