"""Training benchmark: loader vs step throughput, celebalab epoch vs the seed's loop, peak memory.

Run: ``python benchmarks/bench_train.py [--quick] [--demo]``. All figures come from this run on
synthetic data (``celebalab.datasets.synth``):

1. images/s of the packed loader alone vs a full training step (small_cnn @64, mobilenet_v2
   @128); target: loader >= 5x the step rate at 64 px;
2. one epoch of small_cnn @64 with celebalab's pipeline (packed uint8 batches of 128,
   normalisation + augmentation in the step) vs a faithful re-implementation of the seed's loop
   (per-item PIL loading from JPEG, batch 32, Resize+ToTensor+Normalize, Adam 1e-3,
   BCEWithLogitsLoss), same images, same model; target: >= 1.4x;
3. peak anonymous memory (RssAnon, i.e. excluding the page cache) of a pass over the packed
   cache for two dataset sizes;
4. with ``--demo``: ``train`` on the synthetic data (training defaults: small_cnn at 128 px) and
   the mean balanced accuracy of drawn vs sampled-only attributes, with the time it took.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch


def _threads() -> int:
    return max(1, torch.get_num_threads())


def loader_rate(dataset, batch_size: int, batches: int) -> float:
    """Images/s of iterating the packed loader alone (uint8 batches, no model)."""
    from torch.utils.data import DataLoader

    from celebalab.models.data import EpochBatchSampler

    loader = DataLoader(dataset, batch_sampler=EpochBatchSampler(len(dataset), batch_size, True),
                        collate_fn=lambda b: b)  # fmt: skip
    t0, n = time.perf_counter(), 0
    for i, (images, _) in enumerate(loader):
        n += len(images)
        if i + 1 == batches:
            break
    return n / (time.perf_counter() - t0)


def step_rate(arch: str, size: int, batch_size: int, batches: int) -> float:
    """Images/s of a full training step on random uint8 batches (no loading)."""
    from celebalab.models._module import AttributeClassifier

    module = AttributeClassifier(arch, ["a"] * 40, (0.5,) * 3, (0.25,) * 3)
    opt = torch.optim.Adam(module.parameters(), 1e-3)
    images = torch.randint(0, 256, (batch_size, size, size, 3), dtype=torch.uint8)
    labels = torch.randint(0, 2, (batch_size, 40), dtype=torch.uint8)
    module.train()
    for i in range(batches + 1):
        if i == 1:  # first step warms up allocators and kernels
            t0 = time.perf_counter()
        loss = module.training_step((images, labels), i)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batches * batch_size / (time.perf_counter() - t0)


def epoch_celebalab(dataset) -> float:
    """Seconds of one epoch with celebalab's pipeline (packed uint8 batches of 128)."""
    from torch.utils.data import DataLoader

    from celebalab.models._module import AttributeClassifier
    from celebalab.models.data import EpochBatchSampler

    torch.manual_seed(0)
    module = AttributeClassifier("small_cnn", ["a"] * 40, (0.5,) * 3, (0.25,) * 3).train()
    opt = torch.optim.Adam(module.parameters(), 1e-3)
    loader = DataLoader(dataset, batch_sampler=EpochBatchSampler(len(dataset), 128, True),
                        collate_fn=lambda b: b)  # fmt: skip
    t0 = time.perf_counter()
    for i, batch in enumerate(loader):
        loss = module.training_step(batch, i)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def epoch_seed_loop(image_dir: Path, ids: list[str], labels: np.ndarray, size: int) -> float:
    """Seconds of one epoch of the seed's loop: PIL per item, batch 32, NCHW float, Adam."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    from celebalab.models.architectures import build_model

    tf = transforms.Compose([
        transforms.Resize((size, size)), transforms.ToTensor(),
        transforms.Normalize([0.5] * 3, [0.5] * 3),
    ])  # fmt: skip

    class Faces(Dataset):
        def __len__(self) -> int:
            return len(ids)

        def __getitem__(self, i: int):
            image = Image.open(image_dir / ids[i]).convert("RGB")
            return tf(image), torch.from_numpy(labels[i].astype(np.float32))

    torch.manual_seed(0)
    model = build_model("small_cnn", labels.shape[1]).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    crit = torch.nn.BCEWithLogitsLoss()
    t0 = time.perf_counter()
    for x, y in DataLoader(Faces(), batch_size=32, shuffle=True):
        loss = crit(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


_RSS_CHILD = """
import sys, numpy as np, torch
from celebalab.datasets.dataset import open_dataset
from celebalab.datasets.reader import ImageSpec, RowReader
from celebalab.models.data import BatchImages, EpochBatchSampler
reader = RowReader.open(open_dataset(sys.argv[1]), ImageSpec(64))
n = int(sys.argv[2])
ds = BatchImages(reader, np.arange(n), np.zeros((len(reader.dataset), 40), np.uint8))
def anon():
    for line in open('/proc/self/status'):
        if line.startswith('RssAnon'):
            return int(line.split()[1])
