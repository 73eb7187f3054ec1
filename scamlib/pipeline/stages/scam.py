"""The data stage and the SCAM stages: coarse and fine classifiers, their CAMs, SCAM (Sec. 3).

``scam_coarse`` fuses the coarse S / ST / SA nets' CAMs with SCAM (STANet+ Eq. 2) and cuts the
coarse boxes (Sec. 3.2); ``scam_fine`` runs the fine nets on the crops, pastes their CAMs back
into the frame grid and fuses them again (SCAM, and the plain average AC of Eq. 22).

The CAMs (Eq. 1) and softmax confidences of the named source nets are stacked by
:func:`scamlib.functional.stack_sources`, the step :class:`scamlib.nn.SCAM` runs in its
forward, so a user's SCAM module and the pipeline compute the same tensors. The pipeline then
fuses them per row, after resizing them to the row's map grid (and, for the fine nets, pasting
them back into it), with the op the module wraps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from scamlib import functional as Fn
from scamlib.data.synthetic import SyntheticConfig, generate
from scamlib.models import run_batch
from scamlib.nn import BASE_SOURCES

from ..datasets import CropDataset, training_set
from ..distributed import barrier
from ..extract import for_each_row, load_row, resize_maps, save_row, write_pseudo_maps
from ..runner import Context, RunError
from .common import frame_indices, row_geometry, rows, train_classifiers, trained

__all__ = ["crops", "run_data", "run_scam_coarse", "run_scam_fine", "run_train_coarse",
           "run_train_fine", "sources_batch"]  # fmt: skip


# ---- stage 0: data ---------------------------------------------------------------------------
def run_data(ctx: Context) -> dict:
    """Generate the built-in set (or use the user's AVE root) and decode every training video."""
    cfg = ctx.cfg
    if cfg.data.builtin and ctx.env.is_main:
        generate(ctx.path("data"), SyntheticConfig(**cfg.data.synthetic), seed=cfg.seed)
    barrier(ctx.env)
    ds = training_set(ctx, None)
    if ctx.env.is_main:
        ds.decode_all()
    barrier(ctx.env)
    if len(ds) == 0:
        raise RunError(f"the AVE training split under {ds.ave_dir} has no frames")
    return {"rows": len(ds.groups()), "frames": len(ds), "classes": ds.num_classes}


# ---- stages 1-2: coarse ----------------------------------------------------------------------
def run_train_coarse(ctx: Context) -> dict:
    """The coarse S, ST, SA classifiers on the tags (Eq. 7)."""
    tcfg = ctx.cfg.coarse
    return train_classifiers(ctx, "coarse", training_set(ctx, tcfg.image_size), tcfg)


def sources_batch(nets: Mapping[str, nn.Module], size, switch: nn.Module | None = None) -> Any:
    """Batch function: the tag's CAM (Eq. 1, at ``size``) and the softmax confidences of every
    source net, stacked as ``cams (b, k, h, w)`` and ``conf (b, k, C)``.

    Each net takes its batch through :func:`scamlib.models.run_batch` (the one place that
    knows which inputs a network reads); ``switch`` gates the audio of the SA+ nets.
    """
    names = tuple(nets)

    def batch_fn(batch: dict) -> dict[str, Tensor]:
        outputs = {}
        for name, model in nets.items():
            logits, maps = run_batch(model, batch, switch)
            outputs[name] = (logits, maps)
        cams, conf = Fn.stack_sources(outputs, batch["tag"], size, names)
        return {"cams": cams, "conf": conf, "tag": batch["tag"]}

    return batch_fn


def run_scam_coarse(ctx: Context) -> dict:
    """SCAM of the coarse nets (Eq. 2) and the coarse boxes (Sec. 3.2)."""
    cfg = ctx.cfg
    ds = training_set(ctx, cfg.coarse.image_size)
    nets = {n: trained(ctx, "coarse", n) for n in BASE_SOURCES}
    valid_count = [0, 0]

    def row_fn(row: int, indices: list[int], out: dict[str, Tensor]) -> None:
        frame, grid = row_geometry(ctx, indices[0])
        ks = frame_indices(ctx, indices)
        cams = resize_maps(out["cams"], grid, normalize=True)
        tags = out["tag"].long()
        result = Fn.scam(cams, out["conf"], tags, lam=cfg.lam)
        write_pseudo_maps(ctx.out, "cam_s", row, ks, cams[:, 0], frame)
        keep = result.valid.nonzero().flatten().tolist()
        write_pseudo_maps(ctx.out, "scam_coarse", row, [ks[i] for i in keep], result.map[keep],
                          frame)  # fmt: skip
        boxes = Fn.scale_boxes(Fn.coarse_box(result.map, cfg.box_factor), grid, frame)
        valid_count[0] += len(keep)
        valid_count[1] += len(ks)
        save_row(ctx, "coarse", row, {"index": torch.tensor(indices), "boxes": boxes})

    done = for_each_row(
        ctx,
        ds,
        rows(ds),
        "coarse",
        sources_batch(nets, (cfg.coarse.image_size,) * 2),
        row_fn,
        batch_size=cfg.coarse.batch_size,
        desc="scam_coarse",
    )
    return {"rows": done, "valid_frames": valid_count[0], "frames": valid_count[1]}


# ---- stage 3: fine ---------------------------------------------------------------------------
def crops(ctx: Context) -> CropDataset:
    """The training frames cropped by their coarse boxes (shared per process)."""

    def build() -> CropDataset:
        base = training_set(ctx, None)
        boxes = torch.zeros(len(base), 4, dtype=torch.int64)
        for row in rows(base):
            saved = load_row(ctx, "coarse", row)
            boxes[saved["index"]] = saved["boxes"]
        return CropDataset(base, boxes, ctx.cfg.fine.image_size)

    return ctx.shared("crops", build)


def run_train_fine(ctx: Context) -> dict:
    """The fine S, ST, SA classifiers on the crops."""
    return train_classifiers(ctx, "fine", crops(ctx), ctx.cfg.fine)


def run_scam_fine(ctx: Context) -> dict:
    """Fine CAMs pasted back into the frame grid, SCAM (fine) and AC (Eq. 22)."""
    cfg = ctx.cfg
    crop_set = crops(ctx)
    nets = {n: trained(ctx, "fine", n) for n in BASE_SOURCES}
    counts = [0, 0]

    def row_fn(row: int, indices: list[int], out: dict[str, Tensor]) -> None:
        frame, grid = row_geometry(ctx, indices[0])
        ks = frame_indices(ctx, indices)
        boxes = Fn.scale_boxes(crop_set.boxes[indices], frame, grid)
        n, k = out["cams"].shape[:2]
        pasted = Fn.paste_back(
            out["cams"].flatten(0, 1), boxes.repeat_interleave(k, dim=0), grid
        ).view(n, k, *grid)
        tags = out["tag"].long()
        result = Fn.scam(pasted, out["conf"], tags, lam=cfg.lam)
        write_pseudo_maps(ctx.out, "avg_fine", row, ks, Fn.average_cams(pasted), frame)
        keep = result.valid.nonzero().flatten().tolist()
        write_pseudo_maps(ctx.out, "scam_fine", row, [ks[i] for i in keep], result.map[keep],
                          frame)  # fmt: skip
        counts[0] += len(keep)
        counts[1] += len(ks)
        save_row(
            ctx,
            "fine",
            row,
            {"cams": pasted.half(), "conf": out["conf"], "tag": tags, "valid": result.valid},
        )

    done = for_each_row(
        ctx,
        crop_set,
        rows(crop_set.base),
        "fine",
        sources_batch(nets, None),
        row_fn,
        batch_size=cfg.fine.batch_size,
        desc="scam_fine",
    )
    return {"rows": done, "valid_frames": counts[0], "frames": counts[1]}
