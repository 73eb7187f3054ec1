"""The STAViS evaluation protocol: post-processing, MATLAB resizing, per-video averaging (SPEC §11).

A predicted map is scaled to ``[0, 1]``, blurred (Gaussian, sigma 2 px, 13 x 13 kernel,
symmetric padding), resized to the ground-truth size with MATLAB's ``imresize`` rules, and
scored against the dataset's ``eyeMap`` (CC, SIM, KLD) and ``fixMap`` (AUC-J, s-AUC, NSS,
AUC-B). The shuffled-AUC negatives of a frame are the fixations of every frame of the same video
minus the frame's own. Per-frame NaN scores are dropped, frames are averaged per video and
videos per dataset.

Blur and resize are linear and separable, so each axis is one matrix: ``out = A_h x A_w^T``
with ``A = R B`` (resize after blur). The matrices are built once per size and cached, and
applied along their band only (:class:`_Banded`: a strided view of windows and a batched matrix
product per axis instead of two dense products).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from .._validation import as_size, check_finite, check_floating, check_ndim, check_tensor
from ._common import Positions, Rows, Workspace, scratch
from ._engine import ChunkPool, Scorer, chunk_rows

__all__ = [
    "ALL_METRICS",
    "DEFAULT_METRICS",
    "EvaluationResult",
    "FixationDataset",
    "MetricTable",
    "combine_splits",
    "evaluate",
    "evaluate_dir",
    "imresize",
    "postprocess",
    "shuffled_other",
]

#: The five metrics the papers report, in their column order.
DEFAULT_METRICS: tuple[str, ...] = ("AUC_J", "SIM", "sAUC", "CC", "NSS")
#: Every metric :func:`evaluate` can compute.
ALL_METRICS: tuple[str, ...] = (*DEFAULT_METRICS, "KLD", "AUC_B")


# ----------------------------------------------------------------------------------------------
# separable linear operators (MATLAB rules)


def _mirror(index: Tensor, n: int) -> Tensor:
    """Fold 0-based indices into ``[0, n)`` by mirroring with the edge sample repeated.

    ``-1 -> 0, -2 -> 1, n -> n - 1``: MATLAB's ``padarray(..., 'symmetric')`` and the
    ``[1:n, n:-1:1]`` index table of ``imresize``, periodic for pads longer than ``n``.
    """
    m = torch.remainder(index, 2 * n)
    return torch.where(m < n, m, 2 * n - 1 - m)


def _cubic(x: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB ``imresize``'s ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


@functools.lru_cache(maxsize=64)
def _resize_matrix(n_in: int, n_out: int) -> Tensor:
    """``(n_out, n_in)`` float64 matrix of MATLAB's bicubic ``imresize`` along one axis.

    Output sample ``x`` (1-based) reads input position ``u = x / s + (1 - 1 / s) / 2`` with
    ``s = n_out / n_in``; when shrinking (``s < 1``) the kernel is widened to ``4 / s`` and
    scaled by ``s`` (antialiasing). The ``ceil(width) + 2`` taps from ``floor(u - width / 2)``
    are weighted, normalised to sum 1, and indices outside the input are mirrored.
    """
    scale = n_out / n_in
    x = torch.arange(1, n_out + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    width = 4.0 / scale if scale < 1 else 4.0
    left = torch.floor(u - width / 2)
    taps = torch.arange(math.ceil(width) + 2, dtype=torch.float64)
    index = left[:, None] + taps  # 1-based input positions
    distance = u[:, None] - index
    weight = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
    weight = weight / weight.sum(dim=1, keepdim=True)
    columns = _mirror(index.long() - 1, n_in)
    return torch.zeros(n_out, n_in, dtype=torch.float64).scatter_add_(1, columns, weight)


@functools.lru_cache(maxsize=64)
def _blur_matrix(n: int, sigma: float) -> Tensor:
    """``(n, n)`` float64 matrix of a 1-D Gaussian correlation with symmetric padding.

    The taps are MATLAB's ``fspecial('gaussian', 2 * ceil(3 sigma) + 1, sigma)`` factorised:
    the 2-D kernel normalised to sum 1 is the outer product of the normalised 1-D kernel.
    """
    radius = math.ceil(3 * sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-(offsets**2) / (2 * sigma**2))
    taps = taps / taps.sum()
    rows = torch.arange(n)[:, None].expand(n, offsets.numel())
    columns = _mirror(rows + offsets.long(), n)
    return torch.zeros(n, n, dtype=torch.float64).scatter_add_(1, columns, taps.expand(n, -1))


@functools.lru_cache(maxsize=64)
def _axis_operator(n_in: int, n_out: int | None, sigma: float | None) -> Tensor:
    """Blur (if ``sigma``) then resize (if ``n_out``) along one axis, as one cached matrix."""
    op = torch.eye(n_in, dtype=torch.float64)
    if sigma is not None:
        op = _blur_matrix(n_in, sigma)
    if n_out is not None:
        op = _resize_matrix(n_in, n_out) @ op
    return op


#: Output samples per block of a banded operator that are tried (see :func:`_banded`).
_BLOCKS = range(8, 49)
#: Cost of one block in multiply-adds, beyond its ``block * window`` (a batched product's
#: per-matrix overhead), when choosing the block size.
_BLOCK_OVERHEAD = 256


@dataclass(frozen=True)
class _Banded:
    """One axis of a separable linear map (blur, resize or both) stored along its band.

    The ``(n_out, n_in)`` matrix has a narrow band (13 blur taps plus 4 to 6 bicubic taps per
    output sample), so the outputs are cut into ``blocks`` blocks of ``block`` consecutive
    samples, block ``c`` reading the ``window`` consecutive inputs from ``start + c * stride``
    of the input padded with ``left`` zeros before and ``right`` after: ``weight[c]`` is the
    ``(block, window)`` piece of the matrix that block ``c`` needs (the zeros of the padding
    meet zero weights; the mirroring at the edges is in the weights). The windows are then a
    strided view of the padded input, and applying the operator is one batched matrix product,
    about ``window / n_in`` of the dense product's work (a sixth at 384 -> 640).
    """

    n_out: int
    block: int
    window: int
    stride: int
    start: int
    left: int
    right: int
    weight: Tensor  # (blocks, block, window)

    @property
    def blocks(self) -> int:
        return self.weight.shape[0]

    def to(self, dtype: torch.dtype, device: torch.device) -> _Banded:
        weight = self.weight.to(device=device, dtype=dtype)
        return replace(self, weight=weight)

    def windows(self, padded: Tensor, axis: int) -> Tensor:
        """The ``(..., blocks, window, ...)`` windows of ``padded`` along ``axis``, a view.

        ``padded`` holds the input with ``left`` / ``right`` zero samples around it along
        ``axis``; the result replaces that axis by ``(blocks, window)`` without copying.
        """
        shape = list(padded.shape)
        strides = list(padded.stride())
        step = strides[axis]
        shape[axis : axis + 1] = [self.blocks, self.window]
        strides[axis : axis + 1] = [self.stride * step, step]
        return padded.as_strided(shape, strides, padded.storage_offset() + self.start * step)


def _layout(op: Tensor, block: int) -> tuple[int, int, int, int]:
    """``(cost, stride, window, base)`` of cutting ``op``'s rows into blocks of ``block``.

    Block ``c`` reads inputs ``c * stride + base`` to ``... + window - 1`` (``base`` may be
    negative: zeros are padded there); the stride is the blocks' average advance, rounded.
    """
    rows, n_in = op.shape
    count = -(-rows // block)
    padded = torch.zeros(count * block, n_in, dtype=op.dtype)
    padded[:rows] = op
    used = (padded != 0).view(count, block, n_in).any(dim=1)  # (count, n_in)
    position = torch.arange(n_in)
    first = torch.where(used, position, n_in).amin(dim=1)
    last = torch.where(used, position, -1).amax(dim=1)
    empty = ~used.any(dim=1)
    stride = max(round(block * n_in / rows), 1) if rows > block else 1
    offset = torch.arange(count) * stride
    base = int(torch.where(empty, n_in, first - offset).min())
    top = int(torch.where(empty, -1, last - offset).max())
    base = min(base, top)
    window = top - base + 1
    return count * (block * window + _BLOCK_OVERHEAD), stride, window, base


@functools.lru_cache(maxsize=64)
def _banded(n_in: int, n_out: int | None, sigma: float | None) -> _Banded:
    """:func:`_axis_operator` cut into blocks along its band (float64, CPU; cached).

    The block size is the one of :data:`_BLOCKS` (or the whole output when smaller) with the
    fewest multiply-adds, preferring sizes that tile the output exactly.
    """
    op = _axis_operator(n_in, n_out, sigma)
    rows = op.shape[0]
    sizes = [rows] if rows <= max(_BLOCKS) else list(_BLOCKS)
    costs = {b: _layout(op, b) for b in sizes}
    block = min(sizes, key=lambda b: (costs[b][0] * (1 if rows % b == 0 else 2), b))
    _, stride, window, base = costs[block]
    count = -(-rows // block)
    left = max(-base, 0)
    right = max((count - 1) * stride + base + window - n_in, 0)
    wide = torch.zeros(count * block, left + n_in + right, dtype=torch.float64)
    wide[:rows, left : left + n_in] = op
    start = base + left  # window 0 in padded coordinates
    index = start + torch.arange(count)[:, None] * stride + torch.arange(window)
    blocks = wide.view(count, block, -1)
    weight = blocks.gather(2, index[:, None, :].expand(count, block, window))
    return _Banded(rows, block, window, stride, start, left, right, weight)


@functools.lru_cache(maxsize=64)
def _banded_on(
    n_in: int, n_out: int | None, sigma: float | None, dtype: torch.dtype, device: torch.device
) -> _Banded:
    return _banded(n_in, n_out, sigma).to(dtype, device)


def _padded(
    ws: Workspace | None, name: str, shape: tuple[int, ...], axis: int, op: _Banded, like: Tensor
) -> tuple[Tensor, Tensor]:
    """A buffer of ``shape`` widened along ``axis`` by ``op``'s padding (pads zeroed) and the
    view of its interior, where the input goes."""
    full = list(shape)
    full[axis] += op.left + op.right
    buffer = scratch(ws, name, tuple(full), like.dtype, like.device)
    if op.left:
        buffer.narrow(axis, 0, op.left).zero_()
    if op.right:
        buffer.narrow(axis, op.left + shape[axis], op.right).zero_()
    return buffer, buffer.narrow(axis, op.left, shape[axis])


def _along_columns(x: Tensor, op: _Banded, out: Tensor, ws: Workspace | None = None) -> None:
    """Apply ``op`` along the last axis of ``(n, h, n_in)`` ``x`` into ``(n, h, n_out)`` ``out``
    (any strides with a contiguous last axis)."""
    n, h, n_in = x.shape
    padded, interior = _padded(ws, "columns", (n * h, n_in), 1, op, x)
    interior.view(n, h, n_in).copy_(x)
    windows = op.windows(padded, 1).permute(1, 0, 2)  # (blocks, n * h, window)
    blocks = scratch(ws, "blocks", (op.blocks, n * h, op.block), x.dtype, x.device)
    torch.bmm(windows, op.weight.transpose(1, 2), out=blocks)
    result = blocks.view(op.blocks, n, h, op.block).permute(1, 2, 0, 3)  # (n, h, blocks, block)
    if op.blocks * op.block == op.n_out:
        out.view(n, h, op.blocks, op.block).copy_(result)
    else:
        out.copy_(result.reshape(n, h, -1)[..., : op.n_out])


def _along_rows(padded: Tensor, op: _Banded, out: Tensor) -> None:
    """Apply ``op`` along axis 1 of the padded ``(b, left + n_in + right, m)`` input into
    ``(b, blocks * block, m)`` contiguous ``out`` (its first ``n_out`` rows are the result)."""
    windows = op.windows(padded, 1)  # (b, blocks, window, m)
    target = out.view(out.shape[0], op.blocks, op.block, out.shape[2])
    for k in range(padded.shape[0]):
        torch.bmm(op.weight, windows[k], out=target[k])


def _apply(
    x: Tensor,
    size: tuple[int | None, int | None],
    sigma: float | None,
    ws: Workspace | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """Blur (if ``sigma``) and resize (to ``size``, ``None`` keeps an axis) ``(..., h, w)`` maps.

    ``out = A_h x A_w^T`` with the banded per-axis operators, columns first; dtype and device
    of ``x``. On the CPU the maps go through in chunks of about
    :data:`scamlib.metrics._engine.CHUNK_PIXELS` output pixels, each chunk's temporaries in
    ``ws`` (a private one when not given). ``out``: a ``(b, H', W')`` buffer for the result
    when ``H'`` is a whole number of blocks (see :func:`_banded`), else ignored.
    """
    *lead, h, w = x.shape
    flat = x.reshape(-1, h, w)
    b = flat.shape[0]
    rows = _banded_on(h, size[0], sigma, x.dtype, x.device)
    cols = _banded_on(w, size[1], sigma, x.dtype, x.device)
    height = rows.blocks * rows.block  # rows.n_out, rounded up to whole blocks
    if out is None or height != rows.n_out:
        out = torch.empty(b, height, cols.n_out, dtype=x.dtype, device=x.device)
    ws = Workspace() if ws is None else ws
    chunk = chunk_rows(b, rows.n_out * cols.n_out, x.device)
    for start in range(0, b, chunk):
        part = flat[start : start + chunk]
        n = part.shape[0]
        padded, wide = _padded(ws, "rows", (n, h, cols.n_out), 1, rows, x)
        _along_columns(part, cols, wide, ws)
        _along_rows(padded, rows, out[start : start + n])
    if height != rows.n_out:
        out = out[:, : rows.n_out]
    return out.reshape(*lead, rows.n_out, cols.n_out)


def imresize(x: Tensor, size: int | Sequence[int]) -> Tensor:
    """Resize maps as MATLAB's ``imresize(x, [h w])`` does by default (bicubic; SPEC §11).

    Bicubic interpolation with Keys' kernel ``a = -0.5``; when an axis shrinks, the kernel is
    stretched by ``1 / scale`` (antialiasing); the weights of every output sample are normalised
    to sum 1; samples outside the input are mirrored (edge repeated). Each axis has its own scale
    ``out / in``. Values are not clipped (MATLAB does not clip double images), so the output of
    a map in ``[0, 1]`` can overshoot slightly near edges. A constant image stays constant.

    Args:
        x: ``(..., h, w)`` float maps.
        size: output ``(h', w')`` or an int for a square output.

    Returns:
        ``(..., h', w')``, dtype and device of ``x``.

    Raises:
        TypeError: non-float ``x`` or a bad ``size``.
        ValueError: fewer than two axes, NaN/Inf, non-positive size.

    Example:
        >>> imresize(torch.tensor([[0.0, 1.0]]), (1, 4))
        tensor([[-0.0938,  0.2031,  0.7969,  1.0938]])
    """
    check_floating(check_tensor(x, "x"), "x")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., h, w), got {tuple(x.shape)}")
    check_finite(x, "x")
    out_h, out_w = as_size(size, "size")
    return _apply(x, (out_h, out_w), None)


def postprocess(
    pred: Tensor, size: int | Sequence[int] | None = None, *, sigma: float = 2.0
) -> Tensor:
    """STAViS post-processing of predicted maps, optionally fused with the resize (SPEC §11).

    1. ``x = clip(255 S, 0, 255)``, ``x = 255 x / max x``, then min-max to ``[0, 1]``; the
       rescalings cancel in the min-max, so this is ``minmax(clip(S, 0, 1))``; a constant map
       becomes 0.5 everywhere.
    2. Gaussian blur, ``fspecial('gaussian', 2 ceil(3 sigma) + 1, sigma)`` (13 x 13 for
       ``sigma = 2``) with ``imfilter(..., 'symmetric')`` padding.
    3. With ``size``: :func:`imresize` to ``size`` (MATLAB bicubic), computed in the same pass.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float maps, nominally in ``[0, 1]``.
        size: ground-truth ``(H, W)``; ``None`` keeps the input size.
        sigma: blur standard deviation in pixels (STAViS: 2).

    Returns:
        ``(h, w)``/``(b, h, w)`` maps, or ``(H, W)``/``(b, H, W)`` with ``size``; dtype and device
        of ``pred``.

    Raises:
        TypeError: non-float ``pred``.
        ValueError: wrong number of axes, NaN/Inf, ``sigma <= 0``.

    Example:
        >>> postprocess(torch.full((4, 5), 0.3))
        tensor([[0.5000, 0.5000, 0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000, 0.5000, 0.5000]])
    """
    check_floating(check_tensor(pred, "pred"), "pred")
    check_ndim(pred, "pred", (2, 3), "(h, w) or (b, h, w)")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    out_h, out_w = (None, None) if size is None else as_size(size, "size")
    out = _postprocess(pred if pred.ndim == 3 else pred[None], (out_h, out_w), float(sigma))
    return out if pred.ndim == 3 else out[0]


def _postprocess(
    maps: Tensor,
    size: tuple[int | None, int | None],
    sigma: float,
    ws: Workspace | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """:func:`postprocess` of checked ``(b, h, w)`` maps (finiteness checked here)."""
    # min / max of the raw maps propagate NaN and keep Inf: one finite check for the input,
    # and clipping commutes with them (min(clip(x)) = clip(min(x)))
    lo = maps.amin(dim=(1, 2))
    hi = maps.amax(dim=(1, 2))
    if not bool((torch.isfinite(lo) & torch.isfinite(hi)).all()):
        check_finite(maps, "pred")
    lo, hi = lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0)
    span = hi - lo
    constant = span == 0
    # minmax to [0, 1]; a constant map becomes 0.5
    scaled = torch.clamp(
        maps, 0.0, 1.0, out=scratch(ws, "scaled", maps.shape, maps.dtype, maps.device)
    )
    inverse = torch.where(constant, 0.0, 1 / span)
    offset = torch.where(constant, 0.5, -lo * inverse)
    scaled = scaled.mul_(inverse[:, None, None]).add_(offset[:, None, None])
    return _apply(scaled, size, sigma, ws, out)


def shuffled_other(video_fixations: Tensor, index: int | Tensor | None = None) -> Tensor:
    """Shuffled-AUC negative locations of frames of one video (STAViS protocol; SPEC §11).

    ``other_t = (OR over all frames u of F_u) AND NOT F_t``: every location fixated in some frame
    of the video except the frame's own fixated pixels.

    Args:
        video_fixations: ``(t, h, w)`` bool fixation maps of all frames of the video.
        index: which frame(s) to return (0-based int or ``(k,)`` index tensor); all by default.

    Returns:
        ``(h, w)`` bool for an int ``index``, else ``(t, h, w)`` / ``(k, h, w)`` bool.

    Raises:
        TypeError: ``video_fixations`` not a tensor.
        ValueError: not three axes.

    Example:
        >>> f = torch.tensor([[[True, False]], [[False, True]], [[True, False]]])
        >>> shuffled_other(f, 0)
        tensor([[False,  True]])
    """
    check_ndim(check_tensor(video_fixations, "video_fixations"), "video_fixations", 3, "(t, h, w)")
    fix = video_fixations if video_fixations.dtype == torch.bool else video_fixations > 0
    union = fix.any(dim=0)
    chosen = fix if index is None else fix[index]
    return union & ~chosen


# ----------------------------------------------------------------------------------------------
# result tables


@dataclass(frozen=True)
class MetricTable:
    """A table of scores: named ``columns`` and ``rows`` of values (one dict per row).

    Example:
        >>> MetricTable(("video", "CC"), ({"video": "a", "CC": 0.5},)).to_dict()
        [{'video': 'a', 'CC': 0.5}]
    """

    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> list[dict[str, Any]]:
        """Rows as a list of plain dicts (NaN kept as ``float('nan')``)."""
        return [dict(row) for row in self.rows]

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV with a header row; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.columns))
            writer.writeheader()
            writer.writerows(self.rows)
        return path

    def __len__(self) -> int:
        return len(self.rows)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN: no score) replaced by ``None``, for JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of a model on a dataset at three levels (SPEC §11).

    Attributes:
        metrics: metric names, in column order.
        frames: one row per frame: ``video``, ``frame_index`` (and ``split``), the metrics.
        videos: one row per video: ``video``, ``frames`` (frames scored), the per-video means
            of the non-NaN frame scores.
        summary: metric name -> mean over videos (over splits too for :func:`combine_splits`).

    Example:
        >>> r = EvaluationResult(("CC",), MetricTable(("CC",)), MetricTable(("CC",)), {"CC": 0.4})
        >>> r.to_dict()["summary"]
        {'CC': 0.4}
    """

    metrics: tuple[str, ...]
    frames: MetricTable
    videos: MetricTable
    summary: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"metrics", "summary", "videos", "frames"}`` of plain Python values."""
        return {
            "metrics": list(self.metrics),
            "summary": dict(self.summary),
            "videos": self.videos.to_dict(),
            "frames": self.frames.to_dict(),
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON (NaN written as ``null``); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(json_safe(self.to_dict()), indent=2))
        return path

    def to_csv(self, path: str | Path) -> Path:
        """Write ``frames.csv``, ``videos.csv`` and ``summary.csv`` into directory ``path``."""
        path = Path(path)
        self.frames.to_csv(path / "frames.csv")
        self.videos.to_csv(path / "videos.csv")
        MetricTable(self.metrics, (dict(self.summary),)).to_csv(path / "summary.csv")
        return path


def _nanmean(values: Iterable[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _tables(metrics: tuple[str, ...], frame_rows: list[dict[str, Any]]) -> EvaluationResult:
    by_video: dict[str, list[dict[str, Any]]] = {}
    for row in frame_rows:
        by_video.setdefault(row["video"], []).append(row)
    video_rows = []
    for video, rows in by_video.items():
        entry: dict[str, Any] = {"video": video, "frames": len(rows)}
        entry.update({m: _nanmean(r[m] for r in rows) for m in metrics})
        video_rows.append(entry)
    summary = {m: _nanmean(v[m] for v in video_rows) for m in metrics}
    extra = ("split",) if frame_rows and "split" in frame_rows[0] else ()
    return EvaluationResult(
        metrics,
        MetricTable((*extra, "video", "frame_index", *metrics), tuple(frame_rows)),
        MetricTable((*extra, "video", "frames", *metrics), tuple(video_rows)),
        summary,
    )


def combine_splits(results: Mapping[str, EvaluationResult]) -> EvaluationResult:
    """Merge the results of a dataset's splits: tables stacked, summary = mean over splits.

    Args:
        results: split name -> its :class:`EvaluationResult` (same metrics).

    Returns:
        Frame and video tables with a leading ``split`` column; ``summary`` the mean over splits
        of the per-split summaries (NaN summaries dropped).

    Raises:
        ValueError: no results, or results with different metrics.

    Example:
        >>> t = MetricTable(("CC",))
        >>> a = EvaluationResult(("CC",), t, t, {"CC": 0.2})
        >>> b = EvaluationResult(("CC",), t, t, {"CC": 0.4})
        >>> round(combine_splits({"1": a, "2": b}).summary["CC"], 6)
        0.3
    """
    if not results:
        raise ValueError("results must hold at least one split, got none")
    metrics = next(iter(results.values())).metrics
    if any(r.metrics != metrics for r in results.values()):
        raise ValueError(
            f"every split must have the same metrics, got {[r.metrics for r in results.values()]}"
        )
    frames = tuple({"split": k, **row} for k, r in results.items() for row in r.frames.rows)
    videos = tuple({"split": k, **row} for k, r in results.items() for row in r.videos.rows)
    summary = {m: _nanmean(r.summary[m] for r in results.values()) for m in metrics}
    return EvaluationResult(
        metrics,
        MetricTable(("split", *results[next(iter(results))].frames.columns), frames),
        MetricTable(("split", *results[next(iter(results))].videos.columns), videos),
        summary,
    )


# ----------------------------------------------------------------------------------------------
# evaluation


class FixationDataset(Protocol):
    """What :func:`evaluate` needs from a dataset (``scamlib.data.AVSaliency`` provides it).

    ``dataset[i]`` is a dict with ``density`` (``(H, W)`` float in ``[0, 1]``, the eyeMap),
    ``fixations`` (``(H, W)`` bool, the fixMap), ``video`` (str) and ``frame_index`` (int,
    1-based); ``fixation_union(video)`` is the ``(H, W)`` bool union of the video's fixMaps.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    def fixation_union(self, video: str) -> Tensor: ...


