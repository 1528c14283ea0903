"""Benchmark the pretrained face-recognition path: dlib, an imported ONNX / TorchScript ResNet-50,
and face alignment (``celebalab model import``, ``embed extract``, :class:`FacePrep`).

The data is made here: a CelebA-layout folder (the official annotation files) whose N images are
copies of the two *real* sample faces in ``tests/data/formats/celeba/img_align_celeba/`` (dlib's
HOG detector finds no synthetic face), with their official landmarks, all in the test partition.
Every case runs in its own subprocess (so its peak memory is its own) and prints, on one line
with the machine's core count: the images it ran, images/s (best of the timed passes, after one
untimed warm-up pass where there is something to warm: worker processes, oneDNN's per-shape
set-up), milliseconds per image (wall time / images), the first pass's seconds and peak RSS of
the measuring process and of it together with its worker processes (sampled every 50 ms). Each
group's ratio is against a baseline measured in the same run:

- dlib (baseline: dlib's ResNet descriptor on ready 150×150 chips in one process,
  ``descriptor_model().compute_face_descriptor(chips)``, half the images as it is the slowest
  case, in batches of 256 like extraction): the same chips and descriptor through the
  imported run's module (``load_run(RUN).model``, spread over worker processes: the ratio is
  what the process pool brings), and ``import_model("dlib")`` + ``extract_embeddings`` (HOG
  detector + 5-point predictor + chip + descriptor, over worker processes; the import's own
  seconds are printed beside it).
- ONNX ResNet-50 (baseline: the same torch module called eagerly on pre-aligned uint8 batches
  normalised to the channels-last input celebalab gives torch models, model only):
  torchvision's resnet50 with a 512-d output at 112 px, the size of InsightFace's
  ``w600k_r50`` (random weights: speed does not depend on them), exported with
  ``torch.onnx.export(dynamo=True)`` and imported with ``--preset arcface``, and the same module
  imported as TorchScript: ``extract_embeddings`` (landmark alignment + forward + writing the
  set, the run loaded anew by each call as by ``embed extract``; the ratio shows the pipeline's
  overhead) and each run's module alone on the pre-aligned batches, with its share of the
  extraction's time. The ONNX/TorchScript extraction ratio is printed last.
- alignment, one process (baseline: decode + centre crop + resize, celebalab's own runs' input):
  ``FacePrep.for_template("arcface", 112).load(path, landmarks)`` (least-squares similarity and
  warp) and ``load(path)`` (dlib's HOG detector + 5-point predictor first).

    python benchmarks/bench_recognition.py            # 400 images (~5 min on 2 cores)
    python benchmarks/bench_recognition.py --quick    # 80 images
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "data" / "formats" / "celeba" / "img_align_celeba"
#: The samples' rows of CelebA's ``list_landmarks_align_celeba.txt`` (eyes, nose, mouth corners).
SAMPLE_LANDMARKS = {
    "000001.jpg": [69, 109, 106, 113, 77, 142, 73, 152, 108, 154],
    "000002.jpg": [69, 110, 107, 112, 81, 135, 70, 151, 108, 153],
}
SAMPLE_BOXES = {"000001.jpg": [95, 71, 226, 313], "000002.jpg": [72, 94, 221, 306]}
REPEATS = 2  # best of: the machine may be shared, the minimum is the least disturbed run
BATCH = 256  # ``embed extract``'s default batch size; the model-only loops use the same
EMBED_DIM = 512
ARC_SIZE = 112


# ---------------------------------------------------------------- data and models


def make_dataset(root: Path, n: int) -> None:
    """An official-layout CelebA folder: ``n`` copies of the two sample faces, all in test."""
    from celebalab.datasets.schema import ATTRIBUTE_NAMES, LANDMARK_COLUMNS

    eol = "\r\n"
    names = sorted(SAMPLE_LANDMARKS)
    ids = [f"{i + 1:06d}.jpg" for i in range(n)]
    source = [names[i % len(names)] for i in range(n)]
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    for image_id, src in zip(ids, source, strict=True):
        shutil.copyfile(SAMPLES / src, images / image_id)
    attrs = np.where(np.random.default_rng(0).random((n, len(ATTRIBUTE_NAMES))) < 0.3, 1, -1)

    def rows(rests: list[str]) -> str:
        return "".join(f"{i}{rest}{eol}" for i, rest in zip(ids, rests, strict=True))

    files = {
        "list_attr_celeba.txt": f"{n}{eol}{' '.join(ATTRIBUTE_NAMES)} {eol}"
        + rows(["".join(f"{v:3d}" for v in row) for row in attrs]),
        "list_eval_partition.txt": rows([" 2"] * n),
        "identity_CelebA.txt": rows([f" {names.index(s) + 1}" for s in source]),
        "list_landmarks_align_celeba.txt": f"{n}{eol}{' '.join(LANDMARK_COLUMNS)}{eol}"
        + rows(["".join(f" {v:4d}" for v in SAMPLE_LANDMARKS[s]) for s in source]),
        "list_bbox_celeba.txt": f"{n}{eol}image_id x_1 y_1 width height{eol}"
        + rows([" " + "".join(f"{v:4d}" for v in SAMPLE_BOXES[s]) for s in source]),
    }
    for name, text in files.items():
        (root / name).write_bytes(text.encode())


def resnet50_512():
    """torchvision's resnet50 with a 512-d output, fixed random weights, eval mode."""
    import torch
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet50(num_classes=EMBED_DIM).eval()


