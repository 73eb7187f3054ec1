"""Losses (Eqs. 7, 17, 20) against torch's reference and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scamlib.losses import bce_kl_loss, kl_loss, msm_loss, sta_plus_loss, switch_loss


def test_msm_matches_torch_and_formula():
    logits = torch.randn(4, 6, dtype=torch.float64)
    tags = torch.tensor([0, 5, 2, 2])
    onehot = torch.nn.functional.one_hot(tags, 6).double()
    ref = torch.nn.MultiLabelSoftMarginLoss()(logits, onehot)
    torch.testing.assert_close(msm_loss(logits, tags), ref)
    torch.testing.assert_close(msm_loss(logits, onehot.bool()), ref)
    x, y = logits.numpy(), onehot.numpy()
    sig = 1 / (1 + np.exp(-x))
    eq7 = -(y * np.log(sig) + (1 - y) * np.log(np.exp(-x) / (1 + np.exp(-x)))).mean(1).mean()
    assert msm_loss(logits, tags).item() == pytest.approx(eq7, rel=1e-10)
    with pytest.raises(ValueError, match="targets"):
        msm_loss(logits, torch.tensor([0, 6, 1, 1]))


def _numpy_bce_kl(p, q, eps=1e-7):
    pc = np.clip(p, eps, 1 - eps)
    bce = -(q * np.log(pc) + (1 - q) * np.log(1 - pc)).mean((-2, -1))
    pn, qn = p / (p.sum((-2, -1), keepdims=True) + eps), q / (q.sum((-2, -1), keepdims=True) + eps)
    kl = (qn * np.log(eps + qn / (pn + eps))).sum((-2, -1))
    return bce, kl


def test_bce_kl_matches_numpy_both_layouts_and_valid_mask():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(3, 5, 4, generator=g, dtype=torch.float64)
    q = torch.rand(3, 5, 4, generator=g, dtype=torch.float64)
    bce, kl = _numpy_bce_kl(p.numpy(), q.numpy())
    assert bce_kl_loss(p, q).item() == pytest.approx((bce + kl).mean(), rel=1e-10)
    assert bce_kl_loss(p[:, None], q[:, None]).item() == pytest.approx((bce + kl).mean())
    assert kl_loss(p, q).item() == pytest.approx(kl.mean(), rel=1e-10)
    valid = torch.tensor([True, False, True])
    assert bce_kl_loss(p, q, valid=valid).item() == pytest.approx((bce + kl)[[0, 2]].mean())
    assert bce_kl_loss(p, q, valid=torch.zeros(3, dtype=torch.bool)).item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        bce_kl_loss(p, q[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        bce_kl_loss(p * float("nan"), q)


def test_sta_plus_loss_sums_nodes():
    p, q = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    total = sum(bce_kl_loss(p[:, k], q[:, k]) for k in range(3))
    torch.testing.assert_close(sta_plus_loss(p, q), total)
    valid = torch.tensor([[True, False, True], [True, True, False]])
    masked = sum(bce_kl_loss(p[:, k], q[:, k], valid=valid[:, k]) for k in range(3))
    torch.testing.assert_close(sta_plus_loss(p, q, valid=valid), masked)


def test_switch_loss_matches_torch():
    logits, labels = torch.randn(5), torch.tensor([1, 0, 1, 1, 0])
    ref = torch.nn.BCEWithLogitsLoss()(logits, labels.float())
    torch.testing.assert_close(switch_loss(logits, labels), ref)
