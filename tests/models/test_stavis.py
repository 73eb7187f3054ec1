"""STAViS: localisation variants against per-pixel loops, DSAM (Eqs. 1-2), fusion variants,
one training step at both presets, config and weight loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from scamlib.losses import stavis_loss
from scamlib.models.audio import SoundNet8
from scamlib.models.stavis import (
    DSAM,
    FUSIONS,
    LOCALIZATIONS,
    PRESETS,
    STAViSConfig,
    bilinear_localization,
    build,
    cosine_localization,
    inner_product_localization,
    soundnet7_steps,
)

B, D, X, Y, J = 2, 5, 3, 4, 3


@pytest.fixture
def feats():
    g = torch.Generator().manual_seed(0)
    return torch.randn(B, D, X, Y, generator=g), torch.randn(B, D, generator=g)


def test_cosine_against_loop(feats):
    hv, ha = feats
    out = cosine_localization(hv, ha)
    assert out.shape == (B, 1, X, Y)
    for b in range(B):
        a = ha[b].numpy()
        for x in range(X):
            for y in range(Y):
                v = hv[b, :, x, y].numpy()
                want = float(v @ a / (np.linalg.norm(v) * np.linalg.norm(a)))
                assert float(out[b, 0, x, y]) == pytest.approx(want, abs=1e-5)


def test_inner_product_against_loop(feats):
    hv, ha = feats
    s, beta = torch.randn(J, D), torch.randn(J)
    out = inner_product_localization(hv, ha, s, beta)
    assert out.shape == (B, J, X, Y)
    for b in range(B):
        for j in range(J):
            for x in range(X):
                for y in range(Y):
                    want = sum(float(s[j, k] * hv[b, k, x, y] * ha[b, k]) for k in range(D))
                    assert float(out[b, j, x, y]) == pytest.approx(want + float(beta[j]), abs=1e-4)


def test_bilinear_against_loop(feats):
    hv, ha = feats
    m, mu = torch.randn(J, D, D), torch.randn(J)
    out = bilinear_localization(hv, ha, m, mu)
    assert out.shape == (B, J, X, Y)
    for b in range(B):
        for j in range(J):
            for x in range(X):
                for y in range(Y):
                    want = float(mu[j])
                    for l in range(D):  # the paper's index l
                        for k in range(D):
                            want += float(m[j, l, k] * hv[b, l, x, y] * ha[b, k])
                    assert float(out[b, j, x, y]) == pytest.approx(want, abs=1e-4)


def test_bilinear_special_cases(feats):
    # Sec. 3.3: a diagonal M gives L2; the identity gives the unnormalised cosine.
    hv, ha = feats
    s, beta = torch.randn(J, D), torch.randn(J)
    diag = torch.diag_embed(s)
    torch.testing.assert_close(
        bilinear_localization(hv, ha, diag, beta), inner_product_localization(hv, ha, s, beta)
    )
    dot = bilinear_localization(hv, ha, torch.eye(D)[None], torch.zeros(1))
    norms = hv.norm(dim=1, keepdim=True) * ha.norm(dim=1)[:, None, None, None]
    torch.testing.assert_close(dot / norms, cosine_localization(hv, ha))


def test_localization_shape_errors(feats):
    hv, ha = feats
    with pytest.raises(ValueError, match="ha must have shape"):
        cosine_localization(hv, ha[:, :2])
    with pytest.raises(ValueError, match="m must be"):
        bilinear_localization(hv, ha, torch.randn(J, D, D + 1), torch.zeros(J))


def test_dsam_equations():
    torch.manual_seed(0)
    dsam = DSAM(6, 4, stride=2)
    x = torch.randn(2, 6, 3, 5, 7)
    out, s_up, a_up = dsam(x, (10, 14))
    # Eq. 2 from the module's own A^m, then Eq. 1, by hand
    s = torch.relu(dsam.features(x.mean(2)))
    a = dsam.activation(s)[:, 0]
    e = torch.exp(a - a.amax(dim=(-2, -1), keepdim=True))
    m = e / e.sum(dim=(-2, -1), keepdim=True)
    torch.testing.assert_close(out, (1 + m[:, None, None]) * x)
    assert s_up.shape == (2, 4, 10, 14) and a_up.shape == (2, 1, 10, 14)


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("localization", LOCALIZATIONS)
def test_variants_forward(fusion, localization):
    torch.manual_seed(0)
    net = build("tiny", fusion=fusion, localization=localization).eval()
    with torch.no_grad():
        out = net.outputs(torch.rand(1, 8, 3, 32, 32), torch.randn(1, 1, 14112))
    assert out.av.shape == out.visual.shape == out.audio.shape == (1, 32, 32)
    assert out.sides.shape == (1, 4, 32, 32)
    assert bool(torch.isfinite(out.av).all())
    if fusion == "modulation":  # s(S^v) (1 + s(S^a)) lies in (0, 2)
        assert bool(((out.av > 0) & (out.av < 2)).all())


def _train_step(net, clip, audio, deep_supervision: bool) -> None:
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    before = [p.detach().clone() for p in net.parameters()]
    out = net.outputs(clip, audio)
    pred = torch.sigmoid(out.visual if deep_supervision else out.av)
    assert pred.shape == (clip.shape[0], *clip.shape[-2:])
    density = torch.rand_like(pred)
    fixations = density > 0.9
    sides = torch.sigmoid(out.sides) if deep_supervision else None
    loss = stavis_loss(pred, density, fixations, sides)
    loss.backward()
    opt.step()
    changed = sum(not torch.equal(a, p) for a, p in zip(before, net.parameters()))
    assert changed > 0.5 * len(before)
    assert bool(torch.isfinite(loss))


def test_tiny_forward_backward_step():
    torch.manual_seed(0)
    net = build("tiny")
    cfg = net.config
    clip = torch.rand(2, cfg.clip_len, 3, 32, 32)  # any size divisible by 16 works
    audio = torch.randn(2, 1, round(cfg.audio_seconds * cfg.sample_rate))
    _train_step(net, clip, audio, deep_supervision=True)  # Eq. 6
    _train_step(net, clip, audio, deep_supervision=False)  # Eq. 7
    out = net(clip, audio)
    assert out.shape == (2, 32, 32) and bool(((out > 0) & (out < 1)).all())


@pytest.mark.slow
def test_paper_forward_backward_step():
    # The paper's architecture (3D ResNet-50 to conv4, full SoundNet conv1-7, 16 frames) on
    # 32 x 32 frames, the smallest size that keeps X^4 2 x 2.
    torch.manual_seed(0)
    net = build("paper")
    assert net.backbone.channels == (64, 256, 512, 1024)
    assert isinstance(net.audio_net[0], torch.nn.Conv1d) and net.audio_net[0].out_channels == 16
    _train_step(net, torch.rand(1, 16, 3, 32, 32), torch.randn(1, 1, 14112), False)


def test_paper_preset_matches_paper():
    cfg = PRESETS["paper"]
    assert cfg.clip_len == 16 and cfg.input_size == (112, 112)
    assert (cfg.block, cfg.blocks, cfg.widths) == ("bottleneck", (3, 4, 6), (64, 128, 256))
    assert (cfg.localization, cfg.fusion, cfg.audio) == ("bilinear", "concat", "waveform")


def test_audio_path_hanning_and_max_pool():
    net = build("tiny").eval()
    wave = torch.randn(1, 1, 14112)
    window = torch.hann_window(14112, periodic=False)
    want = net.audio_net(wave * window).amax(dim=-1)
    torch.testing.assert_close(net.audio_features(wave), want)
    assert soundnet7_steps(14112) == net.audio_net(wave).shape[-1]
    with pytest.raises(ValueError, match="long enough"):
        net.audio_features(torch.randn(1, 1, 2000))


def test_bad_clip_length():
    with pytest.raises(ValueError, match="clip_len=8"):
        build("tiny")(torch.rand(1, 4, 3, 32, 32), torch.randn(1, 1, 14112))


def test_missing_pretrained_files_say_what_to_supply(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Kinetics-400 3D ResNet-50.*video_weights"):
        build("tiny", video_weights=str(tmp_path / "r50.pth"))
    with pytest.raises(FileNotFoundError, match=r"sound8\.npy.*audio_weights"):
        build("tiny", audio_width=1.0, audio_weights=str(tmp_path / "sound8.npy"))


def test_pretrained_resnet_checkpoint_loads(tmp_path):
    ref = build("tiny")
    state = {f"module.{k}": v for k, v in ref.backbone.state_dict().items()}
    state["module.fc.weight"] = torch.zeros(3, 3)
    path = tmp_path / "r3d.pth"
    torch.save({"state_dict": state}, path)
    net = build("tiny", video_weights=str(path))
    torch.testing.assert_close(net.backbone.conv1.weight, ref.backbone.conv1.weight)


def test_soundnet_layers_are_scamlib_soundnet8():
    paper = build("paper", blocks=(1, 1, 1), widths=(8, 8, 8), stem_channels=8)
    ref = SoundNet8()
    assert [type(m) for m in paper.audio_net] == [type(m) for m in ref.layers]


def test_config_round_trip_and_errors():
    cfg = PRESETS["tiny"]
    assert STAViSConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(ValueError, match="fusion must be one of"):
        build("tiny", fusion="gated")
    with pytest.raises(ValueError, match="localization must be one of"):
        build("tiny", localization="dot")


def test_create_and_run_batch():
    from scamlib.models import create, run_batch

    net = create("stavis", "tiny").eval()
    assert net.config.name == "stavis" and net.arch == PRESETS["tiny"]
    batch = {"frames": torch.rand(1, 8, 3, 32, 32), "audio": torch.randn(1, 1, 14112)}
    with torch.no_grad():
        assert run_batch(net, batch).shape == (1, 32, 32)
