"""SCAM / SCAM+ modules against a direct computation of Eqs. 1-3 and 8 in numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scamlib.nn import BASE_SOURCES, MG_SOURCES, SCAM, SCAMPlus


def _numpy_scam(outputs, names, tags, lam=1e-4):
    b = len(tags)
    num = np.zeros(outputs[names[0]][1].shape[:1] + outputs[names[0]][1].shape[2:])
    den = np.zeros(b)
    for name in names:
        logits, maps = (t.double().numpy() for t in outputs[name])
        conf = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        for i, t in enumerate(tags.tolist()):
            m = np.maximum(maps[i, t], 0)
            m = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else 0 * m
            others = np.delete(conf[i], t)
            uc = conf[i, t] if conf[i, t] > others.max() else 0.0
            num[i] += uc * m
            den[i] += uc
    fused = (num + lam) / (den + lam)[:, None, None]
    lo, hi = fused.min((1, 2), keepdims=True), fused.max((1, 2), keepdims=True)
    with np.errstate(invalid="ignore"):  # invalid frames give a constant map
        return (fused - lo) / (hi - lo), den > 0


def _outputs(names, b=3, c=4, hw=(3, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name in names:
        logits = torch.randn(b, c, generator=g)
        logits[:, 1] += 3.0  # class 1 wins most of the time
        out[name] = (logits, torch.randn(b, c, *hw, generator=g))
    return out


def test_scam_matches_numpy():
    outs = _outputs(BASE_SOURCES)
    tags = torch.tensor([1, 1, 2])
    r = SCAM()(outs, tags)
    ref, valid = _numpy_scam(outs, BASE_SOURCES, tags)
    np.testing.assert_array_equal(r.valid.numpy(), valid)
    np.testing.assert_allclose(r.map[r.valid].double().numpy(), ref[valid], atol=1e-5)
    assert (r.map[~r.valid] == 0).all()
    assert r.confidences.shape == (3, 3) and r.cams.shape == (3, 3, 3, 3)


def test_scam_plus_matches_numpy_over_all_eleven_sources():
    names = BASE_SOURCES + MG_SOURCES
    outs = _outputs(names, seed=1)
    tags = torch.tensor([1, 1, 1])
    r = SCAMPlus()(outs, tags)
    ref, valid = _numpy_scam(outs, names, tags)
    assert valid.all() and r.valid.all()
    np.testing.assert_allclose(r.map.double().numpy(), ref, atol=1e-5)
    assert r.sources == names


def test_missing_or_extra_sources_and_sizes():
    outs = _outputs(BASE_SOURCES)
    tags = torch.tensor([1, 1, 2])
    with pytest.raises(ValueError, match=r"missing \['sa'\]"):
        SCAM()({k: outs[k] for k in ("s", "st")}, tags)
    with pytest.raises(ValueError, match=r"unexpected \['x'\]"):
        SCAM()({**outs, "x": outs["s"]}, tags)
    with pytest.raises(ValueError, match="missing"):
        SCAMPlus()(outs, tags)
    outs["sa"] = (outs["sa"][0], torch.randn(3, 4, 5, 5))
    with pytest.raises(ValueError, match="size"):
        SCAM()(outs, tags)
    assert SCAM(size=(6, 6))(outs, tags).map.shape == (3, 6, 6)
