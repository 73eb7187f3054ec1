"""``scamlib evaluate``: score a folder of saliency maps with the STAViS protocol."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._common import (
    UsageError,
    add_command,
    non_negative_int,
    positive_int,
    say,
    show_progress,
)

HELP = "score a folder of saliency maps on a STAViS-layout dataset"

DESCRIPTION = """\
Score a folder of predicted saliency maps on a STAViS-layout eye-tracking dataset with the
STAViS evaluation protocol (blur sigma = 2 px, MATLAB bicubic resize to the ground truth,
shuffled-AUC negatives from the same video, per-video then per-dataset means).

--pred-root holds one 8-bit image per test frame: <video>/img_00001.png, ... (or
<dataset>/<video>/img_00001.png: the layout of 'scamlib reproduce' predictions, found
automatically). --data-root holds video_frames/, annotations/ and fold_lists/ of the STAViS
release (or of 'scamlib synth': <dir>/stavis).

Prints a Markdown table of AUC-J, SIM, s-AUC, CC and NSS per test fold and their mean, and
writes the scores (per dataset, video and frame) as JSON and the table as Markdown. Both files
are written atomically: a killed run leaves the previous files whole."""

EPILOG = """\
examples:
  scamlib evaluate --pred-root my_maps/AVAD --data-root STAViS/data --dataset AVAD
  scamlib evaluate --pred-root runs/quick/predictions/pf_final \\
      --data-root runs/quick/data/stavis --dataset SynthAV --split 1 --out eval/synth.json"""


def _split(text: str) -> int | None:
    if text.lower() in ("none", "all"):
        return None
    if text in ("1", "2", "3"):
        return int(text)
    raise argparse.ArgumentTypeError(f"expected 1, 2, 3 or 'all', got {text!r}")


def _metric(text: str) -> str:
    from scamlib.metrics.protocol import ALL_METRICS

    if text not in ALL_METRICS:
        raise argparse.ArgumentTypeError(
            f"unknown metric {text!r}; expected names from {', '.join(ALL_METRICS)}"
        )
    return text


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``evaluate`` to the subparsers ``sub``."""
    from scamlib.pipeline.reproduce import device_type

    e = add_command(
        sub, "evaluate", help=HELP, description=DESCRIPTION, epilog=EPILOG
    )
    e.add_argument("--pred-root", required=True, metavar="DIR", help="folder of predicted maps")
    e.add_argument("--data-root", required=True, metavar="DIR", help="STAViS-layout data root")
    e.add_argument(
        "--dataset",
        required=True,
        metavar="NAME",
        help="dataset folder name: AVAD, Coutrot_db1, Coutrot_db2, DIEM, ETMD_av, SumMe, ...",
    )
    e.add_argument(
        "--split",
        type=_split,
        default=None,
        metavar="K",
        help="test fold 1, 2 or 3 (default: every fold present, scores averaged over folds)",
    )
    e.add_argument(
        "--out",
        metavar="FILE.json",
        default=None,
        help="JSON file to write (a .md table is written beside it; default: "
        "<pred-root>/evaluation_<NAME>.json)",
    )
    e.add_argument(
        "--splits-sauc",
        type=positive_int,
        default=100,
        metavar="N",
        help="random draws of negatives for s-AUC (default 100, as the MIT/STAViS code)",
    )
    e.add_argument(
        "--metrics",
        nargs="+",
        type=_metric,
        default=None,
        metavar="M",
        help="metrics to compute (default: AUC_J SIM sAUC CC NSS; also KLD, AUC_B)",
    )
    e.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the randomised metrics"
    )
    e.add_argument(
        "--device", default="cpu", type=device_type, help="where the maps are scored (default cpu)"
    )
    e.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="CPU threads scoring the frames (default: torch's thread count)",
    )
    e.add_argument(
        "--readers",
        type=non_negative_int,
        default=2,
        metavar="N",
        help="threads reading maps and annotations ahead of the scoring (default 2; 0: none)",
    )
    e.add_argument("--quiet", "-q", action="store_true", help="no progress bars, less output")
    e.set_defaults(handler=run)
    return e


class _Ticking:
    """A :class:`~scamlib.data.GroundTruth` that calls ``tick`` for every item read."""

    def __init__(self, truth, tick: Callable[[], None]) -> None:
        self.truth, self.tick = truth, tick

    def __len__(self) -> int:
        return len(self.truth)

    def __getitem__(self, index: int) -> dict[str, Any]:
        self.tick()
        return self.truth[index]

    def fixation_union(self, video: str):
        return self.truth.fixation_union(video)


