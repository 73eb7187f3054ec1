"""Draw the figures of the documentation into ``docs/_static/`` (deterministic, CPU, seconds).

Run from the repository root::

    python docs/make_figures.py

The maps are synthetic (Gaussian blobs standing in for three classifiers' class maps), so the
figures show what the operations do, not results on real data. ``builtin_photo_world.jpg``
shows frames of the built-in set's photo world as :mod:`scamlib.data.synthetic` renders them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

import scamlib.functional as SF
from scamlib import viz

STATIC = Path(__file__).resolve().parent / "_static"
SIZE = 128  # frame side in pixels
FEAT = 16  # class-map side, as a classifier's pre-pooling map


def _blob(side: int, cy: float, cx: float, sigma: float) -> torch.Tensor:
    """A Gaussian bump centred at ``(cy, cx)`` (fractions of the side) on a ``side``² grid."""
    y = torch.linspace(0, 1, side)[:, None]
    x = torch.linspace(0, 1, side)[None, :]
    return torch.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))


def synthetic_frame() -> torch.Tensor:
    """A ``(3, SIZE, SIZE)`` frame: sky-to-ground gradient, a bright "object", a dark one."""
    y = torch.linspace(0, 1, SIZE)[:, None].expand(SIZE, SIZE)
    sky = torch.stack([0.45 + 0.2 * y, 0.6 + 0.1 * y, 0.85 - 0.4 * y])
    obj = _blob(SIZE, 0.45, 0.35, 0.08)
    other = _blob(SIZE, 0.7, 0.75, 0.07)
    frame = sky * (1 - obj) + torch.tensor([0.95, 0.8, 0.2])[:, None, None] * obj
    frame = frame * (1 - 0.8 * other)
    return frame.clamp(0, 1)


def scam_example() -> dict[str, torch.Tensor]:
    """CAMs of three synthetic sources and their SCAM fusion (STANet+ Eqs. 1-3).

    S and ST see the object (S also a second, weaker region); SA's strongest class is not the
    tag, so the soft filter (Eq. 3) gives it weight 0 and SCAM ignores its CAM.
    """
    tag, classes = 3, 5
    tags = torch.tensor([tag])
    maps = torch.zeros(3, classes, FEAT, FEAT)
    maps[0, tag] = _blob(FEAT, 0.45, 0.35, 0.12) + 0.7 * _blob(FEAT, 0.7, 0.75, 0.1)  # S
    maps[1, tag] = _blob(FEAT, 0.42, 0.38, 0.09)  # ST
    maps[2, tag] = _blob(FEAT, 0.2, 0.8, 0.15)  # SA, looking elsewhere
    cams = SF.cam(maps, tags.expand(3), size=SIZE)[None]  # (1, 3, SIZE, SIZE)
    logits = torch.tensor([[0.0, 0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 2.0, 0.0], [2.0, 0, 0, 1, 0]])
    confidences = logits.softmax(-1)[None]  # (1, 3, classes)
    fused = SF.scam(cams, confidences, tags)
    return {
        "CAM S": cams[0, 0],
        "CAM ST": cams[0, 1],
        "CAM SA": cams[0, 2],
        "SCAM": fused.map[0],
    }


def colormap_strip(width: int = 256, height: int = 14) -> np.ndarray:
    """One labelled horizontal bar per colour map of :data:`scamlib.viz.COLORMAPS`."""
    ramp = torch.linspace(0, 1, width)[None].expand(height, width)
    blank = np.full((height, width, 3), 255, dtype=np.uint8)
    rows = [
        viz.comparison_grid(
            blank,
            {name: ramp},
            show_frame=False,
            overlay_maps=False,
            normalize=False,
            colormap=name,
            font_size=11,
        )
        for name in viz.COLORMAPS
    ]
    return np.concatenate(rows, axis=0)


def photo_world(clips: int = 6, frames: tuple[int, ...] = (0, 4, 7)) -> np.ndarray:
    """Frames of the first training clips of the default built-in set (seed 0), rendered in
    memory exactly as :func:`scamlib.data.synthetic.generate` renders them before encoding."""
    from scamlib.data.synthetic import SyntheticConfig, ave_clip

    cfg = SyntheticConfig()
    rows = [ave_clip(cfg, 0, i)[4] for i in range(clips)]
    return np.concatenate([np.concatenate([v[t] for t in frames], axis=1) for v in rows], axis=0)


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    frame = synthetic_frame()
    viz.comparison_grid(frame, scam_example(), path=STATIC / "scam_synthetic.png")
    Image.fromarray(colormap_strip()).save(STATIC / "colormaps.png", optimize=True)
    Image.fromarray(photo_world()).save(STATIC / "builtin_photo_world.jpg", quality=85)
    for name in ("scam_synthetic.png", "colormaps.png", "builtin_photo_world.jpg"):
        kb = (STATIC / name).stat().st_size / 1024
        print(f"{STATIC / name}: {kb:.1f} KB")


if __name__ == "__main__":
    main()
