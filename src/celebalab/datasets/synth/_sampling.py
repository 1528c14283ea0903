"""The synthetic dataset's *plan*: identities, partitions, attributes, label noise, shortcut cues.

Attributes come from a conditional generative model: identity-level traits first (sex, age,
hair, face shape, …), then per-image draws (expression, accessories, makeup, facial hair) whose
probabilities depend on the traits and on a per-identity propensity. Every conditional is
*calibrated*: relative weights say who is more likely to have an attribute, and one scale per
attribute is solved so that the expected positive rate equals CelebA's published rate. Everything
is held in compact arrays (a few bytes per image), sampled with numpy in one vectorised pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from celebalab.datasets.schema import (
    ATTRIBUTE_NAMES,
    CELEBA_PARTITION_SIZES,
    DEFAULT_REGION_GROUPS,
    MASK_CLASS_NAMES,
    attribute_index,
    unknown_name_message,
)
from celebalab.errors import CelebalabError

#: Published positive rates of the 40 CelebA attributes (the generator's marginal targets).
# fmt: off
TARGET_RATES: MappingProxyType[str, float] = MappingProxyType(
    {
        "5_o_Clock_Shadow": 0.111,
        "Arched_Eyebrows": 0.267,
        "Attractive": 0.513,
        "Bags_Under_Eyes": 0.205,
        "Bald": 0.022,
        "Bangs": 0.152,
        "Big_Lips": 0.241,
        "Big_Nose": 0.235,
        "Black_Hair": 0.239,
        "Blond_Hair": 0.148,
        "Blurry": 0.051,
        "Brown_Hair": 0.205,
        "Bushy_Eyebrows": 0.142,
        "Chubby": 0.058,
        "Double_Chin": 0.047,
        "Eyeglasses": 0.065,
        "Goatee": 0.063,
        "Gray_Hair": 0.042,
        "Heavy_Makeup": 0.387,
        "High_Cheekbones": 0.455,
        "Male": 0.417,
        "Mouth_Slightly_Open": 0.483,
        "Mustache": 0.042,
        "Narrow_Eyes": 0.115,
        "No_Beard": 0.835,
        "Oval_Face": 0.284,
        "Pale_Skin": 0.043,
        "Pointy_Nose": 0.277,
        "Receding_Hairline": 0.080,
        "Rosy_Cheeks": 0.066,
        "Sideburns": 0.057,
        "Smiling": 0.482,
        "Straight_Hair": 0.208,
        "Wavy_Hair": 0.320,
        "Wearing_Earrings": 0.189,
        "Wearing_Hat": 0.048,
        "Wearing_Lipstick": 0.472,
        "Wearing_Necklace": 0.123,
        "Wearing_Necktie": 0.073,
        "Young": 0.774,
    }
)

#: Probability that a *written* label of a subjective attribute is flipped (recorded per image).
LABEL_NOISE_RATE = 0.02
#: Attributes whose written labels get noise: judgement calls in real annotation, and free of the
#: hard constraints (hair colour exclusivity, beard/No_Beard, sex-only accessories).
NOISY_ATTRIBUTES: tuple[str, ...] = (
    "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Big_Lips", "Big_Nose",
    "High_Cheekbones", "Narrow_Eyes", "Oval_Face", "Pointy_Nose", "Young",
)
# fmt: on

#: CelebA's partition proportions (train, val, test), from the official sizes.
PARTITION_FRACTIONS: tuple[float, float, float] = tuple(
    v / sum(CELEBA_PARTITION_SIZES.values()) for v in CELEBA_PARTITION_SIZES.values()
)
IMAGES_PER_IDENTITY = 20
_FACIAL_HAIR = ("5_o_Clock_Shadow", "Goatee", "Mustache", "Sideburns")
# Streams of the plan's random generator, so that adding e.g. a shortcut never changes the faces.
_STREAM_IDENTITIES, _STREAM_ATTRIBUTES, _STREAM_NOISE, _STREAM_HQ, _STREAM_CUES = range(10, 15)


@dataclass(frozen=True)
class Shortcut:
    """A spurious cue (a tint of ``classes``) correlated with ``attribute`` in TRAIN only.

    In train the cue is drawn on ``p_positive`` of the images where the attribute is truly present
    and ``p_negative`` of the others; in val and test on ``p_eval`` of all images, independently
    of the attribute.
    """

    attribute: str
    region: str
    classes: tuple[str, ...]
    p_positive: float = 0.9
    p_negative: float = 0.1
    p_eval: float = 0.5

    @property
    def name(self) -> str:
        return f"{self.attribute}:{self.region}"

    @classmethod
    def parse(cls, text: str) -> Shortcut:
        """Parse ``ATTR:REGION``; REGION is a mask class or a region group (e.g. ``eyes``)."""
        attr, sep, region = text.partition(":")
        if not sep or not attr or not region:
            raise CelebalabError(f"--shortcut {text!r}: expected ATTR:REGION, e.g. Male:background")
        try:
            attribute_index(attr)
        except KeyError as err:
            raise CelebalabError(f"--shortcut {text!r}: {err.args[0]}") from None
        if region in MASK_CLASS_NAMES:
            classes: tuple[str, ...] = (region,)
        elif region in DEFAULT_REGION_GROUPS:
            classes = tuple(DEFAULT_REGION_GROUPS[region])
        else:
            choices = (*MASK_CLASS_NAMES, *DEFAULT_REGION_GROUPS)
            raise CelebalabError(
                f"--shortcut {text!r}: {unknown_name_message('region', region, choices)}"
            )
        return cls(attr, region, classes)

    def to_json(self) -> dict:
        return {
            "attribute": self.attribute,
            "region": self.region,
            "classes": list(self.classes),
            "p_train_positive": self.p_positive,
            "p_train_negative": self.p_negative,
            "p_val_test": self.p_eval,
            "cue": "the region's colours are tinted towards a fixed hue",
        }


@dataclass
class Plan:
    """Everything decided before drawing, as compact per-image arrays in file order."""

    seed: int
    n: int
    n_identities: int
    identity: np.ndarray  # int32 identity number written to identity_CelebA.txt (1-based)
    ident_index: np.ndarray  # int32 row of the identity (seeds its stable traits)
    partition: np.ndarray  # int8 0/1/2, non-decreasing (train first)
    true_attrs: np.ndarray  # uint8 (n, 40): what is drawn
    labels: np.ndarray  # uint8 (n, 40): what is written (true_attrs with label noise)
    cues: np.ndarray  # bool (n, n_shortcuts)
    hq_orig: np.ndarray  # int32 CelebA index of each HQ image (HQ file order)
    shortcuts: tuple[Shortcut, ...] = field(default_factory=tuple)

    @property
    def hq_of(self) -> np.ndarray:
        """int32 (n,): the HQ index of each CelebA image, -1 when it is not in CelebAMask-HQ."""
        out = np.full(self.n, -1, dtype=np.int32)
        out[self.hq_orig] = np.arange(len(self.hq_orig), dtype=np.int32)
        return out

    @property
    def label_noise(self) -> np.ndarray:
        """bool (n, 40): where the written label differs from the drawn truth."""
        return self.true_attrs != self.labels


def calibrated(rng: np.random.Generator, target: float, weights: np.ndarray) -> np.ndarray:
    """Bernoulli draws with p_i = min(1, c·w_i), ``c`` solved so that mean(p) = ``target``.

    Weights carry the conditional structure (0 = impossible, 3 = three times as likely); the scale
    makes the expected positive rate over the rows equal ``target`` (capped where unreachable).
    """
    w = np.asarray(weights, dtype=np.float64)
    if target <= 0 or not np.any(w > 0):
        return np.zeros(w.shape, dtype=bool)
    lo, hi = 0.0, 1.0 / w[w > 0].min()
    for _ in range(60):
        c = 0.5 * (lo + hi)
        lo, hi = (c, hi) if np.minimum(1.0, c * w).mean() < target else (lo, c)
    return rng.random(w.shape) < np.minimum(1.0, hi * w)


def _noisy_target(name: str) -> float:
    """The drawn rate that makes the *written* rate hit the target after symmetric label noise."""
    p = TARGET_RATES[name]
    if name not in NOISY_ATTRIBUTES:
        return p
    return float(np.clip((p - LABEL_NOISE_RATE) / (1 - 2 * LABEL_NOISE_RATE), 0.0, 1.0))


def sample_attributes(rng: np.random.Generator, ident_index: np.ndarray, n_ids: int) -> np.ndarray:
    """Draw the TRUE attributes (uint8, n × 40) of images whose identities are ``ident_index``."""
    t = _noisy_target
    a: dict[str, np.ndarray] = {}
    ii = ident_index

    def prop(sigma: float) -> np.ndarray:  # per-identity propensity, broadcast to images
        return np.exp(sigma * rng.standard_normal(n_ids))[ii]

    def f(cond: np.ndarray, yes: float, no: float = 1.0) -> np.ndarray:
        return np.where(cond, yes, no)

    # identity-level traits (arrays over identities), then broadcast to images
    male = rng.random(n_ids) < t("Male")
    young = calibrated(rng, t("Young"), f(male, 0.67, 0.85))
    bald = calibrated(rng, t("Bald"), male * f(young, 0.4, 3.0))
    gray = calibrated(rng, t("Gray_Hair"), ~bald * f(young, 0.06, 1.0))
    black = calibrated(rng, t("Black_Hair"), ~bald & ~gray)
    blond = calibrated(rng, t("Blond_Hair"), (~bald & ~gray & ~black) * f(male, 0.6, 3.0))
    brown = calibrated(rng, t("Brown_Hair"), ~bald & ~gray & ~black & ~blond)
    ids = {
        "Male": male,
        "Young": young,
        "Bald": bald,
        "Gray_Hair": gray,
        "Black_Hair": black,
        "Blond_Hair": blond,
        "Brown_Hair": brown,
    }
    ids["Receding_Hairline"] = calibrated(
        rng, t("Receding_Hairline"), ~bald * f(male, 3, 0.5) * f(young, 1, 3)
    )
    ids["Wavy_Hair"] = calibrated(rng, t("Wavy_Hair"), ~bald * f(male, 0.5, 3.0))
    ids["Straight_Hair"] = calibrated(
        rng, t("Straight_Hair"), (~bald & ~ids["Wavy_Hair"]) * f(male, 1, 1.5)
    )
    chubby = calibrated(rng, t("Chubby"), f(male, 1.5) * f(young, 1, 2.5))
    ids["Chubby"] = chubby
    ids["Double_Chin"] = calibrated(rng, t("Double_Chin"), f(chubby, 20) * f(young, 1, 3))
    ids["Oval_Face"] = calibrated(rng, t("Oval_Face"), ~chubby * f(male, 1, 1.5))
    ids["Big_Nose"] = calibrated(rng, t("Big_Nose"), f(male, 3) * f(young, 1, 1.5))
    ids["Pointy_Nose"] = calibrated(
        rng, t("Pointy_Nose"), f(ids["Big_Nose"], 0.3) * f(male, 1, 1.5)
    )
    ids["Big_Lips"] = calibrated(rng, t("Big_Lips"), f(male, 1, 1.4))
    ids["Arched_Eyebrows"] = calibrated(rng, t("Arched_Eyebrows"), f(male, 1, 5))
    ids["Bushy_Eyebrows"] = calibrated(
        rng, t("Bushy_Eyebrows"), f(male, 4) * f(ids["Arched_Eyebrows"], 0.3)
    )
    ids["Pale_Skin"] = calibrated(rng, t("Pale_Skin"), f(male, 1, 1.5))
    for name, values in ids.items():
        a[name] = values[ii]
    male, young, female = a["Male"], a["Young"], ~a["Male"]

    # per-image draws
    a["Bangs"] = calibrated(rng, t("Bangs"), ~a["Bald"] * f(female, 2.5) * prop(1.5))
    smile = a["Smiling"] = calibrated(rng, t("Smiling"), prop(0.8))
    a["Mouth_Slightly_Open"] = calibrated(rng, t("Mouth_Slightly_Open"), f(smile, 3) * prop(0.5))
    a["High_Cheekbones"] = calibrated(
        rng, t("High_Cheekbones"), f(smile, 4) * f(female, 1.5) * prop(0.5)
    )
    a["Narrow_Eyes"] = calibrated(rng, t("Narrow_Eyes"), f(smile, 2) * prop(1.0))
    a["Bags_Under_Eyes"] = calibrated(
        rng, t("Bags_Under_Eyes"), f(young, 1, 3) * f(male, 1.5) * prop(1.0)
    )
    makeup = a["Heavy_Makeup"] = calibrated(
        rng, t("Heavy_Makeup"), female * f(young, 2) * prop(1.0)
    )
    lipstick = calibrated(rng, t("Wearing_Lipstick"), f(makeup, 1e9, 1.0) * female * prop(1.0))
    a["Wearing_Lipstick"] = lipstick
    a["Rosy_Cheeks"] = calibrated(
        rng, t("Rosy_Cheeks"), f(female, 4) * f(young, 2) * f(a["Pale_Skin"], 0.5)
    )
    a["Eyeglasses"] = calibrated(rng, t("Eyeglasses"), f(young, 1, 2.5) * prop(2.0))
    a["Wearing_Hat"] = calibrated(rng, t("Wearing_Hat"), prop(1.5))
    earrings = a["Wearing_Earrings"] = calibrated(
        rng, t("Wearing_Earrings"), f(female, 1, 0.02) * prop(1.2)
    )
    a["Wearing_Necklace"] = calibrated(
        rng, t("Wearing_Necklace"), f(female, 1, 0.02) * f(earrings, 2) * prop(1.0)
    )
    a["Wearing_Necktie"] = calibrated(
        rng, t("Wearing_Necktie"), male * f(a["Wearing_Hat"], 0.5) * prop(1.5)
    )
    a["Blurry"] = calibrated(rng, t("Blurry"), np.ones(len(ii)))
    a.update(_facial_hair(rng, male & ~lipstick, prop(1.2)))
    a["Attractive"] = calibrated(
        rng,
        t("Attractive"),
        f(young, 3)
        * f(female, 2.5)
        * f(makeup, 1.5)
        * f(a["Chubby"], 0.3)
        * f(a["Bald"], 0.3)
        * f(a["Gray_Hair"], 0.5)
        * f(a["Blurry"], 0.5)
        * f(a["Eyeglasses"], 0.7)
        * f(a["Bags_Under_Eyes"], 0.6),
    )
    return np.stack([a[name] for name in ATTRIBUTE_NAMES], axis=1).astype(np.uint8)


def _facial_hair(rng: np.random.Generator, eligible: np.ndarray, propensity: np.ndarray) -> dict:
    """Beard kinds: first who is bearded (1 - No_Beard), then one primary kind each, then extras.

    This keeps No_Beard exactly "none of the four" while every kind hits its own target rate.
    """
    bearded = calibrated(rng, 1 - TARGET_RATES["No_Beard"], eligible * propensity)
    targets = np.array([TARGET_RATES[k] for k in _FACIAL_HAIR])
    primary = rng.choice(len(_FACIAL_HAIR), size=len(eligible), p=targets / targets.sum())
    out = {k: bearded & (primary == i) for i, k in enumerate(_FACIAL_HAIR)}
    for kind, target in zip(_FACIAL_HAIR, targets, strict=True):
        partner = {"Goatee": out["Mustache"], "Mustache": out["Goatee"]}.get(kind, bearded)
        weights = (bearded & ~out[kind]) * np.where(partner, 3.0, 1.0)
        out[kind] = out[kind] | calibrated(rng, max(0.0, target - out[kind].mean()), weights)
    out["No_Beard"] = ~np.logical_or.reduce([out[k] for k in _FACIAL_HAIR])
    return out


def _identities(rng: np.random.Generator, n: int, n_ids: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image identity row and partition, identities disjoint across partitions, train first."""
    weights = rng.gamma(4.0, size=n_ids)
    counts = 1 + rng.multinomial(n - n_ids, weights / weights.sum())
    order = rng.permutation(n_ids)
    before = np.concatenate([[0], np.cumsum(counts[order])[:-1]])
    bounds = np.cumsum(PARTITION_FRACTIONS)[:2] * n
    part_of = np.empty(n_ids, dtype=np.int8)
    part_of[order] = np.searchsorted(bounds, before, side="right")
    if n_ids >= 3:  # tiny sets: still give val and test one identity each
        for p in (2, 1):
            if not np.any(part_of == p):
                donors = order[part_of[order] == 0]
                part_of[donors[-1]] = p
    ident_index = []
    for p in range(3):
        members = np.flatnonzero(part_of == p)
        ident_index.append(rng.permutation(np.repeat(members, counts[members])))
    rows = np.concatenate(ident_index).astype(np.int32)
    return rows, part_of[rows]


