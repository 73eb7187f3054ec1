"""Pure, batched, differentiable tensor ops of SCAM / SCAM+ (SPEC §1-5, §10).

One equation per function; nothing here reads files, prints or holds state. Every op checks its
inputs (SPEC §12) and documents what it returns on degenerate ones.
"""

from .boxes import coarse_box, crop_clip, paste_back, scale_boxes
from .cam import SCAMResult, average_cams, cam, scam, scam_plus, soft_filter
from .fusion import pf_agg, pf_final
from .norm import minmax
from .temporal import sparsify, temporal_smooth

__all__ = [
    "SCAMResult",
    "average_cams",
    "cam",
    "coarse_box",
    "crop_clip",
    "minmax",
    "paste_back",
    "pf_agg",
    "pf_final",
    "scale_boxes",
    "scam",
    "scam_plus",
    "soft_filter",
    "sparsify",
    "temporal_smooth",
]