def make_models(tmp: Path) -> dict[str, float]:
    """The ResNet-50's weights, its ONNX and TorchScript files and their imported runs."""
    import io
    import warnings

    import torch

    from celebalab.models.imported import ImportOptions, import_model

    seconds = {}
    model = resnet50_512()
    torch.save(model.state_dict(), tmp / "r50.pt")
    x = torch.zeros(2, 3, ARC_SIZE, ARC_SIZE)
    start = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(tmp / "r50.onnx"), dynamo=True,
                          dynamic_shapes=({0: torch.export.Dim("batch")},))  # fmt: skip
    seconds["ONNX export"] = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        torch.jit.script(model).save(str(tmp / "r50.ts"))
    for name, file in (("onnx", "r50.onnx"), ("torchscript", "r50.ts")):
        start = time.perf_counter()
        import_model(str(tmp / file), tmp / f"run_{name}", ImportOptions(preset="arcface"))
        seconds[f"{name} import"] = time.perf_counter() - start
    return seconds


def landmarks(n: int) -> tuple[list[str], np.ndarray]:
    """The dataset's file names and ``n×5×2`` landmarks (as ``make_dataset`` wrote them)."""
    names = sorted(SAMPLE_LANDMARKS)
    source = [names[i % len(names)] for i in range(n)]
    marks = np.array([SAMPLE_LANDMARKS[s] for s in source], np.float64).reshape(n, 5, 2)
    return [f"{i + 1:06d}.jpg" for i in range(n)], marks


def replicated(prep, n: int) -> np.ndarray:
    """``n×S×S×3`` uint8 inputs made by ``prep`` from the two samples (with their landmarks)."""
    names = sorted(SAMPLE_LANDMARKS)
    made = [
        prep.load(SAMPLES / name, np.reshape(SAMPLE_LANDMARKS[name], (5, 2))).image
        for name in names
    ]
    return np.stack([made[i % len(made)] for i in range(n)])


# ---------------------------------------------------------------- measuring


