"""Former module name of ``scamlib.functional.pf`` (STANet+ Eqs. 21 and 23).

Kept so that ``from scamlib.functional.fusion import pf_final`` keeps working; new code imports
from :mod:`scamlib.functional`. The fusion modules of Eqs. 5, 6 and 15 are in
``scamlib.functional.fuse``.
"""

from .pf import pf_agg, pf_final

__all__ = ["pf_agg", "pf_final"]
