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

__all__ = [
    "add_pipeline_options",
    "build_parser",
    "check_run",
    "config_from_args",
    "device_type",
    "main",
    "reproduce",
    "run_from_args",
]

#: Examples and outputs, shown after the options.
EPILOG = """\
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


#: What the pipeline does, for the ``--help`` of ``scamlib reproduce`` and of the example script.
DESCRIPTION = """\
Reproduce STANet+ (weakly supervised audio-visual fixation prediction): train the SCAM
classifiers on video tags, build pseudo-fixations with SCAM and SCAM+, train the STA / STA+
students on them, predict and evaluate the test sets. With no data arguments it generates the
built-in set into --out and runs on it. The settings are checked against each other, and --out
for writability, before the first stage runs."""


def device_type(text: str) -> str:
    """Argument type of ``--device``: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps`` ...

    Rejects a device torch does not know, and a CUDA device on a machine without one, with
    an :class:`argparse.ArgumentTypeError` (a usage error, exit status 2).

    Example:
        >>> device_type("cpu")
        'cpu'
        >>> device_type("bogus")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: device 'bogus' is not a device name (available here: cpu...
    """
    from scamlib._device import resolve_device

    try:
        resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_pipeline_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the pipeline's options to ``p`` (the one definition of them).

    Used by ``scamlib reproduce``, by ``examples/reproduce_stanet_plus.py`` and by
    :func:`build_parser`. Returns ``p``.

    Example:
        >>> p = add_pipeline_options(argparse.ArgumentParser(prog="x"))
        >>> p.parse_args(["--out", "runs/x", "--quiet"]).quiet
        True
    """
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
        type=device_type,
        help="auto (CUDA when available), cpu, cuda, cuda:1 ... (default auto)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the finished stages of the run already in --out (refused when --out holds "
        "no scamlib run: its config.json must be one a run wrote)",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="a config.json of an earlier run to start from instead of a profile",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set student.epochs=2 --set smooth=false "
                        "(JSON values; repeatable); settings that disagree are refused before "
                        "the first stage")  # fmt: skip
    from scamlib.baselines import BASELINES

    _names_option(
        p,
        "--baselines",
        BASELINES,
        "CAM-family baselines whose pseudo-fixations are scored beside SCAM",
        'all of them; the CAM methods need pip install "scamlib[baselines]"',
    )
    p.add_argument("--ablation-students", action=argparse.BooleanOptionalAction, default=None,
                   help="train and evaluate the STA student once per pseudo-fixation source "
                        "(each baseline, CAM_S, SCAM coarse / fine, SCAM+) (default: off in "
                        "quick, on in paper)")  # fmt: skip
    from .config import FULL_MODELS

    _names_option(
        p,
        "--full-models",
        FULL_MODELS,
        "networks trained fully supervised on the ground truth of the STAViS train "
        "lists, one per fold, and scored beside the weak students",
        "sta",
    )
    p.add_argument(
        "--no-full-supervision",
        action="store_true",
        help="train no fully supervised reference (the same as --full-models none)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _names_option(
    p: argparse.ArgumentParser, flag: str, known: Sequence[str], what: str, default: str
) -> None:
    """Add a ``NAME [NAME ...] | none`` option (see :func:`_names_or_none`)."""
    p.add_argument(flag, nargs="+", metavar="NAME", choices=(*known, "none"),
                   help=f"{what}: {' '.join(known)}, or none (default: {default})")  # fmt: skip


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command-line interface of the pipeline (a parser of its own, for the example script).

    Example:
        >>> build_parser("reproduce").parse_args(["--out", "x"]).profile
        'quick'
    """
    p = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return add_pipeline_options(p)


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


def _names_or_none(names: Sequence[str], option: str) -> list[str]:
    """The value of a ``NAME [NAME ...] | none`` option: the names, or ``[]`` for ``none``.

    Example:
        >>> _names_or_none(["none"], "--baselines"), _names_or_none(["gradcam"], "--baselines")
        ([], ['gradcam'])
    """
    if "none" in names and len(names) > 1:
        raise ValueError(f"{option}: 'none' cannot be combined with names, got {list(names)}")
    return [] if list(names) == ["none"] else list(names)


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The run's :class:`PipelineConfig` from parsed arguments.

    Raises:
        ValueError: an unknown or ill-typed ``--set``, or only one of the two data roots.
        FileNotFoundError: a data root that is not a folder.
    """
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
    for setting in ("baselines", "full_models"):
        names = getattr(args, setting, None)
        if names is not None:
            tree[setting] = _names_or_none(names, "--" + setting.replace("_", "-"))
    if getattr(args, "ablation_students", None) is not None:
        tree["ablation_students"] = args.ablation_students
    if getattr(args, "no_full_supervision", False):
        tree["full_models"] = []
    for assignment in args.set:
        _override(tree, assignment)
    try:
        cfg = config_from_dict(PipelineConfig, tree)
    except TypeError as exc:  # a value of the wrong type, e.g. --set student.epochs='"two"'
        raise ValueError(f"a setting has a value of the wrong type: {exc}") from None
    if (cfg.data.ave_root is None) != (cfg.data.avsal_root is None):
        raise ValueError(
            "give both --ave-root and --avsal-root (real data), or neither (the built-in set)"
        )
    for name, root in (("--ave-root", cfg.data.ave_root), ("--avsal-root", cfg.data.avsal_root)):
        if root is not None and not Path(root).is_dir():
            raise FileNotFoundError(f"{name} {root}: no such folder")
    return cfg


