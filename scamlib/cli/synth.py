"""``scamlib synth``: write the built-in synthetic audio-visual dataset."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from ._common import UsageError, add_command, check_out_dir, replaced_folder, say

HELP = "write the built-in synthetic audio-visual dataset"

DESCRIPTION = """\
Write the built-in synthetic audio-visual dataset: moving objects of a few categories, each
with its own sound (by default photographed objects with recorded sounds over scene
photographs, from the installed scikit-image and pygame), in the AVE layout (tagged .mp4
clips for training) and in the STAViS layout (test videos with eye-tracking-like fixation
maps). Every file is a deterministic
function of the settings and --seed.

DIR is written as a whole: the set is generated in a hidden folder beside DIR and renamed onto
it when complete, so a killed run leaves no partial set. A DIR that already holds the same set
(same settings and seed) is left as is; a DIR holding another set (other settings or seed) is
refused unless --overwrite, which replaces it as a whole (no file of the old set is left
beside the new one). A DIR with other files is never deleted."""

EPILOG = """\
examples:
  scamlib synth data/builtin
  scamlib synth data/small --num-train 8 --height 64 --width 64 --seed 1
  scamlib synth data/small --seed 2 --overwrite

then:
  scamlib evaluate --data-root data/builtin/stavis --dataset SynthAV --pred-root ..."""

#: The file ``generate`` writes last, naming the set's settings and seed.
MARKER = "synthetic_config.json"

_SIZES = (
    ("num_categories", "categories (2-6 photo, 2-8 drawn)"),
    ("num_train", "training clips (AVE layout)"),
    ("num_val", "validation clips"),
    ("num_test", "AVE test clips"),
    ("seconds", "length of a training clip in seconds"),
    ("fps", "frame rate of every video"),
    ("height", "frame height (even)"),
    ("width", "frame width (even)"),
    ("num_test_videos", "videos per STAViS-layout test set"),
    ("test_seconds", "length of a test video in seconds"),
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``synth`` to the subparsers ``sub``."""
    from scamlib.data.synthetic import STYLES, SyntheticConfig

    s = add_command(
        sub, "synth", help=HELP, description=DESCRIPTION, epilog=EPILOG
    )
    s.add_argument("dir", metavar="DIR", help="folder to write into (created)")
    s.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of every random choice (default 0)"
    )
    defaults = SyntheticConfig()
    for name, text in _SIZES:
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
    s.add_argument(
        "--style",
        choices=STYLES,
        default=defaults.style,
        help="photo: photographed objects with recorded sounds over scene photographs; "
        f"drawn: drawn shapes with synthesised sounds (default {defaults.style})",
    )
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a set DIR already holds that was made with other settings or seed",
    )
    s.add_argument("--quiet", "-q", action="store_true", help="print less")
    s.set_defaults(handler=run)
    return s


def run(args: argparse.Namespace) -> int:
    """Run ``scamlib synth``; returns the exit status."""
    from scamlib.data.synthetic import SyntheticConfig, SyntheticPaths, generate
    from scamlib.data.synthetic import stamp as record

    try:
        config = SyntheticConfig(
            **{name: getattr(args, name) for name, _ in _SIZES},
            test_datasets=tuple(args.test_datasets),
            style=args.style,
        )
    except ValueError as exc:
        named = [n for n, _ in (*_SIZES, ("test_datasets", "")) if re.search(rf"\b{n}\b", str(exc))]
        option = f"--{named[0].replace('_', '-')}: " if named else ""
        raise UsageError(f"{option}{exc}") from None
    for name in ("num_val", "num_test"):
        if getattr(config, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0")
    root = Path(args.dir)
    check_out_dir(root)
    marker = root / MARKER
    start = time.perf_counter()
    if marker.is_file() and marker.read_text() == record(config, args.seed):
        say(args, f"{root} already holds this set (same settings and seed); left as is")
        paths: SyntheticPaths = generate(root, config, seed=args.seed)  # returns at once
    else:
        if root.is_dir() and any(root.iterdir()) and marker.is_file() and not args.overwrite:
            raise UsageError(
                f"{root} holds a synthetic set made with other settings or seed ({marker}); "
                "pass --overwrite to replace it, or choose another folder"
            )
        _say_writing = "replacing the set in" if root.is_dir() and any(root.iterdir()) else (
            "writing the built-in set to"
        )
        say(args, f"{_say_writing} {root} ...")
        with replaced_folder(root, owned=MARKER) as tmp:
            generate(tmp, config, seed=args.seed)
        paths = generate(root, config, seed=args.seed)  # the stamp matches: only the paths
    first, *others = paths.test_datasets
    say(
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
