import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scamlib.functional import minmax

from . import reference as ref


def test_matches_per_map_loop(device, dtype):
    x = torch.randn(3, 4, 5, 6, dtype=dtype, device=device) * 7 + 2
    x[1, 2] = 3.0  # one constant map among random ones
    out = minmax(x).cpu().double().numpy()
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(
                out[i, j], ref.minmax(x[i, j].cpu().double().numpy()), atol=1e-6
            )
    assert out.dtype == np.float64 and minmax(x).dtype == dtype


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (2, 3, 4), elements=st.floats(-1e6, 1e6)))
def test_range_is_unit_interval_or_zero(values):
    out, valid = minmax(torch.from_numpy(values), return_valid=True)
    for i in range(2):
        if valid[i]:
            assert out[i].min() == 0 and out[i].max() == pytest.approx(1.0)
        else:
            assert torch.count_nonzero(out[i]) == 0


def test_constant_map_gives_zeros_and_reports_it():
    out, valid = minmax(torch.full((2, 3, 3), 4.0), return_valid=True)
    assert torch.equal(out, torch.zeros(2, 3, 3))
    assert valid.tolist() == [False, False]


def test_custom_dims_normalise_over_those_axes_only():
    x = torch.tensor([[1.0, 3.0], [10.0, 30.0]])
    assert torch.allclose(minmax(x, dims=1), torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert torch.allclose(minmax(x, dims=0), torch.tensor([[0.0, 0.0], [1.0, 1.0]]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_raises(bad):
    x = torch.rand(2, 3, 3)
    x[1, 0, 0] = bad
    with pytest.raises(ValueError, match="NaN/Inf"):
        minmax(x)


def test_integer_input_raises():
    with pytest.raises(TypeError, match="floating-point"):
        minmax(torch.ones(2, 2, dtype=torch.long))


def test_gradient_flows():
    x = torch.rand(2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(minmax, (x,))