def check_run(cfg: PipelineConfig, out: str | Path, *, resume: bool = False) -> None:
    """Everything that can be checked before the first stage: the settings agree with each
    other (:func:`scamlib.pipeline.config.check_config`) and ``out`` can take this run.

    Raises:
        ValueError: settings that disagree (the message names both).
        RunError: ``out`` holds a run and ``resume`` is False, or holds no scamlib run config.
        OSError: ``out`` is under a file or not writable.

    Example:
        >>> import tempfile
        >>> check_run(profile("quick"), tempfile.mkdtemp())
    """
    from .config import check_config
    from .runner import _check_out

    check_config(cfg)
    _check_out(Path(out), cfg, resume)


def reproduce(
    cfg: PipelineConfig,
    out: str | Path,
    *,
    device: str | None = "auto",
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every stage of the pipeline under ``out``; returns the content of ``results.json``.

    The settings and the output folder are checked (:func:`check_run`) before any stage runs.

    Raises:
        ValueError: settings that disagree.
        RunError: an output folder that cannot take the run, missing data, a failed stage.
    """
    from .runner import run_stages
    from .stages import build_stages, finalize

    check_run(cfg, out, resume=resume)
    return run_stages(
        build_stages(cfg),
        cfg,
        out,
        device=device,
        resume=resume,
        progress=progress,
        finalize=finalize,
    )


def run_from_args(args: argparse.Namespace, prog: str) -> int:
    """Run the pipeline for parsed :func:`add_pipeline_options` arguments; print one line.

    Returns the exit status: 0 done, 1 a run that cannot start or failed (missing data, an
    output folder that holds something else), 2 settings that are wrong or disagree.
    """
    from .runner import RunError

    try:
        cfg = config_from_args(args)
        check_run(cfg, args.out, resume=args.resume)
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except (RunError, OSError, ImportError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    try:
        results = reproduce(
            cfg, args.out, device=args.device, resume=args.resume, progress=not args.quiet
        )
    except (RunError, ValueError, OSError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    total = sum(results.get("wall_time_s", {}).values())
    print(f"done in {total:.0f} s: {Path(args.out) / 'results.md'}")
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Entry point of the example script: parse ``argv``, run, print where the results are.

    Returns the exit code (see :func:`run_from_args`); ``scamlib reproduce`` is the same
    command with the same options.
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    return run_from_args(args, parser.prog)
