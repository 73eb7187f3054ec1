"""Pictures of saliency: heat-map overlays, comparison grids and saliency videos.

Everything here turns maps into ``uint8`` RGB arrays with numpy (colour look-up tables defined
by a few control points and interpolated), Pillow (labels, PNG files) and PyAV (MP4 files). No
plotting library is needed.

Conventions shared by every function:

* A *frame* is either a float array/tensor ``(..., 3, H, W)`` with values in ``[0, 1]`` (the
  layout models consume, before ImageNet normalisation) or a ``uint8`` array ``(..., H, W, 3)``
  (the layout image and video files decode to). Leading axes are a batch.
* A *saliency map* is ``(..., h, w)`` of any real dtype and any size; it is resized bilinearly to
  the frame. With ``normalize=True`` (the default) each map is min-max normalised first
  (:func:`scamlib.functional.minmax`, so a constant map is drawn as all zeros); with
  ``normalize=False`` its values must already lie in ``[0, 1]``.
* Outputs are ``uint8`` arrays ``(..., H, W, 3)``, ready for :meth:`PIL.Image.fromarray`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from ._fs import atomic_path
from .functional import minmax

__all__ = [
    "COLORMAPS",
    "colorize",
    "colormap_lut",
    "comparison_grid",
    "overlay",
    "write_saliency_video",
]

# Control points (position in [0, 1], RGB in [0, 1]) of the colour maps; the look-up table is
# their piecewise-linear interpolation. "jet" is MATLAB's jet exactly; "inferno" follows
# matplotlib's perceptually uniform map through eight of its colours (an approximation).
_CONTROL_POINTS: dict[str, tuple[tuple[float, tuple[float, float, float]], ...]] = {
    "jet": (
        (0.0, (0.0, 0.0, 0.5)),
        (0.125, (0.0, 0.0, 1.0)),
        (0.375, (0.0, 1.0, 1.0)),
        (0.625, (1.0, 1.0, 0.0)),
        (0.875, (1.0, 0.0, 0.0)),
        (1.0, (0.5, 0.0, 0.0)),
    ),
    "inferno": (
        (0.0, (0.0, 0.0, 4 / 255)),
        (1 / 7, (40 / 255, 11 / 255, 84 / 255)),
        (2 / 7, (101 / 255, 21 / 255, 110 / 255)),
        (3 / 7, (159 / 255, 42 / 255, 99 / 255)),
        (4 / 7, (212 / 255, 72 / 255, 66 / 255)),
        (5 / 7, (245 / 255, 125 / 255, 21 / 255)),
        (6 / 7, (250 / 255, 193 / 255, 39 / 255)),
        (1.0, (252 / 255, 255 / 255, 164 / 255)),
    ),
    "gray": ((0.0, (0.0, 0.0, 0.0)), (1.0, (1.0, 1.0, 1.0))),
}

#: Names accepted by every ``colormap`` argument.
COLORMAPS: tuple[str, ...] = tuple(_CONTROL_POINTS)

_VIDEO_CHUNK = 32  # frames overlaid at once by write_saliency_video (bounds memory on long clips)


def colormap_lut(colormap: str | np.ndarray = "jet", n: int = 256) -> np.ndarray:
    """Colour look-up table of a named colour map: ``n`` RGB colours from low to high.

    Args:
        colormap: one of :data:`COLORMAPS` (``"jet"``, ``"inferno"``, ``"gray"``), or an
            ``(n, 3)`` ``uint8`` array, returned unchanged (your own table).
        n: number of entries, at least 2.

    Returns:
        ``(n, 3)`` ``uint8`` array; entry ``i`` is the colour of the value ``i / (n - 1)``.

    Raises:
        ValueError: unknown name, ``n < 2``, or a custom table that is not ``(n, 3)`` ``uint8``.

    Example:
        >>> colormap_lut("jet", 5).tolist()
        [[0, 0, 128], [0, 128, 255], [128, 255, 128], [255, 128, 0], [128, 0, 0]]
    """
    if isinstance(colormap, np.ndarray):
        if colormap.dtype != np.uint8 or colormap.ndim != 2 or colormap.shape[1] != 3:
            raise ValueError(
                "colormap as an array must be a (n, 3) uint8 table, "
                f"got {colormap.dtype} array of shape {colormap.shape}"
            )
        if colormap.shape[0] < 2:
            raise ValueError(f"colormap table needs at least 2 colours, got {colormap.shape[0]}")
        return colormap
    if colormap not in _CONTROL_POINTS:
        raise ValueError(f"colormap must be one of {COLORMAPS} or a table, got {colormap!r}")
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    points = _CONTROL_POINTS[colormap]
    xp = np.array([p for p, _ in points])
    rgb = np.array([c for _, c in points])  # (k, 3)
    x = np.linspace(0.0, 1.0, n)
    table = np.stack([np.interp(x, xp, rgb[:, ch]) for ch in range(3)], axis=-1)
    return np.rint(table * 255.0).astype(np.uint8)


def _as_tensor(x: object, name: str) -> Tensor:
    """A numpy array or tensor of real numbers as a float64 CPU tensor (finite values only)."""
    if isinstance(x, np.ndarray):
        if x.dtype == np.bool_ or not (
            np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
        ):
            raise TypeError(f"{name} must hold real numbers, got numpy dtype {x.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        t = x.detach()
    else:
        raise TypeError(f"{name} must be a numpy array or torch.Tensor, got {type(x).__name__}")
    t = t.to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} holds NaN/Inf values; expected finite values")
    return t


def _unit_maps(saliency: object, normalize: bool, name: str = "saliency") -> Tensor:
    """``(..., h, w)`` float64 maps in ``[0, 1]``: min-max normalised, or checked to be so."""
    s = _as_tensor(saliency, name)
    if s.ndim < 2:
        raise ValueError(f"{name} must have shape (..., h, w), got {tuple(s.shape)}")
    if s.shape[-2] == 0 or s.shape[-1] == 0:
        raise ValueError(f"{name} must have non-empty spatial axes, got {tuple(s.shape)}")
    if normalize:
        return minmax(s)
    if s.numel() and (float(s.min()) < 0.0 or float(s.max()) > 1.0):
        raise ValueError(
            f"{name} must lie in [0, 1] when normalize=False, got values in "
            f"[{float(s.min()):.4g}, {float(s.max()):.4g}]"
        )
    return s


def _resize(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize (``align_corners=False``) of ``(..., h, w)`` maps to ``size``."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    flat = maps.reshape(-1, 1, *maps.shape[-2:])
    flat = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
    return flat.reshape(*maps.shape[:-2], *size)


def _lookup(unit: Tensor, colormap: str | np.ndarray) -> np.ndarray:
    """Colours of values in ``[0, 1]``: ``(...)`` float tensor -> ``(..., 3)`` uint8 array."""
    table = colormap_lut(colormap)
    idx = np.rint(unit.clamp(0.0, 1.0).numpy() * (table.shape[0] - 1)).astype(np.intp)
    return table[idx]


def colorize(
    saliency: np.ndarray | Tensor, colormap: str | np.ndarray = "jet", *, normalize: bool = True
) -> np.ndarray:
    """Colour a saliency map with a colour map (no frame underneath).

    Args:
        saliency: ``(..., h, w)`` map(s), numpy array or tensor of any real dtype.
        colormap: a name from :data:`COLORMAPS` or an ``(n, 3)`` ``uint8`` table.
        normalize: min-max normalise each map first (a constant map becomes the lowest
            colour); with ``False`` values must lie in ``[0, 1]``.

    Returns:
        ``(..., h, w, 3)`` ``uint8`` RGB array; value ``v`` gets entry ``round(v * (n - 1))``
        of the table.

    Raises:
        TypeError: not an array/tensor of real numbers.
        ValueError: fewer than 2 axes, NaN/Inf, or values outside ``[0, 1]`` with
            ``normalize=False``.

    Example:
        >>> colorize(torch.tensor([[0.0, 1.0]]), "gray").tolist()
        [[[0, 0, 0], [255, 255, 255]]]
    """
    return _lookup(_unit_maps(saliency, normalize), colormap)


def _frames_hwc(frame: object, name: str = "frame") -> np.ndarray:
    """Frames as float64 ``(..., H, W, 3)`` of integers in ``[0, 255]`` from either layout."""
    if isinstance(frame, Tensor):
        frame = frame.detach().cpu().numpy()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch.Tensor, got {type(frame).__name__}")
    if frame.dtype == np.uint8:
        if frame.ndim < 3 or frame.shape[-1] != 3:
            raise ValueError(f"{name} as uint8 must have shape (..., H, W, 3), got {frame.shape}")
        return frame.astype(np.float64)
    if not np.issubdtype(frame.dtype, np.floating):
        raise TypeError(
            f"{name} must be uint8 (..., H, W, 3) or float (..., 3, H, W), got dtype {frame.dtype}"
        )
    if frame.ndim < 3 or frame.shape[-3] != 3:
        raise ValueError(f"{name} as float must have shape (..., 3, H, W), got {frame.shape}")
    if not np.isfinite(frame).all():
        raise ValueError(f"{name} holds NaN/Inf values; expected finite values")
    if frame.size and (frame.min() < 0.0 or frame.max() > 1.0):
        raise ValueError(
            f"{name} as float must lie in [0, 1] (undo ImageNet normalisation first), got values "
            f"in [{float(frame.min()):.4g}, {float(frame.max()):.4g}]"
        )
    # quantise to 8 bits first, so a float frame blends exactly like its uint8 twin
    return np.rint(np.moveaxis(frame.astype(np.float64), -3, -1) * 255.0)


def _overlay_hwc(
    frames: np.ndarray,
    saliency: object,
    alpha: float,
    colormap: str | np.ndarray,
    normalize: bool,
) -> np.ndarray:
    """Blend maps onto float ``(..., H, W, 3)`` frames in ``[0, 255]``; returns uint8."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    unit = _unit_maps(saliency, normalize)
    lead, (h_out, w_out) = frames.shape[:-3], frames.shape[-3:-1]
    if tuple(unit.shape[:-2]) != tuple(lead):
        raise ValueError(
            f"saliency leading axes {tuple(unit.shape[:-2])} must match the frame's {tuple(lead)}"
        )
    unit = _resize(unit, (h_out, w_out))
    colours = _lookup(unit, colormap).astype(np.float64)
    blended = (1.0 - alpha) * frames + alpha * colours
    return np.rint(blended).clip(0, 255).astype(np.uint8)


