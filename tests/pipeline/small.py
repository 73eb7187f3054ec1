"""A reduced built-in world and pipeline settings for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

from scamlib.pipeline import profile, run_stages
from scamlib.pipeline.stages import build_stages, finalize

ROOT = Path(__file__).resolve().parents[2]

#: A world small enough for the test suite: 4 training clips of 2 s, one 1 s test video per set.
SMALL_WORLD = {
    "num_train": 4,
    "num_val": 0,
    "num_test": 0,
    "seconds": 2,
    "num_test_videos": 1,
    "test_seconds": 1,
    "num_categories": 3,
}
FAST = {"epochs": 1, "batch_size": 8, "image_size": 32, "max_steps_per_epoch": 4}


def small_config(**changes):
    """The quick profile shrunk to seconds per stage."""
    settings = dict(
        coarse=FAST,
        fine=FAST,
        switch=FAST,
        mg=FAST,
        student=FAST,
        student_plus=FAST,
        full=FAST,
        eval_splits=3,
        quality_stride=1,
        baselines=("gradcampp", "centre"),  # one CAM method: Score-CAM is the slow one
        data={"synthetic": SMALL_WORLD},
    )
    return profile("quick", **(settings | changes))


def run_until(out: Path, last: str | None = None, cfg=None, **kwargs):
    """Run the stages up to ``last`` (all when None) on the small world under ``out``."""
    cfg = cfg or small_config()
    stages = build_stages(cfg)
    if last is not None:
        stages = stages[: [s.name for s in stages].index(last) + 1]
    return run_stages(stages, cfg, out, device="cpu", progress=False, finalize=finalize, **kwargs)


def pngs(folder: Path) -> list[Path]:
    """Every PNG under ``folder``, sorted."""
    return sorted(folder.rglob("*.png"))
