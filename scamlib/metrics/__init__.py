"""Saliency metrics with MIT saliency benchmark semantics and the STAViS protocol.

Metrics (batched torch ops, CPU and CUDA; tensors or numpy arrays): :func:`auc_judd`,
:func:`auc_shuffled`, :func:`auc_borji`, :func:`nss`, :func:`cc`, :func:`sim`, :func:`kld`.
Each takes maps already at the ground-truth size; :mod:`scamlib.metrics.protocol`
post-processes and resizes predictions the way the STAViS evaluation code does and averages
per video and per dataset; :class:`SaliencyMetrics` does the same batch by batch (a streaming
accumulator, synchronised across processes under ``torch.distributed``).

Layout (imports point down only): ``_common`` (row statistics) <- ``_registry`` (the table of
metrics) <- ``_engine`` (chunked scoring) <- the metric modules (``_judd``, ``_sampled``,
``distribution``: kernels, registration, public functions; ``auc`` gathers the AUCs) <-
``_matlab`` (post-processing, ``imresize``) <- ``streaming`` <- ``_driver`` (``evaluate``);
``protocol`` re-exports the protocol's names. A new metric is one module: two kernels, a
:class:`~scamlib.metrics._registry.MetricSpec` passed to ``register``, a public function.
"""

from . import protocol
from .auc import auc_borji, auc_judd, auc_shuffled
from .distribution import cc, kld, nss, sim
from .protocol import EvaluationResult, evaluate, evaluate_dir, imresize, postprocess
from .streaming import SaliencyMetrics

__all__ = [
    "EvaluationResult",
    "SaliencyMetrics",
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
