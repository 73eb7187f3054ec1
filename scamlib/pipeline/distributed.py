"""Process-group helpers: one code path for a single process and for ``torchrun``.

Under ``torchrun --nproc_per_node N`` (and ``--nnodes M`` with a rendezvous for several
machines) every process trains a DistributedDataParallel replica on its share of the batches,
and the per-frame stages (CAM extraction, prediction) handle every ``world_size``-th item, so
the union of the files the ranks write equals what one process writes. What marks an item as
finished is named by the item (a row's work file, a video's last map), never by the rank, so a
run may be resumed under another world size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from scamlib._device import resolve_device

__all__ = ["DistEnv", "barrier", "init_distributed", "shard"]


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands: its rank, the world size and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | None = "auto") -> DistEnv:
    """Join the process group that ``torchrun`` set up, or stay a single process.

    Uses NCCL on CUDA and gloo on CPU. Each CUDA rank takes the GPU of its ``LOCAL_RANK``.
    ``device`` is resolved by :func:`scamlib._device.resolve_device` (the package's one
    definition of ``"auto"``; an unavailable device raises ``ValueError``).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    base = resolve_device(device)
    if world <= 1:
        return DistEnv(device=base)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if base.type == "cuda":
        torch.cuda.set_device(local)
        base = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if base.type == "cuda" else "gloo")
    return DistEnv(rank=rank, world_size=world, local_rank=local, device=base)


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op for a single process)."""
    if env.distributed and dist.is_initialized():
        dist.barrier()


def shard(items: Sequence, env: DistEnv) -> Sequence:
    """This rank's share of ``items``: every ``world_size``-th one, starting at ``rank``.

    The shares of ranks ``0 .. world_size - 1`` partition ``items``. Which rank takes an item
    depends on the world size, so callers must skip finished items by a marker of the item
    itself (not of the rank), and every rank must pass the same ``items`` (list them before
    any rank starts writing). A single process (``world_size == 1``) takes every item; an
    empty ``items`` gives an empty share.

    Example:
        >>> list(shard(range(7), DistEnv(rank=1, world_size=3)))
        [1, 4]
    """
    return items[env.rank :: env.world_size]
