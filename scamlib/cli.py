"""The ``scamlib`` command: predict, evaluate, reproduce, synth.

``scamlib COMMAND --help`` explains each command with examples. Exit status: 0 on success, 1
when the data or files are wrong (missing, unreadable, wrong layout), 2 for a wrong command
line, 130 when interrupted. Errors a user can cause are printed as one line,
``scamlib: error: ...``, without a traceback.

The same entry point runs as ``python -m scamlib``; :func:`main` takes the argument list, so
scripts and tests can call it in-process.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]

PROG = "scamlib"

_DESCRIPTION = """\
Weakly supervised audio-visual saliency (STANet / STANet+): pseudo-fixations from video tags
(SCAM, SCAM+), student networks (STA, STA+) that predict where people look in a video with
sound, and the STAViS evaluation protocol."""

_EPILOG = """\
commands:
{commands}

examples:
  scamlib synth data/builtin                      write the built-in synthetic set
  scamlib reproduce --out runs/quick              the whole STANet+ pipeline on it (CPU)
  scamlib predict clip.mp4 --checkpoint runs/quick --out pred/clip
  scamlib evaluate --pred-root runs/quick/predictions/pf_final \\
      --data-root data/builtin/stavis --dataset SynthAV

Run 'scamlib COMMAND --help' for the options of a command."""

_PREDICT_DESCRIPTION = """\
Predict fixation maps for every frame of your own video with trained student networks (STA,
STA+ short, STA+ long), and draw them over the video.

VIDEO is a video file with sound (.mp4 or any format FFmpeg reads), sampled at --fps, or a
folder of frame images (img_00001.jpg, ... or any names; sorted by name) with an optional
.wav file (then --fps is the rate the frames were taken at).

--checkpoint is a student checkpoint (.safetensors written by scamlib.inference.save_student),
a folder holding sta.safetensors / sta_short.safetensors / sta_long.safetensors, or the output
folder of 'scamlib reproduce' (its students are in checkpoints/students/).

Writes into --out:
  <variant>/img_00001.png ...   one 8-bit grey map per frame, at the frame's size, for every
                                variant: the students given (sta, sta_short, sta_long) and,
                                when all three are there, pf_final (STANet+ Eq. 21) and
                                pf_agg (Eq. 23)
  <video>_<variant>.mp4         the maps of one variant over the frames, with the original
                                sound: pf_final when all three students are given, else the
                                STA+ long, STA+ short or STA student (see --variant)
  prediction.json               what was run: video, frames, fps, students, files"""

_PREDICT_EPILOG = """\
commands:
{commands}

examples:
  scamlib predict clip.mp4 --checkpoint runs/quick --out pred/clip
  scamlib predict clip.mp4 --checkpoint sta.safetensors --out pred/clip --fps 10 --no-video
  scamlib predict frames/ --audio clip.wav --fps 25 --checkpoint students/ --out pred/f

A video without a sound track is predicted with silence (all-zero audio input), with a
warning: the STA nets were trained with sound, so expect weaker maps."""

_EVALUATE_DESCRIPTION = """\
Score a folder of predicted saliency maps on a STAViS-layout eye-tracking dataset with the
STAViS evaluation protocol (blur sigma = 2 px, MATLAB bicubic resize to the ground truth,
shuffled-AUC negatives from the same video, per-video then per-dataset means).

--pred-root holds one 8-bit image per test frame: <video>/img_00001.png, ... (or
<dataset>/<video>/img_00001.png: the layout of 'scamlib reproduce' predictions, found
automatically). --data-root holds video_frames/, annotations/ and fold_lists/ of the STAViS
release (or of 'scamlib synth': <dir>/stavis).

Prints a Markdown table of AUC-J, SIM, s-AUC, CC and NSS per test fold and their mean, and
writes the scores (per dataset, video and frame) as JSON and the table as Markdown."""

_EVALUATE_EPILOG = """\
commands:
{commands}

