"""Equal-time quality (``bench_gan.py --quality``): what each loop's faces are worth after the
same minutes on the same cores.

The benchmark synthesises its faces (one set for the GANs, a second, disjoint set for the
classifier that defines the feature space, so the classifier is independent of both GANs). The
reference notebook's loop (:mod:`notebook_dcgan`: ImageFolder + PIL, batch 32, its optimiser)
and ``gan train`` (its default recipe, or the ``--variant`` recipes of an ablation) each train
on the same training split for the same wall-clock budget, each in its own process with the
same torch thread count; the budget counts from before each opens its data.

The contestants of a budget (and the conditional run) **take turns** on the cores: each process
runs for a 2-second slice while the others are stopped (SIGSTOP/SIGCONT), and each one's budget
counts only its own turns (its clock is a file the parent keeps up to date). On a machine other
jobs share, the load they add then falls on every contestant alike: run one after the other,
each would get a different, unknown share of the cores (measured here, the same training
step's cost varied 5-10x from one minute to the next), and run at the same time they would
compete with each other, which penalises the multi-threaded loop most.
Both generators are then evaluated by the same ``gan evaluate`` code: classifier-feature FID and
KID beside the real-vs-real floor, precision/recall. A conditional ``gan train`` run of the same
budget shows whether the attributes obey (share the independent classifier recognises, beside
its agreement with real labels), with one grid per attribute combination.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Conditioned attributes of the conditional run: drawn in the synthetic faces and recognised at
#: 32 px by the benchmark's classifier on real faces (balanced accuracy ~0.96-1.0 on its
#: validation split; Smiling and Eyeglasses, 0.51 and 0.62 there, are too small at 32 px).
ATTRIBUTES = "Male,Black_Hair,Bangs"
CLASSIFIER_EPOCHS = 8
CLASSIFIER_FACES = 3000
#: Samples per set in the evaluation (capped by gan evaluate at half the training split).
EVAL_SAMPLES = 2000
GRID_FACES = 64
#: Seconds each contestant runs before the next one's turn, and how often its clock is updated.
SLICE = 2.0
TICK = 0.05
#: Epoch cap of a time-budgeted ``gan train`` (the budget ends it long before).
UNBOUNDED_EPOCHS = 100_000


@dataclass(frozen=True)
class Workspace:
    """Where the benchmark's data, classifier and runs live (kept between invocations)."""

    work: Path

    @property
    def root(self) -> Path:
        """The GANs' synthetic CelebA root."""
        return self.work / "gan_data" / "CelebA"

    @property
    def folder(self) -> Path:
        """The notebook's ImageFolder: the training split's JPEGs, linked."""
        return self.work / "imagefolder"

    @property
    def classifier(self) -> Path:
        """The feature-space classifier run (trained on the second synthetic set)."""
        return self.work / "classifier"


