"""Pure, batched, differentiable tensor ops of SCAM / SCAM+ and STANet+ (one equation each).

Every equation of STANet+ that has no learned weights of its own lives here: CAM, soft filter,
SCAM and SCAM+ (Eqs. 1-3, 8, 22, ``scamlib.functional.cam``), the fusions with the audio
switch ``phi`` (Eqs. 5, 6, 15, ``scamlib.functional.fuse``), the conservative GCN and its
fixation refine layer (Eqs. 9-14, ``scamlib.functional.gcn``), the final fixation map
(Eqs. 21, 23, ``scamlib.functional.pf``), the coarse-to-fine geometry of Sec. 3.2
(``scamlib.functional.boxes``), min-max normalisation and the temporal smoothing of the
original release. Ops that need learned layers take them as arguments; the modules of
:mod:`scamlib.nn` hold them. Nothing here reads files, prints or holds state. Every op checks its
inputs, names the argument at fault, and documents what it returns on degenerate ones.
"""

from .boxes import coarse_box, crop_clip, paste_back, scale_boxes
from .cam import (
    SCAMResult,
    SourceStack,
    average_cams,
    cam,
    scam,
    scam_plus,
    soft_filter,
    stack_sources,
)
from .fuse import apply_gate, sa_fuse, st_fuse, sta_fuse, temporal_feature
from .gcn import conservative_gcn, fixation_refine, gcn_messages
from .norm import minmax
from .pf import pf_agg, pf_final
from .temporal import sparsify, temporal_smooth

__all__ = [
    "SCAMResult",
    "SourceStack",
    "apply_gate",
    "average_cams",
    "cam",
    "coarse_box",
    "conservative_gcn",
    "crop_clip",
    "fixation_refine",
    "gcn_messages",
    "minmax",
    "paste_back",
    "pf_agg",
    "pf_final",
    "sa_fuse",
    "scale_boxes",
    "scam",
    "scam_plus",
    "soft_filter",
    "sparsify",
    "st_fuse",
    "sta_fuse",
    "stack_sources",
    "temporal_feature",
    "temporal_smooth",
]
