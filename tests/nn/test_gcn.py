"""ConservativeGCN and FixationRefineLayer against hand-worked examples and a naive loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scamlib.nn import ConservativeGCN, FixationRefineLayer, fixation_refine


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_frl_hand_worked_example():
    # c=2, 1x3 map. Channel mean cm = [1, 2, 5]; max 5, T_d * max = 4 -> mask = [1, 1, 0].
    h = torch.tensor([[[[0.0, 1.0, 4.0]], [[2.0, 3.0, 6.0]]]], dtype=torch.float64)
    cm = np.array([1.0, 2.0, 5.0])
    mask = np.array([1.0, 1.0, 0.0])
    factor = 0.6 * _sigmoid(cm) * mask + _sigmoid(cm) * (1 - mask)
    expected = 0.5 * (h.numpy() * factor + h.numpy())
    out = FixationRefineLayer(t_d=0.8, t_r=0.6)(h)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_frl_rejects_bad_input():
    with pytest.raises(TypeError, match="h"):
        fixation_refine(torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="t_r"):
        FixationRefineLayer(t_r=1.5)


def reference_cgcn(gcn: ConservativeGCN, target, mg):
    """Per-sample, per-node loop of Eqs. 9-14 in float64 numpy."""
    w = gcn.proj.weight.detach().double().numpy()[:, :, 0, 0]
    bias = gcn.proj.bias.detach().double().numpy()
    outs_t, outs_mg = [], []
    for b in range(target.shape[0]):
        nodes = [target[b].double().numpy()] + [m.double().numpy() for m in mg[b]]
        c, hh, ww = nodes[0].shape
        for _ in range(gcn.steps):
            flat = [x.reshape(c, -1) for x in nodes]
            proj = [w @ x + bias[:, None] for x in flat]
            new = []
            for i in range(len(nodes)):
                msg = np.zeros_like(flat[i])
                for j in range(len(nodes)):
                    if i == j:
                        continue
                    a = proj[i].T @ proj[j]  # (hw_i, hw_j)
                    e = np.exp(a - a.max(axis=1, keepdims=True))
                    e = e / e.sum(axis=1, keepdims=True)
                    msg += flat[j] @ e.T
                upd = (flat[i] * _sigmoid(msg)).reshape(c, hh, ww)
                if gcn.refine is not None:
                    cm = upd.mean(0)
                    mask = (cm < 0.8 * cm.max()).astype(float)
                    upd = 0.5 * (
                        upd * (0.6 * _sigmoid(cm) * mask + _sigmoid(cm) * (1 - mask)) + upd
                    )
                new.append(upd)
            nodes = new
        outs_t.append(nodes[0])
        outs_mg.append(np.stack(nodes[1:]))
    return np.stack(outs_t), np.stack(outs_mg)


@pytest.mark.parametrize("refine", [True, False])
def test_cgcn_matches_per_sample_loop(refine):
    torch.manual_seed(0)
    gcn = ConservativeGCN(4, steps=3, refine=refine)
    target, mg = torch.randn(3, 4, 3, 5), torch.randn(3, 2, 4, 3, 5)
    out_t, out_mg = gcn(target, mg)
    ref_t, ref_mg = reference_cgcn(gcn, target, mg)
    np.testing.assert_allclose(out_t.detach().numpy(), ref_t, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(out_mg.detach().numpy(), ref_mg, atol=1e-5, rtol=1e-5)


def test_cgcn_device_dtype(device, dtype):
    gcn = ConservativeGCN(3, steps=2).to(device=device, dtype=dtype)
    target = torch.randn(2, 3, 4, 4, device=device, dtype=dtype)
    mg = torch.randn(2, 3, 3, 4, 4, device=device, dtype=dtype)
    out_t, out_mg = gcn(target, mg)
    assert out_t.shape == target.shape and out_mg.shape == mg.shape
    assert out_t.dtype == dtype and out_t.device.type == device.type


def test_cgcn_target_invariant_to_mg_order_and_mg_permute():
    gcn = ConservativeGCN(4, steps=3)
    target, mg = torch.randn(2, 4, 4, 4), torch.randn(2, 3, 4, 4, 4)
    perm = torch.tensor([2, 0, 1])
    t1, m1 = gcn(target, mg)
    t2, m2 = gcn(target, mg[:, perm])
    torch.testing.assert_close(t1, t2)
    torch.testing.assert_close(m1[:, perm], m2)


def test_cgcn_samples_independent_of_batch():
    gcn = ConservativeGCN(4, steps=2)
    target, mg = torch.randn(4, 4, 3, 3), torch.randn(4, 2, 4, 3, 3)
    full_t, full_mg = gcn(target, mg)
    one_t, one_mg = gcn(target[2:3], mg[2:3])
    torch.testing.assert_close(full_t[2:3], one_t)
    torch.testing.assert_close(full_mg[2:3], one_mg)


def test_cgcn_gradients_reach_inputs_and_projection():
    gcn = ConservativeGCN(4, steps=2)
    target = torch.randn(2, 4, 3, 3, requires_grad=True)
    mg = torch.randn(2, 2, 4, 3, 3, requires_grad=True)
    out_t, out_mg = gcn(target, mg)
    (out_t.sum() + out_mg.sum()).backward()
    assert target.grad.abs().sum() > 0 and mg.grad.abs().sum() > 0
    assert gcn.proj.weight.grad.abs().sum() > 0


def test_cgcn_rejects_bad_shapes():
    gcn = ConservativeGCN(4)
    with pytest.raises(ValueError, match="mg"):
        gcn(torch.randn(2, 4, 3, 3), torch.randn(2, 2, 4, 3, 4))
    with pytest.raises(ValueError, match="n >= 1"):
        gcn(torch.randn(2, 4, 3, 3), torch.randn(2, 0, 4, 3, 3))
    with pytest.raises(ValueError, match="channels"):
        gcn(torch.randn(2, 5, 3, 3), torch.randn(2, 1, 5, 3, 3))
    with pytest.raises(TypeError, match="refine"):
        ConservativeGCN(4, refine="yes")


def _autograd_loop_cgcn(gcn: ConservativeGCN, target, mg):
    """Eqs. 9-14 looping over samples and ordered node pairs, differentiated by autograd."""
    outs_t, outs_mg = [], []
    for b in range(target.shape[0]):
        nodes = [target[b], *mg[b].unbind(0)]
        c, hh, ww = nodes[0].shape
        for _ in range(gcn.steps):
            flat = [x.reshape(c, -1) for x in nodes]
            proj = [gcn.proj(x[None])[0].reshape(-1, hh * ww) for x in nodes]
            new = []
            for i in range(len(nodes)):
                msg = sum(
                    flat[j] @ (proj[i].T @ proj[j]).softmax(dim=-1).T
                    for j in range(len(nodes))
                    if j != i
                )
                upd = (flat[i] * torch.sigmoid(msg)).reshape(c, hh, ww)
                new.append(gcn.refine(upd[None])[0] if gcn.refine is not None else upd)
            nodes = new
        outs_t.append(nodes[0])
        outs_mg.append(torch.stack(nodes[1:]))
    return torch.stack(outs_t), torch.stack(outs_mg)


def _outputs_and_grads(fn, gcn, target, mg):
    target = target.detach().requires_grad_()
    mg = mg.detach().requires_grad_()
    gcn.zero_grad()
    out_t, out_mg = fn(gcn, target, mg)
    weights = torch.linspace(-1.0, 1.0, out_mg.numel(), dtype=out_mg.dtype).view_as(out_mg)
    (out_t.square().sum() + (out_mg * weights).sum()).backward()
    grads = [target.grad, mg.grad, gcn.proj.weight.grad, gcn.proj.bias.grad]
    return [out_t.detach(), out_mg.detach(), *[g.clone() for g in grads]]


@pytest.fixture
def small_tiles(monkeypatch):
    """Force many tiles: several items per tile, several row blocks, ragged last ones."""
    import scamlib.functional.gcn as gcn_module

    monkeypatch.setattr(gcn_module, "_CPU_TILE_ELEMS", 2 * 16 * 35)
    monkeypatch.setattr(gcn_module, "_MIN_ROWS", 16)


@pytest.mark.parametrize("n_mg", [1, 2, 3])
def test_cgcn_tiled_forward_and_gradients_match_autograd_loop(small_tiles, n_mg):
    # hw = 35 -> row blocks of 16, 16, 3; 2 items per tile across sample boundaries.
    torch.manual_seed(1)
    gcn = ConservativeGCN(3, steps=2).double()
    target = torch.randn(3, 3, 5, 7, dtype=torch.float64)
    mg = torch.randn(3, n_mg, 3, 5, 7, dtype=torch.float64)
    got = _outputs_and_grads(lambda g, t, m: g(t, m), gcn, target, mg)
    ref = _outputs_and_grads(_autograd_loop_cgcn, gcn, target, mg)
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_cgcn_float32_gradients_match_autograd_loop():
    torch.manual_seed(2)
    gcn = ConservativeGCN(4, steps=3)
    target, mg = torch.randn(2, 4, 6, 6), torch.randn(2, 2, 4, 6, 6)
    got = _outputs_and_grads(lambda g, t, m: g(t, m), gcn, target, mg)
    ref = _outputs_and_grads(_autograd_loop_cgcn, gcn, target, mg)
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_cgcn_gradcheck(small_tiles):
    torch.manual_seed(3)
    gcn = ConservativeGCN(2, steps=2, refine=False).double()
    target = torch.randn(2, 2, 3, 6, dtype=torch.float64, requires_grad=True)
    mg = torch.randn(2, 1, 2, 3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, m: gcn(t, m), (target, mg), fast_mode=True)


def test_cgcn_large_affinities_stay_finite_and_exact():
    # Affinities of several hundred: all exponentials but the largest of a row underflow.
    torch.manual_seed(4)
    gcn = ConservativeGCN(4, steps=2)
    target, mg = 8 * torch.randn(2, 4, 4, 4), 8 * torch.randn(2, 2, 4, 4, 4)
    got = _outputs_and_grads(lambda g, t, m: g(t, m), gcn, target, mg)
    ref = _outputs_and_grads(_autograd_loop_cgcn, gcn.double(), target.double(), mg.double())
    for a, b in zip(got, ref, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4)


def test_cgcn_tiled_samples_independent_of_batch(small_tiles):
    gcn = ConservativeGCN(3, steps=2)
    target, mg = torch.randn(5, 3, 5, 7), torch.randn(5, 2, 3, 5, 7)
    full_t, full_mg = gcn(target, mg)
    for i in (0, 3):
        one_t, one_mg = gcn(target[i : i + 1], mg[i : i + 1])
        torch.testing.assert_close(full_t[i : i + 1], one_t)
        torch.testing.assert_close(full_mg[i : i + 1], one_mg)


def test_cgcn_saves_no_affinity_sized_tensor():
    # Autograd keeps O(b n^2 hw c) for the backward pass, never a (hw, hw) edge.
    gcn = ConservativeGCN(4, steps=2)
    target = torch.randn(2, 4, 16, 16, requires_grad=True)
    mg = torch.randn(2, 2, 4, 16, 16, requires_grad=True)
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        gcn(target, mg)
    assert sizes and max(sizes) < 256 * 256
