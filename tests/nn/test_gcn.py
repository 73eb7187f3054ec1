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


def test_frl_five_dim_equals_flattened_and_keeps_high_region():
    h = torch.rand(2, 3, 4, 5, 5)
    out5 = fixation_refine(h)
    out4 = fixation_refine(h.flatten(0, 1)).view_as(h)
    torch.testing.assert_close(out5, out4)
    # where cm >= T_d * max the factor is sigmoid(cm); t_r = 1 makes the mask irrelevant.
    cm = h.mean(2, keepdim=True)
    torch.testing.assert_close(fixation_refine(h, t_r=1.0), 0.5 * (h * torch.sigmoid(cm) + h))


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
