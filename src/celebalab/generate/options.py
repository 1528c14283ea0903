"""What ``gan sample`` and ``gan evaluate`` do, declared once with the shared options
(:mod:`celebalab.options`): :func:`~celebalab.generate.sample.sample_images`,
:func:`~celebalab.generate.sample.write_samples` and
:func:`~celebalab.generate.evaluate.evaluate_gan` check their arguments with these dataclasses and
the commands make their flags from them (:func:`celebalab.cli_options.with_options`). Training's
options are :class:`~celebalab.generate.config.GanConfig`. No torch here: ``celebalab --help``
reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celebalab.options import ConfigError, Constraint, Interval, Options, option


def _bad_attr(text: str) -> str | None:
    """The first item of ``NAME=0,NAME=1…`` text that is no ``NAME=0``/``NAME=1``, or None."""
    for item in text.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep or not name.strip() or value.strip() not in ("0", "1"):
            return item
    return None


def parse_attrs(text: str | None) -> dict[str, int]:
    """``"Smiling=1,Male=0"`` → ``{"Smiling": 1, "Male": 0}`` (values 0/1; a bad item is a
    :class:`~celebalab.options.ConfigError`)."""
    if not text:
        return {}
    problem = AttrValues().problem(text)
    if problem:
        raise ConfigError(f"--attrs {problem}")
    pairs = (item.strip().partition("=") for item in text.split(","))
    return {name.strip(): int(value) for name, _, value in pairs}


@dataclass(frozen=True)
class AttrValues(Constraint):
    """Conditioned attribute values as text: ``NAME=0`` or ``NAME=1``, separated by commas."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is no ``NAME=0,NAME=1…`` text, or None."""
        if not isinstance(value, str):
            return f"must be text such as Smiling=1,Male=0, got {value!r}"
        bad = _bad_attr(value)
        return None if bad is None else f"{value!r}: expected NAME=0 or NAME=1, got {bad!r}"


@dataclass(frozen=True, kw_only=True)
class SampleOptions(Options):
    """Settings of ``gan sample``: :func:`~celebalab.generate.sample.sample_images` (``n``,
    ``seed``; ``attrs`` as :func:`parse_attrs` reads them) and
    :func:`~celebalab.generate.sample.write_samples` (``upscale``)."""

    WHAT = "sampling"

    n: int = option(64, help="Number of faces.", check=Interval(int, 1))
    seed: int = option(0, help="Noise seed: same seed, same faces.", check=Interval(int))
    attrs: str | None = option(None, help="Conditioned attributes, e.g. Smiling=1,Male=0.",
                               check=AttrValues())  # fmt: skip
    upscale: int = option(1, help="Bicubic enlargement factor (adds pixels, not detail).",
                          check=Interval(int, 1))  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class GanEvaluateOptions(Options):
    """Settings of :func:`~celebalab.generate.evaluate.evaluate_gan` (``gan evaluate``; the
    classifier run is its required argument, ``inception`` its ``inception_weights``)."""

    WHAT = "GAN evaluation"

    inception: str | None = option(
        None, help="Local Inception weights for true FID/KID (never downloaded)."
    )
    root: str | None = option(None, help="Dataset root (default: the training one).")
    n: int = option(2000, help="Samples per set (capped at half the train split).",
                    check=Interval(int, 10))  # fmt: skip
    seed: int = option(0, help="Seed of the samples and subsets.", check=Interval(int))