Predictor = Callable[[Mapping[str, Any]], Tensor]


def _read_prediction(root: Path, video: str, frame: int) -> Tensor:
    """``<root>/<video>/img_<frame:05d>.png``, first channel, scaled to ``[0, 1]``."""
    from PIL import Image  # only the directory form needs it

    path = root / video / f"img_{frame:05d}.png"
    if not path.is_file():
        raise FileNotFoundError(
            f"no prediction for video {video!r} frame {frame}: expected the file {path}"
        )
    with Image.open(path) as image:
        array = np.asarray(image)
    if array.ndim == 3:
        array = array[..., 0]
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float64) / np.iinfo(array.dtype).max
    elif array.dtype == np.bool_:
        array = array.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not metrics:
        raise TypeError(f"metrics must be a non-empty sequence of names, got {metrics!r}")
    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; expected names from {ALL_METRICS}")
    return tuple(metrics)


def _check_dataset(dataset: object) -> None:
    missing = [a for a in ("__len__", "__getitem__", "fixation_union") if not hasattr(dataset, a)]
    if missing:
        raise TypeError(
            "dataset must have __len__, __getitem__ and fixation_union(video); "
            f"{type(dataset).__name__} lacks {missing}"
        )


def _check_item(item: object, index: int) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise TypeError(f"dataset[{index}] must be a mapping, got {type(item).__name__}")
    missing = [k for k in ("density", "fixations", "video", "frame_index") if k not in item]
    if missing:
        raise ValueError(f"dataset[{index}] lacks the key(s) {missing}")
    return item


