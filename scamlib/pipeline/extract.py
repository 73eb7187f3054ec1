"""Running trained networks over the training set, one event row at a time.

The pseudo-fixation stages all share one shape of work: run some networks over every frame of
the training set in order, and when all frames of an event row are through, turn them into
that row's outputs (PNG maps and a small work file). Rows are the unit of resumption and of
sharding: a row whose work file exists is finished (the file is written last, atomically) and
is skipped; under ``torchrun`` the unfinished rows are dealt out, each rank taking every
``world_size``-th one. The done markers are named by row, never by rank, so a run killed under
one world size resumes under any other (one process, more processes, more machines) and
computes each unfinished row exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from scamlib.functional import minmax
from scamlib.models import run_batch

from .datasets import pseudo_path
from .distributed import barrier, shard
from .io import atomic_path, write_map_png
from .runner import Context
from .train import progress_bar, to_device

__all__ = [
    "classify",
    "for_each_row",
    "load_row",
    "resize_maps",
    "save_row",
    "work_file",
    "write_maps",
    "write_pseudo_maps",
]


def classify(name: str, net: torch.nn.Module, batch: Mapping[str, Any], switch=None):
    """``(logits, class_maps)`` of a classification net on a training batch.

    Kept for existing scripts: the inputs a network reads are chosen by
    :func:`scamlib.models.run_batch` from the network itself; ``name`` is not used.
    ``switch`` (an :class:`~scamlib.nn.AudioSwitch`) gates the SA+ nets' audio.
    """
    return run_batch(net, batch, switch)


def resize_maps(maps: Tensor, size: Sequence[int], normalize: bool = False) -> Tensor:
    """``(..., h, w)`` maps bilinearly resized to ``size`` (then min-max normalised if asked)."""
    size = (int(size[0]), int(size[1]))
    if tuple(maps.shape[-2:]) != size:
        lead = maps.shape[:-2]
        flat = maps.reshape(-1, 1, *maps.shape[-2:]).float()
        maps = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
        maps = maps.reshape(*lead, *size)
    return minmax(maps) if normalize else maps


def write_pseudo_maps(
    out: Path, stage: str, row: int, frame_indices: Sequence[int], maps: Tensor, frame_size
) -> None:
    """Write ``maps`` ``(n, h, w)`` as ``pseudo/<stage>/<row>/<k:05d>.png`` at ``frame_size``.

    The pseudo-fixation layout over :func:`scamlib._fs.write_map_png` (each file atomic). The
    maps are resized bilinearly to the frame and clipped to ``[0, 1]``.

    Raises:
        ValueError: ``len(frame_indices)`` differs from ``n``.
    """
    if len(frame_indices) != len(maps):
        raise ValueError(
            f"{len(maps)} maps for {len(frame_indices)} frame indices (stage {stage}, row {row})"
        )
    if not len(maps):
        return
    full = resize_maps(maps, frame_size).clamp(0, 1)
    for k, m in zip(frame_indices, full, strict=True):
        write_map_png(pseudo_path(out, stage, row, int(k)), m)


#: Former name of :func:`write_pseudo_maps`, kept for existing scripts.
write_maps = write_pseudo_maps


def work_file(ctx: Context, stage: str, row: int) -> Path:
    """``<out>/work/<stage>/<row:05d>.pt``: a row's intermediate tensors (its done marker)."""
    return ctx.path("work", stage, f"{row:05d}.pt")


def save_row(ctx: Context, stage: str, row: int, tensors: Mapping[str, Tensor]) -> None:
    """Write a row's work file atomically (the last write of a row)."""
    path = work_file(ctx, stage, row)
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in tensors.items()}, tmp)


def load_row(ctx: Context, stage: str, row: int) -> dict[str, Tensor]:
    """Read a row's work file.

    Raises:
        FileNotFoundError: the row was never finished (its stage did not complete).
    """
    path = work_file(ctx, stage, row)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing work file of row {row} of stage {stage}")
    return torch.load(path, map_location="cpu", weights_only=True)


def for_each_row(
    ctx: Context,
    dataset: Dataset,
    rows: Mapping[int, list[int]],
    stage: str,
    batch_fn: Callable[[dict[str, Any]], dict[str, Tensor]],
    row_fn: Callable[[int, list[int], dict[str, Tensor]], None],
    *,
    batch_size: int,
    desc: str,
) -> int:
    """Run ``batch_fn`` over the items of this rank's unfinished rows, then ``row_fn`` per row.

    Args:
        dataset: indexed by the item indices of ``rows``.
        rows: ``{row: item indices in frame order}``.
        stage: the work-file stage (a row with a work file is skipped).
        batch_fn: collated batch (on the device) -> ``{name: (b, ...) tensor}``.
        row_fn: ``(row, item indices, {name: (n, ...) tensor on CPU})``; must end with
            :func:`save_row` for ``stage``.

    Every rank lists the unfinished rows, waits for the others to have listed them (so a row
    another rank finishes meanwhile cannot shift the list), then takes its share: the remaining
    work is balanced whatever world size left it.

    Returns:
        The number of rows this rank processed.
    """
    unfinished = [r for r in sorted(rows) if not work_file(ctx, stage, r).is_file()]
    barrier(ctx.env)
    todo = list(shard(unfinished, ctx.env))
    order = [i for r in todo for i in rows[r]]
    if not order:
        return 0
    loader = DataLoader(
        Subset(dataset, order), batch_size=batch_size, num_workers=ctx.cfg.num_workers
    )
    pending: list[dict[str, Tensor]] = []
    row_iter = iter(todo)
    row = next(row_iter)
    need = len(rows[row])
    bar = progress_bar(len(order), 0, desc, ctx.progress and ctx.env.is_main)
    with torch.inference_mode():
        for batch in loader:
            result = batch_fn(to_device(batch, ctx.env.device))
            out = {k: v.detach().float().cpu() for k, v in result.items()}
            start = 0
            size = len(next(iter(out.values())))
            while start < size:
                take = min(need, size - start)
                pending.append({k: v[start : start + take] for k, v in out.items()})
                start += take
                need -= take
                if need == 0:
                    joined = {k: torch.cat([p[k] for p in pending]) for k in pending[0]}
                    row_fn(row, rows[row], joined)
                    pending = []
                    row = next(row_iter, None)
                    need = len(rows[row]) if row is not None else 0
            if bar is not None:
                bar.update(size)
    if bar is not None:
        bar.close()
    return len(todo)
