"""DAVE: shapes, one training step at both presets, audio framing, config and weight loading."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from scamlib.losses import bce_kl_loss
from scamlib.models.dave import (
    PRESETS,
    DAVEConfig,
    arrange_audio_frames,
    build,
    build_from_model_config,
)
from scamlib.models.video_backbones import R3D18


def _train_step(net: torch.nn.Module, clip: torch.Tensor, audio: torch.Tensor) -> None:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in net.parameters()]
    out = net(clip, audio)
    assert out.shape == (clip.shape[0], *clip.shape[-2:])
    assert bool(((out > 0) & (out < 1)).all())
    target = torch.rand_like(out)
    loss = bce_kl_loss(out, target)
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    opt.step()
    changed = sum(not torch.equal(a, p) for a, p in zip(before, net.parameters()))
    assert changed > 0.9 * len(before)


def test_tiny_forward_backward_step():
    torch.manual_seed(0)
    net = build("tiny")
    cfg = net.config
    steps = round(cfg.audio_seconds * 100) + 1  # 10 ms hop, centred frames
    clip = torch.rand(2, cfg.clip_len, 3, *cfg.input_size)
    _train_step(net, clip, torch.randn(2, 1, cfg.n_mels, steps))


@pytest.mark.slow
def test_paper_forward_backward_step():
    # The paper's architecture (two torchvision 3D ResNet-18 streams, 16 frames); a small frame
    # size and shorter audio frames keep the CPU test within seconds.
    torch.manual_seed(0)
    net = build("paper", n_mels=16, audio_frame_steps=16)
    assert isinstance(net.video.net, R3D18) and isinstance(net.audio.net, R3D18)
    assert net.decoder[0].in_channels == 1024 and net.decoder[0].out_channels == 512
    assert net.decoder[2][1].out_channels == 256 and net.decoder[3][1].out_channels == 64
    _train_step(net, torch.rand(1, 16, 3, 32, 32), torch.randn(1, 1, 16, 24))


def test_paper_preset_matches_paper():
    cfg = PRESETS["paper"]
    assert cfg.clip_len == 16 and cfg.input_size == (256, 320)
    assert (cfg.sample_rate, cfg.n_mels, cfg.audio_frame_steps) == (16_000, 64, 64)
    assert cfg.audio == "mel" and cfg.backbone == "r3d_18"


def test_arrange_audio_frames_against_loop():
    spec = torch.randn(2, 1, 5, 30)
    out = arrange_audio_frames(spec, 4, 12)
    assert out.shape == (2, 4, 5, 12)
    starts = [round(j * (30 - 12) / 3) for j in range(4)]
    for j, s in enumerate(starts):
        torch.testing.assert_close(out[:, j], spec[:, 0, :, s : s + 12])
    assert starts[0] == 0 and starts[-1] + 12 == 30


def test_arrange_audio_frames_too_short():
    with pytest.raises(ValueError, match="fewer than one audio frame"):
        arrange_audio_frames(torch.randn(1, 1, 4, 10), 3, 16)


def test_bad_inputs_name_the_expected_shape():
    net = build("tiny").eval()
    with pytest.raises(ValueError, match="clip_len=8"):
        net(torch.rand(1, 4, 3, 64, 80), torch.randn(1, 1, 64, 93))
    with pytest.raises(ValueError, match="n_mels"):
        net(torch.rand(1, 8, 3, 64, 80), torch.randn(1, 1, 40, 93))


def test_missing_pretrained_file_says_what_to_supply(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"r3d_18-b3b3357e\.pth.*video_weights"):
        build("paper", video_weights=str(tmp_path / "absent.pth"))
    with pytest.raises(ValueError, match="pretrained=True"):
        build_from_model_config(SimpleNamespace(preset="tiny", arch=None), pretrained=True)


def test_pretrained_file_loads(tmp_path):
    from torchvision.models.video import r3d_18

    ref = r3d_18(weights=None)
    path = tmp_path / "r3d_18.pth"
    torch.save(ref.state_dict(), path)  # torchvision's layout, fc included
    net = build("paper", video_weights=str(path))
    got = net.video.net.layer4[1].conv2[0].weight
    torch.testing.assert_close(got, ref.layer4[1].conv2[0].weight)


def test_config_round_trip_and_unknown_field():
    cfg = PRESETS["tiny"]
    assert DAVEConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(ValueError, match="unknown DAVE config field"):
        build("tiny", depth=3)
    with pytest.raises(ValueError, match="preset"):
        build("huge")


def test_create_and_run_batch():
    from scamlib.models import ModelConfig, create, create_from_config, run_batch

    net = create("dave", "tiny").eval()
    assert net.config.name == "dave" and net.arch == PRESETS["tiny"]
    again = create_from_config(ModelConfig.from_dict(net.config.to_dict()))
    assert again.arch == net.arch
    batch = {"frames": torch.rand(1, 8, 3, 32, 48), "audio": torch.randn(1, 1, 64, 93)}
    with torch.no_grad():
        assert run_batch(net, batch).shape == (1, 32, 48)
    with pytest.raises(KeyError, match="audio"):
        run_batch(net, {"frames": batch["frames"]})
