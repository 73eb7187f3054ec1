"""scamlib.viz: colours against closed forms and hand-worked blends, grids, and MP4 files."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from PIL import Image

from scamlib import viz


def _jet_closed_form(x: np.ndarray) -> np.ndarray:
    """MATLAB's jet as three clipped tent functions, independent of the control points."""
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    return np.stack([r, g, b], axis=-1) * 255


def test_jet_lut_matches_closed_form():
    table = viz.colormap_lut("jet", 256)
    expected = _jet_closed_form(np.linspace(0, 1, 256))
    assert table.dtype == np.uint8 and table.shape == (256, 3)
    assert np.abs(table.astype(float) - expected).max() <= 1.0


@pytest.mark.parametrize("name", viz.COLORMAPS)
def test_every_lut_is_ordered_from_dark_to_light_or_jet(name):
    table = viz.colormap_lut(name)
    assert table.shape == (256, 3)
    if name != "jet":  # inferno and gray rise in brightness from start to end
        luma = table.astype(float) @ np.array([0.299, 0.587, 0.114])
        assert np.all(np.diff(luma) >= -1.0)
        assert luma[0] < 10 and luma[-1] > 200


def test_custom_lut_and_bad_names():
    table = np.array([[0, 0, 0], [10, 20, 30]], dtype=np.uint8)
    out = viz.colorize(np.array([[0.0, 0.4], [0.6, 1.0]]), table, normalize=False)
    # 2-entry table: values round to entry 0 below 0.5 and to entry 1 above
    assert out.tolist() == [[[0, 0, 0], [0, 0, 0]], [[10, 20, 30], [10, 20, 30]]]
    with pytest.raises(ValueError, match="colormap"):
        viz.colorize(np.zeros((2, 2)), "viridis")
    with pytest.raises(ValueError, match="colormap"):
        viz.colorize(np.zeros((2, 2)), np.zeros((4, 3)))


def test_colorize_normalizes_and_constant_map_is_lowest_colour():
    lut = viz.colormap_lut("jet")
    out = viz.colorize(torch.tensor([[2.0, 4.0]]))  # min-max -> [0, 1]
    assert out.tolist() == [[lut[0].tolist(), lut[255].tolist()]]
    flat = viz.colorize(np.full((3, 3), 7.0))
    assert (flat == lut[0]).all()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        viz.colorize(np.array([[0.0, 2.0]]), normalize=False)


def test_overlay_hand_computed_pixels():
    # A 2x2 uint8 frame and a map already in [0, 1]; alpha = 0.25.
    frame = np.array(
        [[[100, 52, 200], [0, 0, 0]], [[255, 255, 255], [40, 80, 120]]], dtype=np.uint8
    )
    sal = np.array([[1.0, 0.0], [0.0, 1.0]])
    out = viz.overlay(frame, sal, alpha=0.25, colormap="jet", normalize=False)
    # jet(1) = (128, 0, 0), jet(0) = (0, 0, 128); blend = round(0.75 * frame + 0.25 * colour)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [107, 39, 150]  # 75+32, 39+0, 150+0
    assert out[0, 1].tolist() == [0, 0, 32]  # 0, 0, 0+32
    assert out[1, 0].tolist() == [191, 191, 223]  # 191.25, 191.25, 191.25+32
    assert out[1, 1].tolist() == [62, 60, 90]  # 30+32, 60, 90


def test_overlay_float_chw_equals_uint8_hwc():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    chw = torch.from_numpy(u8.astype(np.float32) / 255).permute(2, 0, 1)
    sal = rng.random((5, 7))
    assert np.array_equal(viz.overlay(u8, sal), viz.overlay(chw, sal))


def test_overlay_alpha_extremes_and_resize_keeps_corners():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    sal = np.array([[0.0, 1.0], [0.25, 0.75]])
    assert np.array_equal(viz.overlay(frame, sal, alpha=0.0), frame)
    colours = viz.overlay(frame, sal, alpha=1.0, colormap="gray", normalize=False)
    # bilinear with align_corners=False keeps each corner pixel equal to the source corner
    grey = lambda v: round(v * 255)  # noqa: E731
    assert colours[0, 0, 0] == grey(0.0) and colours[0, -1, 0] == grey(1.0)
    assert colours[-1, 0, 0] == grey(0.25) and colours[-1, -1, 0] == grey(0.75)
    # the left column goes from 0 (top) to 0.25 (bottom) monotonically
    assert np.all(np.diff(colours[:, 0, 0].astype(int)) >= 0)


