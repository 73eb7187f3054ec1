"""Area-under-ROC saliency metrics with MIT saliency benchmark semantics.

AUC-Judd, shuffled AUC and AUC-Borji as the MATLAB code of the MIT saliency benchmark
(``cvzoya/saliency``, ``code_forMetrics``) computes them, batched over maps and vectorised over
thresholds and random splits. They are not equations of STANet+; the papers report them with
these semantics (STAViS evaluation code).

Shared conventions: ``pred`` is ``(h, w)`` or ``(b, h, w)`` float (a tensor or a numpy array),
already at the ground-truth size (resizing is :mod:`scamlib.metrics.protocol`'s job); a
fixation map is bool or numeric with ``> 0`` meaning fixated, each fixated pixel counting once.
Internals run in float64 on the input's device; the result is a 0-dim or ``(b,)`` float64
tensor. The kernels live in ``_judd`` (AUC-Judd) and ``_sampled`` (s-AUC, AUC-B).
"""

from __future__ import annotations

from ._judd import JuddParts, _judd_finish, _judd_parts, auc_judd
from ._sampled import _borji_negatives, _draw_histograms, auc_borji, auc_shuffled

__all__ = ["auc_borji", "auc_judd", "auc_shuffled"]

# private names kept importable from their former home
_PRIVATE = (
    JuddParts,
    _borji_negatives,
    _draw_histograms,
    _judd_finish,
    _judd_parts,
)
