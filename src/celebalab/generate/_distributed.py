"""Processes and devices for GAN training: one process, or one per GPU under ``torchrun`` (DDP).

``torchrun --nproc_per_node G -m celebalab.cli gan train …`` sets ``WORLD_SIZE``/``RANK``/
``LOCAL_RANK``; each process then trains on its own shard of every epoch's seeded batch order,
both networks are wrapped in ``DistributedDataParallel`` and only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    """This process's place: rank, number of processes and the device it trains on."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def main(self) -> bool:
        """True in the process that writes checkpoints, grids and the run files."""
        return self.rank == 0


def start_processes() -> Processes:
    """Join the process group when launched by ``torchrun`` (NCCL on GPUs, Gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world <= 1:
        return Processes(0, 1, torch.device("cuda" if cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    return Processes(dist.get_rank(), dist.get_world_size(), device)


def wrap(module: torch.nn.Module, procs: Processes) -> torch.nn.Module:
    """``module`` itself in one process, else wrapped in ``DistributedDataParallel``."""
    if procs.world_size == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [procs.device.index] if procs.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def barrier(procs: Processes) -> None:
    """Wait for every process (no-op in one process)."""
    if procs.world_size > 1:
        dist.barrier()


def any_process(flag: bool, procs: Processes) -> bool:
    """True when ``flag`` is true in any process: every process gets the same answer (so a
    time budget ends all of them at the same step)."""
    if procs.world_size == 1:
        return flag
    vote = torch.tensor([float(flag)], device=procs.device)
    dist.all_reduce(vote, op=dist.ReduceOp.MAX)
    return bool(vote.item())


def stop_processes(procs: Processes) -> None:
    """Leave the process group (no-op in one process)."""
    if procs.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
