"""Audio front end against plain numpy/torch computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from scamlib.data import (
    DataError,
    audio_window,
    load_waveform,
    log_mel_spectrogram,
    log_spectrogram,
)


def test_load_mixdown_and_resample(tmp_path):
    rng = np.random.default_rng(0)
    stereo = rng.uniform(-0.5, 0.5, size=(800, 2)).astype(np.float32)
    p = tmp_path / "a.wav"
    sf.write(p, stereo, 8000, subtype="FLOAT")
    wave, rate = load_waveform(p, sample_rate=None)
    assert rate == 8000
    np.testing.assert_allclose(wave.numpy(), stereo.mean(axis=1), atol=1e-7)
    up, rate = load_waveform(p, sample_rate=16000)
    assert rate == 16000 and up.shape == (1600,)
    # a resampled sine keeps its frequency: compare with the analytic sine away from the edges
    t = np.arange(8000) / 8000
    sf.write(p, np.sin(2 * np.pi * 200 * t).astype(np.float32), 8000, subtype="FLOAT")
    up, _ = load_waveform(p, 16000)
    t2 = np.arange(16000) / 16000
    np.testing.assert_allclose(
        up[200:-200].numpy(), np.sin(2 * np.pi * 200 * t2)[200:-200], atol=2e-2
    )


def test_window_matches_naive_loop():
    wave = torch.arange(1.0, 51.0)
    rate = 10
    for center in (-1.0, 0.0, 0.55, 2.5, 4.9, 7.0):
        for seconds in (1.0, 0.3, 3.0):
            got = audio_window(wave, rate, center, seconds)
            start = round((center - seconds / 2) * rate)
            want = [
                float(wave[start + i]) if 0 <= start + i < len(wave) else 0.0
                for i in range(round(seconds * rate))
            ]
            assert got.tolist() == want


def test_log_spectrogram_matches_stft():
    x = torch.randn(2, 4000, generator=torch.Generator().manual_seed(1))
    got = log_spectrogram(x, n_fft=256, hop_length=100, win_length=200)
    win = torch.hann_window(200)
    mag = torch.stft(x, 256, 100, 200, window=win, center=True, return_complex=True).abs()
    assert got.shape == (2, 1, 129, math.floor(4000 / 100) + 1)
    torch.testing.assert_close(got[:, 0], torch.log(mag + 1e-6), atol=1e-4, rtol=1e-4)
    silent = log_spectrogram(torch.zeros(16000))
    assert silent.shape == (1, 257, 101) and torch.all(silent == math.log(1e-6))
    assert log_mel_spectrogram(torch.zeros(16000), n_mels=40).shape == (1, 40, 101)


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="waveform"):
        log_spectrogram(torch.zeros(1, 1, 100))
    with pytest.raises(ValueError, match="NaN"):
        log_spectrogram(torch.full((400,), float("nan")))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00not really a wave file")
    with pytest.raises(DataError, match=r"bad\.wav"):
        load_waveform(bad)
    with pytest.raises(DataError, match=r"missing\.wav"):
        load_waveform(tmp_path / "missing.wav")
