"""Smoke run of the ``paper`` profile: every stage, the paper's networks and input sizes.

The paper profile (STANet+ Sec. 6.1: dilated VGG16 classifiers at 256 px, 356 px fine crops
and students, ResNeXt-101 32x8d STA encoder, 28-channel C-GCN) on a small generated set, with
every training stage capped at ``--steps`` optimiser steps of batch ``--batch``. It checks that
each stage runs at those sizes on the device (and, on CUDA, under AMP), and times each stage;
it measures nothing about accuracy. No pretrained weights are loaded (none can be fetched here;
the networks are the paper's, randomly initialised).

Run::

    python benchmarks/paper_smoke.py --device cuda --steps 2 --json smoke.json
    python benchmarks/paper_smoke.py --device cpu --steps 1        # slow: minutes on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import torch

from scamlib._fs import write_json
from scamlib.pipeline import profile, reproduce
from scamlib.pipeline.config import PipelineConfig, TrainConfig

#: Every training setting of the profile (``coarse``, ..., the fully supervised ``full``),
#: read from the config so that a new training stage is capped too.
TRAIN_STAGES = tuple(
    f.name for f in dataclasses.fields(PipelineConfig) if f.type in (TrainConfig, "TrainConfig")
)


def smoke_config(
    device: str, steps: int, batch: int, frame_size: tuple[int, int], fps: int | None = None
):
    """The paper profile, every training stage capped at ``steps`` steps of ``batch`` samples.

    The generated world is as small as the stages allow: on the CPU two training clips of one
    second sampled at 4 frames/s and no validation or AVE test clips (the CAM stages run the
    paper's VGG16 nets on every training frame, seconds a frame on two cores, so the frame
    count sets the run time), on CUDA four clips of two seconds at 8 frames/s. The networks
    and their input sizes are the paper's either way; ``fps`` overrides the frame rate (the
    data is generated and sampled at it).
    On the CPU the baselines stage runs Grad-CAM and the centre prior only: Score-CAM alone
    makes a forward pass per channel of the last block (512 at 256 px) for every frame.
    The ablation students' and the fully supervised networks' weights (1.1 GB each at the
    paper preset) are deleted once their predictions are written (``keep_weights=False``),
    which bounds the run's disk use to about 6 GB. The sparsification keeps the values above
    the mean (``sparsify_factor=1``) rather than three times the mean: after one step the maps
    are flat and the default would leave no frame to train the students on.
    """
    cuda = device.startswith("cuda")
    fps = fps or (8 if cuda else 4)
    capped = {
        name: {"epochs": 1, "batch_size": batch, "max_steps_per_epoch": steps}
        for name in TRAIN_STAGES
    }
    height, width = frame_size
    synthetic = {
        "num_categories": 3 if cuda else 2,
        "num_train": 4 if cuda else 2,
        "num_val": 1 if cuda else 0,  # the CPU run: no validation / AVE test clips, as the
        "num_test": 1 if cuda else 0,  # test suite's small world (fewer frames to run over)
        "seconds": 2 if cuda else 1,
        "fps": fps,
        "height": height,
        "width": width,
        "num_test_videos": 1,
        "test_seconds": 1,
    }
    return profile(
        "paper",
        pretrained=False,
        amp=cuda,
        num_workers=0,
        eval_splits=5,
        keep_weights=False,
        # networks after one step give flat maps, which Sec. 5's sparsification at 3 x the mean
        # blanks whole (a blank map is no training target): keep the values above the mean
        sparsify_factor=1.0,
        data={"synthetic": synthetic, "fps": float(fps)},
        **({} if cuda else {"baselines": ("gradcam", "centre")}),
        **capped,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=2, help="optimiser steps per training stage")
    parser.add_argument("--batch", type=int, default=None, help="batch size (2 CUDA, 1 CPU)")
    parser.add_argument("--frame-size", type=int, nargs=2, default=(270, 360), metavar=("H", "W"))
    parser.add_argument("--fps", type=int, default=None, help="frame rate (8 CUDA, 4 CPU)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temp dir)")
    parser.add_argument("--resume", action="store_true", help="reuse the stages done in --out")
    parser.add_argument("--json", type=Path, default=None, help="write the timings here")
    args = parser.parse_args(argv)
    batch = args.batch or (2 if args.device.startswith("cuda") else 1)
    cfg = smoke_config(args.device, args.steps, batch, tuple(args.frame_size), args.fps)
    out = args.out or Path(tempfile.mkdtemp(prefix="paper_smoke."))
    t0 = time.perf_counter()
    results = reproduce(cfg, out, device=args.device, progress=False, resume=args.resume)
    total = time.perf_counter() - t0
    stages = results.get("wall_time_s", {})
    peak = (
        torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else None
    )
    disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    for name, seconds in stages.items():
        print(f"{name:>16}: {seconds:7.1f} s")
    print(f"{'total':>16}: {total:7.1f} s" + (f", peak {peak:.0f} MiB" if peak else ""))
    print(f"{'run folder':>16}: {disk:7.0f} MiB on disk at the end ({out})")
    report = {
        "benchmark": "paper_smoke",
        "device": args.device,
        "steps_per_stage": args.steps,
        "batch": batch,
        "amp": cfg.amp,
        "baselines": list(cfg.baselines),
        "frame_size": list(args.frame_size),
        "fps": cfg.data.fps,
        "stage_seconds": stages,
        "total_seconds": total,
        "peak_mib": peak,
        "disk_mib_at_end": round(disk, 1),
        "stages_run": sorted(stages),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    if args.json is not None:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