peak = anon()
for batch in EpochBatchSampler(n, 128, True):
    images, labels = ds.__getitems__(batch)
    x = images.permute(0, 3, 1, 2).float()
    peak = max(peak, anon())
print(peak / 1024)
"""


def peak_anon_mb(root: Path, n: int) -> float:
    """Peak RssAnon (MiB) of a process making one shuffled pass over ``n`` packed rows."""
    out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(root), str(n)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return float(out.stdout.strip())


def demo_accuracy(root: Path, out: Path, epochs: int) -> None:
    """Train with the defaults and print drawn vs sampled-only mean balanced accuracy."""
    from celebalab.datasets.synth._regions import ATTRIBUTE_REGIONS
    from celebalab.models import train

    t0 = time.perf_counter()
    run = train(root, out, epochs=epochs, checkpoint_every=10_000)
    seconds = time.perf_counter() - t0
    per = run.val_metrics["per_attribute"]
    by_kind: dict[str, list[float]] = {}
    for name, row in per.items():
        value = row["balanced_accuracy"]
        if value is not None and value == value:
            by_kind.setdefault(ATTRIBUTE_REGIONS[name]["kind"], []).append(value)
    print(f"demo train: {run.arch} {run.image_size} px, {run.data.counts} images, "
          f"{run.training.epochs_run} epochs, {seconds:.0f} s wall "
          f"({run.training.images_per_second} img/s)")  # fmt: skip
    for kind, values in sorted(by_kind.items()):
        print(f"  val mean balanced accuracy, {kind:8s} ({len(values):2d} attrs): "
              f"{np.mean(values):.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 images instead of 2,000")
    parser.add_argument("--demo", action="store_true", help="also train and report accuracy")
    parser.add_argument("--demo-images", type=int, default=4000)
    parser.add_argument("--demo-epochs", type=int, default=6)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*self.trainer.*")  # steps timed outside a Trainer
    n = 500 if args.quick else 2000

    from celebalab.datasets.dataset import open_dataset
    from celebalab.datasets.packed import pack_images
    from celebalab.datasets.reader import ImageSpec, RowReader
    from celebalab.datasets.synth import generate
    from celebalab.models.data import BatchImages

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generate(Path(tmp) / "synth", n, seed=0, n_hq=16)
        root = Path(tmp) / "synth" / "CelebA"
        print(f"synthetic CelebA: {n} images in {time.perf_counter() - t0:.1f} s; "
              f"torch threads {_threads()}")  # fmt: skip
        dataset = open_dataset(root)
        labels = dataset.attributes
        for size in (64, 128):
            result = pack_images(dataset, size)
            print(f"pack {size}px: {result.images_per_second:.0f} images/s")
        ds = {s: BatchImages(RowReader.open(dataset, ImageSpec(s)), np.arange(n), labels)
              for s in (64, 128)}  # fmt: skip

        print("\n1. throughput (images/s), batch 128")
        for arch, size, batches in (("small_cnn", 64, 4), ("mobilenet_v2", 128, 2)):
            load = loader_rate(ds[size], 128, max(4, n // 128))
            step = step_rate(arch, size, 128, batches)
            print(f"  {arch:12s} @{size:3d}px: loader {load:9.0f}  full step {step:7.1f}  "
                  f"loader/step {load / step:6.1f}x")  # fmt: skip

        print(f"\n2. one epoch of small_cnn @64 px over {n} images")
        ours = epoch_celebalab(ds[64])
        seed = epoch_seed_loop(dataset.image_dir, dataset.image_ids.tolist(), labels, 64)
        print(f"  celebalab (packed, batch 128): {ours:6.1f} s  {n / ours:6.1f} img/s")
        print(f"  seed loop (PIL/JPEG, batch 32): {seed:6.1f} s  {n / seed:6.1f} img/s")
        print(f"  speed-up: {seed / ours:.2f}x")

        print("\n3. peak anonymous memory (RssAnon, excludes page cache) of a pass over the pack")
        for rows in (n // 4, n):
            print(f"  {rows:6d} rows: {peak_anon_mb(root, rows):7.1f} MiB")

        if args.demo:
            print()
            demo_root = Path(tmp) / "demo"
            generate(demo_root, args.demo_images, seed=1, n_hq=16)
            demo_accuracy(demo_root / "CelebA", Path(tmp) / "run", args.demo_epochs)


if __name__ == "__main__":
    main()
