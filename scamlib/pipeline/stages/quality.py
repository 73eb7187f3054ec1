"""How good the pseudo-fixations are: every pseudo stage against the ground truth (Table 1).

The CAM-family baselines of the run (``pseudo/baseline_<name>``, see
:mod:`~scamlib.pipeline.stages.baselines`) are scored on the same frames beside CAM_S, SCAM
and SCAM+, as STANet+ Table 7 sets them beside each other.

Only the built-in set has a ground truth for its training frames (a density sidecar per row);
on real AVE data the stage reports that it was skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from scamlib.metrics import protocol

from ..datasets import pseudo_path, read_map_png, training_set
from ..runner import Context, RunError
from .baselines import baseline_stage
from .common import ground_truth, round_metric, rows

__all__ = ["PSEUDO_QUALITY_STAGES", "run_pseudo_quality"]

#: The pseudo stages scored against the ground truth, in the order of STANet+ Table 1.
PSEUDO_QUALITY_STAGES = ("cam_s", "scam_coarse", "avg_fine", "scam_fine", "scam_plus", "pgt")


class _GroundTruthFrames:
    """The training frames with a ground truth, in the :class:`FixationDataset` interface.

    ``density`` is the sidecar's density; ``fixations`` its pixels at or above
    ``0.5 * max`` (the head region observers look at in the built-in set).
    """

    def __init__(self, ctx: Context, frames: list[tuple[int, int]]) -> None:
        self.ctx = ctx
        self.frames = frames
        self._gt: dict[int, dict[str, np.ndarray]] = {}
        self._union: dict[str, Tensor] = {}

    def _density(self, row: int, k: int) -> Tensor:
        if row not in self._gt:
            self._gt[row] = ground_truth(self.ctx, row) or {}
        gt = self._gt[row]
        path = self.ctx.path("data", "AVE_Dataset", "ground_truth", f"{row:05d}.npz")
        if "frame_index" not in gt or "density" not in gt:
            raise RunError(f"{path}: no ground truth (frame_index, density) for row {row}")
        hits = np.flatnonzero(gt["frame_index"] == k)
        if hits.size == 0:
            have = gt["frame_index"].tolist()
            raise RunError(
                f"{path}: no ground truth for frame {k} of row {row} (the file covers frames "
                f"{have[:1]}..{have[-1:]}, {len(have)} in all); its set was generated at another "
                "frame rate than data.fps samples it at"
            )
        return torch.from_numpy(gt["density"][int(hits[0])]).double()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict:
        row, k = self.frames[i]
        density = self._density(row, k)
        return {
            "density": density,
            "fixations": density >= 0.5 * density.max(),
            "video": str(row),
            "frame_index": k,
            "row": row,
        }

    def fixation_union(self, video: str) -> Tensor:
        if video not in self._union:
            items = [self[i] for i, (r, _) in enumerate(self.frames) if str(r) == video]
            self._union[video] = torch.stack([it["fixations"] for it in items]).any(0)
        return self._union[video]


def run_pseudo_quality(ctx: Context) -> dict:
    """Score every pseudo stage's maps against the training ground truth (when there is one)."""
    if not ctx.env.is_main:
        return {}
    ds = training_set(ctx, None)
    by_row = rows(ds)
    if ground_truth(ctx, min(by_row)) is None:
        return {"skipped": "the training set has no ground truth"}
    stages = (*PSEUDO_QUALITY_STAGES, *(baseline_stage(n) for n in ctx.cfg.baselines))
    frames = [
        (row, ds.frame_index(i))
        for row in sorted(by_row)
        for i in by_row[row]
        if all(pseudo_path(ctx.out, s, row, ds.frame_index(i)).is_file() for s in stages)
    ]
    frames = frames[:: max(1, ctx.cfg.quality_stride)]
    gt = _GroundTruthFrames(ctx, frames)
    result: dict[str, Any] = {"frames": len(frames), "of": len(ds)}
    for stage in stages:
        scores = protocol.evaluate(
            lambda item, stage=stage: read_map_png(
                pseudo_path(ctx.out, stage, item["row"], item["frame_index"])
            ),
            gt,
            seed=ctx.cfg.seed,
            n_splits=ctx.cfg.eval_splits,
        )
        result[stage] = {m: round_metric(v) for m, v in scores.summary.items()}
    return result
