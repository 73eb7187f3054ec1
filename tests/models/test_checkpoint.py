"""scamlib.models.checkpoint: student checkpoints save and restore the complete network."""

from __future__ import annotations

import json

import pytest
import torch

from scamlib.models import (
    FUSED_VARIANTS,
    STUDENT_VARIANTS,
    ModelConfig,
    StudentInfo,
    best_variant,
    create,
    load_student,
    save_student,
)
from scamlib.models.checkpoint import DEFAULT_SAMPLE_RATE

SIZE = 32  # network input side


def _student(name: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return create(name, preset="tiny", **overrides).eval()


def _inputs(n_mg: int = 0):
    g = torch.Generator().manual_seed(0)
    clip, audio = torch.randn(2, 3, 3, SIZE, SIZE, generator=g), torch.randn(2, 1, 257, 101)
    if not n_mg:
        return clip, audio
    return (
        clip,
        audio,
        torch.randn(2, n_mg, 3, 3, SIZE, SIZE, generator=g),
        torch.randn(2, n_mg, 1, 257, 101, generator=g),
    )


# ---- checkpoints -----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "kind"), [("sta", None), ("sta+", "long")])
def test_save_load_round_trip_gives_identical_outputs(tmp_path, name, kind):
    model = _student(name)
    path = save_student(
        tmp_path / "s.safetensors",
        model,
        name=name,
        kind=kind,
        image_size=SIZE,
        n_mg=2,
        cgcn_steps=3,
        extra={"seed": 7},
    )
    loaded, info = load_student(path)
    assert type(loaded) is type(model) and not loaded.training
    assert info.name == name and info.kind == kind and info.image_size == SIZE
    assert info.variant == ("sta" if kind is None else f"sta_{kind}")
    assert info.extra == {"seed": "7"} and info.version and info.path == path
    x = _inputs(0 if name == "sta" else 2)
    with torch.no_grad():
        assert torch.equal(model(*x), loaded(*x))


def test_round_trip_keeps_overrides_steps_and_refine_thresholds(tmp_path):
    from scamlib.nn import FixationRefineLayer

    torch.manual_seed(0)
    model = create("sta+", preset="tiny", steps=2, node_channels=6).eval()
    model.gcn.refine = FixationRefineLayer(t_d=0.5, t_r=0.3)  # settings, not in the state dict
    path = save_student(
        tmp_path / "x.safetensors",
        model,
        name="sta+",
        kind="short",
        image_size=SIZE,
        cgcn_steps=2,
        overrides={"node_channels": 6},
    )
    loaded, info = load_student(path)
    assert info.overrides == {"node_channels": 6} and info.cgcn_steps == 2
    assert info.refine == {"gcn": [0.5, 0.3]}
    assert loaded.gcn.steps == 2
    assert (loaded.gcn.refine.t_d, loaded.gcn.refine.t_r) == (0.5, 0.3)
    x = _inputs(2)
    with torch.no_grad():
        assert torch.equal(model(*x), loaded(*x))


def test_save_student_validates(tmp_path):
    with pytest.raises(ValueError, match="expects a STANet"):
        save_student(tmp_path / "a", _student("sta+"), name="sta", image_size=SIZE)
    with pytest.raises(ValueError, match="kind 'short' or 'long'"):
        save_student(tmp_path / "a", _student("sta+"), name="sta+", image_size=SIZE)
    with pytest.raises(ValueError, match="kind is only for"):
        save_student(tmp_path / "a", _student("sta"), name="sta", kind="long", image_size=SIZE)
    with pytest.raises(ValueError, match="name must be"):
        save_student(tmp_path / "a", _student("sta"), name="s", image_size=SIZE)
    assert not (tmp_path / "a").exists()


def test_load_student_errors_name_the_file(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors"):
        load_student(tmp_path / "nope.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.safetensors: not a readable safetensors"):
        load_student(junk)
    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(1)}, str(bare))
    with pytest.raises(ValueError, match=r"bare\.safetensors: not a scamlib student.*'format'"):
        load_student(bare)
    meta = StudentInfo("sta", SIZE).to_metadata()
    del meta["image_size"]
    partial = tmp_path / "partial.safetensors"
    save_file({"w": torch.zeros(1)}, str(partial), metadata=meta)
    with pytest.raises(ValueError, match=r"partial\.safetensors.*\['image_size'\] missing"):
        load_student(partial)
    wrong = tmp_path / "wrong.safetensors"
    state = _student("sta+").state_dict()
    save_file(
        {k: v.contiguous() for k, v in state.items()},
        str(wrong),
        metadata=StudentInfo("sta", SIZE).to_metadata(),
    )
    with pytest.raises(ValueError, match=r"wrong\.safetensors: the weights do not fit"):
        load_student(wrong)


