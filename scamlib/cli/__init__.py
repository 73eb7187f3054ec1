"""The ``scamlib`` command: predict, evaluate, reproduce, synth.

``scamlib COMMAND --help`` explains each command with examples. Exit status: 0 on success, 1
when the data or files are wrong (missing, unreadable, wrong layout), 2 for a wrong command
line (a bad option value, settings that disagree), 130 when interrupted. Errors a user can
cause are printed as one line, ``scamlib: error: ...``, without a traceback.

One parser tree: each command is a subparser defined in its own module
(:mod:`scamlib.cli.predict`, :mod:`~scamlib.cli.evaluate`, :mod:`~scamlib.cli.reproduce`,
:mod:`~scamlib.cli.synth`); ``reproduce`` takes the pipeline's options from
:func:`scamlib.pipeline.reproduce.add_pipeline_options`. The same entry point runs as
``python -m scamlib``; :func:`main` takes the argument list, so scripts and tests can call it
in-process.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from . import evaluate, predict, reproduce, synth
from ._common import PROG, Parser, UsageError, error, formatter, show_warning

__all__ = ["PROG", "UsageError", "build_parser", "main"]

#: The subcommands, in the order ``scamlib --help`` lists them.
COMMANDS = {"predict": predict, "evaluate": evaluate, "reproduce": reproduce, "synth": synth}

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


def build_parser() -> argparse.ArgumentParser:
    """The ``scamlib`` argument parser: one subparser per command.

    Example:
        >>> build_parser().parse_args(["synth", "out"]).command
        'synth'
        >>> build_parser().parse_args(["reproduce", "--out", "runs/x", "--quiet"]).quiet
        True
    """
    from scamlib._version import __version__

    commands = "\n".join(f"  {name:<11}{mod.HELP}" for name, mod in COMMANDS.items())
    parser = Parser(
        prog=PROG,
        usage="%(prog)s [-h] [--version] COMMAND [ARGS ...]",
        description=_DESCRIPTION,
        epilog=_EPILOG.format(commands=commands),
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # the command list is in the epilog (argparse 3.11 misaligns long sub-command names)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``scamlib`` command with ``argv`` (default ``sys.argv[1:]``); return the exit
    status (0 ok, 1 bad data or files, 2 bad command line, 130 interrupted).

    Example:
        >>> main(["synth", "--num-train", "0", "somewhere"])
        2
    """
    from scamlib.data import DataError  # a ValueError; named for the reader

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        with warnings.catch_warnings():
            warnings.filterwarnings("default", category=UserWarning)
            warnings.showwarning = show_warning
            return int(args.handler(args) or 0)
    except SystemExit as exc:  # argparse: --help (0), usage errors (2)
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        error(str(code))
        return 1
    except UsageError as exc:
        error(str(exc))
        return 2
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except (DataError, OSError, ValueError) as exc:  # missing/unreadable files, bad data
        error(str(exc))
        return 1
