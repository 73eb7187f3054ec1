"""Saliency metrics with MIT saliency benchmark semantics and the STAViS protocol (SPEC §11).

Metrics (batched torch ops, CPU and CUDA): :func:`auc_judd`, :func:`auc_shuffled`,
:func:`auc_borji`, :func:`nss`, :func:`cc`, :func:`sim`, :func:`kld`. Each takes maps already at
the ground-truth size; :mod:`scamlib.metrics.protocol` post-processes and resizes predictions
the way the STAViS evaluation code does and averages per video and per dataset.
"""

from . import protocol
from .auc import auc_borji, auc_judd, auc_shuffled
from .distribution import cc, kld, nss, sim
from .protocol import EvaluationResult, evaluate, evaluate_dir, imresize, postprocess

__all__ = [
    "EvaluationResult",
    "auc_borji",
    "auc_judd",
    "auc_shuffled",
    "cc",
    "evaluate",
    "evaluate_dir",
    "imresize",
    "kld",
    "nss",
    "postprocess",
    "protocol",
    "sim",
]
