"""``celebalab gan train``: a plain PyTorch loop, resumable exactly after ``kill -9``.

Why a plain loop and not Lightning's manual optimisation: a GAN step is two optimisers, two
gradient scalers and an EMA update in a fixed order, and exact resume needs every random draw
keyed by the global step. Written out, each of those is visible and testable; DDP comes from
``torch.distributed`` directly (:mod:`celebalab.generate._distributed`).

What fixes the seed loop's bugs: logits losses (``BCEWithLogits`` or hinge) that are safe under
autocast; one ``GradScaler`` per network, each updated once per step (fp16), or bf16 without
scalers; a discriminator step on a fake batch made without a graph (``no_grad``, the
equivalent of ``detach``) and a generator step on a fresh batch of its own; the packed uint8
cache instead of decoding every JPEG every epoch; a fixed-noise grid drawn once from the seed
and kept in the checkpoint.

Exact resume: the batch order is a function of ``(seed, epoch)``, every noise/label draw and
every augmentation parameter of ``(seed, step, rank)``; the checkpoint (written atomically every
``checkpoint_every`` steps and at each epoch end) holds both networks, the EMA, both optimisers
and scalers and the loss history. A resumed run therefore ends with weights equal
(``torch.equal``) to an uninterrupted one.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from celebalab import __version__, _progress
from celebalab.errors import check_at_least
from celebalab.generate import run as runfmt
from celebalab.generate._augment import DiffAugment, build_augment
from celebalab.generate._data import (
    GanData,
    batch_rows,
    describe,
    load_gan_data,
    steps_per_epoch,
    to_model_input,
    to_uint8,
)
from celebalab.generate._distributed import (
    Processes,
    any_process,
    barrier,
    start_processes,
    stop_processes,
    wrap,
)
from celebalab.generate._monitor import (
    collapse_warnings,
    grid_columns,
    image_grid,
    mean_pairwise_distance,
)
from celebalab.generate._networks import ARCHITECTURES, NOISE_DIM, attribute_code, build_pair
from celebalab.generate._precision import autocast, resolve_precision
from celebalab.generate._state import (
    LOSS_COLUMNS,
    GanTrainError,
    Nets,
    Progress,
    read_checkpoint,
    save_checkpoint,
)
from celebalab.generate.config import GanConfig
from celebalab.generate.records import GanRun, GanRunData, GanTraining
from celebalab.io import atomic_path, write_text_atomic
from celebalab.rundir import open_output, writing

#: Real training images whose spread is the reference of the diversity check.
DIVERSITY_REFERENCE = 64
#: ``training.stopped_by`` of a run ended by its time budget (``--minutes``).
TIME_BUDGET = "time budget"


@dataclass
class _Job:
    """One training job: options, data, processes and the derived schedule."""

    config: GanConfig
    root: Path
    out: Path
    data: GanData
    procs: Processes
    precision: str
    steps_per_epoch: int
    augment: DiffAugment | None
    #: When a time-budgeted run ends (None: no budget).
    deadline: Deadline | None = None

    @property
    def total_steps(self) -> int:
        """Steps of the whole run."""
        return self.steps_per_epoch * self.config.epochs

    def say(self, message: str) -> None:
        """Print a note once (main process), without breaking a progress bar."""
        if self.procs.main:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)


@dataclass(frozen=True)
class Deadline:
    """The end of a time budget: ``at`` on ``clock``."""

    clock: Callable[[], float]
    at: float

    def passed(self) -> bool:
        """True once the budget is spent."""
        return self.clock() >= self.at


def train_gan(
    root: str | Path,
    out: str | Path,
    config: GanConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> GanRun | None:
    """Train a (conditional) DCGAN on ``root``'s training split into the run directory ``out``.

    ``max_steps`` stops after that many steps in all (a time-boxed job; continue with
    ``resume=True``) and returns None; otherwise returns the finished run's ``run.json`` record.
    ``max_seconds`` is a time budget from this call on (data opening included): the run
    ends, finished, after the step during which it runs out (``training.stopped_by`` says so).
    ``clock`` is what it is counted on: wall time, or ``time.process_time`` (this process's
    CPU seconds: equal compute on a machine other jobs share). On ``resume`` the fixed options
    in ``config`` must equal the saved ones (see :func:`resume_config`).
    """
    called = clock()
    check_at_least("--max-steps", max_steps, 1, "steps")
    if max_seconds is not None and not max_seconds > 0:
        raise GanTrainError(f"--minutes must be positive, not {max_seconds / 60:g}")
    deadline = None if max_seconds is None else Deadline(clock, called + max_seconds)
    root = Path(root)
    hint = "pass --resume to continue it or --overwrite to replace it"
    output = open_output(out, runfmt.GAN_RUN, overwrite=overwrite, resume=resume, hint=hint)
    out = output.path  # a staged sibling on --overwrite: the earlier run stays until this one ends
    procs = start_processes()
    try:
        with writing(output, keep=True):
            return _train_gan(root, out, config, procs, resume, max_steps, deadline)
    finally:
        stop_processes(procs)


def _train_gan(
    root: Path, out: Path, config: GanConfig, procs: Processes, resume: bool,
    max_steps: int | None, deadline: Deadline | None,
) -> GanRun | None:  # fmt: skip
    """Open the data and train into ``out`` (``procs`` started); see :func:`train_gan`."""
    saved = _prepare_out(out, config, resume, procs)
    _set_threads(config.threads)
    if not procs.main:
        barrier(procs)  # rank 0 builds the packed cache first; the others only open it
    with _progress.shown(config.progress and procs.main):  # --no-progress: the pack's too
        data = load_gan_data(root, config.size, config.crop, config.conditional, config.seed)
    if procs.main:
        barrier(procs)
    if saved is not None and saved["fingerprint"] != data.fingerprint:
        raise GanTrainError(
            f"{root}: the dataset changed since {out} started (metadata fingerprint); "
            "it cannot be resumed exactly: start a new run"
        )
    steps = steps_per_epoch(len(data.rows["train"]), config.batch_size, procs.world_size)
    job = _Job(config, root, out, data, procs, _precision(config, procs), steps,
               build_augment(config.augment), deadline)  # fmt: skip
    return _train(job, saved, max_steps)


def resume_config(out: str | Path, **given: Any) -> GanConfig:
    """The saved config of the run in ``out`` (or of its interrupted ``--overwrite``) with the
    explicitly ``given`` options applied."""
    folder = open_output(out, runfmt.GAN_RUN, resume=True).path
    saved = read_checkpoint(folder / runfmt.CHECKPOINT, torch.device("cpu"))
    values = {**saved["config"], **{k: v for k, v in given.items() if v is not None}}
    return GanConfig.from_dict(values)


# ---------------------------------------------------------------- setup


def _prepare_out(
    out: Path, config: GanConfig, resume: bool, procs: Processes
) -> dict[str, Any] | None:
    """The checkpoint to resume from (or None for a new run); whether ``out`` may be written
    at all is :func:`celebalab.rundir.open_output`'s call."""
    checkpoint = out / runfmt.CHECKPOINT
    if resume:
        if not checkpoint.is_file():
            raise GanTrainError(f"{checkpoint}: nothing to resume (no checkpoint)")
        saved = read_checkpoint(checkpoint, procs.device)
        differ = config.differences(GanConfig.from_dict(saved["config"]))
        if differ:
            raise GanTrainError(
                f"{out}: --resume with different {', '.join(differ)} than the saved run; "
                "leave them out to reuse the saved values"
            )
        finished = out / runfmt.RUN_JSON
        if finished.is_file():
            timed_out = runfmt.read_run_info(out).training.stopped_by == TIME_BUDGET
            if config.epochs <= saved["config"]["epochs"] and not timed_out:
                raise GanTrainError(
                    f"{out}: the run already finished {saved['config']['epochs']} epoch(s); "
                    "pass a larger --epochs to train on"
                )
            barrier(procs)
            if procs.main:
                finished.unlink()
        return saved
    return None


