"""scamlib.models.factory / batch: networks built completely from their config, one batch call."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from scamlib.models import (
    PRESETS,
    ModelConfig,
    Preset,
    create,
    create_from_config,
    model_names,
    register_batch_adapter,
    run_batch,
)
from scamlib.nn import AudioSwitch

B, C, H = 2, 4, 64


def _batch(n: int = 2, seed: int = 0, h: int = H) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        "frames": torch.randn(B, 3, 3, h, h, generator=g),
        "audio": torch.randn(B, 1, 32, 24, generator=g),
        "mg_frames": torch.randn(B, n, 3, 3, h, h, generator=g),
        "mg_audio": torch.randn(B, n, 1, 32, 24, generator=g),
    }


def test_create_stamps_the_resolved_config():
    net = create("s+", num_classes=C, cgcn_steps=2, t_d=0.5, t_r=0.25)
    cfg = net.config
    assert isinstance(cfg, ModelConfig) and cfg.name == "s+" and cfg.num_classes == C
    assert cfg.arch.steps == cfg.arch.cgcn_steps == 2
    assert cfg.overrides == {"steps": 2, "t_d": 0.5, "t_r": 0.25}
    assert net.gcn.steps == 2 and (net.gcn.refine.t_d, net.gcn.refine.t_r) == (0.5, 0.25)
    assert create("st+", num_classes=C, refine=False).gcn.refine is None
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_defaults_build_the_same_network_as_before():
    """The new fields default to what the networks had: FRL (0.8, 0.6), no switch."""
    assert PRESETS["tiny"].refine and (PRESETS["tiny"].t_d, PRESETS["tiny"].t_r) == (0.8, 0.6)
    net = create("sta+")
    assert (net.gcn.refine.t_d, net.gcn.refine.t_r) == (0.8, 0.6) and net.branch.switch is None
    assert net.config.overrides == {}


def test_create_from_config_gives_identical_networks():
    net = create("sa+", num_classes=C, switch=True, t_d=0.6)
    torch.manual_seed(0)
    again = create_from_config(net.config)
    again.load_state_dict(net.state_dict())
    assert again.config == net.config
    assert isinstance(again.branch.switch, AudioSwitch)
    net.eval(), again.eval()
    with torch.no_grad():
        a, b = run_batch(net, _batch()), run_batch(again, _batch())
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"unknown override\(s\) \['t_x'\]"):
        create("s", t_x=1)
    with pytest.raises(ValueError, match="switch=True needs a network with audio"):
        create("st", switch=True)
    with pytest.raises(ValueError, match="contradicts"):
        create("s+", steps=2, cgcn_steps=3)
    with pytest.raises(ValueError, match="name must be one of"):
        ModelConfig("nope")
    with pytest.raises(ValueError, match="unknown model config"):
        ModelConfig.from_dict({"name": "s", "arch": {"bogus": 1}})
    assert isinstance(PRESETS["paper"], Preset) and "sta+" in model_names()


@pytest.mark.parametrize("name", ["s", "st", "sa", "s+", "st+", "sa+", "sta", "sta+"])
def test_run_batch_feeds_each_network_its_inputs(name):
    torch.manual_seed(0)
    net = create(name, num_classes=C).eval()
    batch = _batch()
    frames, audio = batch["frames"], batch["audio"]
    mid, mg_mid = frames[:, 1], batch["mg_frames"][:, :, 1]
    direct = {
        "s": lambda: net(mid),
        "st": lambda: net(frames),
        "sa": lambda: net(mid, audio),
        "s+": lambda: net(mid, mg_mid),
        "st+": lambda: net(frames, batch["mg_frames"]),
        "sa+": lambda: net(mid, audio, mg_mid, batch["mg_audio"]),
        "sta": lambda: net(frames, audio),
        "sta+": lambda: net(frames, audio, batch["mg_frames"], batch["mg_audio"]),
    }[name]
    with torch.no_grad():
        got, want = run_batch(net, batch), direct()
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    assert all(torch.equal(x, y) for x, y in zip(got, want))


def test_run_batch_gates_sa_plus_with_a_given_switch_as_an_attached_one():
    """A switch passed to run_batch gates the target and every MG node; so does one attached
    through the config (the branch computes the gates itself)."""
    torch.manual_seed(0)
    attached = create("sa+", num_classes=C, switch=True).eval()
    arch = replace(attached.config.arch, switch=False)
    plain = create_from_config(replace(attached.config, arch=arch)).eval()
    plain.load_state_dict(attached.state_dict(), strict=False)
    switch = attached.branch.switch
    full = _batch(h=32)
    batch = {**full, "mg_frames": full["mg_frames"][:, :, 1]}  # S-style MG frames
    with torch.no_grad():
        a = run_batch(attached, batch)
        b = run_batch(plain, batch, switch=switch)
        c = run_batch(plain, batch)
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(b[0], c[0])


def test_run_batch_audio_switch_and_unknown_networks():
    torch.manual_seed(0)
    net = create("audio_switch").eval()
    out = run_batch(net, _batch())
    assert out.gate.shape == (B,)
    with pytest.raises(TypeError, match="does not know how to call a Linear"):
        run_batch(torch.nn.Linear(2, 2), _batch())
    with pytest.raises(KeyError, match="needs batch\\['audio'\\]"):
        run_batch(create("sa", num_classes=C), {"frames": _batch()["frames"]})
    with pytest.raises(TypeError, match=r"nn\.Module subclass"):
        register_batch_adapter(int, lambda m, b, s: None)
