"""Shared plumbing of the saliency metrics: input checks, row statistics, packing, ROC integration.

Private. Every metric flattens its maps to ``(b, p)`` rows of float64 values (``p = h * w``)
so that thresholds, sums and ranks never suffer float32 rounding. The set pixels of a mask
(fixations, shuffled-AUC negatives) are listed once (:class:`Positions`) and packed into padded
``(b, n_max)`` blocks when needed; the per-row statistics every metric needs (minimum, maximum,
sum, sums of squares) are computed once per map and shared (:class:`Rows`).

Each metric is split into a *parts* step, which makes the passes over the pixels and returns a
few numbers (or a short list of values) per map, and a *finish* step on those numbers only. The
public functions run both on their input; :func:`scamlib.metrics.protocol.evaluate` runs the
parts step on small chunks of frames (so that every pass over the pixels stays in the CPU
caches) and the finish step once per batch (so that the many small operations on the parts are
paid once per batch, not per chunk).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from .._validation import check_finite, check_floating, check_ndim, check_same_shape, check_tensor

__all__ = [
    "EPS",
    "ILL_CONDITIONED",
    "MOMENT_BLOCK",
    "Positions",
    "Rows",
    "Workspace",
    "as_array",
    "as_maps",
    "as_mask_rows",
    "centred_moments",
    "finish",
    "nonzero_rows",
    "pack_by_row",
    "row_extrema",
    "rowdot",
    "scratch",
    "trapezoid",
    "uniform",
]

#: MATLAB's ``eps`` (the spacing of doubles at 1.0), the regulariser of the MIT KLD.
EPS = 2.220446049250313e-16
#: Raw second moments that cancel by more than this factor are recomputed two-pass.
ILL_CONDITIONED = 1e3


def as_array(x: object, name: str) -> object:
    """A numpy array as a tensor (sharing memory where numpy allows); anything else unchanged.

    The checks that follow name ``name`` if the result is still not a tensor.
    """
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{name} must be a numeric array, got a numpy array of objects")
        return torch.from_numpy(np.ascontiguousarray(x) if x.flags.writeable else x.copy())
    return x


def as_maps(x: object, name: str) -> tuple[Tensor, bool]:
    """Check a ``(h, w)`` or ``(b, h, w)`` float map; return it as ``(b, h, w)`` and ``batched``.

    Numpy arrays are accepted. A map of zero pixels is an error; an empty batch is not.
    Finiteness is checked later, from the row extrema the metrics compute anyway (see
    :func:`scamlib.metrics._engine.score_maps`).
    """
    x = as_array(x, name)
    check_floating(check_tensor(x, name), name)
    check_ndim(x, name, (2, 3), "(h, w) or (b, h, w)")
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"{name} must have at least one pixel per map, got shape {tuple(x.shape)}")
    batched = x.ndim == 3
    return (x if batched else x[None]), batched


def as_mask_rows(x: object, name: str, like: Tensor, like_name: str) -> Tensor:
    """Check a binary map (bool or numeric, ``> 0`` counts) of ``like``'s shape; ``(b, p)`` bool.

    ``like`` is the ``(b, h, w)`` (or ``(h, w)``) prediction; numpy arrays are accepted.
    """
    x = as_array(x, name)
    check_tensor(x, name)
    check_same_shape(x, like, name, like_name)
    if x.is_complex():
        raise TypeError(f"{name} must be a bool or real tensor, got dtype {x.dtype}")
    if x.is_floating_point():
        check_finite(x, name)
    mask = x if x.dtype == torch.bool else x > 0
    mask = mask if mask.ndim == 3 else mask[None]
    return mask.reshape(mask.shape[0], mask.shape[1] * mask.shape[2]).to(like.device)


def finish(scores: Tensor, batched: bool) -> Tensor:
    """Return ``(b,)`` scores for batched input, a 0-dim tensor otherwise."""
    return scores if batched else scores[0]


def rowdot(a: Tensor, b: Tensor) -> Tensor:
    """``(r,)`` dot products of the rows of two ``(r, p)`` float tensors.

    On the CPU one BLAS ``dot`` per row: faster than ``(a * b).sum(1)`` (no temporary) or a
    batched ``bmm`` (whose ``1 x p`` by ``p x 1`` products are slow). (numpy's ``dot`` is
    faster still on one core, but its BLAS threads spin against a busy machine.)
    """
    if a.device.type != "cpu":
        return (a * b).sum(dim=1)
    return torch.stack([torch.dot(x, y) for x, y in zip(a, b)]) if len(a) else a.new_zeros(0)


def row_extrema(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(min, max)`` of every row of a ``(b, p)`` tensor (``p >= 1``), in ``x``'s dtype.

    On the CPU one ``aminmax`` per row, a single pass that finds both (``amin`` and ``amax``
    over the rows are two passes, and ``aminmax`` over a dimension is not vectorised); NaN
    propagates and Inf is kept, as in ``amin`` / ``amax``.
    """
    if x.device.type != "cpu" or x.shape[0] == 0:
        return x.amin(dim=1), x.amax(dim=1)
    both = [torch.aminmax(row) for row in x]
    return torch.stack([lo for lo, _ in both]), torch.stack([hi for _, hi in both])


