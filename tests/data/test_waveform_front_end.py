"""The raw-waveform audio front end (``spectrogram="waveform"``) of the frame datasets."""

from __future__ import annotations

import pytest
import torch

from scamlib.data import AVSaliency
from scamlib.data.audio import audio_window, load_waveform

from .conftest import TINY


def test_waveform_items_are_the_window_centred_on_the_frame(synth):
    root = synth.stavis_root
    ds = AVSaliency(
        root, "SynthAV", 1, "test", size=16, spectrogram="waveform", sample_rate=8000,
        audio_seconds=0.5,
    )  # fmt: skip
    video = ds.videos[0]
    wave, rate = load_waveform(root / "video_audio" / "SynthAV" / video / f"{video}.wav", 8000)
    for i in ds.frames_of(video)[:3]:
        k = ds.frame_index(i)
        item = ds[i]
        assert item["audio"].shape == (1, 4000)
        expected = audio_window(wave, rate, (k - 1) / TINY.fps, 0.5)
        torch.testing.assert_close(item["audio"][0], expected)


def test_unknown_front_end_is_refused(synth):
    with pytest.raises(ValueError, match="'stft', 'mel', 'waveform'"):
        AVSaliency(synth.stavis_root, "SynthAV", 1, "test", spectrogram="raw")
