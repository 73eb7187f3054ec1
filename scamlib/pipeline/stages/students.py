"""The students (STANet+ Sec. 5): STA, then STA+ on short- and long-term inputs, trained on the
pseudo-ground truth (BCE + KL, Eqs. 17 and 20); the STA+ nets start from the STA net's weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from scamlib.data import MultiGranularity
from scamlib.losses import bce_kl_loss, sta_plus_loss
from scamlib.models import STUDENT_NETWORKS, run_batch, save_student

from ..datasets import TargetDataset, pseudo_path, training_set
from ..distributed import barrier
from ..runner import Context, RunError
from .common import final_loss, fit_net, net, num_classes, seed

__all__ = ["STUDENT_VARIANTS", "fit_sta", "run_students", "save_run_student", "student_writer",
           "students_dir", "target_items"]  # fmt: skip


#: The student networks: prediction variant -> (network, multi-granularity kind); this
#: module's name for :data:`scamlib.models.STUDENT_NETWORKS`, the one home of variant names.
STUDENT_VARIANTS: dict[str, tuple[str, str | None]] = STUDENT_NETWORKS


def students_dir(ctx: Context) -> Path:
    """``<out>/checkpoints/students``: one ``<variant>.safetensors`` per student."""
    return ctx.path("checkpoints", "students")


def target_items(ctx: Context, stage: str) -> list[int]:
    """The items of the student's training set that have a map in ``pseudo/<stage>``.

    Raises:
        RunError: none has (nothing to train a student on).
    """
    base = training_set(ctx, ctx.cfg.student.image_size)
    have = [
        i
        for i in range(len(base))
        if pseudo_path(ctx.out, stage, base.row_of(i), base.frame_index(i)).is_file()
    ]
    if not have:
        raise RunError(f"no training frame has a map in pseudo/{stage}: nothing to train on")
    return have


def fit_sta(
    ctx: Context, stage: str, group: str, name: str, checkpoint: Path
) -> tuple[nn.Module, dict]:
    """Train an STA student on the maps of ``pseudo/<stage>`` (BCE + KL, STANet+ Eq. 17).

    The run's ``student`` settings, the weak STA's initial weights (seed ``init:student:sta``)
    and the frames that have a target; the data order is seeded by ``group`` and ``name``, and
    the trained network is saved once, as the student file ``checkpoint``
    (:func:`save_run_student`; a finished file is loaded instead of trained again). The weak
    STA is ``fit_sta(ctx, "pgt", "train", "sta", students_dir(ctx) / "sta.safetensors")``; the
    ablation students train the same way on other pseudo-fixation sources.

    Returns:
        The trained network and the training summary of :func:`scamlib.pipeline.train.fit`.
    """
    base = training_set(ctx, ctx.cfg.student.image_size)
    have = target_items(ctx, stage)
    seed(ctx, "init:student:sta")
    model = net(ctx, STUDENT_VARIANTS["sta"][0])

    def step(m, batch):
        return bce_kl_loss(run_batch(m, batch), batch["target"])

    data = TargetDataset(base, ctx.out, stage, have)
    summary = fit_net(ctx, model, data, step, ctx.cfg.student, group, name,
                      checkpoint=checkpoint, save=student_writer(ctx, "sta"))  # fmt: skip
    return model, summary


def student_writer(ctx: Context, variant: str):
    """The ``save`` of :func:`scamlib.pipeline.train.fit` that writes ``variant``'s student
    file (:func:`save_run_student`) with the training summary in its metadata."""

    def save(path: Path, model: nn.Module, summary: dict[str, Any]) -> None:
        save_run_student(ctx, path, model, variant, summary)

    return save


def save_run_student(
    ctx: Context, path: Path, model: nn.Module, variant: str, summary: dict | None = None
) -> None:
    """Save a trained student with the run's settings (and its training ``summary``), in the
    format :func:`scamlib.inference.load_students` reads (main process only)."""
    cfg = ctx.cfg
    name, kind = STUDENT_VARIANTS[variant]
    if ctx.env.is_main:
        save_student(
            path,
            model,
            name=name,
            preset=cfg.preset,
            image_size=cfg.student.image_size,
            kind=kind,
            n_mg=cfg.n_mg,
            cgcn_steps=cfg.cgcn_steps,
            num_classes=num_classes(ctx),
            clip_len=cfg.clip_frames,
            extra={"seed": cfg.seed, "profile": cfg.profile, "summary": json.dumps(summary or {})},
        )


def run_students(ctx: Context) -> dict:
    """Train STA, STA+ short and STA+ long on the frames that have a pseudo-ground truth."""
    cfg = ctx.cfg
    base = training_set(ctx, cfg.student.image_size)
    have = target_items(ctx, "pgt")
    result: dict[str, Any] = {"frames": len(have)}
    sta_state = None
    for variant, (name, kind) in STUDENT_VARIANTS.items():
        path = students_dir(ctx) / f"{variant}.safetensors"
        if kind is None:
            model, summary = fit_sta(ctx, "pgt", "train", variant, path)
        else:
            seed(ctx, f"init:student:{variant}")
            model = net(ctx, name)
            model.branch.load_state_dict(sta_state, strict=False)
            mg = MultiGranularity(base, kind=kind, net="sta", n=cfg.n_mg, seed=cfg.seed)
            data = TargetDataset(mg, ctx.out, "pgt", have)

            def step(m, batch):
                return sta_plus_loss(run_batch(m, batch), batch["targets"], valid=batch["valid"])

            summary = fit_net(ctx, model, data, step, cfg.student_plus, "train", variant,
                              checkpoint=path, save=student_writer(ctx, variant))  # fmt: skip
        if kind is None:
            sta_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        result[variant] = {"final_loss": final_loss(summary)}
    barrier(ctx.env)
    return result
