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


@pytest.mark.parametrize("world", ["drawn", "photo"])
def test_ground_truth_peaks_on_the_head(synth, world, tmp_path):
    if world == "photo":  # the session's tiny set is drawn
        synth = generate(tmp_path, dataclasses.replace(SMALL, num_train=4), seed=4)
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


# ---- the photo world ---------------------------------------------------------------------------
def test_default_world_is_photographic_and_stamps_its_material(tmp_path):
    from scamlib.data import _material

    assert SyntheticConfig().style == "photo"
    assert SMALL.categories == sorted(s.name for s in _material.SOURCES[:2])
    p = generate(tmp_path, SMALL, seed=1)
    stamp = json.loads((p.root / "synthetic_config.json").read_text())
    assert stamp["material"] == _material.versions()
    assert set(stamp["material"]) == {"scikit-image", "pygame"}
    assert "missing" not in stamp["material"].values()
    drawn = json.loads(stamp_of(dataclasses.replace(SMALL, style="drawn")))
    assert "material" not in drawn  # the drawn world depends on no installed material


def stamp_of(cfg):
    from scamlib.data.synthetic import stamp

    return stamp(cfg, 0)


@pytest.mark.parametrize("mirror_seed", [0, 1, 2, 3])
def test_every_fixated_point_lies_on_its_photographed_object(mirror_seed):
    """The head (where the ground truth peaks) is a pixel of the object's cut-out, not of the
    keyed-out or feathered-away background, mirrored or not; the pasted frame shows the
    photograph's pixel there."""
    from scamlib.data import _material, _photo

    for k, src in enumerate(_material.SOURCES):
        look = _photo.PhotoLook(np.random.default_rng([mirror_seed, k]), k, r=20.0)
        pw, ph = look.size.astype(int)
        fx, fy = (int(v) for v in np.floor(look.focus_offset + look.size / 2))
        assert 0 <= fx < pw and 0 <= fy < ph, src.name
        assert look.alpha[fy, fx] > 0.99, src.name
        img = np.zeros((200, 200, 3), np.float32)
        centre = np.array([100.3, 90.8])
        look.paste(img, centre)
        x0, y0 = (int(np.floor(c)) for c in centre - look.size / 2)
        head = centre + look.focus_offset
        assert np.abs(np.floor(head) - (x0 + fx, y0 + fy)).max() <= 1
        np.testing.assert_allclose(img[y0 + fy, x0 + fx], look.patch[fy, fx], atol=1.5)


def test_pasting_clips_at_the_frame_border():
    from scamlib.data import _photo

    look = _photo.PhotoLook(np.random.default_rng(0), 0, r=20.0)
    img = np.full((40, 40, 3), 7.0, np.float32)
    look.paste(img, np.array([-5.0, 38.0]))  # mostly outside: no error, some pixels changed
    assert (img != 7.0).any() and img.shape == (40, 40, 3)
    look.paste(img, np.array([500.0, 500.0]))  # entirely outside: nothing changes


def _best_match(y: np.ndarray, rec: np.ndarray, rate: int) -> float:
    """Largest normalised correlation of the loudest 0.25 s of ``y`` with any stretch of the
    recording (looped once, for music that wraps)."""
    n = rate // 4
    energy = np.convolve(y**2, np.ones(n), "valid")
    a = int(energy.argmax())
    snip = y[a : a + n] - y[a : a + n].mean()
    ref = np.concatenate([rec, rec[:n]]).astype(np.float64)
    num = np.correlate(ref, snip, "valid")
    win = np.sqrt(np.convolve(ref**2, np.ones(n), "valid")) + 1e-12
    return float(np.max(np.abs(num) / (win * np.linalg.norm(snip))))


def test_test_videos_play_their_category_recording(tmp_path):
    import soundfile as sf

    from scamlib.data import _photo

    cfg = dataclasses.replace(SMALL, num_categories=5, num_test_videos=3, test_seconds=2)
    p = generate(tmp_path, cfg, seed=2)
    wavs = sorted((p.stavis_root / "video_audio" / "SynthAV").glob("*/*.wav"))
    assert len(wavs) == 3
    for wav in wavs:
        y, rate = sf.read(wav, dtype="float32")
        name = wav.stem.split("_")[-1]
        own = cfg.look(cfg.categories.index(name))
        scores = [_best_match(y, _photo._recording_at(k, rate), rate) for k in range(5)]
        assert scores[own] > 0.95, (name, scores)
        assert scores[own] == max(scores), (name, scores)


def test_style_validation_names_the_field():
    with pytest.raises(ValueError, match="style must be one of"):
        SyntheticConfig(style="cartoon")
    with pytest.raises(ValueError, match=r"num_categories must be an int in \[2, 6\]"):
        SyntheticConfig(num_categories=7)
    assert len(SyntheticConfig(num_categories=8, style="drawn").categories) == 8


def test_missing_material_says_what_to_install(monkeypatch):
    import importlib.util

    from scamlib.data import _material

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pygame" else real(name, *a)
    )
    _material.load.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install scikit-image pygame.*style='drawn'"):
            _material.load()
    finally:
        _material.load.cache_clear()