def _start_batch(
    batch: list[tuple[Mapping[str, Any], Tensor]],
    union: Tensor,
    metrics: tuple[str, ...],
    *,
    device: torch.device,
    dtype: torch.dtype,
    generators: dict[str, torch.Generator],
    sigma: float,
    n_splits: int,
    step: float,
    jitter: bool,
    pool: ChunkPool,
) -> Callable[[], list[dict[str, Any]]]:
    """Start scoring a batch of frames of one video (same prediction and ground-truth sizes).

    The fixations of the batch are listed and the s-AUC negatives (the video's fixations minus
    the frame's own) found, and the random draws made, here; then the chunks (a couple of
    frames on the CPU) are submitted to ``pool``: each is post-processed, resized and fed with
    its densities to a :class:`scamlib.metrics._engine.Scorer`, which makes every pass over the
    pixels while the chunk is in the caches. Returns the call that waits for the chunks and
    finishes the metrics once for the batch (the per-frame score rows), so that the caller can
    prepare the next batch meanwhile.
    """
    items = [item for item, _ in batch]
    b = len(items)
    shape = tuple(torch.as_tensor(items[0]["density"]).shape)
    p = shape[0] * shape[1]
    masks = [torch.as_tensor(i["fixations"]) for i in items]
    if all(m.dtype == torch.bool and m.device == device for m in masks):
        ws = pool.workspace()
        mask = torch.stack(masks, out=ws.get("fixations", (b, *shape), torch.bool, device))
    else:
        mask = torch.stack([m.to(device) for m in masks])
        mask = mask if mask.dtype == torch.bool else mask > 0
    mask = mask.reshape(b, p)
    fix = Positions.of(mask)
    other = None
    if "sAUC" in metrics:
        in_union = union.reshape(-1).nonzero().view(-1)
        rows, at = (~mask[:, in_union]).nonzero(as_tuple=True)
        other = Positions(rows, in_union[at], b, p)
    scorer = Scorer(
        metrics,
        b,
        p,
        fix=fix,
        other=other,
        jitter=jitter,
        n_splits=n_splits,
        step=step,
        generators=generators,
    )
    chunk = chunk_rows(b, p, device, pool.threads)
    layers = 2 if scorer.needs_density else 1

    def work(start: int, ws: Workspace) -> None:
        part = batch[start : start + chunk]
        n = len(part)
        frames = [pred for _, pred in part]
        if all(f.dtype == dtype and f.device == device for f in frames):
            preds = torch.stack(frames, out=ws.get("preds", (n, *frames[0].shape), dtype, device))
        else:
            preds = torch.stack([f.to(device, dtype) for f in frames])
        rows = ws.get("maps", (n, layers, p), dtype, device)
        maps = rows[:, 0].view(n, *shape)
        resized = _postprocess(preds, shape, sigma, ws, maps)
        if resized.data_ptr() != maps.data_ptr():  # not a whole number of blocks: a copy
            maps.copy_(resized)
        if scorer.needs_density:
            for k, (item, _) in enumerate(part):
                rows[k, 1].copy_(torch.as_tensor(item["density"]).reshape(-1))
            s, g = Rows.pair(rows, ws)
        else:
            s, g = Rows(rows[:, 0], ws), None
        scorer.add(start, s, g, ws=ws)

    pending = pool.submit(work, range(0, b, chunk))

    def finish() -> list[dict[str, Any]]:
        pending.wait()
        values = {name: v.cpu().tolist() for name, v in scorer.finish().items()}
        return [
            {
                "video": str(item["video"]),
                "frame_index": int(item["frame_index"]),
                **{name: float(values[name][k]) for name in metrics},
            }
            for k, item in enumerate(items)
        ]

    return finish


