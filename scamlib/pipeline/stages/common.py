"""Pieces every stage shares: seeds, network construction, checkpoints, rows of the training set.

A *row* is one tagged event clip of the AVE training split; its frames are the unit the pseudo
stages write and resume by (see :mod:`scamlib.pipeline.extract`).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scamlib.losses import msm_loss
from scamlib.models import create, run_batch
from scamlib.nn import BASE_SOURCES

from ..datasets import grid_size, training_set
from ..extract import work_file
from ..runner import Context
from ..train import SaveFn, fit, load_weights

__all__ = [
    "checkpoint_path",
    "final_loss",
    "fit_net",
    "frame_indices",
    "ground_truth",
    "net",
    "num_classes",
    "round_metric",
    "row_geometry",
    "rows",
    "seed",
    "train_classifiers",
    "trained",
    "work_exists",
]


def seed(ctx: Context, name: str) -> int:
    """Seed torch with a seed per (run seed, purpose), so each initialisation is reproducible.

    Example:
        >>> from types import SimpleNamespace
        >>> ctx = SimpleNamespace(cfg=SimpleNamespace(seed=0))
        >>> seed(ctx, "init:coarse:s") == seed(ctx, "init:coarse:s")
        True
    """
    digest = hashlib.sha256(f"{ctx.cfg.seed}:{name}".encode()).hexdigest()
    value = int(digest[:8], 16)
    torch.manual_seed(value)
    return value


def num_classes(ctx: Context) -> int:
    """The number of event classes of the run's training set."""
    return training_set(ctx, None).num_classes


def net(ctx: Context, name: str) -> nn.Module:
    """Network ``name`` built completely from the run's settings by
    :func:`scamlib.models.create`: preset, classes, C-GCN reasoning steps ``m`` and the FRL
    thresholds ``T_d`` / ``T_r`` (Eqs. 13-14) of every C-GCN."""
    cfg = ctx.cfg
    return create(
        name,
        preset=cfg.preset,
        num_classes=num_classes(ctx),
        pretrained=cfg.pretrained,
        cgcn_steps=cfg.cgcn_steps,
        t_d=cfg.t_d,
        t_r=cfg.t_r,
    )


def checkpoint_path(ctx: Context, group: str, name: str) -> Path:
    """``<out>/checkpoints/<group>/<name>.safetensors`` (``+`` written as ``plus``)."""
    return ctx.path("checkpoints", group, f"{name.replace('+', 'plus')}.safetensors")


def trained(ctx: Context, group: str, name: str, model: str | None = None) -> nn.Module:
    """The network ``model`` (default ``name``) with its weights from ``checkpoints/group``."""
    module = net(ctx, model or name)
    load_weights(module, checkpoint_path(ctx, group, name), ctx.env.device)
    return module.to(ctx.env.device).eval()


def fit_net(
    ctx: Context,
    model: nn.Module,
    dataset,
    step,
    tcfg,
    group: str,
    name: str,
    *,
    checkpoint: Path | None = None,
    save: SaveFn | None = None,
) -> dict:
    """Train ``model`` with the run's settings (data order seeded by ``group`` and ``name``).

    Its weights go to ``checkpoint`` (default :func:`checkpoint_path`), written by ``save``
    (default: :func:`scamlib.pipeline.train.fit`'s own format).
    """
    return fit(
        model,
        dataset,
        step,
        tcfg,
        env=ctx.env,
        checkpoint=checkpoint or checkpoint_path(ctx, group, name),
        save=save,
        seed=seed(ctx, f"data:{group}:{name}"),
        amp=ctx.cfg.amp,
        num_workers=ctx.cfg.num_workers,
        desc=f"{group}/{name}",
        progress=ctx.progress,
    )


def final_loss(summary: dict) -> float | None:
    """The last epoch's mean loss of a training summary (None when it records none)."""
    return summary["loss"][-1] if summary.get("loss") else None


def rows(dataset) -> dict[int, list[int]]:
    """``{row: item indices in frame order}`` of a training set (or a view over one)."""
    return {int(r): list(idx) for r, idx in dataset.groups().items()}


def row_geometry(ctx: Context, index: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(frame size, map grid)`` of the row of training item ``index``."""
    frame = training_set(ctx, None).frame_size(index)
    return frame, grid_size(frame, ctx.cfg.map_side)


def frame_indices(ctx: Context, indices: list[int]) -> list[int]:
    """The frame numbers ``k`` (1-based, as in the file names) of training items ``indices``."""
    ds = training_set(ctx, None)
    return [ds.frame_index(i) for i in indices]


def train_classifiers(ctx: Context, group: str, dataset, tcfg) -> dict:
    """Train the S, ST and SA classifiers of ``group`` on the tags (multi-label soft margin,
    Eq. 7)."""
    summary = {}
    for name in BASE_SOURCES:
        seed(ctx, f"init:{group}:{name}")
        model = net(ctx, name)

        def step(m, batch):
            return msm_loss(run_batch(m, batch)[0], batch["tag"])

        summary[name] = fit_net(ctx, model, dataset, step, tcfg, group, name)["loss"]
    return {"final_loss": {k: v[-1] for k, v in summary.items()}}


def work_exists(ctx: Context, stage: str, row: int) -> bool:
    """True when ``row`` of ``stage`` is finished (its work file exists)."""
    return work_file(ctx, stage, row).is_file()


def ground_truth(ctx: Context, row: int) -> dict[str, np.ndarray] | None:
    """The built-in set's ground-truth sidecar of ``row`` (``None`` on real data)."""
    path = ctx.path("data", "AVE_Dataset", "ground_truth", f"{row:05d}.npz")
    if not ctx.cfg.data.builtin or not path.is_file():
        return None
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable ground-truth file of row {row} ({exc})") from exc


def round_metric(value: Any) -> float | None:
    """A score rounded to 4 digits for ``results.json`` (NaN and None as None).

    Example:
        >>> round_metric(0.123456), round_metric(float("nan"))
        (0.1235, None)
    """
    return None if value is None or math.isnan(value) else round(float(value), 4)