def _set_threads(threads: int | None) -> None:
    """Intra-op threads (``threads``, else every core this process may use); flush denormals.

    DCGAN's N(0, 0.02) initialisation drives activations into denormal floats, which x86 CPUs
    compute ~10-50× slower; flushing them to zero (numerically irrelevant) removes the stall.
    """
    torch.set_flush_denormal(True)
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(max(1, threads or os.cpu_count() or 1))


def _precision(config: GanConfig, procs: Processes) -> str:
    """The precision actually used (see :mod:`celebalab.generate._precision`), said once."""
    used, note = resolve_precision(config.precision, procs.device)
    if note and procs.main:
        print(f"note: {note}", file=sys.stderr)
    return used


def _ema_update(decay: float) -> Any:
    """EMA with warm-up: ``d = min(decay, (1+n)/(10+n))`` after ``n`` updates."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        d = min(decay, (1.0 + float(n)) / (10.0 + float(n)))
        torch._foreach_lerp_(averaged, current, 1.0 - d)

    return update


def _build(job: _Job) -> Nets:
    """Fresh networks (seeded), EMA copy, Adam optimisers and gradient scalers."""
    config, device = job.config, job.procs.device
    torch.manual_seed(config.seed)
    gen, disc = build_pair(config.size, len(config.conditional), spectral_norm=config.spectral_norm)
    gen = gen.to(device, memory_format=torch.channels_last)
    disc = disc.to(device, memory_format=torch.channels_last)
    ema = AveragedModel(gen, multi_avg_fn=_ema_update(config.ema_decay), use_buffers=False)
    betas = (config.beta1, 0.999)
    fp16 = job.precision == "16-mixed"
    return Nets(
        gen=gen,
        disc=disc,
        ema=ema,
        opt_g=torch.optim.Adam(gen.parameters(), lr=config.lr, betas=betas),
        opt_d=torch.optim.Adam(disc.parameters(), lr=config.lr, betas=betas),
        scaler_g=torch.amp.GradScaler(device.type, enabled=fp16),
        scaler_d=torch.amp.GradScaler(device.type, enabled=fp16),
    )


# ---------------------------------------------------------------- the step


def _draws(job: _Job, step: int) -> torch.Generator:
    """The random stream of ``step`` on this rank (noise and fake labels come from it)."""
    key = np.random.SeedSequence([job.config.seed, step, job.procs.rank]).generate_state(2)
    return torch.Generator().manual_seed(int(key[0]) << 32 | int(key[1]))


def _fake_inputs(job: _Job, stream: torch.Generator, n: int) -> tuple[torch.Tensor, Any]:
    """Noise ``n×NOISE_DIM`` and (conditional) codes drawn from real training label rows."""
    device = job.procs.device
    z = torch.randn(n, NOISE_DIM, generator=stream).to(device)
    if not job.config.conditional:
        return z, None
    train = job.data.rows["train"]
    pick = torch.randint(len(train), (n,), generator=stream).numpy()
    labels = torch.from_numpy(job.data.labels[train[pick]])
    return z, attribute_code(labels).to(device)


def _d_loss(real: torch.Tensor, fake: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))  # fmt: skip


def _g_loss(fake: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "hinge":
        return -fake.mean()
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def _seen(job: _Job, images: torch.Tensor, stream: torch.Generator) -> torch.Tensor:
    """What the discriminator sees of ``images``: their augmentation (drawn from ``stream``)."""
    if job.augment is None:
        return images
    out = job.augment(images, stream)
    return out.contiguous(memory_format=torch.channels_last)


def _train_step(job: _Job, nets: Nets, dnets: tuple[Any, Any], step: int) -> dict[str, float]:
    """One discriminator and one generator update; returns the step's losses.

    With augmentation, real and fake batches go through it together before D, and the G
    step's fresh fake batch too (its gradient flows back through the transforms).
    """
    config, data = job.config, job.data
    gen, disc = dnets
    epoch, index = divmod(step, job.steps_per_epoch)
    rows = batch_rows(
        data.rows["train"], config.seed, epoch, index, config.batch_size,
        job.procs.rank, job.procs.world_size,
    )  # fmt: skip
    real = to_model_input(data.read(rows), job.procs.device)
    y_real = None
    if config.conditional:
        y_real = attribute_code(torch.from_numpy(data.labels[rows])).to(job.procs.device)
    stream = _draws(job, step)
    n = len(rows)

    z, y_fake = _fake_inputs(job, stream, n)
    with autocast(job.precision, job.procs.device), torch.no_grad():
        fake = gen(z, y_fake)  # the D step never back-propagates into G: keep no graph
    seen = _seen(job, torch.cat([real, fake.to(real.dtype)]), stream)
    with autocast(job.precision, job.procs.device):
        logits_real = disc(seen[:n], y_real)
        logits_fake = disc(seen[n:], y_fake)
        loss_d = _d_loss(logits_real.float(), logits_fake.float(), config.loss)
    nets.opt_d.zero_grad(set_to_none=True)
    nets.scaler_d.scale(loss_d).backward()
    nets.scaler_d.step(nets.opt_d)
    nets.scaler_d.update()

    z, y_fake = _fake_inputs(job, stream, n)
    nets.disc.requires_grad_(False)
    with autocast(job.precision, job.procs.device):
        fake = gen(z, y_fake)
    fake = _seen(job, fake, stream)
    with autocast(job.precision, job.procs.device):
        loss_g = _g_loss(nets.disc(fake, y_fake).float(), config.loss)
    nets.opt_g.zero_grad(set_to_none=True)
    nets.scaler_g.scale(loss_g).backward()
    nets.scaler_g.step(nets.opt_g)
    nets.scaler_g.update()
    nets.disc.requires_grad_(True)
    nets.ema.update_parameters(nets.gen)
    d_real, d_fake = (torch.sigmoid(x.detach().float()).mean() for x in (logits_real, logits_fake))
    values = torch.stack([loss_d.detach(), loss_g.detach(), d_real, d_fake]).tolist()  # one sync
    return dict(zip(LOSS_COLUMNS, values, strict=True))


# ---------------------------------------------------------------- the loop


def _train(job: _Job, saved: dict[str, Any] | None, max_steps: int | None) -> GanRun | None:
    nets = _build(job)
    progress = Progress()
    fixed = _fixed_inputs(job)
    if saved is not None:
        nets.load(saved["nets"])
        progress = Progress(**saved["progress"])
        fixed = (saved["fixed"]["z"].to(job.procs.device), _to(saved["fixed"]["y"], job))
    dnets = (wrap(nets.gen, job.procs), wrap(nets.disc, job.procs))
    real_spread = mean_pairwise_distance(_reference_images(job))
    stop = job.total_steps if max_steps is None else min(max_steps, job.total_steps)
    bar = _bar(job, progress.step)
    start = time.perf_counter()
    timed_out = False
    while progress.step < stop:
        record = _train_step(job, nets, dnets, progress.step)
        progress.step += 1
        if job.deadline is not None and any_process(job.deadline.passed(), job.procs):
            timed_out, stop = True, progress.step
        for key, value in record.items():
            progress.losses[key].append(value)
        bar.update(1)
        bar.set_postfix(d=f"{record['d_loss']:.3f}", g=f"{record['g_loss']:.3f}", refresh=False)
        ends_epoch = progress.step % job.steps_per_epoch == 0
        if ends_epoch or progress.step % job.config.checkpoint_every == 0 or progress.step == stop:
            progress.seconds += time.perf_counter() - start
            if ends_epoch:
                _end_epoch(job, nets, progress, fixed, real_spread)
            if job.procs.main:
                save_checkpoint(
                    job.out / runfmt.CHECKPOINT,
                    config=job.config.to_dict(),
                    root=job.root,
                    fingerprint=job.data.fingerprint,
                    nets=nets,
                    progress=progress,
                    fixed=fixed,
                )
            start = time.perf_counter()
    bar.close()
    if progress.step < job.total_steps and not timed_out:
        job.say(f"stopped after step {progress.step}/{job.total_steps}; continue with --resume")
        return None
    info = _finish(job, nets, progress, TIME_BUDGET if timed_out else "epochs")
    barrier(job.procs)
    return info


def _to(value: torch.Tensor | None, job: _Job) -> torch.Tensor | None:
    return None if value is None else value.to(job.procs.device)


def _bar(job: _Job, initial: int) -> Any:
    from tqdm import tqdm

    show = job.config.progress and job.procs.main
    return tqdm(total=job.total_steps, initial=initial, disable=not show, desc="gan train",
                unit="step", file=sys.stderr, dynamic_ncols=True)  # fmt: skip


def _fixed_inputs(job: _Job) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The grid's noise (and codes), drawn once from the seed.

    Conditional grids share one noise vector per row and vary the attribute combination along
    the row when the combinations fit in a row, else use real training label rows.
    """
    config, count = job.config, job.config.grid_size
    stream = torch.Generator().manual_seed(config.seed + 7919)
    columns = grid_columns(count)
    k = len(config.conditional)
    if not k:
        return torch.randn(count, NOISE_DIM, generator=stream).to(job.procs.device), None
    if 2**k <= columns:
        rows = torch.randn(-(-count // columns), NOISE_DIM, generator=stream)
        z = rows.repeat_interleave(columns, dim=0)[:count]
        combo = torch.arange(count) % columns % 2**k
        labels = (combo[:, None] >> torch.arange(k)[None, :]) & 1
    else:
        z = torch.randn(count, NOISE_DIM, generator=stream)
        train = job.data.rows["train"]
        pick = torch.randint(len(train), (count,), generator=stream).numpy()
        labels = torch.from_numpy(job.data.labels[train[pick]].astype(np.int64))
    return z.to(job.procs.device), attribute_code(labels).to(job.procs.device)


def _reference_images(job: _Job) -> np.ndarray:
    train = job.data.rows["train"]
    pick = np.random.default_rng(job.config.seed).permutation(len(train))[:DIVERSITY_REFERENCE]
    return job.data.split_images("train", np.sort(pick))


@torch.no_grad()
def ema_samples(ema: torch.nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> np.ndarray:
    """uint8 ``N×S×S×3`` images of the (EMA) generator in eval mode."""
    module = ema.module if isinstance(ema, AveragedModel) else ema
    was_training = module.training
    module.eval()
    images = to_uint8(module(z, y))
    module.train(was_training)
    return images


def _end_epoch(job: _Job, nets: Nets, progress: Progress, fixed: tuple, real_spread: float) -> None:
    """Grid of the fixed noise, diversity and collapse checks, epoch record."""
    epoch = progress.step // job.steps_per_epoch
    samples = ema_samples(nets.ema, *fixed)
    diversity = mean_pairwise_distance(samples) / real_spread
    best = max((e["diversity"] for e in progress.epochs), default=float("nan"))
    found = collapse_warnings(progress.losses["d_loss"], diversity, best, progress.step, epoch)
    for warning in found:
        job.say(f"warning (epoch {epoch}): {warning['message']}")
    progress.warnings.extend(found)
    done = progress.step * job.config.batch_size * job.procs.world_size
    progress.epochs.append({
        "epoch": epoch, "step": progress.step, "seconds": round(progress.seconds, 3),
        "images_per_second": round(done / progress.seconds, 1) if progress.seconds else None,
        "d_loss": float(np.mean(progress.losses["d_loss"][-job.steps_per_epoch:])),
        "g_loss": float(np.mean(progress.losses["g_loss"][-job.steps_per_epoch:])),
        "diversity": round(diversity, 4), "warnings": len(found),
    })  # fmt: skip
    if job.procs.main:
        from PIL import Image

        grid = image_grid(samples)
        with atomic_path(job.out / runfmt.GRID_DIR / f"epoch_{epoch:03d}.png") as tmp:
            Image.fromarray(grid).save(tmp, format="PNG")


# ---------------------------------------------------------------- outputs


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import io

    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _finish(job: _Job, nets: Nets, progress: Progress, stopped_by: str) -> GanRun:
    """Write generator.pt, the CSV logs, the report and, last, run.json; return its record."""
    config = job.config
    done = progress.step * config.batch_size * job.procs.world_size
    info = GanRun(
        celebalab_version=__version__,
        arch=ARCHITECTURES[config.size]["name"],
        image_size=config.size,
        crop=config.crop,
        noise_dim=NOISE_DIM,
        conditional=config.conditional,
        config=config,
        data=GanRunData(root=str(job.root.resolve()), **describe(job.data)),
        training=GanTraining(
            steps=progress.step,
            epochs_run=len(progress.epochs),
            seconds=round(progress.seconds, 2),
            images_per_second=round(done / progress.seconds, 1) if progress.seconds else None,
            precision_used=job.precision,
            world_size=job.procs.world_size,
            device=job.procs.device.type,
            stopped_by=stopped_by,
        ),
        warnings=tuple(progress.warnings),
    )
    if not job.procs.main:
        return info
    steps = [{"step": i + 1, **{c: progress.losses[c][i] for c in LOSS_COLUMNS}}
             for i in range(progress.step)]  # fmt: skip
    _write_csv(job.out / runfmt.LOSSES_CSV, steps)
    _write_csv(job.out / runfmt.EPOCHS_CSV, progress.epochs)
    from celebalab.generate._report import training_report

    training_report(job.out, info).write(job.out / runfmt.REPORT)
    runfmt.save_run(job.out, nets.ema.module, info)
    return info