def evaluate(
    predictions: str | Path | Predictor,
    dataset: FixationDataset,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seed: int = 0,
    generator: torch.Generator | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    sigma: float = 2.0,
    n_splits: int = 100,
    step: float = 0.1,
    jitter: bool = True,
    threads: int | None = None,
    readers: int = 0,
) -> EvaluationResult:
    """Score predictions on a STAViS-layout dataset with the STAViS protocol (SPEC §11).

    Every frame's prediction goes through :func:`postprocess` (scale, blur, resize to the
    ground-truth size), then CC / SIM / KLD are computed against ``density`` and AUC-J / s-AUC /
    NSS / AUC-B against ``fixations``; the s-AUC negatives are
    ``dataset.fixation_union(video) & ~fixations``. Frames of one video are scored in batches
    of ``batch_size``. NaN frame scores are dropped from the per-video means, NaN video means
    from the dataset mean.

    Speed: for each batch, the calling thread lists the fixations and the s-AUC negatives and
    makes the random draws, then hands the batch's chunks (a couple of frames, about ``2^19``
    pixels, so that every pass over them stays in the caches) to ``threads`` threads and, while
    they post-process and score them, prepares the next batch and finishes the previous one.
    The blur and resize use the band of the MATLAB operators only, AUC-Judd counts pixels with
    a histogram instead of sorting, the moments of prediction and ground truth come from one
    blocked product, and scratch memory is reused from chunk to chunk.
    ``benchmarks/bench_metrics.py`` measures it (see :doc:`/api/metrics_protocol`).

    Args:
        predictions: a directory holding ``<video>/img_<frame_index:05d>.png`` (first channel,
            divided by 255), or a callable ``f(item) -> (h', w')`` float tensor.
        dataset: a :class:`FixationDataset` (e.g. ``scamlib.data.AVSaliency``).
        metrics: names from :data:`ALL_METRICS`; the papers' five by default.
        seed: when ``generator`` is not given, seeds one generator on ``device`` per randomised
            metric (AUC-J jitter, s-AUC, AUC-B draws): the same seed, data and ``batch_size``
            give the same scores, whichever other metrics are requested.
        generator: one random source shared by the jitter and the s-AUC / AUC-B draws.
        batch_size: frames per batch (a batch never spans two videos). How the CPU cuts a
            batch into chunks, and how many threads score them, changes no random draw (at most
            the last bit of a resized map).
        device: where the maps are scored (default CPU).
        dtype: precision of the post-processing, the resize and the passes of the metrics over
            the pixels: float32 (default, about twice as fast; maps agree with MATLAB's double
            arithmetic to ~1e-7, scores with float64's to ~1e-6) or float64 (~1e-12). Sums,
            moments and the finishing arithmetic are float64 either way.
        sigma: blur sigma in pixels (STAViS: 2).
        n_splits, step: s-AUC / AUC-B settings (MIT defaults 100 and 0.1).
        jitter: AUC-Judd jitter (MIT default ``True``).
        threads: CPU threads scoring the chunks of a batch concurrently (default
            ``torch.get_num_threads()``; ignored on a GPU). The random draws do not depend on
            it; with several threads the chunks are larger (fewer per batch), which may change
            the last bit of a resized map.
        readers: threads reading dataset items (and, for a directory of predictions, the
            prediction images) ahead of the scoring, at most two batches ahead; 0 (default)
            reads in the calling thread. With readers, ``dataset[i]`` and
            ``dataset.fixation_union`` must allow concurrent calls (``AVSaliency`` does); a
            callable ``predictions`` is always called in the calling thread.

    Returns:
        :class:`EvaluationResult` with per-frame, per-video and dataset tables.

    Raises:
        TypeError: bad ``predictions``, ``metrics`` or dataset interface.
        ValueError: unknown metrics, bad ``batch_size``, a dataset item without the needed keys.
        FileNotFoundError: a prediction image is missing.

    Example:
        >>> class Toy:
        ...     def __len__(self): return 2
        ...     def __getitem__(self, i):
        ...         fix = torch.zeros(6, 8, dtype=torch.bool); fix[2, 3 + i] = True
        ...         return {"density": fix.double(), "fixations": fix, "video": "v",
        ...                 "frame_index": i + 1, "fps": 25.0}
        ...     def fixation_union(self, video):
        ...         return self[0]["fixations"] | self[1]["fixations"]
        >>> result = evaluate(lambda item: item["density"].float(), Toy(), metrics=["CC", "NSS"])
        >>> result.summary["NSS"] > 1
        True
    """
    _check_dataset(dataset)
    metrics = _check_metrics(metrics)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    if isinstance(readers, bool) or not isinstance(readers, int) or readers < 0:
        raise ValueError(f"readers must be a non-negative int, got {readers!r}")
    if isinstance(predictions, (str, Path)):
        root = Path(predictions)
        if not root.is_dir():
            raise FileNotFoundError(f"predictions directory {root} does not exist")

        def read(item: Mapping[str, Any]) -> Tensor:
            return _read_prediction(root, str(item["video"]), int(item["frame_index"]))

        predict = None  # read with the items
    elif callable(predictions):
        read, predict = None, predictions
    else:
        raise TypeError(
            "predictions must be a directory path or a callable item -> map, "
            f"got {type(predictions).__name__}"
        )
    device = torch.device("cpu") if device is None else torch.device(device)
    if generator is None:
        # one stream per randomised metric, so adding a metric does not change another's draws
        generators = {
            name: torch.Generator(device=device).manual_seed(seed + offset)
            for offset, name in enumerate(("AUC_J", "sAUC", "AUC_B"))
        }
    else:
        generators = dict.fromkeys(("AUC_J", "sAUC", "AUC_B"), generator)
    options = dict(
        device=device,
        dtype=dtype,
        generators=generators,
        sigma=sigma,
        n_splits=n_splits,
        step=step,
        jitter=jitter,
    )
    frames = _read_frames(dataset, read, readers, window=2 * batch_size)
    with contextlib.closing(frames), ChunkPool.for_device(device, threads) as pool:
        frame_rows = _score_frames(
            frames, dataset, predict, metrics, batch_size, pool=pool, **options
        )
    return _tables(metrics, frame_rows)


