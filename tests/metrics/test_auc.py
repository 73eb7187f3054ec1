"""AUC-Judd, shuffled AUC and AUC-Borji against numpy loops and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scamlib.metrics import auc_borji, auc_judd, auc_shuffled

from . import reference as ref

# 3 x 3 map, fixations at the 0.9 and the 0.4 pixel.
MAP = [[0.9, 0.1, 0.2], [0.3, 0.8, 0.4], [0.5, 0.6, 0.7]]


def _fix(*cells, shape=(3, 3)):
    f = torch.zeros(shape, dtype=torch.bool)
    for r, c in cells:
        f[r, c] = True
    return f


def _random_case(rng, b=4, h=9, w=11, n_fix=6):
    pred = rng.random((b, h, w))
    fix = np.zeros((b, h, w), dtype=bool)
    for k in range(b):
        fix[k].flat[rng.choice(h * w, n_fix, replace=False)] = True
    return pred, fix


def test_auc_judd_hand_worked_without_ties():
    # minmax: values (v - 0.1) / 0.8; P = 9, N = 2; fixated 0.9 -> 1 and 0.4 -> 0.375.
    # i=1: thr 1,     #{S>=thr}=1, tp=1/2, fp=(1-1)/7=0
    # i=2: thr 0.375, #{S>=thr}=6 (0.9,0.8,0.4,0.5,0.6,0.7), tp=1, fp=(6-2)/7=4/7
    # trapz over (0,0),(0,.5),(4/7,1),(1,1): 0 + 4/7*(1.5)/2 + 3/7*2/2 = 6/14 + 3/7 = 6/7
    got = auc_judd(torch.tensor(MAP), _fix((0, 0), (1, 2)), jitter=False)
    assert got.item() == pytest.approx(6 / 7, abs=1e-12)


def test_auc_judd_hand_worked_with_ties():
    # map with a tie: both fixated pixels hold 0.5, and one other pixel too.
    # S = [[.5,0,0],[0,.5,0],[.5,0,1]] -> minmax unchanged; fixations at (0,0) and (1,1).
    # i=1: thr .5, #{S>=.5}=4 (three .5 and the 1), tp=1/2, fp=(4-1)/7=3/7
    # i=2: thr .5, same count 4, tp=1,   fp=(4-2)/7=2/7   (ties are not merged)
    # trapz: (0,0)->(3/7,.5): 3/7*.5/2=3/28; (3/7,.5)->(2/7,1): -1/7*1.5/2=-3/28;
    #        (2/7,1)->(1,1): 5/7*2/2=5/7  => 5/7
    s = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.5, 0.0, 1.0]])
    got = auc_judd(s, _fix((0, 0), (1, 1)), jitter=False)
    assert got.item() == pytest.approx(5 / 7, abs=1e-12)


def test_auc_judd_matches_numpy_loop(dtype, device):
    rng = np.random.default_rng(1)
    pred, fix = _random_case(rng)
    pred[1, :3] = pred[1, 0, 0]  # ties, also on fixated pixels
    fix[1, 0, :2] = True
    got = auc_judd(torch.tensor(pred, dtype=dtype, device=device), torch.tensor(fix), False)
    rounded = torch.tensor(pred, dtype=dtype).double().numpy()
    want = [ref.auc_judd(rounded[k], fix[k]) for k in range(len(pred))]
    np.testing.assert_allclose(got.cpu().numpy(), want, atol=1e-9)
    assert got.device.type == device.type


def test_auc_judd_jitter_noise_comes_from_the_generator():
    # Every pixel holds the value of a fixated pixel (0.2 or 0.6), so every pixel lies within
    # the jitter of a threshold and gets noise: drawn in row-major order, float32, as MATLAB's
    # rand(size(S)) / 1e7 would add it to the whole map.
    rng = np.random.default_rng(2)
    pred = rng.choice([0.2, 0.6], size=(2, 9, 11))
    fix = np.zeros(pred.shape, dtype=bool)
    for k in range(2):
        fix[k].flat[rng.choice(np.flatnonzero(pred[k] == 0.2), 3, replace=False)] = True
        fix[k].flat[rng.choice(np.flatnonzero(pred[k] == 0.6), 4, replace=False)] = True
    noise = torch.rand(pred.shape, generator=torch.Generator().manual_seed(5)).double() * 1e-7
    got = auc_judd(
        torch.tensor(pred), torch.tensor(fix), generator=torch.Generator().manual_seed(5)
    )
    want = [ref.auc_judd(pred[k], fix[k], noise[k].numpy()) for k in range(2)]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-9)


def test_auc_judd_jitter_only_reorders_near_ties():
    # values at least 1e-3 apart: the 1e-7 noise cannot change any comparison
    rng = np.random.default_rng(8)
    pred = rng.permutation(np.arange(99) / 98.0).reshape(1, 9, 11)
    fix = np.zeros(pred.shape, dtype=bool)
    fix.flat[rng.choice(99, 7, replace=False)] = True
    p, f = torch.tensor(pred), torch.tensor(fix)
    torch.testing.assert_close(auc_judd(p, f), auc_judd(p, f, jitter=False), rtol=0, atol=1e-12)


def test_auc_judd_jitter_breaks_ties_like_noise_on_every_pixel():
    # many ties (values rounded to 0.1): the mean score over seeds matches the numpy loop with
    # noise on every pixel, averaged over as many draws
    rng = np.random.default_rng(9)
    pred, fix = _random_case(rng, b=2)
    pred = np.round(pred, 1)
    draws = 300
    got = torch.stack(
        [
            auc_judd(
                torch.tensor(pred), torch.tensor(fix), generator=torch.Generator().manual_seed(i)
            )
            for i in range(draws)
        ]
    )
    want = np.array(
        [
            [ref.auc_judd(pred[k], fix[k], rng.random(pred[k].shape) * 1e-7) for k in range(2)]
            for _ in range(draws)
        ]
    )
    spread = np.sqrt(got.var(0).numpy() / draws + want.var(0) / draws)
    assert bool((got.std(0) > 0).all())  # the ties are broken differently per seed
    np.testing.assert_array_less(np.abs(got.mean(0).numpy() - want.mean(0)), 5 * spread + 1e-12)


def test_auc_judd_nan_cases():
    s = torch.tensor(MAP)
    assert math.isnan(auc_judd(s, _fix()).item())
    assert math.isnan(auc_judd(torch.ones(3, 3), _fix((0, 0)), jitter=False).item())
    assert 0 <= auc_judd(torch.ones(3, 3), _fix((0, 0))).item() <= 1  # jitter breaks the tie


def test_auc_shuffled_deterministic_when_other_is_small():
    # K = min(N, M) = M: every split takes all of `other`, so the score is one ROC.
    rng = np.random.default_rng(3)
    pred, fix = _random_case(rng, n_fix=8)
    other = np.zeros_like(fix)
    for k in range(len(pred)):
        other[k].flat[rng.choice(np.flatnonzero(~fix[k].ravel()), 5, replace=False)] = True
    got = auc_shuffled(torch.tensor(pred), torch.tensor(fix), torch.tensor(other), n_splits=3)
    want = [
        ref.step_auc(
            ref.minmax(pred[k].ravel())[fix[k].ravel()],
            ref.minmax(pred[k].ravel())[other[k].ravel()],
        )
        for k in range(len(pred))
    ]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_auc_shuffled_hand_worked():
    # minmax(MAP) fixated values 1 and .375; other = the pixels holding .1 (->0) and .8 (->.875).
    # thresholds 1, .9, ..., 0: tp = 1/2 for t in (.375, 1], 1 for t <= .3 (t=.4 -> .5);
    # fp = 0 for t > .875 (t=1,.9), 1/2 for .1 <= t <= .8, 1 for t = 0.
    # points (0,0),(0,.5)x2,(.5,.5)x5 [t=.8...,.4],(.5,1)x3 [t=.3,.2,.1],(1,1)[t=0],(1,1)
    # area: .5*.5 (0->.5 at height .5) + .5*1 (.5->1 at height 1) = .75
    other = _fix((0, 1), (1, 1))
    got = auc_shuffled(torch.tensor(MAP), _fix((0, 0), (1, 2)), other, n_splits=4)
    assert got.item() == pytest.approx(0.75, abs=1e-12)


def test_auc_shuffled_sampling_matches_numpy_loop_on_average():
    rng = np.random.default_rng(4)
    pred, fix = _random_case(rng, b=2, n_fix=5)
    other = rng.random(fix.shape) < 0.4
    g = torch.Generator().manual_seed(0)
    got = auc_shuffled(torch.tensor(pred), torch.tensor(fix), torch.tensor(other), 3000, 0.1, g)
    want = [ref.auc_shuffled(pred[k], fix[k], other[k], 3000, rng=rng) for k in range(2)]
    np.testing.assert_allclose(got.numpy(), want, atol=0.01)


def test_auc_borji_sampling_matches_numpy_loop_on_average():
    rng = np.random.default_rng(5)
    pred, fix = _random_case(rng, b=2, n_fix=5)
    g = torch.Generator().manual_seed(0)
    got = auc_borji(torch.tensor(pred), torch.tensor(fix), 3000, 0.1, g)
    want = [ref.auc_borji(pred[k], fix[k], 3000, rng=rng) for k in range(2)]
    np.testing.assert_allclose(got.numpy(), want, atol=0.01)


@pytest.mark.parametrize("metric", ["shuffled", "borji"])
def test_random_aucs_reproducible_under_a_seed(metric):
    rng = np.random.default_rng(6)
    pred, fix = _random_case(rng, n_fix=7)
    other = rng.random(fix.shape) < 0.5

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        p, f = torch.tensor(pred), torch.tensor(fix)
        if metric == "shuffled":
            return auc_shuffled(p, f, torch.tensor(other), n_splits=20, generator=g)
        return auc_borji(p, f, n_splits=20, generator=g)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


@pytest.mark.parametrize("metric", ["shuffled", "borji"])
def test_sampled_aucs_of_a_float32_map_equal_its_float64_copy(metric):
    """The sampled AUCs read a float32 map without a float64 copy: the scores must be those
    of the same values in float64, bit for bit, under the same draws (ties included)."""
    rng = np.random.default_rng(11)
    pred, fix = _random_case(rng, b=5, h=40, w=56, n_fix=30)
    pred = np.round(pred * 20) / 20  # many ties, values on and off the thresholds
    pred[2] = 0.25  # a constant map: NaN either way
    other = rng.random(fix.shape) < 0.2
    p32 = torch.tensor(pred, dtype=torch.float32)

    def run(p):
        g = torch.Generator().manual_seed(0)
        f = torch.tensor(fix)
        if metric == "shuffled":
            return auc_shuffled(p, f, torch.tensor(other), generator=g)
        return auc_borji(p, f, generator=g)

    got, want = run(p32), run(p32.double())
    assert torch.equal(got.isnan(), want.isnan()) and bool(got.isnan()[2])
    assert torch.equal(got.nan_to_num(), want.nan_to_num())


def test_random_aucs_nan_and_constant_cases():
    s, none = torch.tensor(MAP), _fix()
    assert math.isnan(auc_shuffled(s, none, _fix((0, 1))).item())
    assert math.isnan(auc_shuffled(s, _fix((0, 0)), none).item())  # empty other map
    assert math.isnan(auc_borji(s, none).item())
    # scamlib: AUC-Borji is NaN when N <= 1 (one negative per split: a degenerate ROC)
    assert math.isnan(auc_borji(s, _fix((0, 0))).item())
    assert not math.isnan(auc_borji(s, _fix((0, 0), (1, 1))).item())
    batch = torch.stack([_fix(), _fix((2, 2)), _fix((0, 0), (1, 1))])
    scores = auc_borji(torch.stack([s] * 3), batch, generator=torch.Generator().manual_seed(0))
    assert [math.isnan(v) for v in scores.tolist()] == [True, True, False]
    # constant map: MATLAB's minmax gives NaN everywhere and AUC_shuffled.m / AUC_Borji.m
    # return NaN for such a map ("NaN saliencyMap"), like AUC_Judd.m without jitter
    assert math.isnan(auc_shuffled(torch.ones(3, 3), _fix((0, 0)), _fix((0, 1))).item())
    assert math.isnan(auc_borji(torch.ones(3, 3), _fix((0, 0), (1, 1))).item())


def test_all_aucs_lie_in_unit_interval_and_batch_equals_single():
    rng = np.random.default_rng(7)
    pred, fix = _random_case(rng, b=5)
    other = torch.tensor(rng.random(fix.shape) < 0.3)
    p, f = torch.tensor(pred), torch.tensor(fix)
    scores = [
        auc_judd(p, f),
        auc_shuffled(p, f, other, 10, generator=torch.Generator().manual_seed(0)),
        auc_borji(p, f, 10, generator=torch.Generator().manual_seed(0)),
    ]
    for s in scores:
        assert s.shape == (5,) and bool(((s >= 0) & (s <= 1)).all())
    batched = auc_judd(p, f, jitter=False)
    single = torch.stack([auc_judd(p[k], f[k], jitter=False) for k in range(5)])
    assert torch.equal(batched, single)


def test_bad_inputs_raise():
    s = torch.tensor(MAP)
    with pytest.raises(ValueError, match="same shape"):
        auc_judd(s, torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="pred"):
        auc_judd(s.long(), _fix((0, 0)))
    with pytest.raises(ValueError, match="NaN"):
        auc_borji(torch.full((3, 3), math.nan), _fix((0, 0)))
    with pytest.raises(ValueError, match="n_splits"):
        auc_shuffled(s, _fix((0, 0)), _fix((0, 1)), n_splits=0)
    with pytest.raises(ValueError, match="step"):
        auc_borji(s, _fix((0, 0)), step=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_auc_judd_exact_counts_on_large_maps_with_ties_and_plateaus(dtype):
    # maps large enough for many histogram buckets, rows of a multiple of 8 pixels (the word
    # scan of the fixations), ties between fixated pixels, plateaus and values one ulp apart
    rng = np.random.default_rng(10)
    pred = rng.random((3, 40, 64))
    pred[0] = np.round(pred[0], 2)  # many ties, also at the thresholds
    pred[1, :20] = 0.25  # a plateau holding fixations
    up = float(np.nextafter(np.float32(0.5), np.float32(1.0)))  # one float32 ulp above
    pred[2] = np.where(rng.random((40, 64)) < 0.5, 0.5, up)
    pred = torch.tensor(pred, dtype=dtype).double().numpy()
    fix = rng.random(pred.shape) < 0.02
    fix[1, 3, 5] = fix[2, 0, 0] = True
    got = auc_judd(torch.tensor(pred, dtype=dtype), torch.tensor(fix), jitter=False)
    want = [ref.auc_judd(pred[k], fix[k]) for k in range(3)]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_auc_judd_large_offset_map_stays_exact():
    # a large offset makes the bucket arithmetic lose precision: the bands widen, still exact
    rng = np.random.default_rng(11)
    pred = 1e4 + np.round(rng.random((2, 32, 48)), 3)
    fix = rng.random(pred.shape) < 0.03
    got = auc_judd(torch.tensor(pred, dtype=torch.float32), torch.tensor(fix), jitter=False)
    rounded = torch.tensor(pred, dtype=torch.float32).double().numpy()
    want = [ref.auc_judd(rounded[k], fix[k]) for k in range(2)]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_scores_do_not_depend_on_the_chunking(monkeypatch):
    from scamlib.metrics import _engine

    rng = np.random.default_rng(12)
    pred, fix = _random_case(rng, b=5, h=16, w=24, n_fix=9)
    pred = np.round(pred, 1)  # ties: the jitter matters
    other = torch.tensor(rng.random(fix.shape) < 0.3)
    p, f = torch.tensor(pred, dtype=torch.float32), torch.tensor(fix)

    def run():
        return [
            auc_judd(p, f, generator=torch.Generator().manual_seed(1)),
            auc_shuffled(p, f, other, 20, generator=torch.Generator().manual_seed(2)),
            auc_borji(p, f, 20, generator=torch.Generator().manual_seed(3)),
        ]

    whole = run()
    monkeypatch.setattr(_engine, "CHUNK_PIXELS", 2 * 16 * 24)  # two maps per chunk
    for a, b in zip(whole, run()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_auc_shuffled_mean_equals_the_exact_average_over_every_subset():
    """The expected s-AUC is the average over every K-subset of the negatives (the MIT code
    draws one uniformly per split): enumerate them all and compare with the mean of many
    splits (s-AUC draws each split's level histogram, multivariate hypergeometric)."""
    import itertools

    pred = np.array([[0.95, 0.3, 0.62, 0.05], [0.71, 0.48, 0.2, 0.84], [0.13, 0.57, 0.99, 0.0]])
    fix = np.zeros(pred.shape, dtype=bool)
    fix[0, 0] = fix[1, 1] = fix[2, 2] = True  # N = 3
    other = np.zeros(pred.shape, dtype=bool)
    other.flat[[1, 2, 3, 4, 6, 7, 9]] = True  # M = 7 candidates, K = 3
    s = ref.minmax(pred.ravel())
    subsets = itertools.combinations(np.flatnonzero(other), 3)
    exact = np.mean([ref.step_auc(s[fix.ravel()], s[list(c)], 0.1) for c in subsets])
    splits = 40000
    got = auc_shuffled(torch.tensor(pred), torch.tensor(fix), torch.tensor(other), splits,
                       generator=torch.Generator().manual_seed(0))  # fmt: skip
    # the splits' scores lie in [0, 1]: standard error <= 0.5 / sqrt(splits) = 0.0025
    assert abs(float(got) - exact) < 4 * 0.5 / splits**0.5


def test_draw_histograms_follow_the_hypergeometric_law():
    from scamlib.metrics.auc import _draw_histograms

    levels = torch.tensor([[5, 0, 3, 2], [1, 1, 1, 1], [0, 0, 0, 4]])
    k = torch.tensor([4, 2, 0])
    hist = _draw_histograms(levels, k, 20000, torch.Generator().manual_seed(1))
    assert hist.shape == (3, 20000, 4) and hist.dtype == torch.int64
    assert torch.equal(hist.sum(-1), k[:, None].expand(3, 20000))
    assert bool((hist <= levels[:, None]).all()) and not bool(hist[2].any())
    # mean of each level's count: K * M_level / M (5 standard errors of the mean)
    for row in (0, 1):
        m, kk = int(levels[row].sum()), int(k[row])
        want = kk * levels[row].double() / m
        var = kk * (levels[row] / m) * (1 - levels[row] / m) * (m - kk) / (m - 1)
        err = (hist[row].double().mean(0) - want).abs()
        assert bool((err <= 5 * (var / 20000).sqrt() + 1e-12).all()), (row, err)
    again = _draw_histograms(levels, k, 20000, torch.Generator().manual_seed(1))
    assert torch.equal(again, hist)  # the same seed, the same draws


def test_auc_judd_nearly_constant_map_is_exact():
    # a span of 1e-13 around 1: too fine for the histogram, every pixel is compared exactly
    rng = np.random.default_rng(13)
    pred = 1 + 1e-13 * np.round(rng.random((2, 16, 24)), 1)
    fix = rng.random(pred.shape) < 0.05
    fix[:, 0, 0] = True
    got = auc_judd(torch.tensor(pred), torch.tensor(fix), jitter=False)
    want = [ref.auc_judd(pred[k], fix[k]) for k in range(2)]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    jittered = auc_judd(torch.tensor(pred), torch.tensor(fix))  # the jitter dominates
    assert bool(((jittered >= 0) & (jittered <= 1)).all())
