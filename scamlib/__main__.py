"""``python -m scamlib``: the ``scamlib`` command (see :mod:`scamlib.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
