import numpy as np
import pytest
import torch

from scamlib.functional import pf_agg, pf_final

from . import reference as ref


@pytest.mark.parametrize(("op", "reference"), [(pf_final, ref.pf_final), (pf_agg, ref.pf_agg)])
def test_matches_reference(device, dtype, op, reference):
    a, b, c = (torch.rand(4, 6, 5, dtype=dtype, device=device) for _ in range(3))
    out = op(a, b, c)
    assert out.shape == (4, 6, 5) and out.dtype == dtype
    for i in range(4):
        want = reference(*(x[i].cpu().double().numpy() for x in (a, b, c)))
        np.testing.assert_allclose(out[i].cpu().double().numpy(), want, atol=1e-6)


def test_pf_final_range_and_agreement():
    a = torch.rand(2, 8, 8)
    out = pf_final(a, a, a)
    assert out.min() == 0 and out.max() == pytest.approx(1.0)
    assert pf_agg(a, a, a).max() == pytest.approx(0.25)


def test_constant_inputs_give_zero_map():
    x = torch.full((1, 3, 3), 0.4)
    assert torch.count_nonzero(pf_final(x, x, x)) == 0


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(
        ValueError, match=r"a and c must have the same shape, got \(1, 3, 3\) and \(1, 3, 4\)"
    ):
        pf_final(torch.rand(1, 3, 3), torch.rand(1, 3, 3), torch.rand(1, 3, 4))


def test_pf_final_is_differentiable():
    inputs = tuple(torch.rand(2, 4, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(pf_final, inputs)