class PeakTree:
    """Peak RSS of this process plus its descendants (worker pools), sampled in a thread."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self.me, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> int:
        import psutil

        total = self.me.memory_info().rss
        for child in self.me.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # a worker that just ended
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self._sample()) / 2**20


def cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process and its live worker processes."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return total


def timed(fn, warm_up: bool = True) -> dict[str, float]:
    """``best``: seconds of the fastest of :data:`REPEATS` calls of ``fn``; ``cold``: the first
    call's seconds; ``cpu``: CPU seconds of the fastest call, worker processes included.

    ``warm_up``: one more call first, not among the timed ones (worker start-up, oneDNN's
    per-shape set-up); without it, the first timed call is the reported first one.
    """
    times = []
    for _ in range(REPEATS + warm_up):
        cpu, start = cpu_seconds(), time.perf_counter()
        fn()
        times.append((time.perf_counter() - start, cpu_seconds() - cpu))
    best = min(times[warm_up:])
    return {"best": best[0], "cold": times[0][0], "cpu": best[1]}


def descriptor_images(n: int) -> int:
    """Chips the descriptor-only cases run (half the images: one process is the slowest case)."""
    return max(8, n // 2)


def batches(array: np.ndarray) -> list[np.ndarray]:
    return [array[i : i + BATCH] for i in range(0, len(array), BATCH)]


def worker(case: str, tmp: Path, n: int) -> dict:
    """Measure one case in this process; returns its figures (JSON: seconds for ``images``)."""
    import torch

    torch.set_flush_denormal(True)  # random weights: keep denormals out of every torch timing
    from celebalab.alignment import FacePrep, default_processes, descriptor_model
    from celebalab.embeddings.extract import extract_embeddings
    from celebalab.models import load_run
    from celebalab.models.architectures import normalise_uint8
    from celebalab.models.imported import import_model
    from celebalab.models.inference import model_input

    root = tmp / "celeba"
    result: dict = {"processes": 1, "images": n}
    tree = PeakTree()

    def extract(run_dir: Path, out: Path) -> None:
        emb = extract_embeddings(run_dir, root, out, split="test", overwrite=True)
        assert emb.vectors.shape[0] == n, f"{n - emb.vectors.shape[0]} image(s) skipped"

    if case == "dlib-1":
        result["images"] = n = descriptor_images(n)
        chips = replicated(FacePrep(size=150, method="dlib"), n)
        model = descriptor_model()
        model.compute_face_descriptor(list(chips[:2]))  # the network is loaded lazily

        def describe() -> None:
            for part in batches(chips):
                model.compute_face_descriptor(list(part))

        result.update(timed(describe, warm_up=False))  # nothing left to warm
    elif case == "dlib-procs":
        result["images"] = n = descriptor_images(n)
        chips = replicated(FacePrep(size=150, method="dlib"), n)
        run = load_run(tmp / "run_dlib")
        inputs = [model_input(run, part) for part in batches(chips)]
        result["processes"] = default_processes()

        def describe() -> None:
            with torch.inference_mode():
                for x in inputs:
                    assert run.model(x).shape == (len(x), 128)

        result.update(timed(describe))
    elif case == "dlib-extract":
        start = time.perf_counter()
        import_model("dlib", tmp / "run_dlib")
        result["import_s"] = time.perf_counter() - start
        result["processes"] = default_processes()
        # the import's probe started the pool: nothing left to warm
        result.update(timed(lambda: extract(tmp / "run_dlib", tmp / "emb_dlib"), warm_up=False))
    elif case == "r50-eager":
        model = resnet50_512()
        model.load_state_dict(torch.load(tmp / "r50.pt", weights_only=True))
        aligned = replicated(FacePrep.for_template("arcface", ARC_SIZE), n)
        parts = [torch.from_numpy(p) for p in batches(aligned)]

        def forward() -> None:  # the input celebalab's model_input makes: channels-last
            with torch.inference_mode():
                for part in parts:
                    model(normalise_uint8(part, (0.5,) * 3, (0.5,) * 3, channels_last=True))

        result.update(timed(forward))
    elif case in ("r50-onnx", "r50-torchscript"):
        name = case.removeprefix("r50-")
        run_dir = tmp / f"run_{name}"
        # each call loads the run anew (session, TorchScript module), as `embed extract` does
        result.update(timed(lambda: extract(run_dir, tmp / f"emb_{name}")))
        run = load_run(run_dir)
        aligned = replicated(run.face_prep, n)

        def forward() -> None:
            with torch.inference_mode():
                for part in batches(aligned):
                    run.model(model_input(run, part))

        result["model_only_s"] = timed(forward)["best"]
    elif case.startswith("align-"):
        files, marks = landmarks(n)
        paths = [root / "img_align_celeba" / f for f in files]
        if case == "align-crop":
            prep = FacePrep(size=ARC_SIZE, method="crop")
            load = [lambda p=p: prep.load(p) for p in paths]
        else:
            prep = FacePrep.for_template("arcface", ARC_SIZE)
            if case == "align-landmarks":
                load = [lambda p=p, m=m: prep.load(p, m) for p, m in zip(paths, marks, strict=True)]
            else:
                load = [lambda p=p: prep.load(p) for p in paths]
        load[0]()  # warm-up: dlib's detector and predictor are loaded lazily

        def align() -> None:
            for one in load:
                one()

        result.update(timed(align))
    else:
        raise SystemExit(f"unknown case {case!r}")
    result["tree_peak_mib"] = tree.stop()
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# ---------------------------------------------------------------- the report

#: (case, label, baseline case): the baseline's ratio line is printed as "baseline".
CASES: tuple[tuple[str, str, str], ...] = (
    ("dlib-1", "dlib descriptor on chips, one process", "dlib-1"),
    ("dlib-extract", "dlib extract: detector+5 pts+chip+descriptor", "dlib-1"),
    ("dlib-procs", "dlib descriptor on chips, run module (pool)", "dlib-1"),
    ("r50-eager", "ResNet-50 torch eager, aligned uint8, model only", "r50-eager"),
    ("r50-onnx", "ResNet-50 ONNX extract (arcface, landmarks)", "r50-eager"),
    ("r50-torchscript", "ResNet-50 TorchScript extract (same module)", "r50-eager"),
    ("align-crop", "decode + centre crop 112 px (celebalab runs)", "align-crop"),
    ("align-landmarks", "arcface 112 alignment from landmarks", "align-crop"),
    ("align-detect", "arcface 112 alignment with dlib detection", "align-crop"),
)


def run_case(case: str, tmp: Path, n: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", case, str(tmp), str(n)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{case} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="80 images instead of 400")
    parser.add_argument("--images", type=int, default=None, help="number of images")
    parser.add_argument("--worker", nargs=3, metavar=("CASE", "TMP", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--setup", nargs=2, metavar=("TMP", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]), int(args.worker[2]))))
        return
    if args.setup:
        tmp, n = Path(args.setup[0]), int(args.setup[1])
        make_dataset(tmp / "celeba", n)
        print(json.dumps(make_models(tmp)))
        return

    from celebalab.alignment import default_processes

    n = args.images or (80 if args.quick else 400)
    cores, usable = os.cpu_count(), default_processes()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cmd = [sys.executable, __file__, "--setup", tmp, str(n)]
        setup = subprocess.run(cmd, capture_output=True, text=True)
        if setup.returncode:
            sys.exit(f"setup failed:\n{setup.stderr[-4000:]}")
        made = json.loads(setup.stdout.strip().splitlines()[-1])
        print(
            f"{n} images (copies of 2 real CelebA faces, official layout, test partition) and "
            f"the ResNet-50 files made in {time.perf_counter() - start:.0f} s ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in made.items())
            + ")"
        )
        print(
            f"{cores} cores ({usable} usable: dlib's worker processes), batch {BATCH}, best of "
            f"{REPEATS}; ms/img = wall time per image; cpu = CPU ms per image, workers included "
            "(steadier than wall time on a shared machine); 1st s = first pass; peak RSS = of the "
            "measuring process / with its worker processes"
        )
        print(
            f"{'case':49s} {'procs':>10s} {'images':>6s} {'img/s':>7s} {'ms/img':>7s} "
            f"{'cpu':>6s} {'1st s':>6s} {'peak RSS MiB':>13s}  vs baseline"
        )
        results: dict[str, dict] = {}
        for case, label, base in CASES:
            res = results[case] = run_case(case, tmp, n)
            rate = res["rate"] = res["images"] / res["best"]
            ratio = "baseline" if case == base else f"{rate / results[base]['rate']:.2f}×"
            rss = f"{res['peak_mib']:.0f}/{res['tree_peak_mib']:.0f}"
            print(
                f"{label:49s} {res['processes']:>2d}/{cores:<2d} cores {res['images']:6d} "
                f"{rate:7.1f} {1000 / rate:7.2f} {1000 * res['cpu'] / res['images']:6.1f} "
                f"{res['cold']:6.1f} {rss:>13s}  {ratio}",
                flush=True,
            )
            if "import_s" in res:
                print(f"{'':50s}(model import dlib: {res['import_s']:.1f} s, pool start included)")
            if "model_only_s" in res:
                only = res["images"] / res["model_only_s"]
                share = res["model_only_s"] / res["best"]
                print(
                    f"{'':50s}(run module alone on aligned batches: {only:.1f} img/s, "
                    f"{share:.0%} of the extraction's time)"
                )
        onnx, script = (results[c]["rate"] for c in ("r50-onnx", "r50-torchscript"))
        print(f"ONNX / TorchScript extraction: {onnx / script:.2f}× on {cores} cores")


if __name__ == "__main__":
    main()
