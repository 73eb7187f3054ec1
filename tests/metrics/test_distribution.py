"""NSS, CC, SIM and KLD against numpy loops, hand-worked cases and invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scamlib.metrics import cc, kld, nss, sim

from . import reference as ref


def _case(seed=0, b=4, h=7, w=9):
    rng = np.random.default_rng(seed)
    pred = rng.random((b, h, w))
    density = rng.random((b, h, w)) ** 3
    fix = rng.random((b, h, w)) < 0.15
    fix[:, 0, 0] = True
    return pred, density, fix


def test_nss_hand_worked():
    # S = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]: mean 4, sample std sqrt(60/8) = sqrt(7.5);
    # fixations at 8 and 6: mean z = ((8-4) + (6-4)) / 2 / sqrt(7.5) = 3 / sqrt(7.5)
    s = torch.arange(9.0).view(3, 3)
    fix = torch.zeros(3, 3, dtype=torch.bool)
    fix[2, 2] = fix[2, 0] = True
    assert nss(s, fix).item() == pytest.approx(3 / math.sqrt(7.5), abs=1e-12)


def test_sim_and_kld_hand_worked():
    # pred [[1,3],[1,1]] -> minmax [[0,1],[0,0]] -> [[0,1],[0,0]];
    # gt [[1,1],[0,0]] -> minmax same -> [[.5,.5],[0,0]]; SIM = min sums = .5
    p = torch.tensor([[1.0, 3.0], [1.0, 1.0]])
    g = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert sim(p, g).item() == pytest.approx(0.5, abs=1e-12)
    # KLD: pred / sum = [[1/6, 1/2], [1/6, 1/6]], gt / sum = [[.5, .5], [0, 0]]
    # = .5 log(.5 / (1/6)) + .5 log(.5 / .5) = .5 log 3
    assert kld(p, g).item() == pytest.approx(0.5 * math.log(3), abs=1e-12)


@pytest.mark.parametrize("name", ["nss", "cc", "sim", "kld"])
def test_matches_numpy_loop(name, dtype, device):
    pred, density, fix = _case()
    fn = {"nss": nss, "cc": cc, "sim": sim, "kld": kld}[name]
    p = torch.tensor(pred, dtype=dtype, device=device)
    other = fix if name == "nss" else density
    o = torch.tensor(other) if name == "nss" else torch.tensor(other, dtype=dtype, device=device)
    got = fn(p, o)
    p64 = p.double().cpu().numpy()
    o64 = other if name == "nss" else o.double().cpu().numpy()
    want = [getattr(ref, name)(p64[k], o64[k]) for k in range(len(pred))]
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-10, atol=1e-12)
    assert got.shape == (len(pred),) and got.dtype == torch.float64


def test_batched_equals_per_frame():
    pred, density, fix = _case(1)
    p, d, f = torch.tensor(pred), torch.tensor(density), torch.tensor(fix)
    for fn, other in ((nss, f), (cc, d), (sim, d), (kld, d)):
        single = torch.stack([fn(p[k], other[k]) for k in range(len(p))])
        torch.testing.assert_close(fn(p, other), single, rtol=1e-12, atol=1e-14)


def test_cc_and_nss_invariant_to_positive_affine_maps():
    pred, density, fix = _case(2)
    p, d, f = torch.tensor(pred), torch.tensor(density), torch.tensor(fix)
    torch.testing.assert_close(cc(3.5 * p + 2.0, d), cc(p, d))
    torch.testing.assert_close(nss(3.5 * p + 2.0, f), nss(p, f))
    torch.testing.assert_close(cc(-p, d), -cc(p, d))


def test_sim_at_most_one_and_one_for_identical_maps():
    pred, density, _ = _case(3)
    p, d = torch.tensor(pred), torch.tensor(density)
    assert bool((sim(p, d) <= 1 + 1e-12).all())
    torch.testing.assert_close(sim(d, d), torch.ones(len(d), dtype=torch.float64))


def test_degenerate_maps():
    const, zero = torch.full((3, 4), 0.7), torch.zeros(3, 4)
    g = torch.rand(3, 4, generator=torch.Generator().manual_seed(0))
    fix = torch.zeros(3, 4, dtype=torch.bool)
    assert math.isnan(nss(g, fix).item())  # no fixations
    fix[1, 1] = True
    assert math.isnan(nss(const, fix).item())
    assert math.isnan(cc(const, g).item()) and math.isnan(cc(g, const).item())
    assert math.isnan(sim(const, g).item())  # constant non-zero map: minmax 0/0
    assert sim(zero, g).item() == 0.0  # all-zero map stays zero
    assert math.isfinite(kld(const, g).item())


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same shape"):
        cc(torch.rand(3, 4), torch.rand(4, 3))
    with pytest.raises(ValueError, match=r"\(h, w\) or \(b, h, w\)"):
        sim(torch.rand(4), torch.rand(4))
    with pytest.raises(TypeError, match="density"):
        kld(torch.rand(3, 4), torch.ones(3, 4, dtype=torch.long))