def overlay(
    frame: np.ndarray | Tensor,
    saliency: np.ndarray | Tensor,
    alpha: float = 0.5,
    colormap: str | np.ndarray = "jet",
    *,
    normalize: bool = True,
) -> np.ndarray:
    """Draw a saliency heat map over a frame: ``round((1 - alpha) * frame + alpha * colour)``.

    The map is normalised (see ``normalize``), resized to the frame with bilinear interpolation
    (``align_corners=False``), coloured with ``colormap`` and alpha-blended with the frame in
    8-bit RGB. Batched over any leading axes.

    Args:
        frame: float ``(..., 3, H, W)`` in ``[0, 1]`` or ``uint8`` ``(..., H, W, 3)``.
        saliency: ``(..., h, w)`` map(s) of any size, leading axes equal to the frame's.
        alpha: weight of the heat-map colour, in ``[0, 1]`` (``0``: the frame, ``1``: the
            colour-mapped saliency alone).
        colormap: a name from :data:`COLORMAPS` or an ``(n, 3)`` ``uint8`` table.
        normalize: min-max normalise each map first; with ``False`` values must lie in
            ``[0, 1]``.

    Returns:
        ``(..., H, W, 3)`` ``uint8`` RGB array.

    Raises:
        TypeError: wrong array types or dtypes.
        ValueError: wrong layouts, leading axes that disagree, NaN/Inf, a float frame outside
            ``[0, 1]`` or ``alpha`` outside ``[0, 1]``.

    Example:
        >>> frame = torch.zeros(3, 2, 2)                  # a black 2x2 frame
        >>> sal = torch.tensor([[0.0, 0.0], [0.0, 1.0]])  # one salient pixel
        >>> overlay(frame, sal, alpha=0.5, colormap="gray")[..., 0].tolist()
        [[0, 0], [0, 128]]
    """
    return _overlay_hwc(_frames_hwc(frame), saliency, alpha, colormap, normalize)