def add_arguments(parser: Any) -> None:
    """The ``--quality`` options of ``bench_gan.py``."""
    group = parser.add_argument_group("--quality (equal-time comparison)")
    group.add_argument("--quality", action="store_true", help=__doc__.splitlines()[0])
    group.add_argument("--minutes", type=float, nargs="+", default=[5.0, 15.0],
                       help="time budgets, one comparison each (default 5 15)")  # fmt: skip
    group.add_argument("--cores", type=int, default=2, help="torch threads of every side (2)")
    group.add_argument("--faces", type=int, default=4000, help="synthetic faces for the GANs")
    group.add_argument("--work", type=Path, help="keep data, classifier and runs here (reused)")
    group.add_argument(
        "--variant", action="append", default=[], metavar="NAME:KEY=VALUE,…",
        help="a gan train recipe to compare instead of the default one (repeatable), e.g. "
        "'old:augment=none,spectral_norm=0,loss=bce,batch_size=128'",
    )  # fmt: skip
    group.add_argument(
        "--conditional", default=ATTRIBUTES,
        help=f"attributes of the conditional run ({ATTRIBUTES}), or none",
    )  # fmt: skip
    group.add_argument("--no-notebook", action="store_true", help="skip the notebook's loop")
    group.add_argument("--grids", type=Path, help="write the grid PNGs here (default: WORK)")


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``"name:key=value,…"`` → (name, GanConfig overrides); ``+`` joins tuple values."""
    from celebalab.generate.config import GanConfig

    name, _, body = text.partition(":")
    types = {f.name: f.type for f in dataclasses.fields(GanConfig)}
    overrides: dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        kind = types[key]
        if "tuple" in kind:
            overrides[key] = () if value == "none" else tuple(value.split("+"))
        elif kind == "bool":
            overrides[key] = value in ("1", "true", "yes")
        else:
            overrides[key] = (float if kind == "float" else int if "int" in kind else str)(value)
    return name, overrides


def main(args: Any) -> None:
    """Run every budget in ``args.minutes`` and print the comparisons."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        space = Workspace(args.work or Path(tmp))
        print(f"cores: {args.cores} torch threads per side ({len(os.sched_getaffinity(0))} "
              f"available), load average at start: {_load()}")  # fmt: skip
        prepare(space, args.faces, args.cores)
        variants = [parse_variant(v) for v in args.variant] or [("celebalab", {})]
        conditional = None if args.conditional == "none" else args.conditional
        grids = args.grids or space.work
        for minutes in args.minutes:
            budget = {"seconds": minutes * 60, "threads": args.cores}
            contest = Contest(space, minutes, budget, grids)
            contest.run(variants, conditional, args.no_notebook)
        print(f"load average at end: {_load()}")


# ---------------------------------------------------------------- data and classifier


def prepare(space: Workspace, faces: int, cores: int) -> None:
    """Synthesise both face sets, train the classifier and link the notebook's folder (each
    only when missing)."""
    from celebalab.datasets.synth import generate

    start = time.perf_counter()
    if not space.root.is_dir():
        generate(space.root.parent, faces, seed=0, n_hq=0)
    cls_root = space.work / "classifier_data" / "CelebA"
    if not cls_root.is_dir():
        generate(cls_root.parent, CLASSIFIER_FACES, seed=1, n_hq=0)
    print(f"data: {faces} synthetic faces for the GANs, {CLASSIFIER_FACES} others for the "
          f"classifier ({time.perf_counter() - start:.0f} s)")  # fmt: skip
    if not (space.classifier / "run.json").is_file():
        _child({"kind": "classifier", "root": str(cls_root), "out": str(space.classifier),
                "threads": cores})  # fmt: skip
    if not space.folder.is_dir():
        _link_training_split(space.root, space.folder / "faces")
    train = sum(1 for _ in (space.folder / "faces").iterdir())
    print(f"training split: {train:,} images, the same for every contestant")
    info = json.loads((space.classifier / "run.json").read_text())
    print(f"classifier: {info['arch']} at {info['image_size']} px, {CLASSIFIER_EPOCHS} epochs on "
          f"the {CLASSIFIER_FACES} other faces (crop none, as both GANs)")  # fmt: skip


def _link_training_split(root: Path, target: Path) -> None:
    """Symlink the JPEGs of ``root``'s training split (the one ``gan train`` uses) into
    ``target``: the notebook's ImageFolder then trains on exactly the same images."""
    from celebalab.datasets import open_dataset
    from celebalab.generate._data import load_gan_data

    dataset = open_dataset(root)
    data = load_gan_data(dataset, 32, "none", (), 0)
    target.mkdir(parents=True)
    for row in data.rows["train"]:
        source = dataset.image_path(int(row))
        (target / source.name).symlink_to(source)


# ---------------------------------------------------------------- one budget


