"""Audio switch gate, its loss and its labels (Sec. 3.3)."""

from __future__ import annotations

import math

import pytest
import torch

from scamlib.nn import AudioSwitch, switch_labels


def test_soft_and_hard_gate():
    torch.manual_seed(0)
    switch = AudioSwitch(4, 6)
    s, a = torch.randn(3, 4, 5, 5), torch.randn(3, 6)
    soft = switch(s, a)
    torch.testing.assert_close(soft.gate, torch.sigmoid(soft.logit))
    switch.hard = True
    hard = switch(s, a)
    torch.testing.assert_close(hard.gate, (soft.gate >= 0.5).float())
    hard.gate.sum().backward()  # straight-through: the soft gate's gradient reaches the params
    assert switch.head.conv.weight.grad.abs().sum() > 0


def test_switch_loss_is_bce():
    logits, labels = torch.tensor([0.0, 2.0]), torch.tensor([1, 0])
    expected = (math.log(2) + (-math.log(1 - 1 / (1 + math.exp(-2))))) / 2
    assert AudioSwitch.loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_switch_labels_mapping_forms_agree():
    pred, tags = torch.tensor([0, 3, 2, 1]), torch.tensor([5, 5, 1, 0])
    as_dict = switch_labels(pred, tags, {0: 5, 1: None, 2: 1, 3: 4})
    as_tensor = switch_labels(pred, tags, torch.tensor([5, -1, 1, 4]))
    torch.testing.assert_close(as_dict, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    torch.testing.assert_close(as_tensor, as_dict)
    # fallback: an audio-only tag classifier's prediction equals the tag
    torch.testing.assert_close(
        switch_labels(pred, torch.tensor([0, 0, 2, 2])), torch.tensor([1.0, 0.0, 1.0, 0.0])
    )


def test_switch_labels_errors():
    with pytest.raises(ValueError, match="same shape"):
        switch_labels(torch.tensor([0, 1]), torch.tensor([0]))
    with pytest.raises(TypeError, match="audio_pred"):
        switch_labels(torch.tensor([0.5]), torch.tensor([0]))
    with pytest.raises(ValueError, match="mapping"):
        switch_labels(torch.tensor([4]), torch.tensor([0]), torch.tensor([0, 1]))
