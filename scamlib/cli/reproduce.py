"""``scamlib reproduce``: the whole STANet+ pipeline, with the pipeline's own options.

The options are defined once, by :func:`scamlib.pipeline.reproduce.add_pipeline_options`, and
shared with ``examples/reproduce_stanet_plus.py``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import PROG, add_command

HELP = "run the STANet+ pipeline (the same as examples/reproduce_stanet_plus.py)"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``reproduce`` to the subparsers ``sub``."""
    from scamlib.pipeline.reproduce import DESCRIPTION, EPILOG, add_pipeline_options

    r = add_command(
        sub, "reproduce", help=HELP, description=DESCRIPTION, epilog=EPILOG
    )
    add_pipeline_options(r)
    r.set_defaults(handler=run)
    return r


def run(args: argparse.Namespace) -> int:
    """Run ``scamlib reproduce``; returns the exit status (2 for settings that disagree)."""
    from scamlib.pipeline.reproduce import run_from_args

    return run_from_args(args, f"{PROG} reproduce")
