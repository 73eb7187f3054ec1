"""CAMHead (Eq. 1), the saliency decoder (Eq. 16) and the read-out (Eq. 19)."""

from __future__ import annotations

import pytest
import torch

from scamlib.nn import CAMHead, ReadOut, SaliencyDecoder


def test_camhead_equals_linear_classifier_on_pooled_features():
    head = CAMHead(6, 4)
    x = torch.randn(2, 6, 5, 3)
    logits, maps = head(x)
    w, b = head.conv.weight[:, :, 0, 0], head.conv.bias
    torch.testing.assert_close(logits, x.mean((2, 3)) @ w.T + b)  # GAP then FC == Eq. 1
    torch.testing.assert_close(maps, torch.einsum("bchw,kc->bkhw", x, w) + b[:, None, None])
    with pytest.raises(ValueError, match="6 channels"):
        head(torch.randn(2, 5, 3, 3))


def test_decoder_and_readout_shapes_and_grads():
    dec = SaliencyDecoder(16, (4, 8, 16), width=8)
    sides = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4), torch.randn(2, 16, 2, 2)]
    sta = torch.randn(2, 16, 2, 2, requires_grad=True)
    out = dec(sta, sides, (20, 24))
    assert out.shape == (2, 1, 20, 24)
    out.sum().backward()
    assert sta.grad.abs().sum() > 0
    ro = ReadOut(5, 7, width=8)
    assert ro(torch.randn(2, 5, 4, 4), torch.randn(2, 7, 4, 4), 16).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="sides"):
        dec(sta, sides[:2], 16)
