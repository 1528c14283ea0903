"""The face-recognition stage of ``make demo``: identity model → embeddings → metrics → retrieval.

The demo shows the whole chain on the synthetic faces with the same public functions the CLI
uses: the pipeline calls :func:`face_recognition_stage` and adds
:func:`face_recognition_report` to its report.
The attribute run the demo trained earlier supplies the attribute-probability baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from celebalab.reports.html import Report

if TYPE_CHECKING:
    from celebalab.models.records import ClassifierRun


@dataclass
class RecognitionStage:
    """What the stage produced (identity run, sets, evaluation, retrieval)."""

    run: ClassifierRun
    identity_set: Any
    evaluation: Any
    retrieval: Any
    seconds: dict[str, float]


def face_recognition_stage(
    root: str | Path,
    out: str | Path,
    attribute_run: str | Path | None = None,
    *,
    size: int = 64,
    crop: str = "center",
    epochs: int = 6,
    batch_size: int = 64,
    embedding_dim: int = 128,
    seed: int = 0,
    queries: int = 4,
    k: int = 8,
) -> RecognitionStage:
    """Train a small identity model on ``root``, extract, evaluate on test, retrieve test faces.

    Writes ``out/identity_run``, ``out/identity_embeddings`` (every image; evaluation in its
    ``eval_test/``), ``out/attribute_embeddings`` (test images through ``attribute_run``, for
    the baseline) and ``out/retrieval/``.
    """
    import time

    from celebalab.embeddings import evaluate_embeddings, extract_embeddings
    from celebalab.embeddings.evaluate import write_evaluation
    from celebalab.models import train
    from celebalab.retrieval import retrieve, write_retrieval_outputs

    out = Path(out)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    run = train(root, out / "identity_run", task="identity", arch="small_cnn", size=size,
                crop=crop, epochs=epochs, batch_size=batch_size, embedding_dim=embedding_dim,
                seed=seed)  # fmt: skip
    seconds["train identity model"] = time.perf_counter() - start
    start = time.perf_counter()
    emb = extract_embeddings(out / "identity_run", root, out / "identity_embeddings")
    probabilities = None
    if attribute_run is not None:
        probabilities = extract_embeddings(attribute_run, root, out / "attribute_embeddings",
                                           split="test")  # fmt: skip
    seconds["extract embeddings"] = time.perf_counter() - start
    start = time.perf_counter()
    evaluation = evaluate_embeddings(emb, "test", probabilities=probabilities, seed=seed)
    write_evaluation(evaluation, overwrite=True)
    seconds["evaluate embeddings"] = time.perf_counter() - start
    start = time.perf_counter()
    test = emb.meta.index[emb.meta["partition"] == 2].to_numpy()
    picks = np.random.default_rng(seed).choice(test, size=min(queries, len(test)), replace=False)
    result = retrieve(emb, [emb.image_ids[i] for i in sorted(picks)], k=k)
    write_retrieval_outputs(result, emb, out / "retrieval")
    seconds["retrieve nearest faces"] = time.perf_counter() - start
    return RecognitionStage(run, emb, evaluation, result, seconds)


def face_recognition_report(stage: RecognitionStage) -> Report:
    """Report sections: the identity model, its evaluation beside the baselines, a retrieval."""
    from celebalab.embeddings.evaluate import evaluation_section
    from celebalab.retrieval.grid import retrieval_section

    report = Report(title="face recognition")
    run = stage.run
    val, training, loss = run.val_metrics, run.training, run.identity_loss
    assert training is not None and loss is not None  # an identity run this stage trained
    rows = [
        ("architecture", run.arch), ("image size", run.image_size),
        ("embedding dimension", run.embedding_dim),
        ("loss", f"{loss.name} (margin {loss.margin}, scale {loss.scale})"),
        ("training people", loss.train_identities),
        ("epochs run", training.epochs_run), ("training seconds", training.seconds),
        ("val ROC AUC (people not seen in training)", round(val["roc_auc"], 4)),
        ("val EER", round(val["eer"], 4)), ("val mAP@R", round(val["map_at_r"], 4)),
    ]  # fmt: skip
    sec = report.section("Face recognition: identity model")
    sec.text("A small CNN trained with an ArcFace margin loss on the training people; validation "
             "is open-set (its people never appear in training).")  # fmt: skip
    sec.table(pd.DataFrame(rows, columns=["setting", "value"]).astype(str), index=False)
    evaluation_section(report.section("Face recognition: test-split evaluation"), stage.evaluation)
    retrieval_section(report.section("Face recognition: nearest faces"), stage.retrieval,
                      stage.identity_set.image_path)  # fmt: skip
    return report
