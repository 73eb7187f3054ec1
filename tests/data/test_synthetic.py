"""The synthetic world: deterministic, well-formed, fixations on the head."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from scamlib.data.synthetic import SyntheticConfig, generate

SMALL = SyntheticConfig(
    num_categories=2, num_train=2, num_val=0, num_test=0, seconds=1, fps=4,
    height=32, width=32, num_test_videos=1, test_seconds=1, observers=4,
)  # fmt: skip


def test_deterministic_from_seed(tmp_path):
    a = generate(tmp_path / "a", SMALL, seed=5)
    b = generate(tmp_path / "b", SMALL, seed=5)
    c = generate(tmp_path / "c", SMALL, seed=6)
    for rel in (
        "AVE_Dataset/ground_truth/00001.npz",
        "stavis/video_frames/SynthAV/"
        + next((a.stavis_root / "video_frames/SynthAV").iterdir()).name
        + "/img_00002.jpg",
    ):
        assert (a.root / rel).read_bytes() == (b.root / rel).read_bytes()
    da = np.load(a.ground_truth / "00001.npz")["density"]
    dc = np.load(c.ground_truth / "00001.npz")["density"]
    assert not np.array_equal(da, dc)
    stamp = json.loads((a.root / "synthetic_config.json").read_text())
    assert SyntheticConfig(**{**stamp["config"], "test_datasets": tuple(
        stamp["config"]["test_datasets"])}) == SMALL  # fmt: skip


def test_ground_truth_peaks_on_the_head(synth):
    lines = (synth.ave_dir / "Annotations.txt").read_text().splitlines()
    assert lines[0] == "Category&VideoID&Quality&StartTime&EndTime"
    clips = json.loads((synth.ground_truth / "clips.json").read_text())
    assert len(clips) == len(lines) - 1
    for row in range(len(clips)):
        gt = np.load(synth.ground_truth / f"{row:05d}.npz")
        d = gt["density"]
        assert d.min() >= 0 and np.allclose(d.max(axis=(1, 2)), 1)
        peak = np.stack(np.unravel_index(d.reshape(len(d), -1).argmax(1), d.shape[1:]), 1)
        assert np.abs(peak[:, ::-1] - gt["head_xy"]).max() <= 1.5
        assert bool(gt["audio_matches"]) == (int(gt["tag"]) == int(gt["audio_tag"]))


def test_mismatched_soundtracks_exist(tmp_path):
    cfg = dataclasses.replace(SMALL, num_train=8, mismatch_fraction=1.0, test_datasets=())
    p = generate(tmp_path, cfg, seed=0)
    clips = json.loads((p.ground_truth / "clips.json").read_text())
    assert all(c["tag"] != c["audio_tag"] for c in clips)


@pytest.mark.parametrize("field", [{"num_categories": 1}, {"height": 33}, {"num_train": 0}])
def test_config_validation(field):
    with pytest.raises(ValueError, match=next(iter(field))):
        SyntheticConfig(**field)
