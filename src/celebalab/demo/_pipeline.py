"""``make demo``: the whole celebalab pipeline on synthetic faces, ending in one HTML report.

Stages: synthesise → verify → pack → attribute statistics → train the small CNN → evaluate →
face recognition → explain → a short 32 px GAN run, evaluated in the classifier's feature space.
Each stage uses the same public functions as the CLI; the report combines their sections.
Progress shows as lines without bars (one line per training epoch: bars would flood a log).
Run ``python -m celebalab.demo --help`` for the knobs (dataset size, epochs, output folder).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from celebalab import _progress, stopping
from celebalab.errors import CelebalabError
from celebalab.reports.html import Report, Section

if TYPE_CHECKING:
    from celebalab.models.records import ClassifierRun

T = TypeVar("T")
_MARKER = ".celebalab_demo"


@dataclass
class DemoOptions:
    """Sizes of the demo run; the defaults finish in a few minutes on 2 CPU cores."""

    out: Path = Path("demo_out")
    n: int = 6000
    n_hq: int = 400
    #: Fewer faces per identity than CelebA's ~20, so per-identity traits (nose, lips, hair
    #: texture, …) are seen on enough distinct people in a small dataset.
    images_per_identity: float = 5.0
    seed: int = 0
    size: int = 128
    #: The whole aligned image, squeezed: a centre crop cuts off the collar and necktie.
    crop: str = "none"
    epochs: int = 12
    batch_size: int = 32
    faces_shown: int = 8
    #: Face-recognition stage: identity model epochs and image size (64 px: a minute on 2 cores).
    identity_epochs: int = 6
    identity_size: int = 64
    #: Epochs of the 32 px DCGAN stage: 2,250 generator steps at the default 6,000 faces (about
    #: 2 minutes on 2 cores); fewer leave the faces blurry (docs/generation.md).
    gan_epochs: int = 30


@dataclass
class Stages:
    """Wall-clock seconds of each finished stage, in order, for the report's summary table."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str, output: Path | str, work: Callable[[], T]) -> T:
        """Run one stage, print its progress and record how long it took."""
        print(f"[demo] {name} …", flush=True)
        start = time.perf_counter()
        result = work()
        stopping.check()  # a signal lost in a worker pool's start ends the demo here
        seconds = time.perf_counter() - start
        self.rows.append({"stage": name, "seconds": round(seconds, 1), "output": str(output)})
        print(f"[demo] {name} done in {seconds:.1f} s", flush=True)
        return result


