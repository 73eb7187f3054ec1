"""The students (STANet+ Sec. 5): STA, then STA+ on short- and long-term inputs, trained on the
pseudo-ground truth (BCE + KL, Eqs. 17 and 20); the STA+ nets start from the STA net's weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scamlib.data import MultiGranularity
from scamlib.losses import bce_kl_loss, sta_plus_loss
from scamlib.models import STUDENT_NETWORKS, run_batch, save_student

from ..datasets import TargetDataset, pseudo_path, training_set
from ..distributed import barrier
from ..runner import Context, RunError
from .common import fit_net, net, num_classes, seed

__all__ = ["STUDENT_VARIANTS", "run_students", "students_dir"]


#: The student networks: prediction variant -> (network, multi-granularity kind); this
#: module's name for :data:`scamlib.models.STUDENT_NETWORKS`, the one home of variant names.
STUDENT_VARIANTS: dict[str, tuple[str, str | None]] = STUDENT_NETWORKS


def students_dir(ctx: Context) -> Path:
    """``<out>/checkpoints/students``: one ``<variant>.safetensors`` per student."""
    return ctx.path("checkpoints", "students")


def run_students(ctx: Context) -> dict:
    """Train STA, STA+ short and STA+ long on the frames that have a pseudo-ground truth."""
    cfg = ctx.cfg
    base = training_set(ctx, cfg.student.image_size)
    have = [
        i
        for i in range(len(base))
        if pseudo_path(ctx.out, "pgt", base.row_of(i), base.frame_index(i)).is_file()
    ]
    if not have:
        raise RunError("no training frame has a pseudo-ground truth: nothing to train students on")
    result: dict[str, Any] = {"frames": len(have)}
    sta_state = None
    for variant, (name, kind) in STUDENT_VARIANTS.items():
        seed(ctx, f"init:student:{variant}")
        model = net(ctx, name)
        if kind is None:
            data = TargetDataset(base, ctx.out, "pgt", have)

            def step(m, batch):
                return bce_kl_loss(run_batch(m, batch), batch["target"])

        else:
            model.branch.load_state_dict(sta_state, strict=False)
            mg = MultiGranularity(base, kind=kind, net="sta", n=cfg.n_mg, seed=cfg.seed)
            data = TargetDataset(mg, ctx.out, "pgt", have)

            def step(m, batch):
                return sta_plus_loss(run_batch(m, batch), batch["targets"], valid=batch["valid"])

        tcfg = cfg.student if kind is None else cfg.student_plus
        summary = fit_net(ctx, model, data, step, tcfg, "train", variant)
        if kind is None:
            sta_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if ctx.env.is_main:
            save_student(
                students_dir(ctx) / f"{variant}.safetensors",
                model,
                name=name,
                preset=cfg.preset,
                image_size=cfg.student.image_size,
                kind=kind,
                n_mg=cfg.n_mg,
                cgcn_steps=cfg.cgcn_steps,
                num_classes=num_classes(ctx),
                clip_len=cfg.clip_frames,
                extra={"seed": cfg.seed, "profile": cfg.profile},
            )
        result[variant] = {"final_loss": summary["loss"][-1]}
    barrier(ctx.env)
    return result
