"""Multi-granularity nets, SCAM+ and the pseudo-ground truth (STANet+ Secs. 4-5).

``train_mg`` fine-tunes the S+ / ST+ / SA+ nets on short-, long- and cross-term inputs
(starting from the coarse nets' weights; the SA+ nets read audio through the switch's gate);
``scam_plus`` fuses the fine SCAM sources and the eight multi-granularity sources with SCAM+
(Eq. 8); ``pgt`` smooths SCAM+ over time and sparsifies it on the valid frames (Sec. 5).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from scamlib import functional as Fn
from scamlib.data import MultiGranularity
from scamlib.losses import msm_loss
from scamlib.models import run_batch
from scamlib.nn import MG_SOURCES

from ..datasets import training_set
from ..distributed import barrier, shard
from ..extract import for_each_row, load_row, resize_maps, save_row, write_pseudo_maps
from ..io import load_checkpoint
from ..runner import Context
from .common import (
    checkpoint_path,
    fit_net,
    frame_indices,
    net,
    row_geometry,
    rows,
    seed,
    trained,
    work_exists,
)
from .scam import sources_batch

__all__ = ["pending_rows", "pseudo_ground_truth", "run_pgt", "run_scam_plus", "run_train_mg",
           "write_valid"]  # fmt: skip


def _mg_parts(source: str) -> tuple[str, str]:
    """``"st+_long"`` -> ``("st+", "long")``."""
    net_name, kind = source.split("_")
    return net_name, kind


def _mg_dataset(ctx: Context, source: str, seed_offset: int = 0) -> MultiGranularity:
    net_name, kind = _mg_parts(source)
    base = training_set(ctx, ctx.cfg.mg.image_size)
    return MultiGranularity(
        base, kind=kind, net=net_name.rstrip("+"), n=ctx.cfg.n_mg, seed=ctx.cfg.seed + seed_offset
    )


def _switch(ctx: Context) -> nn.Module:
    return ctx.shared("switch_net", lambda: trained(ctx, "switch", "audio_switch"))


def run_train_mg(ctx: Context) -> dict:
    """The eight multi-granularity nets, each from its coarse branch's weights."""
    losses = {}
    for source in MG_SOURCES:
        net_name, _kind = _mg_parts(source)
        seed(ctx, f"init:mg:{source}")
        model = net(ctx, net_name)
        state, _ = load_checkpoint(checkpoint_path(ctx, "coarse", net_name.rstrip("+")))
        model.branch.load_state_dict(state)
        switch = _switch(ctx) if net_name == "sa+" else None

        def step(m, batch, switch=switch):
            return msm_loss(run_batch(m, batch, switch)[0], batch["tag"])

        summary = fit_net(ctx, model, _mg_dataset(ctx, source), step, ctx.cfg.mg, "mg", source)
        losses[source] = summary["loss"][-1]
    return {"final_loss": losses}