examples:
  scamlib evaluate --pred-root my_maps/AVAD --data-root STAViS/data --dataset AVAD
  scamlib evaluate --pred-root runs/quick/predictions/pf_final \\
      --data-root runs/quick/data/stavis --dataset SynthAV --split 1 --out eval/synth.json"""

_SYNTH_DESCRIPTION = """\
Write the built-in synthetic audio-visual dataset: moving objects of a few categories, each
with its own sound, in the AVE layout (tagged .mp4 clips for training) and in the STAViS
layout (test videos with eye-tracking-like fixation maps). Every file is a deterministic
function of the settings and --seed; a folder already holding the same set is left as is."""

_SYNTH_EPILOG = """\
commands:
{commands}

examples:
  scamlib synth data/builtin
  scamlib synth data/small --num-train 8 --height 64 --width 64 --seed 1

then:
  scamlib evaluate --data-root data/builtin/stavis --dataset SynthAV --pred-root ..."""

#: One line per command, shown by ``scamlib --help``.
_COMMANDS = {
    "predict": "predict fixation maps for your own video with trained students",
    "evaluate": "score a folder of saliency maps on a STAViS-layout dataset",
    "reproduce": "run the STANet+ pipeline (the same as examples/reproduce_stanet_plus.py)",
    "synth": "write the built-in synthetic audio-visual dataset",
}


class UsageError(Exception):
    """A command line that cannot work (reported with exit status 2)."""


# ----------------------------------------------------------------------------------------------
# argument types


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _split(text: str) -> int | None:
    if text.lower() in ("none", "all"):
        return None
    if text in ("1", "2", "3"):
        return int(text)
    raise argparse.ArgumentTypeError(f"expected 1, 2, 3 or 'all', got {text!r}")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=100)


# ----------------------------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    """The ``scamlib`` argument parser (one subparser per command).

    Example:
        >>> build_parser().parse_args(["synth", "out"]).command
        'synth'
    """
    from . import __version__

    commands = "\n".join(f"  {name:<11}{text}" for name, text in _COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage="%(prog)s [-h] [--version] COMMAND [ARGS ...]",
        description=_DESCRIPTION,
        epilog=_EPILOG.format(commands=commands),
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # the command list is in the epilog (argparse 3.11 misaligns long sub-command names)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)

    # predict ------------------------------------------------------------------------------
    p = sub.add_parser(
        "predict",
        help=_COMMANDS["predict"],
        description=_PREDICT_DESCRIPTION,
        epilog=_PREDICT_EPILOG,
        formatter_class=_formatter,
    )
    p.add_argument("video", metavar="VIDEO", help="video file, or folder of frames (+ .wav)")
    p.add_argument(
        "--checkpoint",
        "-c",
        required=True,
        metavar="CKPT",
        help="student .safetensors file, folder of students, or 'scamlib reproduce' output",
    )
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--fps",
        type=_positive_float,
        default=None,
        help="frame rate to sample a video file at (default 8, as the pipeline samples AVE); "
        "for a folder of frames: the rate they were taken at (required with sound)",
    )
    p.add_argument(
        "--audio", metavar="WAV", default=None, help="sound file to use instead of the video's"
    )
    p.add_argument(
        "--device",
        default="auto",
        help="where the networks run: auto (CUDA when available), cpu, cuda, cuda:1, ...",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=8,
        metavar="N",
        help="frames per forward pass (default 8)",
    )
    p.add_argument(
        "--variant",
        choices=("sta", "sta_short", "sta_long", "pf_final", "pf_agg"),
        default=None,
        help="variant drawn in the MP4 (default: pf_final when all three students are given)",
    )
    p.add_argument("--no-video", action="store_true", help="write the PNG maps only, no MP4")
    p.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the STA+ multi-granularity draws"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars, less output")
    p.set_defaults(handler=_cmd_predict)

    # evaluate -----------------------------------------------------------------------------
    e = sub.add_parser(
        "evaluate",
        help=_COMMANDS["evaluate"],
        description=_EVALUATE_DESCRIPTION,
        epilog=_EVALUATE_EPILOG,
        formatter_class=_formatter,
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
        type=_positive_int,
        default=100,
        metavar="N",
        help="random draws of negatives for s-AUC (default 100, as the MIT/STAViS code)",
    )
    e.add_argument(
        "--metrics",
        nargs="+",
        default=None,
        metavar="M",
        help="metrics to compute (default: AUC_J SIM sAUC CC NSS; also KLD, AUC_B)",
    )
    e.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the randomised metrics"
    )
    e.add_argument("--device", default="cpu", help="where the maps are scored (default cpu)")
    e.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads scoring the frames (default: torch's thread count)",
    )
    e.add_argument(
        "--readers",
        type=int,
        default=2,
        metavar="N",
        help="threads reading maps and annotations ahead of the scoring (default 2; 0: none)",
    )
    e.add_argument("--quiet", "-q", action="store_true", help="no progress bars, less output")
    e.set_defaults(handler=_cmd_evaluate)

    # reproduce ----------------------------------------------------------------------------
    r = sub.add_parser(
        "reproduce",
        help=_COMMANDS["reproduce"],
        description="All arguments go to the pipeline; see 'scamlib reproduce --help'.",
        add_help=False,
        formatter_class=_formatter,
    )
    r.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    r.set_defaults(handler=_cmd_reproduce)

    # synth --------------------------------------------------------------------------------
    s = sub.add_parser(
        "synth",
        help=_COMMANDS["synth"],
        description=_SYNTH_DESCRIPTION,
        epilog=_SYNTH_EPILOG,
        formatter_class=_formatter,
    )
    s.add_argument("dir", metavar="DIR", help="folder to write into (created)")
    s.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of every random choice (default 0)"
    )
    from .data.synthetic import SyntheticConfig

    defaults = SyntheticConfig()
    for name, text in (
        ("num_categories", "categories (2-8)"),
        ("num_train", "training clips (AVE layout)"),
        ("num_val", "validation clips"),
        ("num_test", "AVE test clips"),
        ("seconds", "length of a training clip in seconds"),
        ("fps", "frame rate of every video"),
        ("height", "frame height (even)"),
        ("width", "frame width (even)"),
        ("num_test_videos", "videos per STAViS-layout test set"),
        ("test_seconds", "length of a test video in seconds"),
    ):
        s.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=getattr(defaults, name),
            metavar="N",
            help=f"{text} (default {getattr(defaults, name)})",
        )
    s.add_argument(
        "--test-datasets",
        nargs="+",
        default=list(defaults.test_datasets),
        metavar="NAME",
        help="names of the test sets; the first gets 3 folds, the others one "
        f"(default {' '.join(defaults.test_datasets)})",
    )
    s.add_argument("--quiet", "-q", action="store_true", help="print less")
    s.set_defaults(handler=_cmd_synth)
    return parser


# ----------------------------------------------------------------------------------------------
# entry point


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the command: one line, ``scamlib: warning: ...``."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``scamlib`` command with ``argv`` (default ``sys.argv[1:]``); return the exit
    status (0 ok, 1 bad data or files, 2 bad command line, 130 interrupted).

    Example:
        >>> main(["synth", "--num-train", "0", "somewhere"])
        2
    """
    from .data import DataError  # a ValueError; named for the reader

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        if extra and args.command != "reproduce":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "reproduce":
            args.args = list(args.args) + list(extra)
        with warnings.catch_warnings():
            warnings.filterwarnings("default", category=UserWarning)
            warnings.showwarning = _show_warning
            return int(args.handler(args) or 0)
    except SystemExit as exc:  # argparse: --help (0), usage errors (2); the pipeline's exits
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        _error(str(code))
        return 1
    except UsageError as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except (DataError, OSError, ValueError) as exc:  # missing/unreadable files, bad data
        _error(str(exc))
        return 1


