import numpy as np
import pytest
import torch

from scamlib.functional import sparsify, temporal_smooth

from . import reference as ref


@pytest.mark.parametrize("window", [1, 3, 5, 9])
def test_temporal_smooth_matches_reference(device, dtype, window):
    maps = torch.rand(7, 3, 4, dtype=dtype, device=device)
    out = temporal_smooth(maps, window)
    want = ref.temporal_smooth(maps.cpu().double().numpy(), window)
    np.testing.assert_allclose(out.cpu().double().numpy(), want, atol=1e-6)


def test_temporal_smooth_batched_equals_per_video():
    maps = torch.rand(3, 6, 2, 2)
    out = temporal_smooth(maps, 5)
    for b in range(3):
        torch.testing.assert_close(out[b], temporal_smooth(maps[b], 5))


def test_window_longer_than_video_averages_what_exists():
    maps = torch.rand(2, 3, 3)
    out = temporal_smooth(maps, 9)
    torch.testing.assert_close(out[0], maps.mean(0))
    torch.testing.assert_close(out[1], maps.mean(0))


@pytest.mark.parametrize("window", [0, 2, -3, 4.0])
def test_window_must_be_positive_odd(window):
    with pytest.raises(ValueError, match="window"):
        temporal_smooth(torch.rand(4, 2, 2), window)


def test_sparsify_matches_reference(device, dtype):
    maps = torch.rand(3, 5, 6, dtype=dtype, device=device) ** 3
    out = sparsify(maps, 3.0)
    for b in range(3):
        np.testing.assert_allclose(
            out[b].cpu().double().numpy(), ref.sparsify(maps[b].cpu().double().numpy(), 3.0)
        )


def test_sparsify_constant_map():
    assert torch.count_nonzero(sparsify(torch.full((1, 3, 3), 0.5), 3.0)) == 0
    assert torch.equal(sparsify(torch.full((1, 3, 3), 0.5), 1.0), torch.full((1, 3, 3), 0.5))


def test_nan_rejected():
    x = torch.rand(3, 2, 2)
    x[1, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="maps holds"):
        temporal_smooth(x)
    with pytest.raises(ValueError, match="maps holds"):
        sparsify(x)


def test_masked_smooth_matches_naive_loop():
    gen = torch.Generator().manual_seed(3)
    maps = torch.rand(2, 9, 3, 4, generator=gen, dtype=torch.float64)
    valid = torch.rand(2, 9, generator=gen) > 0.4
    out = temporal_smooth(maps, 5, valid=valid)
    for b in range(2):
        for t in range(9):
            near = [s for s in range(max(0, t - 2), min(9, t + 3)) if valid[b, s]]
            want = maps[b, near].mean(0) if near else torch.zeros(3, 4, dtype=torch.float64)
            torch.testing.assert_close(out[b, t], want)


def test_all_valid_mask_equals_unmasked():
    maps = torch.rand(6, 2, 2)
    torch.testing.assert_close(
        temporal_smooth(maps, 3, valid=torch.ones(6, dtype=torch.bool)), temporal_smooth(maps, 3)
    )


def test_mask_shape_is_checked():
    with pytest.raises(ValueError, match="valid must be a bool tensor of shape"):
        temporal_smooth(torch.rand(6, 2, 2), 3, valid=torch.ones(5, dtype=torch.bool))