def make_plan(
    n: int,
    seed: int,
    n_hq: int | None = None,
    shortcuts: tuple[Shortcut, ...] = (),
    n_identities: int | None = None,
    images_per_identity: float = IMAGES_PER_IDENTITY,
) -> Plan:
    """Identities, partitions, attributes, label noise, cues and the HQ subset of ``n`` images.

    Identities number ``n_identities`` or about ``n / images_per_identity`` (CelebA: ~20).
    """
    if n < 1:
        raise CelebalabError(f"--n must be at least 1 (got {n})")
    n_hq = n if n_hq is None else n_hq
    if not 0 <= n_hq <= n:
        raise CelebalabError(f"--n-hq must be between 0 and --n ({n}); got {n_hq}")
    # at least 3 identities (when n allows) so that train, val and test are all non-empty
    if images_per_identity < 1:
        raise CelebalabError(f"--images-per-identity must be >= 1 (got {images_per_identity})")
    n_ids = n_identities or max(min(3, n), round(n / images_per_identity))
    n_ids = min(n_ids, n)

    def stream(k: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, k]))

    ident_index, partition = _identities(stream(_STREAM_IDENTITIES), n, n_ids)
    numbers = (stream(_STREAM_IDENTITIES + 100).permutation(n_ids) + 1).astype(np.int32)
    true_attrs = sample_attributes(stream(_STREAM_ATTRIBUTES), ident_index, n_ids)
    labels = true_attrs.copy()
    noisy = [ATTRIBUTE_NAMES.index(a) for a in NOISY_ATTRIBUTES]
    flips = stream(_STREAM_NOISE).random((n, len(noisy))) < LABEL_NOISE_RATE
    labels[:, noisy] ^= flips.astype(np.uint8)
    cue_rng = stream(_STREAM_CUES)
    cues = np.zeros((n, len(shortcuts)), dtype=bool)
    for j, s in enumerate(shortcuts):
        positive = true_attrs[:, attribute_index(s.attribute)] == 1
        p = np.where(partition == 0, np.where(positive, s.p_positive, s.p_negative), s.p_eval)
        cues[:, j] = cue_rng.random(n) < p
    hq_orig = stream(_STREAM_HQ).permutation(n)[:n_hq].astype(np.int32)
    return Plan(
        seed,
        n,
        n_ids,
        numbers[ident_index],
        ident_index,
        partition,
        true_attrs,
        labels,
        cues,
        hq_orig,
        tuple(shortcuts),
    )
