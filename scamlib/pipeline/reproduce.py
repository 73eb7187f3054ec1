"""``scamlib reproduce`` / ``examples/reproduce_stanet_plus.py``: the whole paper in one command.

Tagged videos -> pseudo-fixations (SCAM, SCAM+) -> student networks -> fixation maps for the
test sets (no tags) -> the papers' tables. See :mod:`scamlib.pipeline.stages` for the stages and
the tutorial "Reproduce STANet+" in the docs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import DEFAULT_DATASETS, PipelineConfig, config_from_dict, profile

__all__ = ["build_parser", "config_from_args", "main", "reproduce"]

_EPILOG = """\
examples:
  # the built-in audio-visual set on CPU, about 12 minutes on 2 cores:
  %(prog)s --out runs/quick

  # the same run again after a kill (or with a late stage's setting changed): finished
  # stages are reused
  %(prog)s --out runs/quick --resume

  # the papers' configuration on a GPU, with AVE and the six STAViS test sets:
  %(prog)s --profile paper --ave-root /data/AVE --avsal-root /data/stavis --out runs/paper

  # several GPUs:
  torchrun --nproc_per_node 4 examples/reproduce_stanet_plus.py --profile paper \\
      --ave-root /data/AVE --avsal-root /data/stavis --out runs/paper

outputs (under --out): pseudo/<stage>/<row>/<frame>.png, predictions/<variant>/<DB>/<video>/
img_<frame>.png, results.json and results.md (the tables), config.json, run.log,
checkpoints/ (safetensors).
"""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command-line interface of the pipeline."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Reproduce STANet+ (weakly supervised audio-visual fixation prediction): train the "
            "SCAM classifiers on video tags, build pseudo-fixations with SCAM and SCAM+, train "
            "the STA / STA+ students on them, predict and evaluate the test sets. With no data "
            "arguments it generates the built-in set into --out and runs on it."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", choices=("quick", "paper"), default="quick",
                   help="quick: tiny backbones, small images, CPU in minutes (default); "
                        "paper: the papers' settings, for CUDA")  # fmt: skip
    p.add_argument("--out", required=True, type=Path, help="output folder of the run")
    p.add_argument(
        "--ave-root",
        type=Path,
        help="folder holding AVE_Dataset/ (Annotations.txt, trainSet.txt, AVE/*.mp4)",
    )
    p.add_argument(
        "--avsal-root",
        type=Path,
        help="folder holding video_frames/, video_audio/, annotations/, fold_lists/",
    )
    p.add_argument(
        "--datasets",
        nargs="+",
        metavar="NAME",
        help=f"STAViS-layout test sets (default: {' '.join(DEFAULT_DATASETS)})",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA when available), cpu, cuda, cuda:1 ... (default auto)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the finished stages of the run already in --out",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="a config.json of an earlier run to start from instead of a profile",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set student.epochs=2 --set smooth=false "
                        "(JSON values; repeatable)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _override(tree: dict[str, Any], assignment: str) -> None:
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ValueError(f"--set takes KEY=VALUE, got {assignment!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ValueError(f"--set {key}: {part!r} is not a group of settings")
        node = node[part]
    if parts[-1] not in node:
        raise ValueError(f"--set {key}: unknown setting; known here: {sorted(node)}")
    node[parts[-1]] = value


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The run's :class:`PipelineConfig` from parsed arguments."""
    from .config import config_to_dict, load_config

    base = load_config(args.config) if args.config else profile(args.profile)
    tree = config_to_dict(base)
    tree["seed"] = args.seed
    data = tree["data"]
    if args.ave_root is not None:
        data["ave_root"] = str(args.ave_root)
    if args.avsal_root is not None:
        data["avsal_root"] = str(args.avsal_root)
    if args.datasets:
        data["datasets"] = list(args.datasets)
    for assignment in args.set:
        _override(tree, assignment)
    cfg = config_from_dict(PipelineConfig, tree)
    if (cfg.data.ave_root is None) != (cfg.data.avsal_root is None):
        raise ValueError(
            "give both --ave-root and --avsal-root (real data), or neither (the built-in set)"
        )
    for name, root in (("--ave-root", cfg.data.ave_root), ("--avsal-root", cfg.data.avsal_root)):
        if root is not None and not Path(root).is_dir():
            raise FileNotFoundError(f"{name} {root}: no such folder")
    return cfg


def reproduce(
    cfg: PipelineConfig,
    out: str | Path,
    *,
    device: str | None = "auto",
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every stage of the pipeline under ``out``; returns the content of ``results.json``."""
    from .runner import run_stages
    from .stages import build_stages, finalize

    return run_stages(
        build_stages(cfg),
        cfg,
        out,
        device=device,
        resume=resume,
        progress=progress,
        finalize=finalize,
    )


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Entry point: parse ``argv``, run, print where the results are. Returns the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from .runner import RunError

    try:
        cfg = config_from_args(args)
        results = reproduce(
            cfg, args.out, device=args.device, resume=args.resume, progress=not args.quiet
        )
    except (RunError, ValueError, FileNotFoundError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1
    total = sum(results.get("wall_time_s", {}).values())
    print(f"done in {total:.0f} s: {Path(args.out) / 'results.md'}")
    return 0