def test_overlay_is_batched():
    frames = torch.rand(3, 3, 10, 12)
    maps = torch.rand(3, 4, 5)
    batched = viz.overlay(frames, maps)
    one_by_one = np.stack([viz.overlay(f, m) for f, m in zip(frames, maps)])
    assert batched.shape == (3, 10, 12, 3)
    assert np.array_equal(batched, one_by_one)


def test_overlay_errors_name_the_argument():
    frame = torch.rand(3, 4, 4)
    with pytest.raises(ValueError, match="frame"):
        viz.overlay(frame * 3 - 1, torch.rand(4, 4))  # looks ImageNet-normalised
    with pytest.raises(ValueError, match="frame"):
        viz.overlay(torch.rand(4, 4, 3), torch.rand(4, 4))  # float must be (3, H, W)
    with pytest.raises(TypeError, match="frame"):
        viz.overlay(np.zeros((4, 4, 3), dtype=np.int32), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(frame, torch.rand(4, 4), alpha=1.5)
    with pytest.raises(ValueError, match="saliency"):
        viz.overlay(frame, torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match="saliency"):
        viz.overlay(frame, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="leading axes"):
        viz.overlay(torch.rand(2, 3, 4, 4), torch.rand(3, 4, 4))


def test_comparison_grid_layout_and_png(tmp_path):
    frame = torch.rand(3, 24, 40)
    cols = {"CAM_S": torch.rand(6, 6), "SCAM": np.random.default_rng(0).random((24, 40))}
    path = tmp_path / "sub" / "grid.png"
    grid = viz.comparison_grid(frame, cols, path=path, gap=3)
    band = grid.shape[0] - 24
    assert band > 0 and grid.shape[1] == 3 * 40 + 2 * 3 and grid.dtype == np.uint8
    # tiles are the frame and the overlays, at their place under the label band
    frame_u8 = np.rint(frame.permute(1, 2, 0).numpy().astype(np.float64) * 255).astype(np.uint8)
    assert np.array_equal(grid[band:, 0:40], frame_u8)
    assert np.array_equal(grid[band:, 43:83], viz.overlay(frame, cols["CAM_S"]))
    assert np.array_equal(grid[band:, 86:126], viz.overlay(frame, cols["SCAM"]))
    # gaps are white; every label band holds some dark (text) pixels
    assert (grid[:, 40:43] == 255).all() and (grid[:, 83:86] == 255).all()
    for x0 in (0, 43, 86):
        assert (grid[:band, x0 : x0 + 40] < 128).any()
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), grid)


def test_comparison_grid_without_labels_or_frame():
    frame = np.zeros((16, 20, 3), dtype=np.uint8)
    grid = viz.comparison_grid(frame, {"a": np.eye(4)}, labels=False, gap=0)
    assert grid.shape == (16, 40, 3)
    alone = viz.comparison_grid(
        frame, {"a": np.eye(4)}, labels=False, show_frame=False, overlay_maps=False
    )
    assert np.array_equal(alone, viz.overlay(frame, np.eye(4), alpha=1.0))
    with pytest.raises(ValueError, match="nothing to draw"):
        viz.comparison_grid(frame, {}, show_frame=False)
    with pytest.raises(ValueError, match="columns"):
        viz.comparison_grid(frame, {"a": np.zeros((2, 4, 4))})


def _probe(path):
    with av.open(str(path)) as f:
        v = f.streams.video[0]
        info = {
            "rate": v.average_rate,
            "size": (v.codec_context.width, v.codec_context.height),
            "codec": v.codec_context.name,
            "audio": [(a.rate, a.codec_context.name, a.channels) for a in f.streams.audio],
        }
        decoded = [fr.to_ndarray(format="rgb24").astype(float) for fr in f.decode(video=0)]
    return info, decoded