@dataclass(frozen=True)
class Contest:
    """Every contestant of one budget: trained (taking turns), evaluated, printed."""

    space: Workspace
    minutes: float
    #: ``seconds`` and ``threads`` of every training job.
    budget: dict[str, Any]
    grids: Path

    @property
    def runs(self) -> Path:
        """Where this budget's runs go."""
        return self.space.work / f"runs_{self.minutes:g}min"

    def run(self, variants: list[tuple[str, dict]], conditional: str | None,
            skip_notebook: bool) -> None:  # fmt: skip
        """Train, evaluate and print; write ``results.json`` beside the runs."""
        cores, space = self.budget["threads"], self.space
        print(f"--- budget {self.minutes:g} min wall-clock on {cores} cores each, taking turns "
              f"in {SLICE:g} s slices; load average now: {_load()}")  # fmt: skip
        jobs = {} if skip_notebook else {
            "notebook": {"kind": "notebook", "folder": str(space.folder)}
        }  # fmt: skip
        jobs.update({name: {"kind": "celebalab", "overrides": overrides}
                     for name, overrides in variants})  # fmt: skip
        if conditional:
            overrides = {"conditional": conditional.split(",")}
            jobs["conditional"] = {"kind": "celebalab", "overrides": overrides}
        results = self._train(jobs)
        print(f"trained; load average now: {_load()}")
        for name, trained in results.items():
            trained["metrics"] = _child({"kind": "evaluate", "run": str(self.runs / name),
                                         "classifier": str(space.classifier),
                                         "threads": cores})  # fmt: skip
            print(_describe(name, trained))
        ranked = [name for name, _ in variants]
        for name in ranked if "notebook" in results else ():
            print(_headline(self.minutes, cores, results["notebook"], name, results[name]))
        if len(ranked) > 1:
            print(_table({k: v for k, v in results.items() if k != "conditional"}))
        grid = self.grids / f"gan_equal_time_{self.minutes:g}min.png"
        side_by_side({name: self.runs / name for name in results if name != "conditional"}, grid)
        print(f"grids (first {GRID_FACES} faces of seed 1, each side): {grid}")
        if conditional:
            self._conditional(conditional, results["conditional"])
        (self.runs / "results.json").write_text(json.dumps(results, indent=1))

    def _train(self, jobs: dict[str, dict]) -> dict[str, dict]:
        common = {"root": str(self.space.root), **self.budget}
        full = {name: {**job, **common, "out": str(self.runs / name)}
                for name, job in jobs.items()}  # fmt: skip
        return _take_turns(full, self.runs)

    def _conditional(self, attributes: str, trained: dict) -> None:
        cond = trained["metrics"]["conditional"]
        per = "; ".join(
            f"{row['attribute']} {row['recognised on generated']:.2f} "
            f"(real {row['agreement on real (ceiling)']:.2f})"
            for row in cond["per_attribute"]
        )
        print(f"conditional gan train ({attributes}), same {self.minutes:g} min: all "
              f"conditioned attributes recognised on {cond['all_generated']:.1%} of the samples; "
              f"the classifier agrees with real images' labels on {cond['all_real']:.1%}; per "
              f"attribute: {per}")  # fmt: skip
        from celebalab.generate._report import combination_figure
        from celebalab.generate.run import load_gan_run
        from celebalab.generate.sample import combination_rows

        path = self.grids / f"gan_conditional_{self.minutes:g}min.png"
        rows = combination_rows(load_gan_run(self.runs / "conditional"), seed=1)
        combination_figure(rows).savefig(path, dpi=80)
        print(f"grid per attribute combination: {path}")


# ---------------------------------------------------------------- printing


def _metrics(trained: dict) -> tuple[dict, dict]:
    space = trained["metrics"]["feature_space"]
    return space["generated"], space["floor"]


def _describe(name: str, trained: dict) -> str:
    gen, floor = _metrics(trained)
    return (f"{name}: {trained['steps']:,} steps, {trained['images']:,} images "
            f"({trained['epochs']:.1f} epochs) in {trained['seconds']:.0f} s of its turns "
            f"({trained['cpu_seconds']:.0f} s CPU); FID "
            f"{gen['FID']:.2f} [floor {floor['FID']:.2f}], KID {gen['KID']:.4f}, precision "
            f"{gen['precision']:.3f}, recall {gen['recall']:.3f}")  # fmt: skip