def nonzero_rows(mask: Tensor) -> tuple[Tensor, Tensor]:
    """``mask.nonzero(as_tuple=True)`` of a ``(b, p)`` bool mask, row-major, for sparse masks.

    A contiguous mask whose rows are a multiple of 8 bytes is scanned as int64 words (8 pixels
    per element), then only the non-zero words are unpacked: for fixation maps (a few dozen
    pixels out of 10^5) this is several times cheaper than scanning every pixel.
    """
    b, p = mask.shape
    if p % 8 or p == 0 or not mask.is_contiguous():
        return mask.nonzero(as_tuple=True)
    words = mask.view(torch.int64)  # (b, p // 8)
    wr, wc = words.nonzero(as_tuple=True)
    hits = mask.view(b, p // 8, 8)[wr, wc]  # (k, 8) bool, row-major words
    k, byte = hits.nonzero(as_tuple=True)
    return wr[k], wc[k] * 8 + byte


def pack_by_row(rows: Tensor, values: Tensor, b: int, fill: float) -> tuple[Tensor, Tensor]:
    """Pack values listed row by row (``rows`` ascending) into a padded ``(b, width)`` block.

    Returns ``(packed, counts)``: the values of row ``r`` in order followed by ``fill``
    (``width = max(counts, 1)``), and the ``(b,)`` int64 number of values per row.
    """
    counts = torch.bincount(rows, minlength=b)
    width = max(int(counts.max()) if counts.numel() else 0, 1)
    starts = torch.cumsum(counts, dim=0) - counts
    rank = torch.arange(rows.numel(), device=rows.device) - starts[rows]
    packed = values.new_full((b, width), fill)
    packed[rows, rank] = values
    return packed, counts


class Workspace:
    """Scratch tensors reused from one chunk of maps to the next.

    A pass that writes a fresh multi-megabyte tensor makes the operating system map and zero
    new pages (the allocator returns large blocks to it when they are freed); that costs more
    than the pass itself. Chunk after chunk, the same named buffer is handed out again: the
    smaller last chunk gets a view of the front of it.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, torch.dtype, torch.device], Tensor] = {}

    def get(
        self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
    ) -> Tensor:
        """A contiguous tensor of ``shape``, uninitialised, reused under ``name``."""
        numel = 1
        for n in shape:
            numel *= n
        key = (name, dtype, device)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < numel:
            buffer = torch.empty(numel, dtype=dtype, device=device)
            self._buffers[key] = buffer
        return buffer[:numel].view(shape)


def scratch(
    ws: Workspace | None, name: str, shape: tuple[int, ...], dtype: torch.dtype, device
) -> Tensor:
    """``ws.get(...)``, or a fresh ``torch.empty`` without a workspace."""
    if ws is None:
        return torch.empty(shape, dtype=dtype, device=device)
    return ws.get(name, shape, dtype, device)


class Positions:
    """The set pixels of ``b`` rows of ``p`` pixels (fixations, candidate negatives).

    Attributes:
        rows, cols: row-major coordinates of the set pixels (``rows`` ascending).
        b, p: the number of rows and of pixels per row.
        counts: ``(b,)`` int64 number of set pixels per row (``N`` for a fixation map).
        rank: position of every set pixel within its row's list.
        n_max: ``max(counts)``, at least 1 (the width of a packed block).
    """

    def __init__(self, rows: Tensor, cols: Tensor, b: int, p: int) -> None:
        self.rows, self.cols, self.b, self.p = rows, cols, b, p
        self._bounds: list[int] | None = None

    @functools.cached_property
    def counts(self) -> Tensor:
        return torch.bincount(self.rows, minlength=self.b)

    @functools.cached_property
    def rank(self) -> Tensor:
        starts = torch.cumsum(self.counts, dim=0) - self.counts
        return torch.arange(self.rows.numel(), device=self.rows.device) - starts[self.rows]

    @functools.cached_property
    def n_max(self) -> int:
        return max(int(self.counts.max()) if self.counts.numel() else 0, 1)

    @classmethod
    def of(cls, mask: Tensor) -> Positions:
        """The set pixels of a ``(b, p)`` bool mask."""
        rows, cols = nonzero_rows(mask)
        return cls(rows, cols, mask.shape[0], mask.shape[1])

    def slice(self, start: int, stop: int) -> Positions:
        """The positions of rows ``start:stop``, renumbered from 0."""
        if self._bounds is None:
            self._bounds = [0, *torch.cumsum(self.counts, dim=0).tolist()]
        lo, hi = self._bounds[start], self._bounds[stop]
        return Positions(self.rows[lo:hi] - start, self.cols[lo:hi], stop - start, self.p)

    def pack_flat(self, flat: Tensor, fill: float) -> Tensor:
        """Pack one value per set pixel (in :attr:`rows` order) into ``(b, n_max)``."""
        packed = flat.new_full((self.b, self.n_max), fill)
        packed[self.rows, self.rank] = flat
        return packed

    @property
    def linear(self) -> Tensor:
        """Row-major linear indices ``row * p + col``, ascending."""
        return self.rows * self.p + self.cols


#: Pixels per partial sum of :func:`centred_moments` (float32 products are summed in blocks of
#: this many, the blocks' sums in float64).
MOMENT_BLOCK = 1024


def centred_moments(layers: Tensor, ws: Workspace | None = None) -> tuple[Tensor, Tensor]:
    """Row sums and centred second moments of ``(b, k, p)`` float32 maps, in float64.

    ``c = x - m`` with ``m`` an estimate of each map's mean (the mean of about 4096 evenly
    spaced pixels), then the residual mean ``d = mean(c)`` and the Gram matrix ``c c^T`` of
    every row's ``k`` maps: ``sum = p (m + d)`` and
    ``sum((x_i - mean x_i)(x_j - mean x_j)) = (c c^T)_ij - p d_i d_j`` (the shifted two-pass
    algorithm: ``d`` is small against the spread, so a map's offset costs no precision). The
    Gram matrices are one
    batched product over blocks of :data:`MOMENT_BLOCK` pixels (the centred maps are written
    block-major, the last block zero-padded), whose float32 partial sums are added in float64:
    ~1e-8 relative accuracy, reading the maps once.

    Args:
        layers: ``(b, k, p)`` float32 maps.
        ws: scratch memory for the centred maps.

    Returns:
        ``(sums, gram)``: ``(b, k)`` and ``(b, k, k)`` float64.
    """
    b, k, p = layers.shape
    mean = layers[:, :, :: max(p // 4096, 1)].mean(dim=2)
    size = MOMENT_BLOCK
    whole, tail = divmod(p, size)
    count = whole + (tail > 0)
    blocks = scratch(ws, "centred", (b, count, k, size), layers.dtype, layers.device)
    target = blocks.permute(0, 2, 1, 3)  # (b, k, count, size), a view
    if whole:
        main = layers[:, :, : whole * size].unflatten(2, (whole, size))
        torch.sub(main, mean[..., None, None], out=target[:, :, :whole])
    if tail:
        torch.sub(layers[:, :, whole * size :], mean[..., None], out=target[:, :, whole, :tail])
        target[:, :, whole, tail:].zero_()
    residual = blocks.sum(dim=(1, 3)).to(torch.float64) / p
    flat = blocks.view(b * count, k, size)
    gram = scratch(ws, "gram", (b * count, k, k), layers.dtype, layers.device)
    torch.bmm(flat, flat.transpose(1, 2), out=gram)
    gram = gram.view(b, count, k, k).to(torch.float64).sum(dim=1)
    gram -= p * residual[:, :, None] * residual[:, None, :]
    return p * (mean.to(torch.float64) + residual), gram


class Rows:
    """``(b, p)`` float map rows with lazily computed, cached per-row statistics.

    Each statistic is one pass over the rows, computed the first time a metric asks for it, so
    metrics evaluated together (the STAViS protocol) share the passes over the maps. The
    statistics are returned in float64 whatever the rows' dtype.

    Float64 rows (the public metric functions) take the raw moments (``sum``, ``sum x^2``) and
    recompute ill-conditioned rows from centred values (~1e-12 relative accuracy). Float32 rows
    (the protocol's fast path, half the memory traffic) take the sums and centred moments from
    :func:`centred_moments` (~1e-8 relative accuracy).

    Args:
        values: the ``(b, p)`` rows (float32 or float64).
        ws: scratch memory of the float32 moments (fresh tensors when not given).
    """

    def __init__(self, values: Tensor, ws: Workspace | None = None) -> None:
        self.values = values
        self.ws = ws
        self._cache: dict[str, Tensor] = {}

    @property
    def exact(self) -> bool:
        """Whether the rows are float64 (raw moments with a conditioning check)."""
        return self.values.dtype == torch.float64

    def _get(self, key: str) -> Tensor:
        if key not in self._cache:
            v = self.values
            if key in ("min", "max"):
                lo, hi = row_extrema(v)
                self._cache["min"], self._cache["max"] = lo.to(torch.float64), hi.to(torch.float64)
                return self._cache[key]
            elif not self.exact and key in ("sum", "css"):
                sums, gram = centred_moments(v[:, None], self.ws)
                self._cache["sum"], self._cache["css"] = sums[:, 0], gram[:, 0, 0]
                return self._cache[key]
            elif key == "sum":
                out = v.sum(dim=1)
            elif key == "sumsq":
                out = rowdot(v, v)
            else:  # css
                out = self._centred_sumsq()
            self._cache[key] = out.to(torch.float64)
        return self._cache[key]

    @classmethod
    def pair(cls, both: Tensor, ws: Workspace | None = None) -> tuple[Rows, Rows]:
        """The two layers of a ``(b, 2, p)`` buffer (maps, densities) as :class:`Rows`.

        Their minima, maxima and sums come from one reduction each over the whole buffer;
        for float32 layers the centred moments and the cross moment too (:meth:`cross`).
        """
        first, second = cls(both[:, 0], ws), cls(both[:, 1], ws)
        lo, hi = row_extrema(both.reshape(-1, both.shape[2]))
        stats = {"min": lo.view(-1, 2), "max": hi.view(-1, 2)}
        if both.dtype == torch.float64:
            stats["sum"] = both.sum(dim=2)
        else:
            sums, gram = centred_moments(both, ws)
            stats.update(sum=sums, css=torch.diagonal(gram, dim1=1, dim2=2))
            first._cache["cross"] = second._cache["cross"] = gram[:, 0, 1]
        for key, value in stats.items():
            value = value.to(torch.float64)
            first._cache[key], second._cache[key] = value[:, 0], value[:, 1]
        return first, second

    def cross(self, other: Rows) -> Tensor:
        """``(b,)`` centred cross moment ``sum((x - mean x)(y - mean y))`` with ``other``.

        Float32 rows made by :meth:`pair` have it already; otherwise float64 raw moments with
        the conditioning check (:meth:`ill_conditioned`), float32 from :func:`centred_moments`.
        """
        if "cross" in self._cache and self._cache["cross"] is other._cache.get("cross"):
            return self._cache["cross"]
        if not (self.exact and other.exact):
            both = torch.stack([self.values, other.values], dim=1).to(torch.float32)
            return centred_moments(both, self.ws)[1][:, 0, 1]
        p = self.values.shape[1]
        cov = self.dot(other) - self.sum * other.sum / p
        bad = self.ill_conditioned() | other.ill_conditioned()
        if bool(bad.any()):
            a = self.values[bad] - self.values[bad].mean(dim=1, keepdim=True)
            c = other.values[bad] - other.values[bad].mean(dim=1, keepdim=True)
            cov = cov.clone()
            cov[bad] = (a * c).sum(dim=1)
        return cov

    @property
    def min(self) -> Tensor:
        """``(b,)`` row minima."""
        return self._get("min")

    @property
    def max(self) -> Tensor:
        """``(b,)`` row maxima."""
        return self._get("max")

    @property
    def sum(self) -> Tensor:
        """``(b,)`` row sums."""
        return self._get("sum")

    @property
    def sumsq(self) -> Tensor:
        """``(b,)`` row sums of squares (float64 rows)."""
        return self._get("sumsq")

    @property
    def css(self) -> Tensor:
        """``(b,)`` centred sums of squares ``sum((x - mean)^2)``.

        Float64 rows: from the raw moments, ``sumsq - sum^2 / p``, which loses
        ``log10(sumsq / css)`` digits; rows that would lose more than three (a map whose offset
        dwarfs its spread) are recomputed from the centred values, so the result keeps ~1e-12
        relative accuracy whatever the map. Float32 rows: :func:`centred_moments`.
        """
        return self._get("css")

    @property
    def constant(self) -> Tensor:
        """``(b,)`` bool: rows whose values are all equal.

        From the extrema when they are known or the rows are float32. Float64 rows otherwise
        take the moments first: a constant row's raw second moment cancels (it is among the
        :meth:`ill_conditioned` rows, or its moments are not finite), so only such rows need
        their extrema; the others have a positive centred sum of squares and are not constant.
        """
        if not self.exact or ("min" in self._cache and "max" in self._cache):
            return self.max == self.min
        suspect = (self.sumsq >= self.css * ILL_CONDITIONED) | ~self.finite_moments()
        constant = torch.zeros_like(suspect)
        if bool(suspect.any()):
            lo, hi = row_extrema(self.values[suspect])
            constant[suspect] = lo == hi
        return constant

    def finite_moments(self) -> Tensor:
        """``(b,)`` bool: rows whose sum and centred sum of squares are finite (a row holding
        NaN or Inf never is; a finite row whose squares overflow is not either)."""
        return torch.isfinite(self.sum) & torch.isfinite(self.css)

    def check_finite(self, name: str, extrema: bool = True) -> None:
        """Raise ``ValueError`` naming ``name`` if a row holds NaN or Inf.

        From the row extrema (they propagate NaN and keep Inf: ``max - min`` is then not
        finite), or, with ``extrema=False`` on float64 rows, from the moments, for metrics that
        need no extrema; the pixels are scanned only when that says a row may be bad.
        """
        if extrema or not self.exact:
            ok = torch.isfinite(self.max - self.min)
        else:
            ok = self.finite_moments()
        if not bool(ok.all()):
            check_finite(self.values, name)

    @property
    def zero(self) -> Tensor:
        """``(b,)`` bool: rows that are all zero."""
        return (self.max == 0) & (self.min == 0)

    def dot(self, other: Rows) -> Tensor:
        """``(b,)`` row-wise dot products with ``other``'s rows."""
        return rowdot(self.values, other.values)

    def ill_conditioned(self) -> Tensor:
        """``(b,)`` bool: rows whose raw second moment cancels by more than ``ILL_CONDITIONED``."""
        return self.sumsq > self.css * ILL_CONDITIONED

    def gather(self, rows: Tensor, cols: Tensor) -> Tensor:
        """Float64 values at ``(rows, cols)``."""
        return torch.take(self.values, rows * self.values.shape[1] + cols).to(torch.float64)

    def _centred_sumsq(self) -> Tensor:
        p = self.values.shape[1]
        raw = self.sumsq - self.sum * self.sum / p
        bad = raw * ILL_CONDITIONED <= self.sumsq
        if bool(bad.any()):
            rows = self.values[bad]
            centred = rows - rows.mean(dim=1, keepdim=True)
            raw = raw.clone()
            raw[bad] = (centred * centred).sum(dim=1)
        return raw


def trapezoid(fp: Tensor, tp: Tensor) -> Tensor:
    """Trapezoid-rule area under the polyline ``(fp_k, tp_k)`` along the last axis (``trapz``)."""
    return ((fp[..., 1:] - fp[..., :-1]) * (tp[..., 1:] + tp[..., :-1])).sum(dim=-1) / 2


def uniform(
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Uniform ``[0, 1)`` samples drawn on the generator's device, moved to ``device``.

    Drawing on the generator's own device keeps a seeded CPU generator reproducible bit for bit
    whatever device the maps live on.
    """
    draw_on = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=draw_on, dtype=dtype).to(device)
