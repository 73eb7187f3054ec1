"""Plain numpy reference implementations, written from the definitions.

The definitions are STANet+ Eqs. 1-3, 21 and 23 and the coarse-to-fine steps of Sec. 3.2.

Slow on purpose: explicit loops over samples and pixels, so that they share nothing with the
vectorised library code they check.
"""

from __future__ import annotations

import math

import numpy as np


def minmax(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    if hi == lo:
        return np.zeros_like(m)
    return (m - lo) / (hi - lo)


def bilinear_resize(m: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Half-pixel bilinear resize (the rule of OpenCV / PyTorch ``align_corners=False``)."""
    in_h, in_w = m.shape
    out = np.zeros((out_h, out_w), dtype=np.float64)

    def taps(dst: int, n_in: int, n_out: int) -> tuple[int, int, float]:
        src = max((dst + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = min(math.floor(src), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    for y in range(out_h):
        y0, y1, fy = taps(y, in_h, out_h)
        for x in range(out_w):
            x0, x1, fx = taps(x, in_w, out_w)
            top = m[y0, x0] * (1 - fx) + m[y0, x1] * fx
            bottom = m[y1, x0] * (1 - fx) + m[y1, x1] * fx
            out[y, x] = top * (1 - fy) + bottom * fy
    return out


def soft_filter(conf: np.ndarray, tag: int) -> float:
    others = [conf[u] for u in range(len(conf)) if u != tag]
    return float(conf[tag]) if all(conf[tag] > o for o in others) else 0.0


def scam(cams: np.ndarray, conf: np.ndarray, tag: int, lam: float) -> tuple[np.ndarray, bool]:
    """One sample: cams (k, h, w), conf (k, c)."""
    weights = [soft_filter(conf[k], tag) for k in range(cams.shape[0])]
    num = np.full(cams.shape[1:], lam, dtype=np.float64)
    for k, w in enumerate(weights):
        num += w * cams[k]
    fused = num / (sum(weights) + lam)
    out = minmax(fused)
    valid = any(w > 0 for w in weights) and fused.max() > fused.min()
    return (out if valid else np.zeros_like(out)), valid


def coarse_box(m: np.ndarray, factor: float) -> tuple[int, int, int, int]:
    thr = factor * m.mean()
    ys, xs = [], []
    for y in range(m.shape[0]):
        for x in range(m.shape[1]):
            if m[y, x] > thr:
                ys.append(y)
                xs.append(x)
    if not ys:
        return 0, 0, m.shape[1], m.shape[0]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def temporal_smooth(maps: np.ndarray, window: int) -> np.ndarray:
    t = maps.shape[0]
    r = window // 2
    out = np.zeros_like(maps, dtype=np.float64)
    for i in range(t):
        frames = [maps[j] for j in range(i - r, i + r + 1) if 0 <= j < t]
        out[i] = sum(frames) / len(frames)
    return out


def sparsify(m: np.ndarray, factor: float) -> np.ndarray:
    thr = factor * m.mean()
    out = m.copy()
    for idx in np.ndindex(m.shape):
        if m[idx] < thr:
            out[idx] = 0.0
    return out


def pf_final(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return 0.5 * minmax(minmax(a) * minmax(b) * minmax(c)) + 0.5 * minmax(a + b + c)


def pf_agg(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return 0.5 * minmax(minmax(a) * minmax(b) * minmax(c)) * 0.5 * minmax(a + b + c)
