"""The GAN run directory: a trained generator that describes itself, loadable with nothing else.

Layout of ``RUN_DIR`` (format version 1)::

    run.json               written last: its presence means training finished
    generator.pt           state dict of the EMA generator (what ``sample``/``evaluate`` use)
    checkpoints/last.pt    full training state (both networks, EMA, optimisers, scalers,
                           step, history): ``--resume`` continues from it exactly
    grids/epoch_NNN.png    the fixed-noise grid of the EMA generator after each epoch
    losses.csv             one row per step: d_loss, g_loss, d_real, d_fake (mean D(x) as prob.)
    epochs.csv             one row per epoch: seconds, images/s, sample diversity, warnings
    report.html            grids over training, loss curves, warnings (``evaluate`` adds metrics)

``run.json`` keys: ``format_version``, ``celebalab_version``, ``kind`` (``"gan"``), ``arch``,
``image_size``, ``crop``, ``noise_dim``, ``conditional`` (attribute names, in code order),
``config`` (every :class:`~celebalab.generate.config.GanConfig` field), ``data`` (``root``,
``fingerprint``, ``counts``, ``partition_source``), ``training`` (``steps``, ``epochs_run``,
``seconds``, ``images_per_second``, ``precision_used``, ``world_size``) and ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from celebalab import __version__
from celebalab.errors import CelebalabError
from celebalab.generate._networks import Generator, build_pair
from celebalab.generate.records import FORMAT_VERSION, KIND, GanRun
from celebalab.io import atomic_path, read_json_object, write_json_atomic
from celebalab.rundir import RunKind

RUN_JSON = "run.json"
GENERATOR_FILE = "generator.pt"
CHECKPOINT = Path("checkpoints") / "last.pt"
GRID_DIR = "grids"
LOSSES_CSV = "losses.csv"
EPOCHS_CSV = "epochs.csv"
REPORT = "report.html"
EVAL_DIR = "eval"
#: A GAN run's folder: ``--overwrite`` replaces these names (``gan evaluate``'s ``eval/``
#: included, stale once the generator changes), never other files.
GAN_RUN = RunKind(
    "GAN run", manifest=RUN_JSON,
    outputs=(GENERATOR_FILE, "checkpoints", GRID_DIR, LOSSES_CSV, EPOCHS_CSV, REPORT),
    derived=(EVAL_DIR,),
)  # fmt: skip


class GanRunError(CelebalabError):
    """A GAN run directory is missing, unfinished, corrupt or from an incompatible celebalab."""


@dataclass
class LoadedGan:
    """A trained generator read back from its run directory (in eval mode, on CPU), with its
    ``run.json`` record."""

    run_dir: Path
    record: GanRun
    generator: Generator

    @property
    def conditional(self) -> list[str]:
        """The conditioned attributes, in code order (empty: unconditional)."""
        return list(self.record.conditional)

    @property
    def image_size(self) -> int:
        """Side of the generated images in pixels."""
        return self.record.image_size


def save_run(run_dir: Path, generator: torch.nn.Module, run: GanRun) -> Path:
    """Write ``generator.pt`` then ``run.json`` (last, atomically); return run.json's path."""
    state = {k: v.detach().cpu() for k, v in generator.state_dict().items()}
    with atomic_path(run_dir / GENERATOR_FILE) as tmp:
        torch.save(state, tmp)
    return write_json_atomic(run_dir / RUN_JSON, run.to_json())


def read_run_info(run_dir: str | Path) -> GanRun:
    """Parse and check ``run_dir/run.json`` without loading weights."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_JSON
    if not run_dir.is_dir():
        raise GanRunError(f"{run_dir}: GAN run directory not found")
    if not path.is_file():
        hint = "resume it with `celebalab gan train ROOT --out RUN --resume`"
        raise GanRunError(f"{path}: missing; {run_dir} is not a finished GAN run ({hint})")
    info = read_json_object(path, "run file")
    if info.get("kind") != KIND:
        raise GanRunError(f"{path}: not a GAN run (a classifier run? use `celebalab evaluate`)")
    if info.get("format_version") != FORMAT_VERSION:
        raise GanRunError(
            f"{path}: GAN run format {info.get('format_version')!r}; this celebalab "
            f"{__version__} reads format {FORMAT_VERSION} only (retrain with this version)"
        )
    return GanRun.from_json(info, path)


def load_gan_run(run_dir: str | Path) -> LoadedGan:
    """Load a finished GAN run: the EMA generator rebuilt from ``run.json``, in eval mode."""
    run_dir = Path(run_dir)
    run = read_run_info(run_dir)
    generator, _ = build_pair(run.image_size, len(run.conditional))
    weights = run_dir / GENERATOR_FILE
    try:
        generator.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except FileNotFoundError:
        raise GanRunError(f"{weights}: generator weights missing") from None
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GanRunError(f"{weights}: corrupt or incompatible weights ({reason})") from None
    return LoadedGan(run_dir, run, generator.eval())
