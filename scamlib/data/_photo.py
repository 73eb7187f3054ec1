"""Rendering of the photo world: photographed objects moving over panning scene photographs,
with their recorded sounds (the material is in :mod:`scamlib.data._material`).

Every random choice is drawn from the generator passed in, in a fixed order, so a clip is a
deterministic function of the seed (given the installed material, whose versions the world's
stamp records).
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from . import _material


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``arr`` (H, W, 3) uint8 or (H, W) float32 resized to ``size`` = (width, height)."""
    if arr.dtype == np.uint8:
        return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.LANCZOS))
    return np.asarray(Image.fromarray(arr, mode="F").resize(size, Image.Resampling.BILINEAR))


class PhotoLook:
    """How one object looks in one clip: the photograph's crop resized to the object's size
    (area ``(2.6 r)^2`` at the crop's aspect), maybe mirrored, with a brightness gain; the
    focus (where observers look) in patch pixels."""

    def __init__(self, rng: np.random.Generator, source: int, r: float) -> None:
        mat = _material.load()
        crop, alpha = mat.objects[source], mat.alphas[source]
        ch, cw = crop.shape[:2]
        aspect = cw / ch
        side = 2.6 * r
        pw, ph = max(2, round(side * np.sqrt(aspect))), max(2, round(side / np.sqrt(aspect)))
        mirror = bool(rng.random() < 0.5)
        gain = float(rng.uniform(0.85, 1.15))
        patch = _resize(crop, (pw, ph)).astype(np.float32) * gain
        self.patch = np.clip(patch, 0, 255)
        self.alpha = np.clip(_resize(alpha.astype(np.float32), (pw, ph)), 0.0, 1.0)
        fx, fy = mat.foci[source]
        fx, fy = fx * pw / cw, fy * ph / ch
        if mirror:
            self.patch, self.alpha, fx = self.patch[:, ::-1], self.alpha[:, ::-1], pw - fx
        self.size = np.array([pw, ph], dtype=np.float64)
        # offset of the fixated point from the patch centre, in pixels (x, y)
        self.focus_offset = np.array([fx, fy]) - self.size / 2

    def paste(self, img: np.ndarray, centre: np.ndarray) -> None:
        """Alpha-blend the patch onto ``img`` (H, W, 3) float32 with its centre at ``centre``."""
        h, w = img.shape[:2]
        pw, ph = (int(s) for s in self.size)
        x0, y0 = (int(np.floor(c)) for c in centre - self.size / 2)
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + pw, w), min(y0 + ph, h)
        if xa >= xb or ya >= yb:
            return
        a = self.alpha[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
        p = self.patch[ya - y0 : yb - y0, xa - x0 : xb - x0]
        img[ya:yb, xa:xb] = a * p + (1 - a) * img[ya:yb, xa:xb]


class Scene:
    """A scene photograph (or tinted texture) behind a clip, seen through a window that pans
    slowly across it (a moving camera), plus a little sensor noise per frame."""

    def __init__(self, rng: np.random.Generator, h: int, w: int) -> None:
        mat = _material.load()
        k = int(rng.integers(0, len(mat.scenes)))
        src = mat.scenes[k]
        self.pad = np.array([round(0.25 * w), round(0.25 * h)])
        cw, ch = w + int(self.pad[0]), h + int(self.pad[1])
        sh, sw = src.shape[:2]
        scale = float(rng.uniform(0.5, 1.0)) * min(sh / ch, sw / cw)
        rw, rh = max(1, round(cw * scale)), max(1, round(ch * scale))
        x0, y0 = int(rng.integers(0, sw - rw + 1)), int(rng.integers(0, sh - rh + 1))
        canvas = _resize(np.ascontiguousarray(src[y0 : y0 + rh, x0 : x0 + rw]), (cw, ch))
        tint = rng.uniform(0.45, 1.0, size=3) if mat.greyscale[k] else np.ones(3)
        self.canvas = canvas.astype(np.float32) * (tint * rng.uniform(0.6, 1.0)).astype(np.float32)
        if rng.random() < 0.5:
            self.canvas = self.canvas[:, ::-1]
        self.start = rng.uniform(0, 1, size=2) * self.pad
        speed = rng.uniform(0.0, 0.6) * min(h, w) / 96
        ang = rng.uniform(0, 2 * np.pi)
        self.vel = speed * np.array([np.cos(ang), np.sin(ang)])
        self.h, self.w = h, w

    def frame(self, rng: np.random.Generator, t: int) -> np.ndarray:
        span = np.maximum(self.pad, 1)
        pos = np.abs(((self.start + self.vel * t) / span + 1) % 2 - 1) * span  # reflect
        x, y = (int(v) for v in np.rint(pos))
        view = self.canvas[y : y + self.h, x : x + self.w]
        return view + rng.normal(0, 2.0, size=(self.h, self.w, 1)).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _recording_at(source: int, rate: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    mat = _material.load()
    y, g = mat.sounds[source], gcd(rate, mat.sound_rate)
    if rate == mat.sound_rate:
        return y
    return resample_poly(y, rate // g, mat.sound_rate // g).astype(np.float32)


def sound(source: int, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of the category's recording at ``rate``, peak 0.5.

    A recording of 1.5 s or more (music, a synth pad) plays from a random point, looped; a
    shorter one (a punch, a door, a boom) is an event repeated with random gaps and gains."""
    rec = _recording_at(source, rate)
    if len(rec) >= 1.5 * rate:
        start = int(rng.integers(0, len(rec)))
        y = np.tile(rec, n // len(rec) + 2)[start : start + n].copy()
    else:
        y = np.zeros(n, np.float32)
        pos = int(rng.uniform(0, 0.2) * rate)
        while pos < n:
            seg = rec[: n - pos]
            y[pos : pos + len(seg)] += float(rng.uniform(0.6, 1.0)) * seg
            pos += len(rec) + int(rng.uniform(0.1, 0.6) * rate)
    return (0.5 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)