def prepare_output(out: Path) -> None:
    """Start from an empty output folder; only a folder made by an earlier demo is cleared."""
    if out.exists() and any(out.iterdir()):
        if not (out / _MARKER).exists():
            raise CelebalabError(
                f"{out}: folder exists and was not made by the demo; choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / _MARKER).write_text("made by python -m celebalab.demo\n")


def run_demo(options: DemoOptions) -> Path:
    """Run every stage and write ``options.out/report.html``; return its path."""
    with _progress.shown(True, bars=False):  # the demo's one progress setting
        return _run_stages(options)


def _run_stages(options: DemoOptions) -> Path:
    from celebalab.analysis import build_stats_report, run_stats
    from celebalab.datasets import pack_images, verify_dataset
    from celebalab.datasets.synth import generate
    from celebalab.datasets.verify import dataset_info
    from celebalab.demo._explain import demo_explain, demo_report
    from celebalab.demo._gan import add_demo_sections, run_demo_gan
    from celebalab.demo._recognition import face_recognition_report, face_recognition_stage
    from celebalab.models import evaluate_run, train
    from celebalab.models.eval_report import build_evaluation_report

    out = options.out
    prepare_output(out)
    stages = Stages()
    data = out / "data"
    synth = stages.run(
        "synthesise faces",
        data,
        lambda: generate(
            data,
            n=options.n,
            seed=options.seed,
            n_hq=options.n_hq,
            images_per_identity=options.images_per_identity,
        ),
    )
    celeba, hq = synth.celeba_root, synth.hq_root
    verified = {
        name: stages.run(f"verify {name}", root, lambda r=root: verify_dataset(r))
        for name, root in (("CelebA", celeba), ("CelebAMask-HQ", hq))
    }
    info = dataset_info(celeba)
    stages.run(
        f"pack images at {options.size} px",
        celeba,
        lambda: pack_images(celeba, options.size, crop=options.crop),
    )
    stats = stages.run(
        "attribute statistics", out / "stats", lambda: run_stats(celeba, out / "stats")
    )
    run_dir = out / "run"
    trained = stages.run(
        "train small_cnn",
        run_dir,
        lambda: train(
            celeba,
            run_dir,
            task="attributes",
            arch="small_cnn",
            size=options.size,
            crop=options.crop,
            epochs=options.epochs,
            batch_size=options.batch_size,
            seed=options.seed,
        ),
    )
    evaluation = stages.run(
        "evaluate on the test split", run_dir / "eval_test", lambda: evaluate_run(run_dir)
    )
    recognition = stages.run(
        "face recognition: identity model, embeddings, evaluation, retrieval",
        out / "recognition",
        lambda: face_recognition_stage(
            celeba,
            out / "recognition",
            run_dir,
            size=options.identity_size,
            crop=options.crop,
            epochs=options.identity_epochs,
            seed=options.seed,
        ),
    )
    explained = stages.run(
        "explain: attributions vs masks (10 methods, 2 attributes, pairs)",
        out / "explain",
        lambda: demo_explain(run_dir, celeba, out / "explain", seed=options.seed),
    )
    gan_dir = out / "gan"
    gan = stages.run(
        f"train + evaluate a 32 px DCGAN ({options.gan_epochs} epochs)",
        gan_dir,
        lambda: run_demo_gan(
            celeba,
            gan_dir,
            run_dir,
            epochs=options.gan_epochs,
            crop=options.crop,
            seed=options.seed,
        ),
    )

    report = Report(
        title="celebalab demo",
        subtitle=(
            f"synthetic CelebA, {options.n:,} faces (seed {options.seed}) · "
            f"{sum(r['seconds'] for r in stages.rows):.0f} s end to end"
        ),
    )
    report.section("Pipeline").table(pd.DataFrame(stages.rows), float_format="{:.1f}", index=False)
    _dataset_section(report.section("Dataset"), info, verified)
    _faces_section(report.section("Synthetic faces and their masks"), hq, options.faces_shown)
    _regions_section(report.section("Which region causes each attribute"))
    report.extend(build_stats_report(stats))
    _training_section(report.section("Classifier training"), trained)
    report.extend(build_evaluation_report(evaluation))
    report.extend(face_recognition_report(recognition))
    report.extend(demo_report(explained))
    add_demo_sections(report, gan_dir, *gan)
    path = report.write(out / "report.html")
    print(f"[demo] report: {path}", flush=True)
    return path


def _dataset_section(sec: Section, info: dict[str, Any], verified: dict[str, Any]) -> None:
    rows = [{"property": k, "value": _plain(v)} for k, v in info.items()]
    sec.table(pd.DataFrame(rows), index=False)
    sec.heading("Verification (celebalab data verify)")
    checks = [
        {
            "dataset": name,
            "layout": report.layout,
            "result": "ok" if report.ok else "problems",
            "problems": ", ".join(f"{k}: {v}" for k, v in report.totals.items() if v) or "none",
        }
        for name, report in verified.items()
    ]
    sec.table(pd.DataFrame(checks), index=False)


def _faces_section(sec: Section, hq_root: Path, count: int) -> None:
    from PIL import Image

    from celebalab.datasets.masks import label_map_to_color, load_label_map
    from celebalab.datasets.synth import face_grid, overlay_label_map

    tiles = []
    for index in range(count):
        image = np.asarray(Image.open(hq_root / "CelebA-HQ-img" / f"{index}.jpg").convert("RGB"))
        labels = load_label_map(hq_root, index)
        tiles += [image, label_map_to_color(labels), overlay_label_map(image, labels)]
    sec.text(
        "CelebAMask-HQ-format faces, the label map combined from their per-class mask files in "
        "the authors' order, and the two overlaid. Each attribute is drawn in a known region."
    )
    sec.image(face_grid(tiles, columns=6), alt="synthetic faces with masks")


def _regions_section(sec: Section) -> None:
    from celebalab.datasets.synth import attribute_region_table

    sec.text(
        "Ground truth for explainability: the mask classes whose pixels cause each attribute "
        "(kind 'sampled' = a label with no drawn cause, learnable only through correlations)."
    )
    sec.table(attribute_region_table(), index=False)


def _training_section(sec: Section, run: ClassifierRun) -> None:
    training = run.training.to_json() if run.training else {}
    rows = [{"setting": k, "value": _plain(v)} for k, v in training.items()]
    rows.insert(0, {"setting": "arch", "value": run.arch})
    rows.insert(1, {"setting": "image size", "value": run.image_size})
    sec.table(pd.DataFrame(rows), index=False)


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of ``make demo``."""
    defaults = DemoOptions()
    parser = argparse.ArgumentParser(prog="python -m celebalab.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=defaults.out, help="output folder")
    parser.add_argument("--n", type=int, default=defaults.n, help="synthetic faces")
    parser.add_argument("--n-hq", type=int, default=defaults.n_hq, help="faces also in HQ")
    parser.add_argument("--images-per-identity", type=float, default=defaults.images_per_identity)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--size", type=int, default=defaults.size, help="training image size")
    parser.add_argument("--crop", choices=("center", "none"), default=defaults.crop)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--identity-epochs", type=int, default=defaults.identity_epochs)
    parser.add_argument("--identity-size", type=int, default=defaults.identity_size)
    parser.add_argument("--gan-epochs", type=int, default=defaults.gan_epochs)
    args = parser.parse_args(argv)
    try:
        with stopping.stop_on_signals():
            run_demo(DemoOptions(**vars(args)))
    except CelebalabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except stopping.Stopped as stop:  # the demo starts from an empty folder: no resume
        print(f"stopped by {stop}; the demo starts again from the beginning when run again "
              "(make demo)", file=sys.stderr)  # fmt: skip
        return stop.exit_code
    from celebalab.explorer.cli import demo_command

    print(f"[demo] explore the embeddings in a browser: {demo_command(args.out)}", flush=True)
    return 0