def _read_frames(
    dataset: FixationDataset,
    read: Predictor | None,
    readers: int,
    window: int,
) -> Iterator[tuple[Mapping[str, Any], Tensor | None]]:
    """``(item, read(item))`` for every index of ``dataset``, in order (``None`` without
    ``read``); with ``readers`` threads, up to ``window`` frames are read ahead."""

    def load(index: int) -> tuple[Mapping[str, Any], Tensor | None]:
        item = _check_item(dataset[index], index)
        return item, (read(item) if read is not None else None)

    n = len(dataset)
    if readers == 0:
        yield from (load(index) for index in range(n))
        return
    executor = ThreadPoolExecutor(readers, thread_name_prefix="scamlib-read")
    try:
        ahead: deque[Future] = deque()
        for index in range(n):
            while len(ahead) < window and index + len(ahead) < n:
                ahead.append(executor.submit(load, index + len(ahead)))
            yield ahead.popleft().result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _score_frames(
    frames: Iterable[tuple[Mapping[str, Any], Tensor | None]],
    dataset: FixationDataset,
    predict: Predictor | None,
    metrics: tuple[str, ...],
    batch_size: int,
    **options: Any,
) -> list[dict[str, Any]]:
    """Per-frame score rows of every frame of ``dataset``, batch by batch (see :func:`evaluate`)."""
    device, pool = options["device"], options["pool"]
    frame_rows: list[dict[str, Any]] = []
    batch: list[tuple[Mapping[str, Any], Tensor]] = []
    batch_key: tuple[Any, ...] | None = None
    union_of: tuple[str | None, Tensor | None] = (None, None)
    pending: Callable[[], list[dict[str, Any]]] | None = None

    def flush() -> None:
        # start this batch, then finish the previous one (its chunks ran meanwhile)
        nonlocal union_of, pending
        if not batch:
            return
        video = str(batch[0][0]["video"])
        if union_of[0] != video:
            union = torch.as_tensor(dataset.fixation_union(video))
            union_of = (video, (union if union.dtype == torch.bool else union > 0).to(device))
        with pool.serial():
            started = _start_batch(list(batch), union_of[1], metrics, **options)
            if pending is not None:
                frame_rows.extend(pending())
        batch.clear()
        pending = started

    for item, pred in frames:
        if predict is not None:
            pred = predict(item)
        check_floating(check_tensor(pred, "prediction"), "prediction")
        check_ndim(pred, "prediction", 2, "(h, w)")
        key = (str(item["video"]), tuple(pred.shape), tuple(torch.as_tensor(item["density"]).shape))
        if batch and (key != batch_key or len(batch) == batch_size):
            flush()
        batch_key = key
        batch.append((item, pred))
    flush()
    if pending is not None:
        with pool.serial():
            frame_rows.extend(pending())
    return frame_rows


