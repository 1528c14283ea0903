"""The GAN report: grids over training, loss curves, warnings and (after ``evaluate``) metrics.

``training_report`` is written by ``gan train``; ``evaluation_report`` by ``gan evaluate``
(training sections plus the metric table beside its real-vs-real floor). Both return a
:class:`~celebalab.reports.html.Report` so the demo can include their sections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.generate import run as runfmt
from celebalab.generate.records import GanEvaluation, GanRun
from celebalab.reports.html import Report, Section

#: Epoch grids shown in the report (evenly spaced, always including the last).
GRIDS_SHOWN = 6
SMOOTHING = 25


def training_report(run_dir: str | Path, info: GanRun) -> Report:
    """Report of a finished (or finishing) run from its files and ``run.json`` record."""
    run_dir = Path(run_dir)
    report = Report(
        title=f"GAN run {run_dir.name}",
        subtitle=f"{info.arch} · {info.image_size} px · "
        f"{info.training.steps} steps · {_conditioning(info)}",
        summary=(
            f"This run trained a {info.image_size} px face generator for "
            f"{info.training.steps:,} steps; the report shows its samples over training, the "
            "losses of both networks and the checks for mode collapse "
            f"({len(info.warnings) or 'no'} warning(s) raised). Losses say whether "
            "training stayed balanced, not how good the faces are: `celebalab gan evaluate` "
            "measures that, beside a real-vs-real floor."
        ),
    )
    add_training_sections(report, run_dir, info)
    return report


def add_training_sections(report: Report, run_dir: Path, info: GanRun) -> None:
    """Settings, grids over training, loss curves and warnings of one run."""
    config, training = info.config, info.training
    rows = [
        ("architecture", info.arch), ("image size", info.image_size),
        ("crop", info.crop), ("conditioned on", _conditioning(info)),
        ("loss", config.loss), ("batch size", config.batch_size),
        ("learning rate", config.lr), ("EMA decay", config.ema_decay),
        ("epochs", training.epochs_run), ("steps", training.steps),
        ("precision", training.precision_used), ("processes", training.world_size),
        ("training seconds", training.seconds),
        ("training images/s", training.images_per_second),
        ("training images", info.data.counts.get("train")),
    ]  # fmt: skip
    sec = report.section("GAN training")
    sec.table(pd.DataFrame(rows, columns=["setting", "value"]).astype(str), index=False)
    if training.device == "cpu":
        how = (
            "with bf16 autocast (native bf16 on this CPU; weights, optimiser state and EMA 32-bit)"
            if training.precision_used == "bf16-mixed"
            else "in 32-bit precision"
        )
        sec.text(f"Trained on the CPU {how}.", True)
    grids = report.section("GAN samples over training (EMA generator, fixed noise)")
    _grids_section(grids, run_dir)
    _loss_section(report.section("GAN loss curves"), run_dir)
    _warnings_section(report.section("GAN collapse checks"), info)


def _conditioning(info: GanRun) -> str:
    return ", ".join(info.conditional) or "unconditional"


def _grids_section(sec: Section, run_dir: Path) -> None:
    import matplotlib.pyplot as plt
    from PIL import Image

    paths = sorted((run_dir / runfmt.GRID_DIR).glob("epoch_*.png"))
    if not paths:
        sec.text("No epoch finished, so no grid was drawn.", note=True)
        return
    picks = np.unique(np.linspace(0, len(paths) - 1, min(GRIDS_SHOWN, len(paths))).round())
    chosen = [paths[int(i)] for i in picks]
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.2 * len(chosen), 3.5), squeeze=False)
    for ax, path in zip(axes[0], chosen, strict=True):
        ax.imshow(np.asarray(Image.open(path).convert("RGB")), interpolation="nearest")
        ax.set_title(f"after epoch {int(path.stem.split('_')[1])}", fontsize=10)
        ax.axis("off")
    sec.text(
        "The same noise vectors after each epoch (conditional runs: each row keeps one noise "
        "vector and steps through the attribute combinations, as binary digits of the column)."
    )
    sec.figure(fig, alt="generator samples over training")
    last = np.asarray(Image.open(paths[-1]).convert("RGB"))
    sec.heading(f"Final grid ({paths[-1].name}; each pixel shown as 2×2, no interpolation)")
    sec.image(last.repeat(2, axis=0).repeat(2, axis=1), alt="final grid")


def _loss_section(sec: Section, run_dir: Path) -> None:
    import matplotlib.pyplot as plt

    path = run_dir / runfmt.LOSSES_CSV
    if not path.is_file() or path.stat().st_size == 0:
        sec.text("No loss log.", note=True)
        return
    losses = pd.read_csv(path)
    smooth = losses.rolling(SMOOTHING, min_periods=1).mean()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    for column, colour in (("d_loss", "tab:blue"), ("g_loss", "tab:orange")):
        ax1.plot(losses["step"], losses[column], color=colour, alpha=0.25, lw=0.8)
        ax1.plot(losses["step"], smooth[column], color=colour, label=column.replace("_", " "))
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.plot(losses["step"], smooth["d_real"], label="D(real)")
    ax2.plot(losses["step"], smooth["d_fake"], label="D(fake)")
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("step")
    ax2.set_ylabel(f"mean sigmoid(logit), {SMOOTHING}-step mean")
    ax2.legend()
    fig.tight_layout()
    sec.figure(fig, alt="loss curves")


def _warnings_section(sec: Section, info: GanRun) -> None:
    sec.text(
        "Checked after every epoch: the discriminator winning outright (mean loss over the last "
        "100 steps below 0.05) and sample diversity (mean pairwise pixel distance of the "
        "fixed-noise samples over that of 64 real training images) below 0.3."
    )
    warnings = list(info.warnings)
    if not warnings:
        sec.text("No collapse warning.")
        return
    sec.table(pd.DataFrame(warnings)[["epoch", "step", "kind", "message"]], index=False)


def evaluation_report(run_dir: str | Path, info: GanRun, result: GanEvaluation) -> Report:
    """Training sections plus the metrics of ``gan evaluate`` (``result`` as in metrics.json)."""
    report = training_report(run_dir, info)
    report.summary = (
        "Generated faces were compared with real training faces in a classifier's feature space "
        "(FID, KID, precision and recall) and checked for copies of training images. Each figure "
        "sits beside its real-vs-real floor, the score two halves of the real data get: the "
        "closer to the floor, the better; these FIDs are not comparable with published ones."
    )
    report.sections[:0] = [Section("Evaluation")]
    add_metric_sections(report.sections[0], result)
    return report


def add_metric_sections(sec: Section, result: GanEvaluation) -> None:
    """The metric table (generated vs real beside real vs real), memorisation, conditioning."""
    sec.text(result.feature_space.description or "")
    sec.table(metric_table(result), float_format="{:.4g}", index=False)
    sec.text(
        "Floor: the same metric between two disjoint halves of the real training images, with "
        "the same sample sizes; a perfect generator would score about the floor. Precision: "
        "share of generated samples inside the real k-NN manifold (k=3); recall: share of real "
        "images inside the generated manifold (Kynkäänniemi et al. 2019).",
        note=True,
    )
    memo = result.memorisation
    sec.heading("Nearest training image (memorisation check)")
    sec.text(
        f"Median feature distance from a generated sample to its nearest training image: "
        f"{memo.generated_median:.4g}; from a held-out real image ({memo.reference_split} "
        f"split) to its nearest training image: {memo.heldout_median:.4g} (ratio "
        f"{memo.ratio:.3g}). A ratio well below 1 means samples sit closer to training "
        f"images than new real faces do: memorisation. {memo.closer_than_heldout_p1:.1%} of "
        "the samples are closer to a training image than 99 % of held-out images are."
    )
    pictures = result.pictures
    if "pairs_png" in pictures:
        from celebalab.reports.html import img_tag

        sec.text("Closest generated samples (top) and their nearest training images (bottom):")
        sec.raw(img_tag(pictures["pairs_png"], "nearest training images"))
    conditional = result.conditional
    if conditional:
        sec.heading("Conditioned attributes recognised by the classifier")
        sec.table(pd.DataFrame(list(conditional.per_attribute)), index=False)
        sec.text(
            f"All conditioned attributes recognised on {conditional.all_generated:.1%} of the "
            f"samples; the same classifier agrees with the labels of real images at this size on "
            f"{conditional.all_real:.1%} (its own ceiling).",
            note=True,
        )
        if conditional.note:
            sec.text(conditional.note + ".", note=True)
    if pictures.get("combinations"):
        sec.heading("One grid per attribute combination")
        sec.text("The same noise vectors in every row: a column changes only the attributes.")
        sec.figure(combination_figure(pictures["combinations"]), alt="attribute combinations")


def combination_figure(rows: list[tuple[str, np.ndarray]]) -> Any:
    """A matplotlib figure: one labelled row of faces per attribute combination."""
    import matplotlib.pyplot as plt

    from celebalab.generate._monitor import image_grid

    tiles = [image_grid(images, columns=len(images), upscale=2) for _, images in rows]
    height, width = tiles[0].shape[:2]
    fig, axes = plt.subplots(len(rows), 1, squeeze=False,
                             figsize=(width / 80, len(rows) * (height / 80 + 0.3)))  # fmt: skip
    for ax, (label, _), tile in zip(axes[:, 0], rows, tiles, strict=True):
        ax.imshow(tile, interpolation="nearest")
        ax.set_title(label, fontsize=9, loc="left")
        ax.axis("off")
    fig.tight_layout()
    return fig


def metric_table(result: GanEvaluation) -> pd.DataFrame:
    """One row per metric: generated vs real, real vs real floor, what the space is."""
    rows = [
        {"metric": name, "space": space.name, "generated vs real": value,
         "real vs real (floor)": space.floor[name]}
        for space in result.spaces()
        for name, value in space.generated.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)
