"""Conservative GCN and Fixation Refine Layer: STANet+ Eqs. 9-14 (SPEC §9)."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from .._validation import check_floating, check_ndim

__all__ = ["ConservativeGCN", "FixationRefineLayer", "fixation_refine"]


def fixation_refine(h: Tensor, t_d: float = 0.8, t_r: float = 0.6) -> Tensor:
    """Fixation refine layer as a function, STANet+ Eqs. 13-14 (SPEC §9).

    ``cm = mean_c(h)``; ``mask = 1`` where ``cm < t_d * max(cm)`` (the low-response region; the
    paper's prose inverts this, its formula ``[max(cm) * T_d - cm]_+`` and the original code agree
    on this reading); ``h' = 1/2 (h * (t_r * sigmoid(cm) * mask + sigmoid(cm) * (1 - mask)) + h)``.
    The maximum is taken per map over the spatial axes.

    Args:
        h: ``(..., c, h, w)`` node features, any number of leading axes (``(b, c, h, w)`` or
            ``(b, n, c, h, w)``); every ``(c, h, w)`` slice is refined on its own.
        t_d: threshold ``T_d`` of Eq. 13 (paper: 0.8).
        t_r: refinement rate ``T_r`` of Eq. 14 (paper: 0.6).

    Returns:
        Same shape and dtype as ``h``. The mask is a hard threshold (no gradient flows through
        it). When ``max(cm) <= 0`` the threshold lies at or above every value only if the map
        is negative; the formula is applied literally (e.g. a map whose channel mean is
        negative everywhere is entirely "low-response").

    Raises:
        TypeError: ``h`` is not a floating-point tensor.
        ValueError: ``h`` has fewer than 3 axes.

    Example:
        >>> h = torch.tensor([[[[0.0, 2.0]]]])  # b=1, c=1, h=1, w=2; max(cm)=2, threshold 1.6
        >>> fixation_refine(h)  # 0 is masked (low response); 2 -> (2 sigmoid(2) + 2) / 2
        tensor([[[[0.0000, 1.8808]]]])
    """
    check_floating(h, "h")
    if h.ndim < 3:
        raise ValueError(f"h must have shape (..., c, h, w), got {tuple(h.shape)}")
    cm = h.mean(dim=-3, keepdim=True)
    peak = cm.amax(dim=(-2, -1), keepdim=True)
    mask = (cm < t_d * peak).to(h.dtype)
    gate = torch.sigmoid(cm)
    return 0.5 * (h * (t_r * gate * mask + gate * (1.0 - mask)) + h)


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
        if not 0.0 <= t_r <= 1.0:
            raise ValueError(f"t_r must lie in [0, 1], got {t_r}")
        self.t_d = float(t_d)
        self.t_r = float(t_r)

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
    scamlib follows the equations' intent (SPEC §9).

    The forward pass is batched over samples and nodes: the ``n (n + 1)`` ordered node pairs are
    gathered into one ``(b, pairs, c, hw)`` tensor and the affinities, softmax and messages are
    single batched ``einsum`` calls; the only Python loop runs over the ``m`` steps. Cost is
    ``O(b (n + 1) n (hw)^2 c)`` time and ``O(b (n + 1) n (hw)^2)`` memory per step.

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
        check_floating(target, "target")
        check_ndim(target, "target", 4, "(b, c, h, w)")
        check_floating(mg, "mg")
        check_ndim(mg, "mg", 5, "(b, n, c, h, w)")
        b, c, h, w = target.shape
        if mg.shape[0] != b or mg.shape[2:] != (c, h, w):
            raise ValueError(
                f"mg must have shape ({b}, n, {c}, {h}, {w}) to match target "
                f"{tuple(target.shape)}, got {tuple(mg.shape)}"
            )
        if c != self.channels:
            raise ValueError(f"target must have {self.channels} channels, got {c}")
        if mg.shape[1] < 1:
            raise ValueError("mg must hold at least one MG node (n >= 1), got n = 0")
        nodes = torch.cat([target[:, None], mg], dim=1)  # b N c h w, node 0 is the target
        n_nodes = nodes.shape[1]
        # Ordered pairs (i, j), i != j, grouped by the receiving node i.
        src, dst = zip(
            *[(i, j) for i in range(n_nodes) for j in range(n_nodes) if i != j], strict=True
        )
        recv = torch.tensor(src, device=nodes.device)
        send = torch.tensor(dst, device=nodes.device)
        for _ in range(self.steps):
            proj = self.proj(rearrange(nodes, "b n c h w -> (b n) c h w"))
            proj = rearrange(proj, "(b n) d h w -> b n d (h w)", b=b)
            flat = rearrange(nodes, "b n c h w -> b n c (h w)")
            affinity = torch.einsum("bpdl,bpdm->bplm", proj[:, recv], proj[:, send])
            edge = affinity.softmax(dim=-1)  # over the sender's positions (axis j)
            message = torch.einsum("bplm,bpcm->bpcl", edge, flat[:, send])
            message = rearrange(message, "b (i j) c l -> b i j c l", i=n_nodes).sum(dim=2)
            nodes = nodes * torch.sigmoid(message).view_as(nodes)
            if self.refine is not None:
                nodes = self.refine(nodes)
        return nodes[:, 0], nodes[:, 1:]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, steps={self.steps}"