# ----------------------------------------------------------------------------------------------
# predict


def _show_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .data.audio import load_waveform, wav_duration
    from .inference import (
        Predictor,
        _audio_path,
        _info_dict,
        best_variant,
        load_students,
        resolve_device,
        video_dataset,
        write_maps,
    )
    from .viz import write_saliency_video

    video_path = Path(args.video)
    if not video_path.exists():
        raise FileNotFoundError(f"video not found: {video_path}")
    if args.audio is not None and not Path(args.audio).is_file():
        raise FileNotFoundError(f"audio file not found: {args.audio}")
    try:
        device = resolve_device(args.device)
    except RuntimeError as exc:
        raise UsageError(f"--device {args.device!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {args.device}: CUDA is not available here; use cpu or auto")
    students = load_students(args.checkpoint, device)
    predictor = Predictor(
        students,
        seed=args.seed,
        batch_size=args.batch_size,
        device=device,
        progress=_show_progress(args),
    )
    if args.variant is not None and args.variant not in predictor.variants:
        raise UsageError(
            f"--variant {args.variant}: not available with the students in {args.checkpoint} "
            f"(available: {', '.join(predictor.variants)}; pf_final and pf_agg need all three "
            "of sta, sta_short and sta_long)"
        )
    out = Path(args.out)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scamlib-predict-") as work:
        dataset = video_dataset(
            video_path, work, fps=args.fps, audio=args.audio, **predictor.dataset_kwargs
        )
        video = dataset.videos[0]
        fps = dataset.entries[video].fps
        indices = dataset.frames_of(video)
        h, w = dataset.frame_size(indices[0])
        wav = _audio_path(dataset, video)
        seconds = wav_duration(wav)
        sound = f"{seconds:.1f} s of sound" if seconds else "no sound"
        _say(
            args,
            f"{video}: {len(indices)} frames at {fps:g} fps, {w}x{h} px, {sound}; students "
            f"{', '.join(predictor.students)} at {predictor.image_size} px on {device}",
        )
        maps = predictor.predict_video(dataset, video)
        frame_numbers = [dataset.frame_index(i) for i in indices]
        folders = write_maps(maps, out, frame_numbers)
        files: dict[str, Any] = {v: str(f) for v, f in folders.items()}
        shown = args.variant or best_variant(list(maps))
        if not args.no_video:
            frames = np.stack(
                [
                    (dataset.raw_frame(i) * 255.0).round_().to(torch.uint8).permute(1, 2, 0).numpy()
                    for i in indices
                ]
            )
            audio, rate = (None, None)
            if seconds > 0:
                wave, rate = load_waveform(wav, sample_rate=None)
                audio = wave.numpy()
            mp4 = out / f"{video}_{shown}.mp4"
            write_saliency_video(frames, maps[shown], mp4, fps, audio=audio, sample_rate=rate)
            files["video"] = str(mp4)
    summary = {
        "video": str(video_path),
        "name": video,
        "frames": len(indices),
        "fps": fps,
        "frame_size": [h, w],
        "sound_seconds": seconds,
        "device": str(device),
        "seed": args.seed,
        "variants": list(maps),
        "video_variant": None if args.no_video else shown,
        "students": {v: _info_dict(info) for v, (_m, info) in predictor.students.items()},
        "files": files,
        "wall_time_s": round(time.perf_counter() - start, 3),
    }
    (out / "prediction.json").write_text(json.dumps(summary, indent=2) + "\n")
    _say(args, f"maps:  {out}/<variant>/img_%05d.png for {', '.join(maps)}")
    if not args.no_video:
        _say(args, f"video: {files['video']} ({shown} over the frames, with the sound)")
    _say(args, f"done in {summary['wall_time_s']:.1f} s; details in {out / 'prediction.json'}")
    return 0


