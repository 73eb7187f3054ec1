"""The STAViS evaluation protocol: post-processing, MATLAB resizing, per-video averaging.

A predicted map is scaled to ``[0, 1]``, blurred (Gaussian, sigma 2 px, 13 x 13 kernel,
symmetric padding), resized to the ground-truth size with MATLAB's ``imresize`` rules, and
scored against the dataset's ``eyeMap`` (CC, SIM, KLD) and ``fixMap`` (AUC-J, s-AUC, NSS,
AUC-B) with the MIT semantics. The shuffled-AUC negatives of a frame are the fixations of
every frame of the same video minus the frame's own. Per-frame NaN scores are dropped (a blank
prediction, a constant one for most metrics, a frame without fixations), frames are averaged
per video and videos per dataset (STAViS evaluation code; STANet+ Sec. 4.1).

This module gathers the protocol's public names from where they live: the MATLAB operators
(``_matlab``: :func:`postprocess`, :func:`imresize`), the result tables (``_results``:
:class:`MetricTable`, :class:`EvaluationResult`, :func:`combine_splits`, :func:`json_safe`)
and the driver (``_driver``: :func:`evaluate`, :func:`evaluate_dir`, :func:`shuffled_other`).
"""

from __future__ import annotations

from ._driver import (
    ALL_METRICS,
    DEFAULT_METRICS,
    FixationDataset,
    PredictFn,
    Predictor,
    _check_dataset,
    _check_item,
    _read_frames,
    _read_prediction,
    _score_frames,
    evaluate,
    evaluate_dir,
    shuffled_other,
)
from ._matlab import (
    _apply,
    _axis_operator,
    _banded,
    _blur_matrix,
    _postprocess,
    _resize_matrix,
    imresize,
    postprocess,
)
from ._results import EvaluationResult, MetricTable, _nanmean, _tables, combine_splits, json_safe

__all__ = [
    "ALL_METRICS",
    "DEFAULT_METRICS",
    "EvaluationResult",
    "FixationDataset",
    "MetricTable",
    "PredictFn",
    "Predictor",
    "combine_splits",
    "evaluate",
    "evaluate_dir",
    "imresize",
    "json_safe",
    "postprocess",
    "shuffled_other",
]

# private names kept importable from their former home
_PRIVATE = (
    _apply,
    _axis_operator,
    _banded,
    _blur_matrix,
    _check_dataset,
    _check_item,
    _nanmean,
    _postprocess,
    _read_frames,
    _read_prediction,
    _resize_matrix,
    _score_frames,
    _tables,
)
