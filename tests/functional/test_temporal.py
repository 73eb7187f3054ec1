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
