"""Reproduce STANet+ end to end: tags -> SCAM / SCAM+ pseudo-fixations -> STA / STA+ students ->
fixation maps for the test sets -> the papers' tables.

On the built-in generated set, on CPU (about 12 minutes on 2 cores)::

    python examples/reproduce_stanet_plus.py --out runs/quick

With AVE and the six STAViS test sets, on a GPU (or several, through torchrun)::

    python examples/reproduce_stanet_plus.py --profile paper \\
        --ave-root /data/AVE --avsal-root /data/stavis --out runs/paper
    torchrun --nproc_per_node 4 examples/reproduce_stanet_plus.py --profile paper ...

Re-run with ``--resume`` after a kill: finished stages are reused. ``--help`` lists every
option; ``scamlib reproduce`` is the same command, built from the same option definitions
(:func:`scamlib.pipeline.reproduce.add_pipeline_options`).
"""

import sys

from scamlib.pipeline.reproduce import main

if __name__ == "__main__":
    sys.exit(main(prog="reproduce_stanet_plus.py"))
