"""Evaluate your own saliency maps on a STAViS-layout dataset (tutorial "Evaluate your own
saliency maps on a STAViS-layout dataset").

Your model writes one 8-bit image per test frame, ``<pred_root>/<video>/img_00001.png``, ...
(the frame numbers of ``video_frames/<DB>/<video>/img_00001.jpg``); the STAViS protocol then
scores them against the dataset's fixation maps (:func:`scamlib.metrics.evaluate_dir`, the same
as ``scamlib evaluate``). This script writes the maps of two models that need no training and
scores them:

* ``centre``: a Gaussian in the middle of the frame (the centre-bias baseline);
* ``motion``: where consecutive frames differ, blurred (a crude bottom-up model).

Run on the built-in synthetic set (generated into ``--out``)::

    python examples/evaluate_own_maps.py --out runs/eval_own
    python examples/evaluate_own_maps.py --out runs/eval_own --tiny      # a smaller set

or on a real STAViS-layout dataset (the release of https://github.com/atsiami/STAViS)::

    python examples/evaluate_own_maps.py --out runs/eval_avad --data-root STAViS/data \\
        --dataset AVAD
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from scamlib.data import AVSaliency
from scamlib.data.annotations import fold_list_path
from scamlib.data.synthetic import SyntheticConfig, generate
from scamlib.metrics import evaluate_dir
from scamlib.pipeline.io import write_map_png


def centre_prior(h: int, w: int, sigma: float = 0.25) -> Tensor:
    """``(h, w)`` Gaussian centred on the frame, ``sigma`` a fraction of each side."""
    y = torch.linspace(-0.5, 0.5, h)[:, None] / sigma
    x = torch.linspace(-0.5, 0.5, w)[None, :] / sigma
    return torch.exp(-(y**2 + x**2) / 2)


def motion_map(previous: Tensor, frame: Tensor) -> Tensor:
    """``(h, w)`` in ``[0, 1]``: blurred absolute difference of two ``(3, h, w)`` frames."""
    diff = (frame - previous).abs().mean(dim=0, keepdim=True)[None]
    k = max(3, (min(frame.shape[-2:]) // 16) | 1)  # odd box size, ~1/16 of the frame
    blurred = F.avg_pool2d(diff, k, stride=1, padding=k // 2, count_include_pad=False)[0, 0]
    return blurred / blurred.max() if blurred.max() > 0 else blurred


def test_folds(data_root: Path, dataset: str) -> list[int | None]:
    """``[1, 2, 3]`` for a dataset with three test folds, ``[None]`` for one (DIEM)."""
    lists = data_root / "fold_lists"
    folds = [s for s in (1, 2, 3) if fold_list_path(lists, dataset, "test", s).is_file()]
    return folds or [None]


def write_predictions(data_root: Path, dataset: str, folds: list[int | None], out: Path) -> int:
    """Write both models' maps for every test frame; returns the number of frames."""
    count = 0
    for fold in folds:
        # frames only: the maps are computed from the stored frames, no annotations needed
        frames = AVSaliency(data_root, dataset, fold, size=None, annotations=False)
        for video in frames.videos:
            previous = None
            for index in frames.frames_of(video):
                frame = frames.raw_frame(index)  # (3, h, w) in [0, 1], as stored
                k = frames.frame_index(index)
                name = f"img_{k:05d}.png"
                write_map_png(out / "centre" / video / name, centre_prior(*frame.shape[-2:]))
                motion = motion_map(frame if previous is None else previous, frame)
                write_map_png(out / "motion" / video / name, motion)
                previous = frame
                count += 1
    return count


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/eval_own"), help="output folder")
    parser.add_argument("--data-root", type=Path, default=None, help="STAViS-layout data root")
    parser.add_argument("--dataset", default="SynthAV", help="dataset name (default SynthAV)")
    parser.add_argument("--tiny", action="store_true", help="a smaller built-in set, fewer draws")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    args = parse_args(argv)
    data_root = args.data_root
    if data_root is None:  # the built-in set: the STAViS layout under <out>/data/stavis
        config = SyntheticConfig(num_train=1, num_val=0, num_test=0)
        if args.tiny:
            config = SyntheticConfig(
                num_categories=2, num_train=1, num_val=0, num_test=0, seconds=1, height=32,
                width=48, num_test_videos=2, test_seconds=1, observers=6,
            )  # fmt: skip
        data_root = generate(args.out / "data", config).stavis_root
    folds = test_folds(data_root, args.dataset)
    pred_root = args.out / "predictions"
    count = write_predictions(data_root, args.dataset, folds, pred_root)
    print(f"wrote 2 x {count} maps under {pred_root}/<model>/<video>/img_%05d.png")

    # the STAViS protocol; a dataset with three folds is scored per fold, then averaged
    splits = folds if folds != [None] else None
    options = {"n_splits": 10} if args.tiny else {}  # s-AUC draws: 100 as MIT/STAViS by default
    results = {}
    for model in ("centre", "motion"):
        result = evaluate_dir(pred_root / model, data_root, args.dataset, split=splits, **options)
        results[model] = result.summary
        result.to_json(args.out / f"{model}.json")  # per frame, per video and overall scores

    metrics = list(next(iter(results.values())))
    print(f"\n{args.dataset} ({len(folds)} fold(s)):\n")
    print("| model | " + " | ".join(metrics) + " |")
    print("|---|" + "---|" * len(metrics))
    for model, summary in results.items():
        cells = ["nan" if math.isnan(v) else f"{v:.3f}" for v in summary.values()]
        print(f"| {model} | " + " | ".join(cells) + " |")
    command = f"--pred-root {pred_root / 'motion'} --data-root {data_root} --dataset {args.dataset}"
    print(f"\nthe same from the command line:\n  scamlib evaluate {command}")
    return results


if __name__ == "__main__":
    main()
