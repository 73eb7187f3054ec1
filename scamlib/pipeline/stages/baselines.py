"""CAM-family baselines as pseudo-fixations, beside CAM_S / SCAM / SCAM+ (STANet+ Table 7).

The ``baselines`` stage applies each method of ``cfg.baselines`` (Grad-CAM, Grad-CAM++,
XGrad-CAM, LayerCAM, Score-CAM from the pytorch-grad-cam library, and the centre prior; see
:mod:`scamlib.baselines`) to the trained coarse S classifier, the net whose CAM is CAM_S
(Fig. 5-A), with the clip's tag as the target class, frame by frame. Each frame is the centre
frame of its clip at the coarse input size, exactly the input CAM_S is computed from.

A map goes the way of CAM_S (Sec. 3.1): the library's map at the input size, min-max
normalised (:func:`scamlib.baselines.baseline_maps` with ``size`` the input size), resized
bilinearly to the row's map grid and min-max normalised again, then written at the frame's
size as ``pseudo/baseline_<name>/<row>/<k:05d>.png`` for every frame (no validity test: the
baselines have no confidence). Rows are the unit of resumption and sharding, as in the SCAM
stages: a row is finished when its work file ``work/baselines/<name>/<row>.pt`` exists.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from scamlib.baselines import BASELINES, baseline_maps

from ..datasets import training_set
from ..extract import for_each_row, resize_maps, save_row, write_pseudo_maps
from ..runner import Context
from .common import frame_indices, row_geometry, rows, trained

__all__ = ["BASELINE_OUTPUTS", "baseline_stage", "centre_frames", "run_baselines"]


def baseline_stage(name: str) -> str:
    """The pseudo stage of baseline ``name``: ``"baseline_<name>"``.

    Example:
        >>> baseline_stage("gradcampp")
        'baseline_gradcampp'
    """
    return f"baseline_{name}"


#: Every folder the stage may write (all of them are removed when its settings change).
BASELINE_OUTPUTS: tuple[str, ...] = (
    "work/baselines",
    *(f"pseudo/{baseline_stage(n)}" for n in BASELINES),
)


def centre_frames(frames: Tensor) -> Tensor:
    """The frames the S net sees: the centre frame of ``(b, t, 3, H, W)`` clips (``(b, 3, H,
    W)`` frames as they are), as :func:`scamlib.models.run_batch` feeds the S net.

    Example:
        >>> import torch
        >>> centre_frames(torch.arange(3.0).view(1, 3, 1, 1, 1).expand(1, 3, 3, 2, 2))[0, 0, 0, 0]
        tensor(1.)
    """
    return frames[:, frames.shape[1] // 2] if frames.ndim == 5 else frames


def run_baselines(ctx: Context) -> dict:
    """Each baseline of ``cfg.baselines`` on the coarse S net, per row and frame."""
    cfg = ctx.cfg
    if not cfg.baselines:
        return {"skipped": "no baselines requested"}
    size = cfg.coarse.image_size
    ds = training_set(ctx, size)
    model = trained(ctx, "coarse", "s") if any(n != "centre" for n in cfg.baselines) else None
    done, seconds = {}, {}
    for name in cfg.baselines:
        start = time.perf_counter()
        stage = baseline_stage(name)

        def batch_fn(batch, name=name):
            # for_each_row runs under inference mode; the CAM methods need autograd, so the
            # frames are copied into ordinary tensors first.
            with torch.inference_mode(False):
                frames = centre_frames(batch["frames"]).clone()
                tags = batch["tag"].long().clone()
                # batch_size: Score-CAM's masked inputs per forward pass (the loader's batch
                # bounds the frames per call of the others)
                maps = baseline_maps(model, frames, tags, name, size=(size, size), batch_size=64)
            return {"maps": maps}

        def row_fn(row: int, indices: list[int], out: dict[str, Tensor], name=name) -> None:
            frame, grid = row_geometry(ctx, indices[0])
            maps = resize_maps(out["maps"], grid, normalize=True)
            ks = frame_indices(ctx, indices)
            write_pseudo_maps(ctx.out, baseline_stage(name), row, ks, maps, frame)
            save_row(ctx, f"baselines/{name}", row, {"index": torch.tensor(indices)})

        done[name] = for_each_row(
            ctx, ds, rows(ds), f"baselines/{name}", batch_fn, row_fn,
            batch_size=cfg.coarse.batch_size, desc=stage,
        )  # fmt: skip
        seconds[name] = round(time.perf_counter() - start, 1)
    return {"rows": done, "wall_time_s": seconds}