def run_scam_plus(ctx: Context) -> dict:
    """The MG nets' CAMs per row, then SCAM+ over the 11 sources (Eq. 8)."""
    cfg = ctx.cfg
    size = (cfg.mg.image_size,) * 2
    for source in MG_SOURCES:
        net_name, _kind = _mg_parts(source)
        model = trained(ctx, "mg", source, model=net_name)
        switch = _switch(ctx) if net_name == "sa+" else None
        ds = _mg_dataset(ctx, source, seed_offset=1)
        stacked = sources_batch({net_name: model}, size, switch)

        def batch_fn(batch, stacked=stacked):
            out = stacked(batch)
            return {"cams": out["cams"][:, 0], "conf": out["conf"][:, 0]}

        def row_fn(row, indices, out, source=source):
            _frame, grid = row_geometry(ctx, indices[0])
            cams = resize_maps(out["cams"], grid, normalize=True)
            save_row(ctx, f"mg/{source}", row, {"cams": cams.half(), "conf": out["conf"]})

        for_each_row(
            ctx, ds, rows(ds.base), f"mg/{source}", batch_fn, row_fn,
            batch_size=cfg.mg.batch_size, desc=f"cams {source}",
        )  # fmt: skip
    barrier(ctx.env)
    counts = [0, 0]
    for row, frame, ks in pending_rows(ctx, "scam_plus"):
        fine = load_row(ctx, "fine", row)
        mg = [load_row(ctx, f"mg/{s}", row) for s in MG_SOURCES]
        result = Fn.scam_plus(
            fine["cams"].float(),
            fine["conf"],
            torch.stack([m["cams"].float() for m in mg], 1),
            torch.stack([m["conf"] for m in mg], 1),
            fine["tag"],
            lam=cfg.lam,
        )
        counts[0] += write_valid(ctx, "scam_plus", row, ks, result.map, result.valid, frame)
        counts[1] += len(ks)
        save_row(ctx, "scam_plus", row, {"map": result.map.half(), "valid": result.valid})
    return {"valid_frames": counts[0], "frames": counts[1]}


def pending_rows(ctx: Context, stage: str) -> Iterator[tuple[int, tuple[int, int], list[int]]]:
    """This rank's rows of the training set whose work file of ``stage`` is missing, as
    ``(row, frame size, frame numbers k)``."""
    by_row = rows(training_set(ctx, None))
    for row in shard(sorted(by_row), ctx.env):
        if work_exists(ctx, stage, row):
            continue
        indices = by_row[row]
        frame, _grid = row_geometry(ctx, indices[0])
        yield row, frame, frame_indices(ctx, indices)


def write_valid(ctx: Context, stage: str, row: int, ks: list[int], maps, valid, frame) -> int:
    """Write the maps ``(n, h, w)`` of the valid frames of a row to ``pseudo/<stage>``;
    returns how many were written."""
    keep = valid.nonzero().flatten().tolist()
    write_pseudo_maps(ctx.out, stage, row, [ks[i] for i in keep], maps[keep], frame)
    return len(keep)


def pseudo_ground_truth(ctx: Context, maps: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """A row's maps ``(n, h, w)`` made a pseudo-ground truth (STANet+ Sec. 5): smoothed over
    time over the ``valid`` frames, sparsified and min-max normalised when ``cfg.smooth``
    (as they are otherwise).

    Returns ``(maps, valid)``, where a frame whose map is blank is no longer valid. The
    sparsification zeroes every value below ``sparsify_factor`` x the map's mean, which blanks
    a flat map whole (a centre prior, or a CAM spread over the frame: no value reaches three
    times a mean above a third of the maximum). A blank map marks no location, so such a frame
    has no pseudo-fixation and is left out of the students' training, as a frame that no
    source classifies as its tag (SCAM's ``valid``); trained on, it would teach the student to
    predict nothing.
    """
    cfg = ctx.cfg
    if cfg.smooth:
        smooth = Fn.temporal_smooth(maps, cfg.smooth_window, valid=valid)
        maps = Fn.minmax(Fn.sparsify(smooth, cfg.sparsify_factor))
    marked = maps.flatten(1).amax(dim=1) > 0 if maps.numel() else valid
    return maps, valid & marked


def run_pgt(ctx: Context) -> dict:
    """Pseudo-ground truth: SCAM+ smoothed over time and sparsified on valid frames (Sec. 5)."""
    counts = [0, 0]
    for row, frame, ks in pending_rows(ctx, "pgt"):
        saved = load_row(ctx, "scam_plus", row)
        maps, valid = pseudo_ground_truth(ctx, saved["map"].float(), saved["valid"])
        counts[0] += write_valid(ctx, "pgt", row, ks, maps, valid, frame)
        counts[1] += len(ks)
        save_row(ctx, "pgt", row, {"valid": valid})
    return {"frames": counts[0], "left_out": counts[1] - counts[0]}
