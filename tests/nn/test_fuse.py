"""SA / ST / STA fusion (Eqs. 5, 6, 15) against the formulas written out in the test."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scamlib.nn import AudioDeconv, SAFuse, STAFuse, STFuse, apply_gate


@pytest.mark.parametrize("size", [(4, 4), (5, 7), (16, 16)])
def test_audio_deconv_any_size(size):
    assert AudioDeconv(6, 3, num_upsample=2)(torch.rand(2, 6), size).shape == (2, 3, *size)


def test_safuse_formula_and_gate():
    torch.manual_seed(0)
    fuse = SAFuse(3, 5)
    s, a = torch.randn(2, 3, 4, 4), torch.randn(2, 5)
    gate = torch.tensor([0.3, 1.0])
    out = fuse(s, a, gate)
    att = torch.sigmoid(fuse.deconv(a * gate[:, None], (4, 4)))
    expected = torch.cat([torch.relu(att * s + s), s], dim=1)
    torch.testing.assert_close(out, expected)
    # g = 0 switches the audio off: the output no longer depends on a.
    zero = torch.zeros(2)
    torch.testing.assert_close(fuse(s, a, zero), fuse(s, torch.randn(2, 5), zero))
    torch.testing.assert_close(fuse(s, a), fuse(s, a, torch.ones(2)))


def test_stfuse_formula_time_mean_and_projection():
    s, v = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 2, 4, 4)
    vm = v.mean(2)
    expected = torch.cat([torch.relu(torch.sigmoid(vm) * s + s), s], dim=1)
    torch.testing.assert_close(STFuse(3)(s, v), expected)
    torch.testing.assert_close(STFuse(3)(s, vm), expected)
    assert len(list(STFuse(3).parameters())) == 0
    proj = STFuse(3, temporal_channels=6)
    assert proj(s, torch.randn(2, 6, 1, 2, 2)).shape == (2, 6, 4, 4)


def test_stafuse_formula():
    torch.manual_seed(0)
    fuse = STAFuse(3, 5)
    s, v, a = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 1, 4, 4), torch.randn(2, 5)
    audio = torch.sigmoid(fuse.deconv(a, (4, 4))) * s + s
    temporal = torch.sigmoid(v[:, :, 0]) * s + s
    expected = F.relu(fuse.conv(torch.cat([audio, temporal], 1)))
    torch.testing.assert_close(fuse(s, v, a), expected)


def test_fusion_errors_name_argument():
    with pytest.raises(ValueError, match="s must have 3 channels"):
        SAFuse(3, 5)(torch.randn(2, 4, 4, 4), torch.randn(2, 5))
    with pytest.raises(ValueError, match="a must have"):
        SAFuse(3, 5)(torch.randn(2, 3, 4, 4), torch.randn(2, 6))
    with pytest.raises(ValueError, match="gate"):
        apply_gate(torch.randn(2, 5), torch.ones(3))
    with pytest.raises(ValueError, match="v must"):
        STFuse(3)(torch.randn(2, 3, 4, 4), torch.randn(2, 4, 1, 4, 4))
