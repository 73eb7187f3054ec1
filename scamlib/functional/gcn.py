"""Conservative GCN and its fixation refine layer: STANet+ Eqs. 9-14 (Sec. 4.3).

The C-GCN of STA+ reasons over a target node and ``n`` multi-granularity nodes, each a
``(c, h, w)`` feature map. One step projects every node with a shared 1x1 convolution ``P``,
builds the inter-node affinities ``A_ij = (P h_i)^T (P h_j)`` (Eq. 9), normalises them with a
softmax over the neighbour's positions (Eq. 10), sums the messages ``h_j e_ij^T`` of every other
node (Eq. 11), gates the node with their sigmoid (Eq. 12) and damps its low-response region with
the fixation refine layer (Eqs. 13-14). These are the pure ops; :class:`scamlib.nn.ConservativeGCN`
and :class:`scamlib.nn.FixationRefineLayer` hold the projection and the thresholds.

Reading of Eq. 10: the softmax runs over the *neighbour's* positions, so every position of node
``i`` receives a convex combination of node ``j``'s features. The original code release
normalises over the other axis (the target's positions); scamlib follows the equation's intent.
All nodes are updated from the previous step's states (a synchronous update).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from .._validation import check_finite, check_floating, check_ndim, check_real

__all__ = ["conservative_gcn", "fixation_refine", "gcn_messages"]


def fixation_refine(h: Tensor, t_d: float = 0.8, t_r: float = 0.6) -> Tensor:
    """Fixation refine layer (FRL), STANet+ Eqs. 13-14.

    ``cm = mean_c(h)``; ``mask = 1`` where ``cm < t_d * max(cm)`` (the low-response region);
    ``h' = 1/2 (h * (t_r * sigmoid(cm) * mask + sigmoid(cm) * (1 - mask)) + h)``. The maximum is
    taken per map over the spatial axes. The prose of Sec. 4.3.2 describes the mask as marking
    the large responses; the formula ``[max(cm) * T_d - cm]_+`` and the original code agree on
    the reading used here, so the low-response region is the one damped by ``T_r``.

    Args:
        h: ``(..., c, h, w)`` node features, any number of leading axes (``(b, c, h, w)`` or
            ``(b, n, c, h, w)``); every ``(c, h, w)`` slice is refined on its own.
        t_d: threshold ``T_d`` of Eq. 13 (paper: 0.8), finite.
        t_r: refinement rate ``T_r`` of Eq. 14 (paper: 0.6), in ``[0, 1]``.

    Returns:
        Same shape and dtype as ``h``. The mask is a hard threshold (no gradient flows through
        it). The formula is applied literally when ``max(cm) <= 0`` (a map whose channel mean is
        negative everywhere is then entirely "low-response"). An empty ``h`` (a zero-sized
        axis) comes back empty.

    Raises:
        TypeError: ``h`` is not a floating-point tensor.
        ValueError: ``h`` has fewer than 3 axes; ``t_d`` not finite; ``t_r`` outside ``[0, 1]``.

    Example:
        >>> h = torch.tensor([[[[0.0, 2.0]]]])  # b=1, c=1, h=1, w=2; max(cm)=2, threshold 1.6
        >>> fixation_refine(h)  # 0 is masked (low response); 2 -> (2 sigmoid(2) + 2) / 2
        tensor([[[[0.0000, 1.8808]]]])
    """
    check_floating(h, "h")
    if h.ndim < 3:
        raise ValueError(f"h must have shape (..., c, h, w), got {tuple(h.shape)}")
    check_real(t_d, "t_d")
    check_real(t_r, "t_r", low=0.0, high=1.0)
    if h.numel() == 0:
        return h.clone()
    cm = h.mean(dim=-3, keepdim=True)
    peak = cm.amax(dim=(-2, -1), keepdim=True)
    mask = (cm < t_d * peak).to(h.dtype)
    gate = torch.sigmoid(cm)
    return 0.5 * (h * (t_r * gate * mask + gate * (1.0 - mask)) + h)


# Exponentials are taken in base 2, ``exp(x) = exp2(x log2(e))``: on CPU torch's ``exp2`` is
# several times faster than ``exp``, which takes a slow path where the result underflows.
_LOG2E = 1.4426950408889634
# Tile budget of the pair kernel, in elements of one ``(items, rows, hw)`` affinity block: on
# CPU small enough that a tile's temporaries and operands stay in cache (batching every pair of
# every sample into each op would stream them all through memory once per block, which is
# slower than a per-pair loop); on CUDA large, so one tile usually covers the whole batch.
_CPU_TILE_ELEMS = 1 << 19
_CUDA_TILE_ELEMS = 1 << 28
_MIN_ROWS = 64


def _tile_shape(items: int, length: int, device: torch.device) -> tuple[int, int]:
    """``(items per tile, affinity rows per tile)`` for ``items`` pairs of ``length`` positions.

    Rows are a multiple of 16 (GEMM-friendly), at least ``_MIN_ROWS`` and at most ``length``;
    the tile then takes as many items as fit in the budget.
    """
    budget = _CUDA_TILE_ELEMS if device.type == "cuda" else _CPU_TILE_ELEMS
    rows = budget // max(1, items * length) // 16 * 16
    rows = min(length, max(_MIN_ROWS, rows))
    return max(1, min(items, budget // (rows * length))), rows


def _tiles(items: int, length: int, per_tile: int, rows: int):
    """Index pairs ``(item slice, row slice)``, rows innermost."""
    for i in range(0, items, per_tile):
        for r in range(0, length, rows):
            yield slice(i, i + per_tile), slice(r, r + rows)


def _pair_major(x: Tensor, index: Tensor) -> Tensor:
    """``x (b, N, ch, hw)`` -> ``(U * b, ch, hw)``: node ``index[u]`` of each sample, pair-major."""
    return x.transpose(0, 1)[index].flatten(0, 1)


def _to_nodes(parts: Tensor, incidence: Tensor) -> Tensor:
    """Sum per-pair parts ``(2U, b, ch, hw)`` into nodes ``(b, N, ch, hw)``.

    ``parts[u]`` goes to node ``first[u]``, ``parts[U + u]`` to ``second[u]``: a product with the
    ``(N, 2U)`` 0/1 incidence matrix, exact and deterministic (``index_add_`` is not on CUDA).
    """
    return (incidence @ parts.flatten(1)).view(-1, *parts.shape[1:]).transpose(0, 1)


class _PairMessages(torch.autograd.Function):
    """Messages of Eqs. 9-11 for unordered node pairs ``(a, b)``, ``a < b``, in both directions.

    ``A_ab = (P h_a)^T (P h_b)`` is ``(hw, hw)`` and ``A_ba = A_ab^T``, so one affinity serves both
    edges: ``e_ab`` is its softmax along rows (over b's positions) and ``e_ba^T`` its softmax
    along columns (over a's positions). The message to ``a`` is ``h_b e_ab^T``, the one to ``b`` is
    ``h_a e_ba^T``: 3 products per pair forward and 7 backward, against 4 and 8 for the two edges
    computed separately. The pairs of all samples form one item axis (pair-major) and every op
    runs batched over the items of a tile (see ``_tile_shape``); the affinity is built a block of
    rows at a time, the column softmax accumulated online over the blocks (as in
    memory-efficient attention), and the backward pass recomputes the blocks from the saved
    log-sum-exps instead of storing the edges. No ``(hw, hw)`` tensor is kept.

    Inputs: ``proj (b, N, d, hw)``, ``flat (b, N, c, hw)``, ``first``/``second`` the ``U`` pair
    indices. Output: ``(b, N, c, hw)``, the sum over ``j != i`` of the messages to each node ``i``.
    """

    @staticmethod
    def forward(ctx, proj: Tensor, flat: Tensor, first: Tensor, second: Tensor) -> Tensor:
        b, n_nodes, _, length = proj.shape
        c = flat.shape[2]
        n_pairs = first.numel()
        with torch.autocast(proj.device.type, enabled=False):
            incidence = proj.new_zeros(n_nodes, 2 * n_pairs)
            columns = torch.arange(2 * n_pairs, device=proj.device)
            incidence[torch.cat([first, second]), columns] = 1.0
            # (items, ch, hw), items = U * b; every product takes its operands in this layout
            # (transposed ones as views), which keeps the GEMMs on fast paths.
            qa, qb = _pair_major(proj, first), _pair_major(proj, second)
            va, vb = _pair_major(flat, first), _pair_major(flat, second)
            items = qa.shape[0]
            per_tile, rows = _tile_shape(items, length, proj.device)
            msgs = proj.new_empty(2 * n_pairs, b, c, length)
            msg_a = msgs[:n_pairs].view(items, c, length)  # messages to a
            msg_b = msgs[n_pairs:].view(items, c, length).zero_()  # to b, normalised at the end
            lse_a = proj.new_empty(items, length)  # base-2 log-sum-exp of the rows of A_ab
            col_max = proj.new_full((items, length), float("-inf"))  # running, base 2
            col_sum = proj.new_zeros(items, length)
            for it, blk in _tiles(items, length, per_tile, rows):
                s = torch.bmm(qa[it, :, blk].transpose(1, 2), qb[it])  # rows of A_ab
                # e_ab (Eq. 10): softmax over b's positions, complete within the block.
                row_max = s.amax(dim=-1, keepdim=True).mul_(_LOG2E)
                e = torch.add(-row_max, s, alpha=_LOG2E).exp2_()
                row_sum = e.sum(dim=-1)
                msg_a[it, :, blk] = torch.bmm(vb[it], e.transpose(1, 2)).div_(row_sum[:, None])
                lse_a[it, blk] = row_max.squeeze(-1).add_(row_sum.log2_())
                # e_ba: softmax over a's positions (the columns), accumulated online.
                old_max = col_max[it]
                new_max = torch.maximum(old_max, s.amax(dim=-2).mul_(_LOG2E))
                rescale = torch.exp2(old_max - new_max)
                old_max.copy_(new_max)
                x = torch.add(-new_max[:, None], s, alpha=_LOG2E, out=s).exp2_()
                col_sum[it].mul_(rescale).add_(x.sum(dim=-2))
                msg_b[it].mul_(rescale[:, None]).baddbmm_(va[it, :, blk], x)
            msg_b.div_(col_sum[:, None])
            lse_b = col_max.add_(col_sum.log2_())
            out = _to_nodes(msgs, incidence)
        ctx.save_for_backward(qa, qb, va, vb, lse_a, lse_b, msg_a, msg_b, first, second, incidence)
        ctx.tile = per_tile, rows
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, None, None]:
        qa, qb, va, vb, lse_a, lse_b, msg_a, msg_b, first, second, incidence = ctx.saved_tensors
        items, d, length = qa.shape
        c = va.shape[1]
        n_pairs = first.numel()
        b = items // n_pairs
        with torch.autocast(grad.device.type, enabled=False):
            grad = grad.to(qa.dtype)
            ga, gb = _pair_major(grad, first), _pair_major(grad, second)
            # Softmax backward: sum_j e_ij dE_ij = <grad, message> at every position.
            delta_a = (ga * msg_a).sum(dim=1)
            delta_b = (gb * msg_b).sum(dim=1)
            d_q = qa.new_empty(2 * n_pairs, b, d, length)
            d_v = qa.new_empty(2 * n_pairs, b, c, length)
            d_qa, d_qb = d_q[:n_pairs].view(items, d, length), d_q[n_pairs:].view(items, d, length)
            d_va, d_vb = d_v[:n_pairs].view(items, c, length), d_v[n_pairs:].view(items, c, length)
            d_qb.zero_()
            d_vb.zero_()
            for it, blk in _tiles(items, length, *ctx.tile):
                s = torch.bmm(qa[it, :, blk].transpose(1, 2), qb[it])  # recomputed rows of A_ab
                e_a = torch.add(-lse_a[it, blk, None], s, alpha=_LOG2E).exp2_()  # rows of e_ab
                e_b = torch.add(-lse_b[it, None], s, alpha=_LOG2E, out=s).exp2_()  # of e_ba^T
                ds = torch.bmm(ga[it, :, blk].transpose(1, 2), vb[it])
                ds.sub_(delta_a[it, blk, None]).mul_(e_a)
                ds_b = torch.bmm(va[it, :, blk].transpose(1, 2), gb[it])
                ds.addcmul_(ds_b.sub_(delta_b[it, None]), e_b)  # d loss / d A_ab
                d_qa[it, :, blk] = torch.bmm(qb[it], ds.transpose(1, 2))
                d_qb[it].baddbmm_(qa[it, :, blk], ds)
                d_vb[it].baddbmm_(ga[it, :, blk], e_a)
                d_va[it, :, blk] = torch.bmm(gb[it], e_b.transpose(1, 2))
            d_proj, d_flat = _to_nodes(d_q, incidence), _to_nodes(d_v, incidence)
        return d_proj, d_flat, None, None


def _check_nodes(target: Tensor, mg: Tensor) -> None:
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
    if mg.shape[1] < 1:
        raise ValueError("mg must hold at least one MG node (n >= 1), got n = 0")


def gcn_messages(keys: Tensor, values: Tensor) -> Tensor:
    """Messages of the C-GCN, STANet+ Eqs. 9-11: ``sum_{j != i} h_j e_ij^T`` for every node.

    ``A_ij = k_i^T k_j`` (Eq. 9, ``k = P h`` the projected node), ``e_ij = softmax(A_ij)`` over the
    neighbour's positions (Eq. 10), and node ``i`` receives ``sum_{j != i} v_j e_ij^T`` (Eq. 11,
    ``v = h``). Batched over samples and unordered node pairs; one affinity per pair serves both
    directions, and no ``(hw, hw)`` tensor is kept (blocks of rows, an online column softmax, and
    a backward pass that recomputes the blocks): ``O(b n^2 (hw)^2 c)`` time, ``O(b n^2 hw c)``
    memory.

    Args:
        keys: ``(b, N, d, h, w)`` projected nodes ``P h``.
        values: ``(b, N, c, h, w)`` nodes ``h``.

    Returns:
        ``(b, N, c, h, w)`` messages, in the promoted dtype of ``keys`` and ``values``. A single
        node (``N = 1``) receives zeros; an empty batch gives an empty result.

    Raises:
        TypeError: non-float inputs.
        ValueError: shapes that are not 5-D or disagree on ``(b, N, h, w)``; NaN/Inf.

    Example:
        >>> v = torch.tensor([[[[[1.0, 3.0]]], [[[5.0, 7.0]]]]])  # b=1, N=2, c=1, 1x2
        >>> gcn_messages(torch.zeros(1, 2, 1, 1, 2), v)  # zero keys: uniform softmax, means
        tensor([[[[[6., 6.]]],
        <BLANKLINE>
        <BLANKLINE>
                 [[[2., 2.]]]]])
    """
    check_floating(keys, "keys")
    check_ndim(keys, "keys", 5, "(b, N, d, h, w)")
    check_floating(values, "values")
    check_ndim(values, "values", 5, "(b, N, c, h, w)")
    if keys.shape[:2] != values.shape[:2] or keys.shape[3:] != values.shape[3:]:
        raise ValueError(
            "keys (b, N, d, h, w) and values (b, N, c, h, w) must agree on (b, N, h, w), got "
            f"{tuple(keys.shape)} and {tuple(values.shape)}"
        )
    check_finite(keys, "keys")
    check_finite(values, "values")
    if values.numel() == 0 or keys.numel() == 0 or values.shape[1] < 2:
        dtype = torch.promote_types(keys.dtype, values.dtype)
        return values.new_zeros(values.shape, dtype=dtype)
    return _messages(keys, values)


def _messages(keys: Tensor, values: Tensor) -> Tensor:
    """:func:`gcn_messages` without the input checks (``N >= 2``, non-empty)."""
    n_nodes = values.shape[1]
    first, second = torch.triu_indices(n_nodes, n_nodes, offset=1, device=values.device)
    proj = rearrange(keys, "b n d h w -> b n d (h w)")
    flat = rearrange(values, "b n c h w -> b n c (h w)")
    dtype = torch.promote_types(proj.dtype, flat.dtype)
    return _PairMessages.apply(proj.to(dtype), flat.to(dtype), first, second).reshape(
        values.shape
    )


def conservative_gcn(
    target: Tensor,
    mg: Tensor,
    proj_weight: Tensor,
    proj_bias: Tensor | None = None,
    *,
    steps: int = 3,
    refine: Callable[[Tensor], Tensor] | None = fixation_refine,
) -> tuple[Tensor, Tensor]:
    """Conservative GCN over a target node and ``n`` MG nodes for ``m`` steps, STANet+ Eqs. 9-14.

    One step: ``k = P h`` for every node (a shared 1x1 convolution with ``proj_weight``,
    ``proj_bias``); messages of Eqs. 9-11 (:func:`gcn_messages`); ``h <- h * sigmoid(message)``
    (Eq. 12) for every node from the previous step's states; then ``refine`` (the FRL of
    Eqs. 13-14, :func:`fixation_refine` by default) on every node.

    Args:
        target: ``(b, c, h, w)`` target node (in STA+, the middle frame's class maps).
        mg: ``(b, n, c, h, w)`` multi-granularity nodes, ``n >= 1``.
        proj_weight: ``(d, c, 1, 1)`` or ``(d, c)`` weight of ``P``.
        proj_bias: ``(d,)`` bias of ``P`` or ``None``.
        steps: ``m``, reasoning steps (paper: 3), ``>= 1``.
        refine: applied to the ``(b, N, c, h, w)`` nodes after every step; ``None`` skips it
            (the ablation without FRL).

    Returns:
        ``(target_out (b, c, h, w), mg_out (b, n, c, h, w))``. An empty batch (``b = 0``) or
        empty maps (``h * w = 0``) come back unchanged (there is nothing to reason over).

    Raises:
        TypeError: non-float inputs.
        ValueError: shapes that disagree (the message names both), ``n = 0``, ``steps < 1``,
            NaN/Inf in the nodes.

    Example:
        >>> t, mg = torch.rand(2, 4, 3, 3), torch.rand(2, 2, 4, 3, 3)
        >>> out_t, out_mg = conservative_gcn(t, mg, torch.eye(4), steps=2)
        >>> out_t.shape, out_mg.shape
        (torch.Size([2, 4, 3, 3]), torch.Size([2, 2, 4, 3, 3]))
    """
    _check_nodes(target, mg)
    check_floating(proj_weight, "proj_weight")
    check_ndim(proj_weight, "proj_weight", (2, 4), "(d, c, 1, 1) or (d, c)")
    weight = proj_weight if proj_weight.ndim == 4 else proj_weight[:, :, None, None]
    c = target.shape[1]
    if weight.shape[1:] != (c, 1, 1):
        raise ValueError(
            f"target must have {weight.shape[1]} channels to match proj_weight "
            f"{tuple(proj_weight.shape)} (a 1x1 projection), got {c}"
        )
    if proj_bias is not None:
        check_floating(proj_bias, "proj_bias")
        if proj_bias.shape != (weight.shape[0],):
            raise ValueError(
                f"proj_bias must have shape ({weight.shape[0]},), got {tuple(proj_bias.shape)}"
            )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if target.numel() == 0:
        return target, mg
    check_finite(target, "target")
    check_finite(mg, "mg")
    b = target.shape[0]
    nodes = torch.cat([target[:, None], mg], dim=1)  # b N c h w, node 0 is the target
    for _ in range(steps):
        keys = F.conv2d(rearrange(nodes, "b n c h w -> (b n) c h w"), weight, proj_bias)
        message = _messages(rearrange(keys, "(b n) d h w -> b n d h w", b=b), nodes)
        nodes = nodes * torch.sigmoid(message)  # Eq. 12
        if refine is not None:
            nodes = refine(nodes)  # Eqs. 13-14
    return nodes[:, 0], nodes[:, 1:]
