"""nn.Module building blocks of STANet / STANet+.

Fusion modules (Eqs. 5, 6, 15), the audio switch (Sec. 3.3), the conservative GCN and its
fixation refine layer (Eqs. 9-14), the CAM classifier head (Eq. 1), the saliency decoder
(Eq. 16) and read-out (Eq. 19), and SCAM / SCAM+ (Eqs. 2, 8) as modules over named classifier
outputs. A module holds the configuration and the learned layers; where its equation has an op
in :mod:`scamlib.functional`, its ``forward`` is one call to that op.
"""

from .fuse import AudioDeconv, SAFuse, STAFuse, STFuse, apply_gate
from .gcn import ConservativeGCN, FixationRefineLayer, fixation_refine
from .heads import CAMHead, ReadOut, Ref, SaliencyDecoder
from .scam import BASE_SOURCES, MG_SOURCES, SCAM, SCAMOutput, SCAMPlus
from .switch import AudioSwitch, SwitchOutput, switch_labels

__all__ = [
    "BASE_SOURCES",
    "MG_SOURCES",
    "SCAM",
    "AudioDeconv",
    "AudioSwitch",
    "CAMHead",
    "ConservativeGCN",
    "FixationRefineLayer",
    "ReadOut",
    "Ref",
    "SAFuse",
    "SCAMOutput",
    "SCAMPlus",
    "STAFuse",
    "STFuse",
    "SaliencyDecoder",
    "SwitchOutput",
    "apply_gate",
    "fixation_refine",
    "switch_labels",
]
