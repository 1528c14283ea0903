"""The attribute model: marginals, hard constraints, identities, partitions, shortcuts, memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from celebalab.datasets.schema import ATTRIBUTE_NAMES, MASK_CLASS_NAMES
from celebalab.datasets.synth import ATTRIBUTE_REGIONS, TARGET_RATES, Shortcut, make_plan
from celebalab.datasets.synth._sampling import (
    IMAGES_PER_IDENTITY,
    LABEL_NOISE_RATE,
    NOISY_ATTRIBUTES,
    calibrated,
)
from celebalab.errors import CelebalabError

A = {name: i for i, name in enumerate(ATTRIBUTE_NAMES)}


@pytest.fixture(scope="module")
def plan():
    return make_plan(3000, seed=1, n_identities=3000)  # one image per identity: binomial spread


@pytest.fixture(scope="module")
def clustered_plan():
    return make_plan(20000, seed=2)  # default ~20 images per identity


def test_written_marginals_match_celeba(plan) -> None:
    rates = plan.labels.mean(axis=0)
    for name, i in A.items():
        p = TARGET_RATES[name]
        tol = 4 * np.sqrt(p * (1 - p) / plan.n) + 0.01
        assert abs(rates[i] - p) < tol, (name, rates[i], p)


def test_marginals_with_identity_clusters(clustered_plan) -> None:
    rates = clustered_plan.labels.mean(axis=0)
    err = {name: abs(rates[i] - TARGET_RATES[name]) for name, i in A.items()}
    assert max(err.values()) < 0.045, err
    assert np.mean(list(err.values())) < 0.012


def test_hard_constraints(clustered_plan) -> None:
    for attrs in (clustered_plan.true_attrs, clustered_plan.labels):
        a = {name: attrs[:, i].astype(bool) for name, i in A.items()}
        beards = a["Goatee"] | a["Mustache"] | a["Sideburns"] | a["5_o_Clock_Shadow"]
        assert not np.any(a["Goatee"] & a["Wearing_Lipstick"])
        assert np.array_equal(a["No_Beard"], ~beards)
        assert not np.any(beards & ~a["Male"])
        assert not np.any(a["Wearing_Necktie"] & ~a["Male"])
        assert not np.any(a["Heavy_Makeup"] & ~a["Wearing_Lipstick"])
        colours = a["Black_Hair"].astype(int) + a["Blond_Hair"] + a["Brown_Hair"] + a["Gray_Hair"]
        assert colours.max() <= 1
        assert not np.any(a["Bald"] & ((colours > 0) | a["Bangs"]))
        assert not np.any(a["Straight_Hair"] & a["Wavy_Hair"])


def test_correlations_have_the_real_direction(clustered_plan) -> None:
    a = {name: clustered_plan.true_attrs[:, i].astype(bool) for name, i in A.items()}

    def p(x, given):
        return x[given].mean()

    assert (
        p(a["Mouth_Slightly_Open"], a["Smiling"]) > p(a["Mouth_Slightly_Open"], ~a["Smiling"]) + 0.2
    )
    assert p(a["High_Cheekbones"], a["Smiling"]) > p(a["High_Cheekbones"], ~a["Smiling"]) + 0.3
    assert p(a["Gray_Hair"], ~a["Young"]) > 4 * p(a["Gray_Hair"], a["Young"])
    assert p(a["Attractive"], a["Young"]) > p(a["Attractive"], ~a["Young"])
    assert p(a["Wearing_Earrings"], ~a["Male"]) > 10 * p(a["Wearing_Earrings"], a["Male"])


def test_label_noise_only_on_subjective_attributes(clustered_plan) -> None:
    flips = clustered_plan.label_noise
    noisy = [A[name] for name in NOISY_ATTRIBUTES]
    others = np.setdiff1d(np.arange(40), noisy)
    assert not flips[:, others].any()
    assert abs(flips[:, noisy].mean() - LABEL_NOISE_RATE) < 0.005


def test_identities_disjoint_and_partitions_ordered(clustered_plan) -> None:
    part, ident = clustered_plan.partition, clustered_plan.identity
    assert np.all(np.diff(part) >= 0)  # train first, then val, then test
    sets = [set(ident[part == p].tolist()) for p in range(3)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    fractions = np.bincount(part, minlength=3) / len(part)
    assert np.allclose(fractions, [0.803, 0.098, 0.099], atol=0.03)
    assert len(np.unique(ident)) == clustered_plan.n_identities == 20000 / IMAGES_PER_IDENTITY
    male = clustered_plan.true_attrs[:, A["Male"]]
    for k in np.unique(ident)[:50]:  # identity traits are stable
        assert len(np.unique(male[ident == k])) == 1


def test_small_sets_have_every_partition() -> None:
    plan = make_plan(120, seed=0)
    assert set(np.unique(plan.partition).tolist()) == {0, 1, 2}
    assert make_plan(1, seed=0).n_identities == 1


def test_calibrated_hits_target_and_respects_zero_weight() -> None:
    rng = np.random.default_rng(0)
    w = np.r_[np.zeros(5000), np.ones(5000), 4 * np.ones(5000)]
    x = calibrated(rng, 0.3, w)
    assert abs(x.mean() - 0.3) < 0.015
    assert not x[:5000].any()
    assert x[10000:].mean() > 2.5 * x[5000:10000].mean()


def test_shortcut_cue_correlated_in_train_only() -> None:
    plan = make_plan(20000, seed=3, shortcuts=(Shortcut.parse("Male:background"),))
    male = plan.true_attrs[:, A["Male"]] == 1
    cue = plan.cues[:, 0]
    train = plan.partition == 0
    assert abs(cue[train & male].mean() - 0.9) < 0.03
    assert abs(cue[train & ~male].mean() - 0.1) < 0.03
    held = ~train
    assert abs(cue[held & male].mean() - cue[held & ~male].mean()) < 0.05
    # adding a shortcut never changes the faces
    assert np.array_equal(plan.true_attrs, make_plan(20000, seed=3).true_attrs)


def test_shortcut_parsing() -> None:
    assert Shortcut.parse("Smiling:eyes").classes == ("l_eye", "r_eye")
    for bad in ("Male", "Mail:background", "Male:backround"):
        with pytest.raises(CelebalabError):
            Shortcut.parse(bad)


def test_every_attribute_documented_with_valid_classes() -> None:
    assert tuple(ATTRIBUTE_REGIONS) == ATTRIBUTE_NAMES
    for name, entry in ATTRIBUTE_REGIONS.items():
        assert entry["kind"] in {"drawn", "global", "sampled", "mixed"}, name
        assert set(entry["classes"]) <= set(MASK_CLASS_NAMES), name
        assert entry["how"]
        assert bool(entry["classes"]) == (entry["kind"] in {"drawn", "mixed"}), name


def _peak(n: int) -> int:
    tracemalloc.start()
    make_plan(n, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_plan_memory_is_compact() -> None:
    small, large = _peak(2000), _peak(8000)
    assert (large - small) / 6000 < 2000  # bytes per extra image: compact arrays only
