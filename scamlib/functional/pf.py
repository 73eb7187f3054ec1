"""Final predicted fixation map from the three student nets: STANet+ Eqs. 21 and 23.

``PF_final`` (Eq. 21) and its multiplicative ablation ``PF_agg`` (Eq. 23) combine the
predictions of STA, STA+ short and STA+ long into the final map (Sec. 5).
"""

from __future__ import annotations

from torch import Tensor

from .._validation import check_finite, check_floating, check_ndim, check_same_shape
from .norm import minmax

__all__ = ["pf_agg", "pf_final"]


def _check_three(a: Tensor, b: Tensor, c: Tensor) -> None:
    for name, x in (("a", a), ("b", b), ("c", c)):
        check_floating(x, name)
        check_ndim(x, name, 3, "(b, h, w)")
    check_same_shape(a, b, "a", "b")
    check_same_shape(a, c, "a", "c")
    for name, x in (("a", a), ("b", b), ("c", c)):
        check_finite(x, name)
    if a.shape[1] == 0 or a.shape[2] == 0:
        raise ValueError(f"a, b and c must have a non-empty map (h, w >= 1), got {tuple(a.shape)}")


def _agreement_and_union(a: Tensor, b: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """The two parts of Eqs. 21 and 23: ``Z(Z(a) * Z(b) * Z(c))`` and ``Z(a + b + c)``."""
    _check_three(a, b, c)
    return minmax(minmax(a) * minmax(b) * minmax(c)), minmax(a + b + c)


def pf_final(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Final predicted fixation map, STANet+ Eq. 21.

    ``PF_final = 1/2 Z(Z(a) * Z(b) * Z(c)) + 1/2 Z(a + b + c)`` with ``a, b, c`` the
    predictions of STA, STA+ short and STA+ long: the left part keeps what the three agree on,
    the right part their union.

    Args:
        a: ``(b, h, w)`` PF_sta.
        b: ``(b, h, w)`` PF_sta+ short.
        c: ``(b, h, w)`` PF_sta+ long.

    Returns:
        ``(b, h, w)`` in ``[0, 1]``. A term whose map is constant contributes zeros (the ``Z``
        convention), so three constant inputs give an all-zero map. An empty batch gives an
        empty result.

    Raises:
        TypeError: non-float inputs.
        ValueError: shapes that differ or are not ``(b, h, w)``; an empty map (``h`` or ``w``
            = 0); NaN/Inf (the message names ``a``, ``b`` or ``c``).

    Example:
        >>> a = torch.tensor([[[0.0, 1.0, 0.5]]])
        >>> pf_final(a, a, a)
        tensor([[[0.0000, 1.0000, 0.3125]]])
    """
    common, union = _agreement_and_union(a, b, c)
    return 0.5 * common + 0.5 * union


def pf_agg(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Multiplicative alternative to PF_final, STANet+ Eq. 23 (ablation, Table 6).

    ``PF_agg = 1/2 Z(Z(a) * Z(b) * Z(c)) x 1/2 Z(a + b + c)``, i.e. a quarter of the product
    of the two parts of Eq. 21; its maximum is 0.25, not 1 (the equation as printed).

    Args:
        a, b, c: ``(b, h, w)`` PF_sta, PF_sta+ short and PF_sta+ long, as in :func:`pf_final`.

    Returns:
        ``(b, h, w)`` in ``[0, 0.25]``; constant inputs give zeros, an empty batch an empty
        result.

    Raises:
        TypeError, ValueError: the input errors of :func:`pf_final` (non-float inputs; shapes
            that differ or are not ``(b, h, w)``, an empty map, NaN/Inf).

    Example:
        >>> a = torch.tensor([[[0.0, 1.0, 0.5]]])
        >>> pf_agg(a, a, a)
        tensor([[[0.0000, 0.2500, 0.0156]]])
    """
    common, union = _agreement_and_union(a, b, c)
    return 0.25 * common * union
