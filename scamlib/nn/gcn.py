"""Conservative GCN and Fixation Refine Layer as modules: STANet+ Eqs. 9-14.

The modules hold the projection ``P`` and the thresholds; the equations are the ops of
``scamlib.functional.gcn`` (:func:`~scamlib.functional.conservative_gcn`,
:func:`~scamlib.functional.fixation_refine`), which each ``forward`` calls once.
"""

from __future__ import annotations

from torch import Tensor, nn

from .._validation import check_real
from ..functional.gcn import conservative_gcn, fixation_refine

__all__ = ["ConservativeGCN", "FixationRefineLayer", "fixation_refine"]


class FixationRefineLayer(nn.Module):
    """Parameter-free Fixation Refine Layer (FRL), STANet+ Eqs. 13-14; see :func:`fixation_refine`.

    Shapes: ``(b, c, h, w) -> (b, c, h, w)`` or ``(b, n, c, h, w) -> (b, n, c, h, w)``.

    Example:
        >>> frl = FixationRefineLayer(t_d=0.8, t_r=0.6)
        >>> frl(torch.rand(2, 3, 5, 5, 5)).shape
        torch.Size([2, 3, 5, 5, 5])
    """

    def __init__(self, t_d: float = 0.8, t_r: float = 0.6) -> None:
        super().__init__()
        self.t_d = check_real(t_d, "t_d")
        self.t_r = check_real(t_r, "t_r", low=0.0, high=1.0)

    def forward(self, h: Tensor) -> Tensor:
        return fixation_refine(h, self.t_d, self.t_r)

    def extra_repr(self) -> str:
        return f"t_d={self.t_d}, t_r={self.t_r}"


class ConservativeGCN(nn.Module):
    """Conservative GCN: m-step semantic reasoning over a target node and n MG nodes, Eqs. 9-14.

    Every node is a ``(c, h, w)`` feature (class maps with ``c = 28`` in the paper). One step:

    1. Project every node with a shared 1x1 conv ``P`` and flatten to ``(c', hw)``.
    2. Edge (Eqs. 9-10): ``A_ij = (P h_i)^T (P h_j)`` of size ``(hw_i, hw_j)``;
       ``e_ij = softmax(A_ij)`` over axis ``j`` (the neighbour's positions).
    3. Update (Eqs. 11-12): ``h_i <- h_i * sigmoid(sum_{j != i} h_j e_ij^T)``: each position of
       node ``i`` receives a convex combination of node ``j``'s features. Every node is updated
       from the previous step's states (synchronous update).
    4. Fixation refine layer (Eqs. 13-14) on every node.

    Difference to the original release: it applies the softmax over the other axis (the
    target's positions), so a message is not a convex combination of the neighbour's features.
    scamlib follows the equations' intent.

    ``forward`` is one call to :func:`scamlib.functional.conservative_gcn` with this module's
    projection, steps and refine layer. The op is batched over samples and nodes: every step
    handles all ``b`` samples and all ``n (n + 1) / 2`` unordered node pairs at once (no Python
    loop over either). Since ``A_ji = A_ij^T``, one affinity per unordered pair serves both
    directed edges (``e_ij`` is its softmax along rows, ``e_ji`` along columns), which saves a
    quarter of the matrix products of a per-edge implementation. The ``(hw, hw)`` affinities are
    built in blocks of rows (the only loop besides the ``m`` steps, over positions), the column
    softmax is accumulated online and the backward pass recomputes the blocks, so no
    ``(b, pairs, hw, hw)`` tensor is kept: cost ``O(b n^2 (hw)^2 c)`` time per step but only
    ``O(b n^2 hw c)`` memory.

    Args:
        channels: ``c``, channels of every node.
        steps: ``m``, reasoning steps (paper: 3).
        refine: an FRL applied after each step; ``True`` or ``None`` gives the default
            ``FixationRefineLayer()``, ``False`` disables it (ablation).
        proj_channels: output channels ``c'`` of ``P`` (default ``channels``).

    Shapes:
        ``target (b, c, h, w)``, ``mg (b, n, c, h, w)`` with ``n >= 1`` ->
        ``(target_out (b, c, h, w), mg_out (b, n, c, h, w))``.

    Example:
        >>> gcn = ConservativeGCN(4, steps=2)
        >>> t, mg = gcn(torch.rand(2, 4, 3, 3), torch.rand(2, 2, 4, 3, 3))
        >>> t.shape, mg.shape
        (torch.Size([2, 4, 3, 3]), torch.Size([2, 2, 4, 3, 3]))
    """

    def __init__(
        self,
        channels: int,
        steps: int = 3,
        refine: FixationRefineLayer | bool | None = None,
        proj_channels: int | None = None,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.channels = channels
        self.steps = steps
        self.proj = nn.Conv2d(channels, proj_channels or channels, kernel_size=1)
        if refine is None or refine is True:
            refine = FixationRefineLayer()
        elif refine is False:
            refine = None
        elif not isinstance(refine, nn.Module):
            raise TypeError(
                f"refine must be a FixationRefineLayer, a bool or None, got {type(refine).__name__}"
            )
        self.refine = refine

    def forward(self, target: Tensor, mg: Tensor) -> tuple[Tensor, Tensor]:
        return conservative_gcn(
            target, mg, self.proj.weight, self.proj.bias, steps=self.steps, refine=self.refine
        )

    def extra_repr(self) -> str:
        return f"channels={self.channels}, steps={self.steps}"
