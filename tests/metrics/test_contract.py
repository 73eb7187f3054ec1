"""Blank, constant, saturated and ordinary frames: MIT semantics through the whole protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scamlib.metrics import (
    SaliencyMetrics,
    auc_borji,
    auc_judd,
    auc_shuffled,
    cc,
    evaluate,
    imresize,
    kld,
    nss,
    postprocess,
    sim,
)

from . import reference as ref

ALL = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD", "AUC_B")
H, W, GT = 6, 8, (10, 14)


def mit_frame(pred, fix, dens, other):
    """One frame through postprocessMap + the MIT metric files (numpy, float64).

    Returns the deterministic scores, and for the randomised ones only whether they are NaN.
    """
    if np.clip(pred, 0, 1).max() == 0:  # postprocessMap divides by max = 0
        keys = ("SIM", "CC", "NSS", "KLD", "AUC_J0")
        return dict.fromkeys(keys), dict.fromkeys((*ALL, "AUC_J0"), True)
    clipped = np.clip(pred, 0, 1)
    constant = clipped.max() == clipped.min()
    # a constant map post-processes to exactly 0.5 (blur and resize of a constant)
    m = np.full(GT, 0.5) if constant else ref.postprocess(pred, GT)
    want = {
        "SIM": ref.sim(m, dens),
        "CC": ref.cc(m, dens),
        "NSS": ref.nss(m, fix),
        "KLD": ref.kld(m, dens),
        "AUC_J0": math.nan if constant else ref.auc_judd(m, fix),
    }
    if constant:
        want["SIM"] = math.nan  # similarity.m: minmax of a constant non-zero map is 0 / 0
    nan = {
        "AUC_J": not fix.any(),
        "sAUC": constant or not fix.any() or not other.any(),
        "AUC_B": constant or fix.sum() <= 1,
        **{k: v is None or math.isnan(v) for k, v in want.items()},
    }
    return want, nan


class Toy:
    """One video of frames: ``preds[i]`` at 6 x 8, ground truth at 10 x 14."""

    def __init__(self, preds, seed=0):
        rng = np.random.default_rng(seed)
        self.preds = preds
        self.items = []
        for t in range(len(preds)):
            fix = rng.random(GT) < 0.1
            fix[0, 0] = fix[5, 7] = True
            dens = ref.imfilter_symmetric(fix.astype(float), ref.gaussian_kernel(1.0))
            self.items.append(
                {
                    "density": torch.tensor(dens / dens.max()),
                    "fixations": torch.tensor(fix),
                    "video": "v",
                    "frame_index": t + 1,
                }
            )

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def fixation_union(self, video):
        return torch.stack([i["fixations"] for i in self.items]).any(0)


def _frames():
    rng = np.random.default_rng(5)
    ordinary = rng.random((H, W))
    saturated = np.clip(rng.random((H, W)) * 3 - 1, -0.5, 1.5)  # clipped on both sides
    return {
        "zero": np.zeros((H, W)),
        "negative": -ordinary,  # blank after clipping
        "constant": np.full((H, W), 0.3),
        "saturated_all": np.full((H, W), 4.0),  # constant after clipping
        "saturated": saturated,
        "ordinary": ordinary,
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch_size", [1, 6])
def test_evaluate_follows_the_mit_code_on_degenerate_and_ordinary_frames(dtype, batch_size):
    frames = _frames()
    ds = Toy([torch.tensor(p, dtype=dtype) for p in frames.values()])
    res = evaluate(
        lambda it: ds.preds[it["frame_index"] - 1], ds, metrics=ALL, dtype=dtype,
        batch_size=batch_size,
    )  # fmt: skip
    nojit = evaluate(
        lambda it: ds.preds[it["frame_index"] - 1], ds, metrics=("AUC_J",), dtype=dtype,
        jitter=False, batch_size=batch_size,
    )  # fmt: skip
    union = ds.fixation_union("v").numpy()
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for k, (name, pred) in enumerate(frames.items()):
        item = ds.items[k]
        fix, dens = item["fixations"].numpy(), item["density"].numpy()
        pred = ds.preds[k].double().numpy()
        want, nan = mit_frame(pred, fix, dens, union & ~fix)
        row = res.frames.rows[k]
        for metric in ALL:
            assert math.isnan(row[metric]) == nan[metric], (name, metric, row[metric])
        for metric in ("SIM", "CC", "NSS", "KLD"):
            if not nan[metric]:
                assert row[metric] == pytest.approx(want[metric], abs=tol), (name, metric)
        got = nojit.frames.rows[k]["AUC_J"]
        assert math.isnan(got) == nan["AUC_J0"], name
        if not nan["AUC_J0"]:
            assert got == pytest.approx(want["AUC_J0"], abs=tol), name
    # the blank and the constant frames are dropped from the means, not scored as noise
    kept = [r["SIM"] for r in res.frames.rows if not math.isnan(r["SIM"])]
    assert res.summary["SIM"] == pytest.approx(np.mean(kept))
    assert all(0 <= v <= 1 for v in kept)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_constant_maps_stay_exactly_constant(dtype, monkeypatch):
    from scamlib.metrics import _engine

    x = torch.full((3, 37, 53), 0.3, dtype=dtype)
    x[1] = 7.0  # saturated
    for chunk_pixels in (_engine.CHUNK_PIXELS, 600):
        monkeypatch.setattr(_engine, "CHUNK_PIXELS", chunk_pixels)
        out = postprocess(x, (61, 47))
        assert bool((out == 0.5).all())
        assert bool((postprocess(x[0]) == 0.5).all())
        up = imresize(x, (71, 29))
        assert bool((up[0] == torch.tensor(0.3, dtype=dtype)).all()) and bool((up[1] == 7).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_functional_metrics_on_a_constant_map(dtype):
    const = torch.full((2, 9, 11), 0.5, dtype=dtype)
    rng = np.random.default_rng(1)
    fix = torch.tensor(rng.random((2, 9, 11)) < 0.2)
    fix[:, 0, 0] = fix[:, 1, 1] = True
    other = ~fix
    dens = torch.tensor(rng.random((2, 9, 11)), dtype=dtype)
    for score in (
        sim(const, dens), cc(const, dens), nss(const, fix), auc_shuffled(const, fix, other),
        auc_borji(const, fix), auc_judd(const, fix, jitter=False),
    ):  # fmt: skip
        assert bool(score.isnan().all())
    jittered = auc_judd(const, fix)
    assert bool(((jittered >= 0) & (jittered <= 1)).all())
    want = [ref.kld(const[k].double().numpy(), dens[k].double().numpy()) for k in range(2)]
    np.testing.assert_allclose(kld(const, dens).numpy(), want, atol=1e-10)
    # numpy arrays are accepted
    assert math.isnan(float(cc(const[0].numpy(), dens[0].numpy())))


def test_evaluate_equals_postprocess_and_the_functional_metrics():
    ds = Toy([torch.tensor(p) for p in _frames().values()], seed=3)
    metrics = ("SIM", "CC", "NSS", "KLD")
    res = evaluate(lambda it: ds.preds[it["frame_index"] - 1], ds, metrics=metrics,
                   dtype=torch.float64)  # fmt: skip
    for k, row in enumerate(res.frames.rows):
        pred, item = ds.preds[k], ds.items[k]
        if float(pred.clamp(0, 1).max()) == 0:
            assert all(math.isnan(row[m]) for m in metrics)  # blank: no score
            continue
        m = postprocess(pred, GT)
        direct = {
            "SIM": sim(m, item["density"]), "CC": cc(m, item["density"]),
            "NSS": nss(m, item["fixations"]), "KLD": kld(m, item["density"]),
        }  # fmt: skip
        for name, value in direct.items():
            assert row[name] == pytest.approx(float(value), abs=1e-10, nan_ok=True), name


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([torch.float32, torch.float64]),
    st.sampled_from(["uniform", "sparse", "ties", "offset"]),
)
def test_every_finite_score_is_in_range(seed, dtype, kind):
    rng = np.random.default_rng(seed)
    x = rng.random((3, 7, 9))
    if kind == "sparse":
        x = x * (rng.random(x.shape) < 0.1)
    elif kind == "ties":
        x = np.round(x, 1)
    elif kind == "offset":
        x = 1e4 + x * 1e-3
    pred = torch.tensor(x, dtype=dtype)
    fix = torch.tensor(rng.random(x.shape) < 0.15)
    dens = torch.tensor(rng.random(x.shape), dtype=dtype)
    gen = torch.Generator().manual_seed(seed % 1000)
    unit = [
        auc_judd(pred, fix, generator=gen), auc_shuffled(pred, fix, ~fix, 5, generator=gen),
        auc_borji(pred, fix, 5, generator=gen), sim(pred, dens),
    ]  # fmt: skip
    for score in unit:
        finite = score[score.isfinite()]
        assert bool(((finite >= 0) & (finite <= 1)).all())
    c = cc(pred, dens)
    assert bool(((c[c.isfinite()] >= -1) & (c[c.isfinite()] <= 1)).all())


def test_saliency_metrics_equals_evaluate():
    ds = Toy([torch.tensor(p, dtype=torch.float32) for p in _frames().values()], seed=4)
    res = evaluate(lambda it: ds.preds[it["frame_index"] - 1], ds, metrics=ALL, batch_size=4)
    m = SaliencyMetrics(ALL)
    union = ds.fixation_union("v")
    for start in (0, 4):
        items = ds.items[start : start + 4]
        m.update(
            torch.stack(ds.preds[start : start + 4]),
            torch.stack([i["fixations"] for i in items]).numpy(),  # numpy accepted
            torch.stack([i["density"] for i in items]),
            video="v", union=union,
        )  # fmt: skip
    got = m.compute()
    np.testing.assert_array_equal(
        [[r[k] for k in ALL] for r in got.frames.rows],
        [[r[k] for k in ALL] for r in res.frames.rows],
    )
    assert got.summary == pytest.approx(res.summary, nan_ok=True)
    m.close()
