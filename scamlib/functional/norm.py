"""Min-max normalisation, the ``Z(.)`` of STANet+ Eqs. 1, 2, 8 and 21."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .._validation import check_finite, check_floating

__all__ = ["minmax"]


def minmax(
    x: Tensor, dims: int | Sequence[int] = (-2, -1), *, return_valid: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Per-map min-max normalisation to ``[0, 1]``, ``Z(.)`` in STANet+ Eqs. 1, 2, 8, 21.

    ``Z(x) = (x - min x) / (max x - min x)``, the minimum and maximum taken over ``dims``
    (the spatial axes by default), separately for every map of the leading axes.

    A constant map has no range: its output is all zeros, never NaN (the papers leave this case
    open; zeros mean "no saliency"), and ``return_valid=True`` reports it. An empty map (a
    zero-sized axis in ``dims``) has no range either: its (empty) output comes with
    ``valid = False``. The op is differentiable (gradients flow through the
    minimum and maximum as :func:`torch.amin` / :func:`torch.amax` define them).

    Args:
        x: ``(..., h, w)`` floating-point tensor (any number of leading axes).
        dims: the axis or axes one map spans; ``(-2, -1)`` for ``(..., h, w)`` maps.
        return_valid: also return a bool mask, ``False`` where a map was constant.

    Returns:
        The normalised tensor, same shape and dtype as ``x``; with ``return_valid`` a pair
        ``(normalised, valid)`` where ``valid`` has the shape of ``x`` without ``dims``.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``x`` holds NaN or Inf.

    Example:
        >>> minmax(torch.tensor([[1.0, 2.0], [3.0, 5.0]]))
        tensor([[0.0000, 0.2500],
                [0.5000, 1.0000]])
        >>> minmax(torch.full((1, 2, 2), 7.0), return_valid=True)[1]
        tensor([False])
    """
    check_floating(x, "x")
    check_finite(x, "x")
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if any(x.shape[d] == 0 for d in dims):
        out = torch.zeros_like(x)
        if not return_valid:
            return out
        kept = [n for i, n in enumerate(x.shape) if i not in {d % x.ndim for d in dims}]
        return out, torch.zeros(kept, dtype=torch.bool, device=x.device)
    lo = torch.amin(x, dim=dims, keepdim=True)
    hi = torch.amax(x, dim=dims, keepdim=True)
    span = hi - lo
    has_range = span > 0
    out = torch.where(
        has_range, (x - lo) / torch.where(has_range, span, torch.ones_like(span)), 0.0
    )
    if not return_valid:
        return out
    valid = has_range
    for d in sorted((d % x.ndim for d in dims), reverse=True):
        valid = valid.squeeze(d)
    return out, valid