def test_video_with_audio(tmp_path):
    t, h, w, sr = 6, 32, 48, 16000
    # smooth content, so that 4:2:0 chroma subsampling and quantisation barely change it
    ramp = torch.linspace(0, 1, w).expand(t, 3, h, w)
    frames = ramp * torch.tensor([1.0, 0.5, 0.2])[:, None, None]
    maps = torch.linspace(0, 1, 4)[:, None].expand(t, 4, 4)
    audio = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    path = viz.write_saliency_video(
        frames, maps, tmp_path / "v.mp4", fps=12, audio=audio, sample_rate=sr
    )
    info, decoded = _probe(path)
    assert len(decoded) == t
    assert info["size"] == (w, h) and info["rate"] == 12
    assert info["audio"] == [(sr, "aac", 1)]
    # lossy codec: the first decoded frame is close to the overlay it was made from
    # (mean error < 10 grey levels, far below that of the map drawn upside down)
    err = np.abs(decoded[0] - viz.overlay(frames[0], maps[0]).astype(float)).mean()
    flipped = np.abs(decoded[0] - viz.overlay(frames[0], maps[0].flip(0)).astype(float)).mean()
    assert err < 10 and flipped > 3 * err


def test_video_without_audio_odd_size_fractional_fps(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, size=(5, 17, 23, 3), dtype=np.uint8)
    stereo = np.zeros((2, 800))
    path = viz.write_saliency_video(
        frames, np.random.default_rng(1).random((5, 17, 23)), tmp_path / "a.mp4", fps=29.97
    )
    info, decoded = _probe(path)
    assert len(decoded) == 5 and info["audio"] == []
    assert info["size"] == (24, 18)  # padded to even sizes for yuv420p
    assert info["rate"] == Fraction(2997, 100)
    path2 = viz.write_saliency_video(
        frames[:2],
        np.ones((2, 4, 4)),
        tmp_path / "b.mp4",
        fps=Fraction(25),
        audio=stereo,
        sample_rate=8000,
        codec="mpeg4",
    )
    info2, decoded2 = _probe(path2)
    assert info2["codec"] == "mpeg4" and len(decoded2) == 2
    assert info2["audio"] == [(8000, "aac", 2)]


def test_video_errors(tmp_path):
    frames = torch.rand(3, 3, 8, 8)
    with pytest.raises(ValueError, match="maps"):
        viz.write_saliency_video(frames, torch.rand(2, 8, 8), tmp_path / "x.mp4", fps=10)
    with pytest.raises(ValueError, match="fps"):
        viz.write_saliency_video(frames, torch.rand(3, 8, 8), tmp_path / "x.mp4", fps=0)
    with pytest.raises(ValueError, match="sample_rate"):
        viz.write_saliency_video(
            frames, torch.rand(3, 8, 8), tmp_path / "x.mp4", fps=10, audio=np.zeros(100)
        )
    with pytest.raises(ValueError, match="without audio"):
        viz.write_saliency_video(
            frames, torch.rand(3, 8, 8), tmp_path / "x.mp4", fps=10, sample_rate=8000
        )
    with pytest.raises(ValueError, match="audio"):
        viz.write_saliency_video(
            frames,
            torch.rand(3, 8, 8),
            tmp_path / "x.mp4",
            fps=10,
            audio=np.zeros((3, 100)),
            sample_rate=8000,
        )


def test_video_falls_back_to_mpeg4_without_h264(tmp_path, monkeypatch):
    real_codec = av.codec.Codec

    def no_x264(name, mode="r"):
        if name == "libx264":
            raise av.codec.codec.UnknownCodecError(name)
        return real_codec(name, mode)

    monkeypatch.setattr(av.codec, "Codec", no_x264)
    path = viz.write_saliency_video(
        torch.rand(2, 3, 16, 16), torch.rand(2, 4, 4), tmp_path / "m.mp4", fps=5
    )
    info, decoded = _probe(path)
    assert info["codec"] == "mpeg4" and len(decoded) == 2
