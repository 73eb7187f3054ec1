"""The MATLAB operators of the STAViS evaluation code: post-processing and ``imresize``.

A predicted map is scaled to ``[0, 1]``, blurred (Gaussian, sigma 2 px, 13 x 13 kernel,
symmetric padding) and resized to the ground-truth size with MATLAB's ``imresize`` rules
(STAViS evaluation code; STANet+ Sec. 4.1 evaluates with it).

Blur and resize are linear and separable, so each axis is one matrix: ``out = A_h x A_w^T``
with ``A = R B`` (resize after blur). The matrices are built once per size and cached, and
applied along their band only (:class:`_Banded`: a strided view of windows and a batched matrix
product per axis instead of two dense products).

A constant map stays *exactly* constant through both operators, in every dtype and chunk
layout: constant maps are found before any arithmetic (``max == min``) and their output is
filled with the constant, so no score ever sees the rounding noise of the matrix products.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from .._validation import as_size, check_finite, check_floating, check_ndim, check_tensor
from ._common import Workspace, as_array, scratch
from ._engine import chunk_rows

__all__ = ["imresize", "postprocess"]


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


def _fill_constant(out: Tensor, constant: Tensor, value: Tensor | float) -> Tensor:
    """Overwrite the ``(b, H, W)`` maps flagged in ``constant`` with their exact ``value``.

    The matrix products of blur and resize keep a constant map constant only up to rounding
    (the weights sum to 1 within an ulp); the exact value is written back so that no score
    depends on that noise.
    """
    flagged = constant.nonzero().view(-1).tolist()
    values = value.tolist() if isinstance(value, Tensor) else [value] * constant.numel()
    for k in flagged:
        out[k].fill_(values[k])
    return out


def _check_pixels(x: Tensor, name: str) -> None:
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"{name} must have at least one pixel per map, got shape {tuple(x.shape)}")


def imresize(x: Tensor, size: int | Sequence[int]) -> Tensor:
    """Resize maps as MATLAB's ``imresize(x, [h w])`` does by default (bicubic).

    Bicubic interpolation with Keys' kernel ``a = -0.5``; when an axis shrinks, the kernel is
    stretched by ``1 / scale`` (antialiasing); the weights of every output sample are normalised
    to sum 1; samples outside the input are mirrored (edge repeated). Each axis has its own scale
    ``out / in``. Values are not clipped (MATLAB does not clip double images), so the output of
    a map in ``[0, 1]`` can overshoot slightly near edges. A constant map stays exactly constant
    (its value is written back, not left to the rounding of the products).

    Args:
        x: ``(..., h, w)`` float maps (tensor or numpy array); no map may have zero pixels.
        size: output ``(h', w')`` or an int for a square output.

    Returns:
        ``(..., h', w')``, dtype and device of ``x``; an empty batch gives an empty result.

    Raises:
        TypeError: non-float ``x`` or a bad ``size``.
        ValueError: fewer than two axes, a 0-pixel map, NaN/Inf, non-positive size.

    Example:
        >>> imresize(torch.tensor([[0.0, 1.0]]), (1, 4))
        tensor([[-0.0938,  0.2031,  0.7969,  1.0938]])
    """
    x = as_array(x, "x")
    check_floating(check_tensor(x, "x"), "x")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., h, w), got {tuple(x.shape)}")
    _check_pixels(x, "x")
    check_finite(x, "x")
    out_h, out_w = as_size(size, "size")
    *lead, h, w = x.shape
    flat = x.reshape(-1, h, w)
    out = _apply(flat, (out_h, out_w), None)
    if flat.shape[0]:
        lo, hi = flat.amin(dim=(1, 2)), flat.amax(dim=(1, 2))
        out = _fill_constant(out, lo == hi, lo)
    return out.reshape(*lead, out_h, out_w)


def check_sigma(sigma: object) -> float:
    """``sigma`` as a float; ``ValueError`` naming it unless a finite positive number."""
    ok = isinstance(sigma, (int, float)) and not isinstance(sigma, bool)
    if not ok or not math.isfinite(sigma) or not sigma > 0:
        raise ValueError(f"sigma must be a finite positive number of pixels, got {sigma!r}")
    return float(sigma)


def postprocess(
    pred: Tensor, size: int | Sequence[int] | None = None, *, sigma: float = 2.0
) -> Tensor:
    """STAViS post-processing of predicted maps, optionally fused with the resize.

    1. ``x = clip(255 S, 0, 255)``, ``x = 255 x / max x``, then min-max to ``[0, 1]``; the
       rescalings cancel in the min-max, so this is ``minmax(clip(S, 0, 1))``.
    2. Gaussian blur, ``fspecial('gaussian', 2 ceil(3 sigma) + 1, sigma)`` (13 x 13 for
       ``sigma = 2``) with ``imfilter(..., 'symmetric')`` padding.
    3. With ``size``: :func:`imresize` to ``size`` (MATLAB bicubic), computed in the same pass.

    Degenerate maps: a map whose clipped values are all equal (a constant map, a saturated
    one, or a blank one) becomes exactly 0.5 everywhere, in float32 and float64 alike (the
    constant is detected before any arithmetic, ``max == min``). The MIT code divides a blank
    map (``max = 0``) by zero; :func:`scamlib.metrics.protocol.evaluate` therefore gives a
    blank frame no score (NaN) and drops it, while this function keeps the map usable.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float maps (tensor or numpy array), nominally in
            ``[0, 1]``; no map may have zero pixels.
        size: ground-truth ``(H, W)``; ``None`` keeps the input size.
        sigma: blur standard deviation in pixels (STAViS: 2).

    Returns:
        ``(h, w)``/``(b, h, w)`` maps, or ``(H, W)``/``(b, H, W)`` with ``size``; dtype and device
        of ``pred``; an empty batch gives an empty result.

    Raises:
        TypeError: non-float ``pred``.
        ValueError: wrong number of axes, a 0-pixel map, NaN/Inf, ``sigma`` not a finite
            positive number.

    Example:
        >>> postprocess(torch.full((4, 5), 0.3))
        tensor([[0.5000, 0.5000, 0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000, 0.5000, 0.5000]])
    """
    pred = as_array(pred, "pred")
    check_floating(check_tensor(pred, "pred"), "pred")
    check_ndim(pred, "pred", (2, 3), "(h, w) or (b, h, w)")
    _check_pixels(pred, "pred")
    sigma = check_sigma(sigma)
    out_h, out_w = (None, None) if size is None else as_size(size, "size")
    out, _ = _postprocess(pred if pred.ndim == 3 else pred[None], (out_h, out_w), sigma)
    return out if pred.ndim == 3 else out[0]


def _postprocess(
    maps: Tensor,
    size: tuple[int | None, int | None],
    sigma: float,
    ws: Workspace | None = None,
    out: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`postprocess` of checked ``(b, h, w)`` maps (finiteness checked here).

    Returns the maps and the ``(b,)`` bool flags of the blank ones (``max(clip(S)) == 0``:
    no score in the MIT code).
    """
    if maps.shape[0] == 0:
        h, w = maps.shape[1:]
        shape = (0, size[0] or h, size[1] or w)
        return maps.new_empty(shape), torch.zeros(0, dtype=torch.bool, device=maps.device)
    # min / max of the raw maps propagate NaN and keep Inf: one finite check for the input,
    # and clipping commutes with them (min(clip(x)) = clip(min(x)))
    lo = maps.amin(dim=(1, 2))
    hi = maps.amax(dim=(1, 2))
    if not bool((torch.isfinite(lo) & torch.isfinite(hi)).all()):
        check_finite(maps, "pred")
    lo, hi = lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0)
    span = hi - lo
    constant = span == 0  # exact: decided before any arithmetic on the pixels
    scaled = torch.clamp(
        maps, 0.0, 1.0, out=scratch(ws, "scaled", maps.shape, maps.dtype, maps.device)
    )
    inverse = torch.where(constant, 0.0, 1 / span)
    offset = torch.where(constant, 0.5, -lo * inverse)
    scaled = scaled.mul_(inverse[:, None, None]).add_(offset[:, None, None])
    result = _apply(scaled, size, sigma, ws, out)
    if bool(constant.any()):
        result = _fill_constant(result, constant, 0.5)
    return result, hi == 0