def _prediction_dir(pred_root: Path, dataset: str, videos: Sequence[str]) -> Path:
    """``pred_root``, or ``pred_root/<dataset>`` when the videos are there instead."""
    from scamlib.models import VARIANTS

    if any((pred_root / v).is_dir() for v in videos):
        return pred_root
    nested = pred_root / dataset
    if nested.is_dir() and any((nested / v).is_dir() for v in videos):
        return nested
    present = sorted(p.name for p in pred_root.iterdir())
    variants = [v for v in present if v in VARIANTS]
    hint = f"; pick one variant, e.g. --pred-root {pred_root / variants[0]}" if variants else ""
    raise FileNotFoundError(
        f"{pred_root} holds no predictions for the {dataset} test videos: expected folders "
        f"such as {pred_root / videos[0]}/img_00001.png (or {pred_root / dataset / videos[0]}/); "
        f"found {present[:8]}{hint}"
    )


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.4f}"


def _markdown(dataset: str, metrics: Sequence[str], rows: list[tuple[str, int, int, dict]]) -> str:
    head = ["dataset", "split", "videos", "frames", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for split, videos, frames, summary in rows:
        cells = [dataset, split, str(videos), str(frames), *(_fmt(summary[m]) for m in metrics)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _out_path(args: argparse.Namespace, pred_root: Path) -> Path:
    out = Path(args.out) if args.out else pred_root / f"evaluation_{args.dataset}.json"
    if out.suffix.lower() != ".json":
        out = out.with_suffix(out.suffix + ".json") if out.suffix else out.with_suffix(".json")
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``scamlib evaluate``; returns the exit status."""
    from scamlib._fs import write_text
    from scamlib.data import AVSaliency, available_splits
    from scamlib.metrics.protocol import DEFAULT_METRICS, combine_splits, evaluate, json_safe
    from scamlib.pipeline.io import check_output_file

    pred_root, data_root = Path(args.pred_root), Path(args.data_root)
    if not pred_root.is_dir():
        raise FileNotFoundError(f"predictions folder not found: {pred_root}")
    if not data_root.is_dir():
        raise FileNotFoundError(f"data root not found: {data_root}")
    out = _out_path(args, pred_root)
    try:
        check_output_file(out, "--out")
        check_output_file(out.with_suffix(".md"), "--out")
    except IsADirectoryError as exc:
        raise UsageError(str(exc)) from None
    splits = [args.split] if args.split is not None else available_splits(data_root, args.dataset)
    metrics = tuple(dict.fromkeys(args.metrics or DEFAULT_METRICS))
    datasets = {s: AVSaliency(data_root, args.dataset, s, "test", size=None) for s in splits}
    videos = [v for ds in datasets.values() for v in ds.videos]
    pred_dir = _prediction_dir(pred_root, args.dataset, videos)
    total = sum(len(ds) for ds in datasets.values())
    say(
        args,
        f"{args.dataset}: {len(videos)} videos, {total} frames in fold(s) "
        f"{', '.join('-' if s is None else str(s) for s in splits)}; predictions in {pred_dir}",
    )
    bar = None
    if show_progress(args):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"evaluate {args.dataset}", unit="frame", leave=False)

    def tick() -> None:
        if bar is not None:
            bar.update(1)

    results = {}
    try:
        for split, ds in datasets.items():
            results["-" if split is None else str(split)] = evaluate(
                pred_dir,
                _Ticking(ds.ground_truth(), tick),
                metrics=metrics,
                seed=args.seed,
                n_splits=args.splits_sauc,
                device=args.device,
                threads=args.threads,
                readers=args.readers,
            )
    finally:
        if bar is not None:
            bar.close()
    combined = combine_splits(results) if len(results) > 1 else next(iter(results.values()))
    rows = [(name, len(r.videos), len(r.frames), r.summary) for name, r in results.items()]
    if len(results) > 1:
        rows.append(("mean", len(combined.videos), len(combined.frames), combined.summary))
    table = _markdown(args.dataset, metrics, rows)
    print(table, end="")
    report = {
        "dataset": args.dataset,
        "pred_root": str(pred_dir),
        "data_root": str(data_root),
        "splits": list(splits),
        "metrics": list(metrics),
        "summary": combined.summary,
        "per_split": {name: r.summary for name, r in results.items()},
        "settings": {"seed": args.seed, "splits_sauc": args.splits_sauc, "device": args.device},
        "videos": combined.videos.to_dict(),
        "frames": combined.frames.to_dict(),
    }
    write_text(out, json.dumps(json_safe(report), indent=2) + "\n")
    md = out.with_suffix(".md")
    write_text(md, f"# {args.dataset}: predictions in {pred_dir}\n\n{table}")
    say(args, f"wrote {out} and {md}")
    return 0