def evaluate_dir(
    pred_root: str | Path,
    data_root: str | Path,
    dataset: str,
    split: int | str | Sequence[int | str] | None = None,
    **options: Any,
) -> EvaluationResult:
    """Score a directory of predicted maps on a STAViS-layout dataset on disk (SPEC §11).

    Builds the annotations of ``scamlib.data.AVSaliency(data_root, dataset, split=...)``
    (:meth:`~scamlib.data.AVSaliency.ground_truth`; imported here, so the metrics package
    never imports the data package at module level) and calls
    :func:`evaluate`, with two ``readers`` unless ``options`` say otherwise. With a sequence of
    splits (e.g. ``(1, 2, 3)`` for the datasets STAViS evaluates on three folds) every split is
    scored and the results are merged by :func:`combine_splits`: the dataset score is the mean
    over splits.

    Args:
        pred_root: directory with ``<video>/img_<frame:05d>.png`` predictions.
        data_root: root of the STAViS-layout data.
        dataset: dataset name (``"AVAD"``, ``"DIEM"``, ...).
        split: a split, a sequence of splits, or ``None`` (the adapter's default).
        **options: forwarded to :func:`evaluate` (``metrics``, ``seed``, ``device``, ...).

    Returns:
        :class:`EvaluationResult`.

    Raises:
        ImportError: ``scamlib.data`` is not available.
        FileNotFoundError: missing prediction files or dataset paths.

    Example:
        >>> callable(evaluate_dir)
        True
    """
    from ..data import AVSaliency  # lazy: metrics does not depend on data at import time

    options.setdefault("readers", 2)

    def truth(s: int | str | None):
        return AVSaliency(data_root, dataset, split=s, size=None).ground_truth()

    if split is not None and not isinstance(split, (int, str)):
        results = {str(s): evaluate(pred_root, truth(s), **options) for s in split}
        return combine_splits(results)
    return evaluate(pred_root, truth(split), **options)