# ----------------------------------------------------------------------------------------------
# evaluate


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
    if any((pred_root / v).is_dir() for v in videos):
        return pred_root
    nested = pred_root / dataset
    if nested.is_dir() and any((nested / v).is_dir() for v in videos):
        return nested
    from .inference import VARIANTS

    present = sorted(p.name for p in pred_root.iterdir())
    variants = [v for v in present if v in VARIANTS]
    hint = f"; pick one variant, e.g. --pred-root {pred_root / variants[0]}" if variants else ""
    raise FileNotFoundError(
        f"{pred_root} holds no predictions for the {dataset} test videos: expected folders "
        f"such as {pred_root / videos[0]}/img_00001.png (or {pred_root / dataset / videos[0]}/); "
        f"found {present[:8]}{hint}"
    )


def _fmt(value: float) -> str:
    return (
        "nan"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.4f}")
    )


def _markdown(dataset: str, metrics: Sequence[str], rows: list[tuple[str, int, int, dict]]) -> str:
    head = ["dataset", "split", "videos", "frames", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for split, videos, frames, summary in rows:
        cells = [dataset, split, str(videos), str(frames), *(_fmt(summary[m]) for m in metrics)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .data import AVSaliency, available_splits
    from .metrics.protocol import DEFAULT_METRICS, combine_splits, evaluate, json_safe

    pred_root, data_root = Path(args.pred_root), Path(args.data_root)
    if not pred_root.is_dir():
        raise FileNotFoundError(f"predictions folder not found: {pred_root}")
    if not data_root.is_dir():
        raise FileNotFoundError(f"data root not found: {data_root}")
    splits = [args.split] if args.split is not None else available_splits(data_root, args.dataset)
    metrics = tuple(args.metrics or DEFAULT_METRICS)
    datasets = {s: AVSaliency(data_root, args.dataset, s, "test", size=None) for s in splits}
    videos = [v for ds in datasets.values() for v in ds.videos]
    pred_dir = _prediction_dir(pred_root, args.dataset, videos)
    total = sum(len(ds) for ds in datasets.values())
    _say(
        args,
        f"{args.dataset}: {len(videos)} videos, {total} frames in fold(s) "
        f"{', '.join('-' if s is None else str(s) for s in splits)}; predictions in {pred_dir}",
    )
    bar = None
    if _show_progress(args):
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
    out = Path(args.out) if args.out else pred_root / f"evaluation_{args.dataset}.json"
    if out.suffix.lower() != ".json":
        out = out.with_suffix(out.suffix + ".json") if out.suffix else out.with_suffix(".json")
    report = {
        "dataset": args.dataset,
        "pred_root": str(pred_dir),
        "data_root": str(data_root),
        "splits": [s for s in splits],
        "metrics": list(metrics),
        "summary": combined.summary,
        "per_split": {name: r.summary for name, r in results.items()},
        "settings": {"seed": args.seed, "splits_sauc": args.splits_sauc, "device": args.device},
        "videos": combined.videos.to_dict(),
        "frames": combined.frames.to_dict(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(json_safe(report), indent=2) + "\n")
    md = out.with_suffix(".md")
    md.write_text(f"# {args.dataset}: predictions in {pred_dir}\n\n{table}")
    _say(args, f"wrote {out} and {md}")
    return 0


# ----------------------------------------------------------------------------------------------
# reproduce


def _cmd_reproduce(args: argparse.Namespace) -> int:
    try:
        from .pipeline.reproduce import main as reproduce_main
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.pipeline.reproduce":
            raise
        _error("the pipeline command (scamlib.pipeline.reproduce) is not part of this install")
        return 1
    # argparse names a program after sys.argv[0]: let the pipeline's help say "scamlib reproduce"
    saved = sys.argv[0] if sys.argv else None
    if sys.argv:
        sys.argv[0] = f"{PROG} reproduce"
    try:
        return int(reproduce_main(list(args.args)) or 0)
    finally:
        if saved is not None:
            sys.argv[0] = saved


# ----------------------------------------------------------------------------------------------
# synth


def _cmd_synth(args: argparse.Namespace) -> int:
    from .data.synthetic import SyntheticConfig, generate

    try:
        config = SyntheticConfig(
            num_categories=args.num_categories,
            num_train=args.num_train,
            num_val=args.num_val,
            num_test=args.num_test,
            seconds=args.seconds,
            fps=args.fps,
            height=args.height,
            width=args.width,
            num_test_videos=args.num_test_videos,
            test_seconds=args.test_seconds,
            test_datasets=tuple(args.test_datasets),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for name in ("num_val", "num_test"):
        if getattr(config, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0")
    root = Path(args.dir)
    _say(args, f"writing the built-in set to {root} ...")
    start = time.perf_counter()
    paths = generate(root, config, seed=args.seed)
    first, *others = paths.test_datasets
    _say(
        args,
        "\n".join(
            [
                f"done in {time.perf_counter() - start:.1f} s: {len(paths.categories)} categories "
                f"({', '.join(paths.categories)})",
                f"  AVE layout     {paths.ave_dir}  ({config.num_train} train / {config.num_val} "
                f"val / {config.num_test} test clips, {config.seconds} s, mp4 with sound)",
                f"  STAViS layout  {paths.stavis_root}  (test sets: {first} with folds 1-3"
                + "".join(f", {o}" for o in others)
                + f"; {config.num_test_videos} videos each)",
                f"  ground truth   {paths.ground_truth}  (fixation density of every AVE frame)",
                "next:",
                "  scamlib reproduce --out runs/quick   (the pipeline generates its own copy)",
                f"  scamlib evaluate --data-root {paths.stavis_root} --dataset {first} "
                "--pred-root YOUR_MAPS",
            ]
        ),
    )
    return 0