def _headline(minutes: float, cores: int, notebook: dict, name: str, ours: dict) -> str:
    (nb, floor), (us, _) = _metrics(notebook), _metrics(ours)
    above_nb, above_us = nb["FID"] - floor["FID"], us["FID"] - floor["FID"]
    return (
        f"quality at equal time ({minutes:g} min, {cores} cores): notebook FID {nb['FID']:.2f} "
        f"[floor {floor['FID']:.2f}], {name} FID {us['FID']:.2f}; KID {nb['KID']:.4f} vs "
        f"{us['KID']:.4f} [floor {floor['KID']:.4f}]; precision/recall {nb['precision']:.3f}/"
        f"{nb['recall']:.3f} vs {us['precision']:.3f}/{us['recall']:.3f} [floor "
        f"{floor['precision']:.3f}/{floor['recall']:.3f}]\n"
        f"FID above the floor: notebook {above_nb:.2f}, {name} {above_us:.2f}; ratio "
        f"{above_us / above_nb:.2f} (goal: at most 0.5)"
    )


def _table(results: dict[str, dict]) -> str:
    lines = ["| recipe | FID − floor | KID | precision | recall | steps | img/s |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, trained in results.items():
        gen, floor = _metrics(trained)
        lines.append(
            f"| {name} | {gen['FID'] - floor['FID']:.2f} | {gen['KID']:.4f} | "
            f"{gen['precision']:.3f} | {gen['recall']:.3f} | {trained['steps']:,} | "
            f"{trained['images'] / trained['seconds']:.0f} |"
        )
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def side_by_side(runs: dict[str, Path], path: Path) -> None:
    """One captioned 8×8 grid per run (the same noise seed), left to right, in one PNG."""
    import numpy as np
    from PIL import Image, ImageDraw

    from celebalab.generate._monitor import image_grid
    from celebalab.generate.run import load_gan_run
    from celebalab.generate.sample import sample_images

    panels = []
    for name, run in runs.items():
        grid = image_grid(sample_images(load_gan_run(run), GRID_FACES, seed=1), upscale=2)
        panel = np.full((grid.shape[0] + 24, grid.shape[1] + 16, 3), 255, np.uint8)
        panel[24:, 8:-8] = grid
        image = Image.fromarray(panel)
        ImageDraw.Draw(image).text((10, 6), name, fill=(0, 0, 0))
        panels.append(np.asarray(image))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(panels, axis=1)).save(path)


# ---------------------------------------------------------------- child processes


