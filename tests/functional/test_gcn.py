"""The C-GCN ops (STANet+ Eqs. 9-14) against the module and a plain loop written in the test."""

from __future__ import annotations

import pytest
import torch

from scamlib.functional import conservative_gcn, fixation_refine, gcn_messages
from scamlib.nn import ConservativeGCN, FixationRefineLayer


def test_frl_five_dim_equals_flattened_and_keeps_high_region():
    h = torch.rand(2, 3, 4, 5, 5)
    out5 = fixation_refine(h)
    out4 = fixation_refine(h.flatten(0, 1)).view_as(h)
    torch.testing.assert_close(out5, out4)
    # where cm >= T_d * max the factor is sigmoid(cm); t_r = 1 makes the mask irrelevant.
    cm = h.mean(2, keepdim=True)
    torch.testing.assert_close(fixation_refine(h, t_r=1.0), 0.5 * (h * torch.sigmoid(cm) + h))


def test_frl_module_is_one_call_to_the_op():
    h = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(FixationRefineLayer(0.7, 0.3)(h), fixation_refine(h, 0.7, 0.3))


@pytest.mark.parametrize("refine", [True, False])
def test_module_equals_op_with_its_parameters(refine):
    torch.manual_seed(0)
    gcn = ConservativeGCN(4, steps=2, refine=refine, proj_channels=3)
    target, mg = torch.randn(2, 4, 3, 5), torch.randn(2, 2, 4, 3, 5)
    want = gcn(target, mg)
    got = conservative_gcn(
        target, mg, gcn.proj.weight, gcn.proj.bias, steps=2,
        refine=fixation_refine if refine else None,
    )  # fmt: skip
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


def test_two_dim_projection_weight_equals_conv_weight():
    target, mg = torch.randn(1, 3, 2, 2), torch.randn(1, 1, 3, 2, 2)
    w = torch.randn(3, 3)
    a = conservative_gcn(target, mg, w, steps=1)
    b = conservative_gcn(target, mg, w[:, :, None, None], steps=1)
    torch.testing.assert_close(a[0], b[0])


def test_messages_of_a_single_node_are_zero_and_loop_agrees():
    v = torch.randn(2, 1, 3, 2, 2)
    assert torch.equal(gcn_messages(torch.randn(2, 1, 4, 2, 2), v), torch.zeros_like(v))
    keys, values = torch.randn(1, 3, 2, 2, 3), torch.randn(1, 3, 4, 2, 3)
    out = gcn_messages(keys, values)
    k, v = keys.flatten(3)[0], values.flatten(3)[0]
    for i in range(3):
        want = sum(v[j] @ (k[i].T @ k[j]).softmax(dim=1).T for j in range(3) if j != i)
        torch.testing.assert_close(out[0, i], want.view(4, 2, 3))
