"""Former module name of ``scamlib.nn.fuse`` (STANet+ Eqs. 5, 6 and 15).

Kept so that ``from scamlib.nn.fusion import SAFuse`` keeps working; new code imports from
:mod:`scamlib.nn`.
"""

from .fuse import AudioDeconv, SAFuse, STAFuse, STFuse, apply_gate

__all__ = ["AudioDeconv", "SAFuse", "STAFuse", "STFuse", "apply_gate"]