def test_best_variant():
    assert best_variant([*STUDENT_VARIANTS, *FUSED_VARIANTS]) == "pf_final"
    assert best_variant(["sta", "sta_short"]) == "sta_short"
    with pytest.raises(ValueError):
        best_variant(["x"])


# ---- the network config travels with the checkpoint ------------------------------------------
def test_default_sample_rate_matches_the_data_layer():
    from scamlib.data.audio import DEFAULT_SAMPLE_RATE as DATA_RATE

    assert DEFAULT_SAMPLE_RATE == DATA_RATE


@pytest.mark.parametrize(
    ("name", "kind", "overrides"),
    [
        ("sta", None, {"switch": True, "hard": True}),
        ("sta+", "short", {"cgcn_steps": 2, "t_d": 0.5, "t_r": 0.3, "node_channels": 6}),
        ("sta+", "long", {"refine": False, "switch": True}),
    ],
)
def test_config_round_trip_restores_thresholds_and_switch_without_patching(
    tmp_path, name, kind, overrides
):
    model = _student(name, **overrides)
    path = save_student(tmp_path / "m.safetensors", model, name=name, kind=kind, image_size=SIZE)
    loaded, info = load_student(path)
    assert loaded.config == model.config == info.config
    assert info.build().config == model.config
    branch = loaded.branch if name == "sta+" else loaded
    assert (branch.switch is not None) == overrides.get("switch", False)
    if overrides.get("hard"):
        assert branch.switch.hard
    if name == "sta+":
        arch = model.config.arch
        assert loaded.gcn.steps == arch.steps
        if arch.refine:
            assert (loaded.gcn.refine.t_d, loaded.gcn.refine.t_r) == (arch.t_d, arch.t_r)
        else:
            assert loaded.gcn.refine is None
    x = _inputs(0 if name == "sta" else 2)
    with torch.no_grad():
        assert torch.equal(model(*x), loaded(*x))


def test_config_is_json_in_the_metadata_and_parses_back(tmp_path):
    model = _student("sta+", t_d=0.7)
    from scamlib._fs import load_checkpoint

    path = save_student(
        tmp_path / "m.safetensors", model, name="sta+", kind="long", image_size=SIZE
    )

    _state, meta = load_checkpoint(path)
    data = json.loads(meta["model_config"])
    assert data["name"] == "sta+" and data["arch"]["t_d"] == 0.7
    assert ModelConfig.from_dict(data) == model.config


def test_checkpoint_without_a_config_is_read_from_its_older_keys(tmp_path):
    """Checkpoints written before the config was recorded rebuild from preset, overrides,
    cgcn_steps, refine and switch."""
    from safetensors.torch import save_file

    model = _student("sta+", steps=2, t_d=0.5, t_r=0.3, node_channels=6)
    meta = StudentInfo(
        "sta+",
        SIZE,
        kind="short",
        cgcn_steps=2,
        overrides={"node_channels": 6},
        refine={"gcn": [0.5, 0.3]},
    ).to_metadata()
    assert "model_config" not in meta
    old = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(old), metadata=meta)
    loaded, info = load_student(old)
    assert info.config is None and loaded.config == model.config
    x = _inputs(2)
    with torch.no_grad():
        assert torch.equal(model(*x), loaded(*x))
    with pytest.raises(ValueError, match="different refine settings"):
        _ = StudentInfo("sta+", SIZE, kind="long", refine={"a": [0.5, 0.3], "b": None}).model_config


def test_info_config_must_match_its_name():
    with pytest.raises(ValueError, match="builds a 'sta' network"):
        StudentInfo("sta+", SIZE, kind="long", config=_student("sta").config)