def _child(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job`` in a fresh process (its own threads, memory and imports); its JSON answer."""
    done = subprocess.run([sys.executable, __file__, json.dumps(job)], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{job['kind']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _take_turns(jobs: dict[str, dict], folder: Path) -> dict[str, dict]:
    """Run the jobs as processes that take turns on the cores (see the module doc); each job's
    ``clock`` file holds the seconds it has run so far. Their JSON answers."""
    import signal

    folder.mkdir(parents=True, exist_ok=True)
    procs, clocks, logs, ran = {}, {}, {}, dict.fromkeys(jobs, 0.0)
    for name, job in jobs.items():
        clocks[name] = folder / f"{name}.clock"
        _write_clock(clocks[name], 0.0)
        logs[name] = (folder / f"{name}.out", folder / f"{name}.err")
        with open(logs[name][0], "w") as out, open(logs[name][1], "w") as err:
            procs[name] = subprocess.Popen(
                [sys.executable, __file__, json.dumps({**job, "clock": str(clocks[name])})],
                stdout=out, stderr=err,
            )  # fmt: skip
        procs[name].send_signal(signal.SIGSTOP)
    while running := [name for name, proc in procs.items() if proc.poll() is None]:
        for name in running:
            proc, start = procs[name], time.perf_counter()
            proc.send_signal(signal.SIGCONT)
            while time.perf_counter() - start < SLICE and proc.poll() is None:
                time.sleep(TICK)
                _write_clock(clocks[name], ran[name] + time.perf_counter() - start)
            if proc.poll() is None:
                proc.send_signal(signal.SIGSTOP)
            ran[name] += time.perf_counter() - start
    answers = {}
    for name, proc in procs.items():
        if proc.returncode:
            raise SystemExit(f"{name} failed:\n{logs[name][1].read_text()[-3000:]}")
        answers[name] = json.loads(logs[name][0].read_text().strip().splitlines()[-1])
    return answers


def _write_clock(path: Path, seconds: float) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(repr(seconds))
    os.replace(tmp, path)


class FileClock:
    """The seconds a process has run in its turns, read from the file its parent keeps."""

    def __init__(self, path: str) -> None:
        self.path, self.last = Path(path), 0.0

    def __call__(self) -> float:
        with contextlib.suppress(OSError, ValueError):  # being replaced: the last one stands
            self.last = float(self.path.read_text())
        return self.last


def _run_child(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(job["threads"])
    kind = job["kind"]
    if kind in ("notebook", "celebalab"):
        cpu, clock = time.process_time(), FileClock(job["clock"])
        trained = (_train_notebook if kind == "notebook" else _train_celebalab)(job, clock)
        return {**trained, "cpu_seconds": time.process_time() - cpu, "turn_seconds": clock()}
    if kind == "classifier":
        from celebalab.models import train

        train(job["root"], job["out"], task="attributes", arch="small_cnn", size=32,
              crop="none", epochs=CLASSIFIER_EPOCHS, batch_size=64, seed=0,
              threads=job["threads"], progress=False)  # fmt: skip
        return {}
    from celebalab.generate.evaluate import evaluate_gan

    result = evaluate_gan(job["run"], job["classifier"], n=EVAL_SAMPLES, seed=0, overwrite=True,
                          progress=False)  # fmt: skip
    return {key: value for key, value in result.to_json().items()
            if key in ("samples_per_set", "feature_space", "conditional")}  # fmt: skip


def _train_celebalab(job: dict[str, Any], clock: FileClock) -> dict[str, Any]:
    from celebalab.generate.config import GanConfig
    from celebalab.generate.train import train_gan

    overrides = {**job["overrides"]}
    overrides["conditional"] = tuple(overrides.get("conditional", ()))
    overrides["augment"] = tuple(overrides.get("augment", GanConfig().augment))
    config = GanConfig(size=32, crop="none", epochs=UNBOUNDED_EPOCHS, threads=job["threads"],
                       progress=False, **overrides)  # fmt: skip
    start = clock()
    info = train_gan(job["root"], job["out"], config, overwrite=True, max_seconds=job["seconds"],
                     clock=clock)  # fmt: skip
    steps = info.training.steps
    return {"steps": steps, "images": steps * config.batch_size,
            "epochs": steps * config.batch_size / info.data.counts["train"],
            "seconds": clock() - start, "recipe": config.to_dict()}  # fmt: skip


def _train_notebook(job: dict[str, Any], clock: FileClock) -> dict[str, Any]:
    """The notebook's loop for the budget; its generator saved as a GAN run (same layers as
    ``dcgan32_seed``) so that ``gan evaluate`` reads it like any other."""
    import shutil

    from celebalab.generate import run as runfmt
    from celebalab.generate._data import describe, load_gan_data
    from celebalab.generate.config import GanConfig
    from celebalab.generate.records import GanRun
    from notebook_dcgan import SEED_BATCH, notebook_train

    result, generator = notebook_train(Path(job["folder"]), job["threads"],
                                       seconds=job["seconds"], clock=clock)  # fmt: skip
    out = Path(job["out"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    data = load_gan_data(job["root"], 32, "none", (), 0, progress=False)
    config = GanConfig(size=32, crop="none", batch_size=SEED_BATCH, loss="bce", ema_decay=0.0,
                       augment=(), epochs=max(1, round(result["epochs"])))  # fmt: skip
    runfmt.save_run(out, generator, GanRun.from_json({
        "arch": "dcgan32_seed", "image_size": 32, "crop": "none", "noise_dim": 100,
        "conditional": [], "config": config.to_dict(),
        "data": {"root": str(Path(job["root"]).resolve()), **describe(data)},
        "training": {"steps": result["steps"], "epochs_run": int(result["epochs"]),
                     "seconds": round(result["seconds"], 2),
                     "images_per_second": round(result["images_per_second"], 1),
                     "precision_used": "32", "world_size": 1, "device": "cpu",
                     "stopped_by": "time budget"},
        "warnings": [],
    }))  # fmt: skip
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(json.dumps(_run_child(json.loads(sys.argv[1]))))