def _label_band(text: str, width: int, height: int, font: ImageFont.ImageFont) -> np.ndarray:
    """A white ``(height, width, 3)`` strip with ``text`` centred in black (clipped to fit)."""
    band = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(band)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (width - (right - left)) // 2 - left
    y = (height - (bottom - top)) // 2 - top
    draw.text((max(x, 1 - left), y), text, fill=(0, 0, 0), font=font)
    return np.asarray(band)


def comparison_grid(
    frame: np.ndarray | Tensor,
    columns: Mapping[str, np.ndarray | Tensor],
    path: str | Path | None = None,
    labels: bool = True,
    *,
    show_frame: bool = True,
    frame_label: str = "frame",
    overlay_maps: bool = True,
    alpha: float = 0.5,
    colormap: str | np.ndarray = "jet",
    normalize: bool = True,
    gap: int = 4,
    font_size: int | None = None,
) -> np.ndarray:
    """One row of tiles: the frame, then one tile per saliency map, labelled above.

    The usual figure of a saliency paper: ``frame | CAM_S | SCAM | SCAM+ | prediction | ground
    truth``, or any subset, in the order of ``columns``. Each map is drawn over the frame
    (``overlay_maps=True``, see :func:`overlay`) or on its own (``overlay_maps=False``), at the
    frame's size. Tiles are separated by ``gap`` white pixels; labels are drawn with Pillow's
    default font in a white band above each tile.

    Args:
        frame: one frame, float ``(3, H, W)`` in ``[0, 1]`` or ``uint8`` ``(H, W, 3)``.
        columns: ``{label: map}``, each map ``(h, w)`` of any size.
        path: where to save the grid as PNG (parent folders are created); ``None`` saves
            nothing.
        labels: draw the label band.
        show_frame: start the row with the plain frame.
        frame_label: the frame tile's label.
        overlay_maps: blend the maps onto the frame; ``False`` shows the coloured map alone.
        alpha: heat-map weight when overlaying.
        colormap: a name from :data:`COLORMAPS` or an ``(n, 3)`` ``uint8`` table.
        normalize: min-max normalise each map first (see :func:`overlay`).
        gap: white pixels between tiles, ``>= 0``.
        font_size: label font size in pixels; ``None`` picks one from the tile width.

    Returns:
        ``(band + H, n * W + (n - 1) * gap, 3)`` ``uint8`` array, ``n`` the number of tiles
        and ``band`` the label band's height (0 without labels).

    Raises:
        ValueError: no tiles at all, a map that is not 2-D, a negative ``gap``, plus what
            :func:`overlay` raises.

    Example:
        >>> frame = torch.rand(3, 32, 48)
        >>> grid = comparison_grid(frame, {"SCAM": torch.rand(8, 8)}, labels=False)
        >>> grid.shape
        (32, 100, 3)
    """
    base = _frames_hwc(frame)
    if base.ndim != 3:
        raise ValueError(f"frame must be a single frame (3, H, W) or (H, W, 3), got {base.shape}")
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    names = list(columns)
    for name in names:
        shape = tuple(np.shape(columns[name]))
        if len(shape) != 2:
            raise ValueError(f"columns[{name!r}] must be a 2-D map (h, w), got shape {shape}")
    if not names and not show_frame:
        raise ValueError("nothing to draw: columns is empty and show_frame is False")
    h, w = base.shape[:2]
    tiles: list[np.ndarray] = []
    titles: list[str] = []
    if show_frame:
        tiles.append(base.astype(np.uint8))
        titles.append(frame_label)
    if names:
        resized = torch.cat(
            [
                _resize(_unit_maps(columns[n], normalize, f"columns[{n!r}]")[None], (h, w))
                for n in names
            ]
        )
        stacked = np.broadcast_to(base, (len(names), h, w, 3))
        weight = alpha if overlay_maps else 1.0
        tiles.extend(_overlay_hwc(stacked, resized, weight, colormap, normalize=False))
        titles.extend(names)

    band = 0
    font = None
    if labels:
        size = font_size if font_size is not None else max(10, min(24, w // 10))
        font = ImageFont.load_default(size=size)
        top, bottom = font.getbbox("Ag")[1::2]
        band = (bottom - top) + max(4, size // 2)
    n = len(tiles)
    grid = np.full((band + h, n * w + (n - 1) * gap, 3), 255, dtype=np.uint8)
    for i, (tile, title) in enumerate(zip(tiles, titles)):
        x0 = i * (w + gap)
        grid[band:, x0 : x0 + w] = tile
        if font is not None:
            grid[:band, x0 : x0 + w] = _label_band(title, w, band, font)
    if path is not None:
        with atomic_path(path, suffix=".png") as tmp:  # whole or not at all
            Image.fromarray(grid).save(tmp, format="PNG", optimize=True)
    return grid


def _video_codec(codec: str | None) -> str:
    """H.264 (libx264) when the bundled FFmpeg can encode it, else MPEG-4 part 2."""
    if codec is not None:
        return codec
    try:
        av.codec.Codec("libx264", "w")
    except av.codec.codec.UnknownCodecError:
        return "mpeg4"
    return "libx264"


def _audio_array(audio: object, sample_rate: int | None) -> tuple[np.ndarray, int]:
    """Audio as float32 ``(channels, n)`` with 1 or 2 channels, and its sample rate."""
    if sample_rate is None or isinstance(sample_rate, bool) or int(sample_rate) != sample_rate:
        raise ValueError(f"sample_rate must be a positive integer with audio, got {sample_rate!r}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer with audio, got {sample_rate}")
    wave = _as_tensor(audio, "audio").numpy().astype(np.float32)
    if wave.ndim == 1:
        wave = wave[None]
    if wave.ndim != 2 or wave.shape[0] not in (1, 2) or wave.shape[1] == 0:
        raise ValueError(
            f"audio must have shape (n,) or (channels, n) with 1 or 2 channels and n > 0, "
            f"got {tuple(np.shape(audio))}"
        )
    return np.ascontiguousarray(wave), int(sample_rate)


def write_saliency_video(
    frames: np.ndarray | Tensor,
    maps: np.ndarray | Tensor,
    path: str | Path,
    fps: float,
    audio: np.ndarray | Tensor | None = None,
    sample_rate: int | None = None,
    alpha: float = 0.5,
    *,
    colormap: str | np.ndarray = "jet",
    normalize: bool = True,
    codec: str | None = None,
) -> Path:
    """Write the saliency maps of a clip, overlaid on its frames, to an MP4 file.

    Video: H.264 (``libx264``, ``yuv420p``) when PyAV's FFmpeg has the encoder, else MPEG-4
    part 2; frame ``i`` is :func:`overlay` of ``frames[i]`` and ``maps[i]``. ``yuv420p`` needs
    even sizes, so an odd height or width is padded by repeating the last row or column.
    Audio (optional): AAC, mono or stereo, cut to the video's duration ``t / fps``.

    Args:
        frames: ``(t, 3, H, W)`` float in ``[0, 1]`` or ``uint8`` ``(t, H, W, 3)``.
        maps: ``(t, h, w)`` saliency maps, any size (resized to the frames).
        path: output file, ``.mp4``; parent folders are created.
        fps: frame rate, e.g. ``25`` or ``29.97`` (stored as a fraction).
        audio: the clip's sound, ``(n,)`` or ``(channels, n)`` float samples in ``[-1, 1]``,
            1 or 2 channels; ``None`` writes a silent video.
        sample_rate: samples per second of ``audio``; required with it.
        alpha: heat-map weight, see :func:`overlay`.
        colormap: a name from :data:`COLORMAPS` or an ``(n, 3)`` ``uint8`` table.
        normalize: min-max normalise each map first (see :func:`overlay`).
        codec: force an FFmpeg encoder name (e.g. ``"mpeg4"``); ``None`` picks as above.

    Returns:
        The path written.

    Raises:
        ValueError: ``frames`` and ``maps`` disagree in length, no frames, ``fps <= 0``,
            ``sample_rate`` missing or given without audio, a bad audio shape, plus what
            :func:`overlay` raises.

    Example:
        >>> import tempfile, pathlib, av
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "clip.mp4"
        >>> _ = write_saliency_video(torch.rand(4, 3, 32, 32), torch.rand(4, 8, 8), out, fps=10)
        >>> with av.open(str(out)) as f:
        ...     print(sum(1 for _ in f.decode(video=0)))
        4
    """
    hwc = _frames_hwc(frames, "frames")
    if hwc.ndim != 4:
        raise ValueError(f"frames must be a clip (t, 3, H, W) or (t, H, W, 3), got {hwc.shape}")
    t, h, w = hwc.shape[:3]
    if t == 0:
        raise ValueError("frames must hold at least one frame, got t = 0")
    if np.ndim(maps) != 3 or np.shape(maps)[0] != t:
        raise ValueError(f"maps must have shape ({t}, h, w), got {tuple(np.shape(maps))}")
    if not (isinstance(fps, (int, float, Fraction)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number, got {fps!r}")
    if audio is None and sample_rate is not None:
        raise ValueError("sample_rate was given without audio")
    wave = None
    if audio is not None:
        wave, sample_rate = _audio_array(audio, sample_rate)
    rate = Fraction(fps).limit_denominator(1001)
    pad_h, pad_w = h % 2, w % 2

    path = Path(path)
    # written beside the target, renamed onto it when complete: a killed run leaves no half video
    with atomic_path(path, suffix=path.suffix) as tmp, av.open(str(tmp), mode="w") as container:
        vstream = container.add_stream(_video_codec(codec), rate=rate)
        vstream.width, vstream.height = w + pad_w, h + pad_h
        vstream.pix_fmt = "yuv420p"
        astream = None
        if wave is not None:
            astream = container.add_stream("aac", rate=sample_rate)
            astream.layout = "mono" if wave.shape[0] == 1 else "stereo"
        for start in range(0, t, _VIDEO_CHUNK):
            stop = min(start + _VIDEO_CHUNK, t)
            chunk = _overlay_hwc(hwc[start:stop], maps[start:stop], alpha, colormap, normalize)
            if pad_h or pad_w:
                chunk = np.pad(chunk, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
            for i, image in enumerate(chunk):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts = start + i
                container.mux(vstream.encode(frame))
        container.mux(vstream.encode(None))
        if astream is not None:
            keep = min(wave.shape[1], max(1, round(t / rate * sample_rate)))
            layout = "mono" if wave.shape[0] == 1 else "stereo"
            aframe = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(wave[:, :keep]), format="fltp", layout=layout
            )
            aframe.sample_rate = sample_rate
            aframe.pts = 0
            aframe.time_base = Fraction(1, sample_rate)
            container.mux(astream.encode(aframe))
            container.mux(astream.encode(None))
    return path
