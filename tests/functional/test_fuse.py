"""The fusion ops of STANet+ Eqs. 5, 6 and 15 against the formulas written out in the test."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scamlib.functional import apply_gate, sa_fuse, st_fuse, sta_fuse, temporal_feature
from scamlib.nn import SAFuse, STAFuse, STFuse


def _deconv(a, size):
    return a.sum(1)[:, None, None, None].expand(a.shape[0], 2, *size)


def test_sa_fuse_formula_and_switch():
    s, a = torch.randn(2, 2, 3, 3), torch.randn(2, 4)
    gate = torch.tensor([0.5, 0.0])
    att = torch.sigmoid(_deconv(a * gate[:, None], (3, 3)))
    want = torch.cat([F.relu(att * s + s), s], dim=1)
    torch.testing.assert_close(sa_fuse(s, a, _deconv, gate), want)
    torch.testing.assert_close(apply_gate(a, None), a)


def test_st_fuse_averages_time_and_resizes():
    s, v = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 3, 2, 2)
    vm = F.interpolate(v.mean(2), size=(4, 4), mode="bilinear", align_corners=False)
    torch.testing.assert_close(temporal_feature(v, s), vm)
    want = torch.cat([F.relu(torch.sigmoid(vm) * s + s), s], dim=1)
    torch.testing.assert_close(st_fuse(s, v), want)


def test_modules_are_one_call_to_their_op():
    torch.manual_seed(0)
    s, v, a = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 2, 4, 4), torch.randn(2, 6)
    gate = torch.tensor([1.0, 0.2])
    sa = SAFuse(3, 6)
    torch.testing.assert_close(sa(s, a, gate), sa_fuse(s, a, sa.deconv, gate))
    stm = STFuse(3, 5)
    torch.testing.assert_close(stm(s, v), st_fuse(s, v, stm.proj))
    sta = STAFuse(3, 6, temporal_channels=5)
    want = sta_fuse(s, v, a, sta.deconv, sta.conv.weight, sta.conv.bias, gate, sta.st.proj)
    torch.testing.assert_close(sta(s, v, a, gate), want)
