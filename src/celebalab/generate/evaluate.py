"""``celebalab gan evaluate``: how good the faces are, with the real-vs-real floor beside.

Inception weights are never downloaded. Without them the distribution metrics are computed in
the penultimate feature space of one of celebalab's own trained classifiers
(:func:`celebalab.models.inference.extract_features`), named as such: they rank generators
on the same data but are **not** comparable with published FIDs. Every figure is computed
twice, generated vs real and real vs real (two disjoint halves of the training images, same
sizes), because FID and KID are biased by sample size and their floor is not 0.

Generated and real images go through the same path: the GAN's resolution, then a bicubic
resize to the classifier's input size.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celebalab import _progress
from celebalab.errors import CelebalabError
from celebalab.generate._data import GanData, load_gan_data, nchw, resize_bicubic
from celebalab.generate._inception import check_weights, inception_metrics
from celebalab.generate._metrics import distribution_metrics, nearest_distances
from celebalab.generate.options import GanEvaluateOptions
from celebalab.generate.records import GanEvaluation
from celebalab.generate.run import EVAL_DIR, LoadedGan, load_gan_run
from celebalab.generate.sample import combination_rows, sample_images, sample_with_labels
from celebalab.io import write_json_atomic

#: Training images searched for each sample's nearest neighbour (memorisation check).
NN_REFERENCE = 20000
PAIRS_SHOWN = 8
FEATURE_BATCH = 256


@_progress.legacy_progress
def evaluate_gan(
    run_dir: str | Path,
    classifier: str | Path,
    *,
    root: str | Path | None = None,
    n: int = 2000,
    seed: int = 0,
    inception_weights: str | Path | None = None,
    overwrite: bool = False,
) -> GanEvaluation:
    """Evaluate the GAN run ``run_dir``; write ``RUN/eval/{metrics.json,report.html}``; return
    the ``metrics.json`` record (with the report's pictures beside it).

    ``classifier`` is a celebalab classifier run (its features define the metric space and its
    predictions the conditional check); ``n`` caps the samples per set; ``root`` defaults to the
    dataset the GAN was trained on. Bad values are one :class:`~celebalab.options.ConfigError`
    (checked as :class:`~celebalab.generate.options.GanEvaluateOptions`), before any reading.
    """
    from celebalab.models.run import load_run

    GanEvaluateOptions(inception=None if inception_weights is None else str(inception_weights),
                       root=None if root is None else str(root), n=n, seed=seed)  # fmt: skip
    gan = load_gan_run(run_dir)
    out = gan.run_dir / EVAL_DIR
    if (out / "metrics.json").exists() and not overwrite:
        raise CelebalabError(f"{out}: an evaluation exists; pass --overwrite to replace it")
    if inception_weights is not None:
        check_weights(inception_weights)
    cls = load_run(classifier)
    info = gan.record
    data = load_gan_data(
        root or info.data.root, gan.image_size, info.crop, tuple(gan.conditional),
        info.config.seed,
    )  # fmt: skip
    result = _evaluate(gan, cls, data, n, seed, inception_weights)
    result["data_matches_training"] = data.fingerprint == info.data.fingerprint
    pictures = {key: result.pop(key) for key in ("pairs_png", "combinations") if key in result}
    path = write_json_atomic(out / "metrics.json", result)
    evaluation = replace(GanEvaluation.from_json(result, path), pictures=pictures)
    from celebalab.generate._report import evaluation_report

    evaluation_report(gan.run_dir, info, evaluation).write(out / "report.html")
    return evaluation


def _evaluate(
    gan: LoadedGan, cls: Any, data: GanData, n: int, seed: int, inception: str | Path | None
) -> dict[str, Any]:
    train = data.rows["train"]
    m = min(n, len(train) // 2)
    if m < 10:
        raise CelebalabError(f"only {len(train)} training images: too few for a real-vs-real floor")
    order = np.random.default_rng(seed).permutation(len(train))
    pos_a, pos_b = np.sort(order[:m]), np.sort(order[m : 2 * m])
    pos_ref = np.sort(np.random.default_rng([seed, 2]).permutation(len(train))[:NN_REFERENCE])
    real = _TrainImages(cls, data, np.concatenate([pos_a, pos_b, pos_ref]))
    labels_a = data.labels[train[pos_a]]
    if gan.conditional:
        pick = np.random.default_rng([seed, 1]).integers(len(train), size=m)
        requested = data.labels[train[pick]]
        generated = sample_with_labels(gan, requested, seed=seed)
    else:
        requested, generated = None, sample_images(gan, m, seed=seed)

    feats = {"gen": classifier_features(cls, generated), "a": real.features(pos_a),
             "b": real.features(pos_b)}  # fmt: skip
    result: dict[str, Any] = {
        "samples_per_set": m,
        "feature_space": {
            "name": f"classifier features ({cls.record.arch}, {feats['a'].shape[1]}-d)",
            "description": (
                f"FID, KID, precision and recall in the {feats['a'].shape[1]}-d penultimate "
                f"feature space of the celebalab classifier {cls.run_dir} "
                f"({cls.record.arch}, {cls.image_size} px), not Inception: comparable "
                "between generators evaluated with the same classifier, NOT with published FIDs."
            ),
            "classifier": str(cls.run_dir),
            "generated": distribution_metrics(feats["gen"], feats["a"], seed),
            "floor": distribution_metrics(feats["b"], feats["a"], seed),
        },
    }
    if inception is not None:
        real_a, real_b = real.images(pos_a), real.images(pos_b)
        result["inception"] = {
            "name": "Inception-v3 (torch-fidelity, TF-FID weights)",
            "generated": inception_metrics(generated, real_a, inception, seed),
            "floor": inception_metrics(real_b, real_a, inception, seed),
        }
    memo, pairs_png = _memorisation(cls, data, real, pos_ref, generated, feats["gen"])
    result["memorisation"] = memo
    result["pairs_png"] = pairs_png
    if gan.conditional:
        result["conditional"] = _recognition(
            cls, gan, feats["gen"], requested, feats["a"], labels_a
        )
        result["combinations"] = combination_rows(gan, seed=seed)
    return result


class _TrainImages:
    """Training images at some split positions, each read and put through the classifier once.

    The real halves of the floor and the memorisation reference overlap (on a small training
    split the reference is all of it); their union is featurised in one pass.
    """

    def __init__(self, cls: Any, data: GanData, positions: np.ndarray) -> None:
        self._positions = np.unique(positions)
        self._images = data.split_images("train", self._positions)
        self._features = classifier_features(cls, self._images)

    def _at(self, positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._positions, positions)

    def images(self, positions: np.ndarray) -> np.ndarray:
        """uint8 images at ``positions`` (within the training split)."""
        return self._images[self._at(positions)]

    def features(self, positions: np.ndarray) -> np.ndarray:
        """Classifier features of the images at ``positions``."""
        return self._features[self._at(positions)]


def classifier_features(cls: Any, images: np.ndarray) -> np.ndarray:
    """Penultimate features ``N×F`` (float32 numpy) of uint8 ``N×S×S×3`` images, batched."""
    from celebalab.models.inference import extract_features

    chunks = [
        extract_features(cls, resize_bicubic(nchw(images[i : i + FEATURE_BATCH]), cls.image_size))
        .cpu()
        .numpy()
        for i in range(0, len(images), FEATURE_BATCH)
    ]
    return np.concatenate(chunks)


def _probabilities(cls: Any, features: np.ndarray) -> np.ndarray:
    """Attribute probabilities from penultimate features through the classifier's last layer.

    ``logits == features @ head.weight.T + head.bias`` (see ``extract_features``), so images
    whose features are known need no second pass through the network.
    """
    from celebalab.models.architectures import classifier_head

    head = classifier_head(cls.model)
    with torch.no_grad():
        logits = head(torch.from_numpy(features).to(head.weight.device, head.weight.dtype))
    return torch.sigmoid(logits.float()).cpu().numpy()


def _memorisation(
    cls: Any, data: GanData, real: _TrainImages, pos_ref: np.ndarray, generated: np.ndarray,
    gen_feats: np.ndarray,
) -> tuple[dict[str, Any], bytes]:  # fmt: skip
    """Nearest-training-image distances of samples vs of held-out real images."""
    from celebalab.generate._monitor import image_grid
    from celebalab.reports.html import array_png

    train_feats = real.features(pos_ref)
    split = "test" if len(data.rows.get("test", ())) else "val"
    heldout = data.split_images(split, np.arange(min(len(generated), len(data.rows[split]))))
    held_d, _ = nearest_distances(classifier_features(cls, heldout), train_feats)
    gen_d, gen_nn = nearest_distances(gen_feats, train_feats)
    p1 = float(np.percentile(held_d, 1))
    closest = np.argsort(gen_d)[:PAIRS_SHOWN]
    pairs = np.concatenate([generated[closest], real.images(pos_ref[gen_nn[closest]])])
    memo = {
        "reference_images": len(pos_ref),
        "reference_split": split,
        "generated_median": float(np.median(gen_d)),
        "heldout_median": float(np.median(held_d)),
        "ratio": float(np.median(gen_d) / np.median(held_d)),
        "closer_than_heldout_p1": float(np.mean(gen_d < p1)),
        "space": "classifier features",
    }
    return memo, array_png(image_grid(pairs, columns=len(closest), upscale=2))


def _recognition(
    cls: Any, gan: LoadedGan, gen_feats: np.ndarray, requested: np.ndarray,
    real_feats: np.ndarray, real_labels: np.ndarray,
) -> dict[str, Any]:  # fmt: skip
    """Share of samples whose conditioned attributes the classifier recognises (and on real).

    Conditioned attributes the classifier does not predict are listed in ``not_checked`` and
    said in ``note``: a check silently narrowed would read as a pass.
    """
    attributes = [] if cls.task == "identity" else cls.attribute_names
    names = [a for a in gan.conditional if a in attributes]
    missing = [a for a in gan.conditional if a not in attributes]
    what = "an identity model" if cls.task == "identity" else "the classifier"
    note = (f"{what} {cls.run_dir} does not predict {', '.join(missing)}: their conditioning "
            "is not checked") if missing else None  # fmt: skip
    if not names:
        return {"per_attribute": [], "all_generated": float("nan"), "all_real": float("nan"),
                "not_checked": missing, "note": note}  # fmt: skip
    cols = [cls.attribute_names.index(a) for a in names]
    own = [gan.conditional.index(a) for a in names]

    def predicted(features: np.ndarray) -> np.ndarray:
        probs = _probabilities(cls, features)
        return (probs[:, cols] >= cls.thresholds[cols]).astype(np.uint8)

    hit_gen = predicted(gen_feats) == requested[:, own]
    hit_real = predicted(real_feats) == real_labels[:, own]
    rows = [{"attribute": a, "recognised on generated": float(hit_gen[:, k].mean()),
             "agreement on real (ceiling)": float(hit_real[:, k].mean()),
             "requested positive share": float(requested[:, own[k]].mean())}
            for k, a in enumerate(names)]  # fmt: skip
    return {
        "per_attribute": rows,
        "all_generated": float(hit_gen.all(axis=1).mean()),
        "all_real": float(hit_real.all(axis=1).mean()),
        "not_checked": missing,
        "note": note,
    }
