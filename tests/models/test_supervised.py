"""DAVE and STAViS in the student checkpoint format (scamlib.models.supervised)."""

from __future__ import annotations

import pytest
import torch

from scamlib.models import StudentInfo, create, load_student, save_student
from scamlib.models.supervised import build_full, full_settings


@pytest.mark.parametrize(("name", "front_end"), [("dave", "mel"), ("stavis", "waveform")])
def test_checkpoint_round_trip_keeps_the_network_config(tmp_path, name, front_end):
    net = build_full(name, "tiny", 5, {"clip_len": 4})
    path = save_student(tmp_path / "m.safetensors", net, name=name, image_size=1, clip_len=9,
                        extra={"seed": 3})  # fmt: skip
    model, info = load_student(path)
    assert type(model) is type(net) and model.arch == net.arch
    assert (info.variant, info.kind, info.clip_len, info.spectrogram) == (name, None, 4, front_end)
    assert info.num_classes == 5 and info.extra == {"seed": "3"}
    assert info.dataset_kwargs["size"] == tuple(net.arch.input_size)
    assert info.dataset_kwargs["audio_seconds"] == net.arch.audio_seconds
    assert StudentInfo.from_metadata(info.to_metadata(), path) == info
    for key, value in net.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_settings_come_from_the_network_and_wrong_networks_are_refused(tmp_path):
    settings = full_settings(create("dave"), "dave")
    assert settings["clip_len"] == 8 and settings["arch"]["video_weights"] is None
    with pytest.raises(ValueError, match="expects a STAViS, got DAVE"):
        save_student(tmp_path / "x.safetensors", create("dave"), name="stavis", image_size=8)
    with pytest.raises(ValueError, match="name must be one of"):
        full_settings(create("dave"), "sta")
    with pytest.raises(ValueError, match="kind is only for 'sta\\+'"):
        StudentInfo("dave", 64, kind="short")
