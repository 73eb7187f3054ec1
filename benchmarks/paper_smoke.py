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
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from scamlib.pipeline import profile, reproduce

TRAIN_STAGES = ("coarse", "fine", "switch", "mg", "student", "student_plus")


def smoke_config(device: str, steps: int, batch: int, frame_size: tuple[int, int]):
    """The paper profile, every training stage capped at ``steps`` steps of ``batch`` samples.

    The generated world is as small as the stages allow: on the CPU two training clips of one
    second (the CAM stages run the paper's VGG16 nets on every training frame, about a minute
    a frame on two cores), on CUDA four clips of two seconds.
    """
    cuda = device.startswith("cuda")
    capped = {
        name: {"epochs": 1, "batch_size": batch, "max_steps_per_epoch": steps}
        for name in TRAIN_STAGES
    }
    height, width = frame_size
    synthetic = {
        "num_categories": 3 if cuda else 2,
        "num_train": 4 if cuda else 2,
        "num_val": 1,
        "num_test": 1,
        "seconds": 2 if cuda else 1,
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
        data={"synthetic": synthetic},
        **capped,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=2, help="optimiser steps per training stage")
    parser.add_argument("--batch", type=int, default=None, help="batch size (2 CUDA, 1 CPU)")
    parser.add_argument("--frame-size", type=int, nargs=2, default=(270, 360), metavar=("H", "W"))
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="write the timings here")
    args = parser.parse_args(argv)
    batch = args.batch or (2 if args.device.startswith("cuda") else 1)
    cfg = smoke_config(args.device, args.steps, batch, tuple(args.frame_size))
    out = args.out or Path(tempfile.mkdtemp(prefix="paper_smoke."))
    t0 = time.perf_counter()
    results = reproduce(cfg, out, device=args.device, progress=False)
    total = time.perf_counter() - t0
    stages = results.get("wall_time_s", {})
    peak = (
        torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else None
    )
    for name, seconds in stages.items():
        print(f"{name:>16}: {seconds:7.1f} s")
    print(f"{'total':>16}: {total:7.1f} s" + (f", peak {peak:.0f} MiB" if peak else ""))
    report = {
        "benchmark": "paper_smoke",
        "device": args.device,
        "steps_per_stage": args.steps,
        "batch": batch,
        "amp": cfg.amp,
        "frame_size": list(args.frame_size),
        "stage_seconds": stages,
        "total_seconds": total,
        "peak_mib": peak,
        "stages_run": sorted(stages),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
