"""The STAViS saliency loss (Eqs. 6-11) against its formula, computed independently in numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scamlib.losses import stavis_loss


def _d(p: np.ndarray, y: np.ndarray, fix: np.ndarray | None, w, eps=1e-7) -> float:
    """One map's ``w1 D_CE + w2 D_CC + w3 D_NSS`` straight from Eqs. 8-10."""
    pc = np.clip(p, eps, 1 - eps)
    ce = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    cc = np.corrcoef(p.ravel(), y.ravel())[0, 1]
    if fix is None or fix.sum() == 0:
        nss = 0.0
    else:
        normed = (p - p.mean()) / p.std(ddof=1)
        nss = normed[fix].mean()
    return w[0] * ce - w[1] * cc - w[2] * nss


@pytest.mark.parametrize("weights", [(0.1, 2.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
def test_eq7_against_numpy(weights):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, (3, 6, 7))
    y = rng.uniform(0, 1, (3, 6, 7))
    fix = rng.uniform(0, 1, (3, 6, 7)) > 0.8
    want = np.mean([_d(p[i], y[i], fix[i], weights) for i in range(3)])
    got = stavis_loss(torch.tensor(p), torch.tensor(y), torch.tensor(fix), weights=weights)
    assert float(got) == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_eq6_adds_each_side_map():
    rng = np.random.default_rng(1)
    p, y = rng.uniform(0.01, 0.99, (2, 5, 5)), rng.uniform(0, 1, (2, 5, 5))
    sides = rng.uniform(0.01, 0.99, (2, 4, 5, 5))
    fix = y > 0.7
    w = (0.1, 2.0, 1.0)
    want = np.mean(
        [
            _d(p[i], y[i], fix[i], w) + sum(_d(sides[i, m], y[i], fix[i], w) for m in range(4))
            for i in range(2)
        ]
    )
    got = stavis_loss(torch.tensor(p), torch.tensor(y), torch.tensor(fix), torch.tensor(sides))
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_without_fixations_and_degenerate_maps():
    y = torch.rand(2, 4, 4)
    p = torch.rand(2, 4, 4).clamp(0.05, 0.95)
    # no fixation map: the NSS term is left out
    got = stavis_loss(p, y, None, weights=(0.1, 2.0, 1.0))
    want = np.mean([_d(p[i].numpy(), y[i].numpy(), None, (0.1, 2.0, 0.0)) for i in range(2)])
    assert float(got) == pytest.approx(want, rel=1e-5)
    # a frame without fixations contributes 0 to NSS; a constant map gives CC 0, not NaN
    const = torch.full((1, 4, 4), 0.5)
    out = stavis_loss(const, y[:1], torch.zeros(1, 4, 4, dtype=torch.bool))
    assert bool(torch.isfinite(out))
    assert float(out) == pytest.approx(0.1 * float(-torch.log(torch.tensor(0.5))), rel=1e-5)


def test_gradient_and_errors():
    p = torch.rand(2, 4, 4, requires_grad=True)
    stavis_loss(p, torch.rand(2, 4, 4), torch.rand(2, 4, 4) > 0.5).backward()
    assert bool(torch.isfinite(p.grad).all())
    with pytest.raises(ValueError, match="shape"):
        stavis_loss(torch.rand(2, 4, 4), torch.rand(2, 4, 5))
    with pytest.raises(ValueError, match="sides must have shape"):
        stavis_loss(torch.rand(2, 4, 4), torch.rand(2, 4, 4), sides=torch.rand(2, 3, 5, 5))
    with pytest.raises(ValueError, match="weights"):
        stavis_loss(torch.rand(2, 4, 4), torch.rand(2, 4, 4), weights=(1.0, 2.0))
