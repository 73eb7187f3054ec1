"""Plain numpy, loop-by-loop transcriptions of the MIT metric definitions and MATLAB resizing.

Written from the definitions (cvzoya/saliency ``code_forMetrics``, MATLAB ``imresize``,
``fspecial``, ``imfilter``), one map at a time, so the tests and the benchmark compare the batched
torch code with an independent computation.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 2.220446049250313e-16


def minmax(s: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (s - s.min()) / (s.max() - s.min())


def trapz(fp, tp) -> float:
    area = 0.0
    for k in range(len(fp) - 1):
        area += (fp[k + 1] - fp[k]) * (tp[k + 1] + tp[k]) / 2
    return area


def auc_judd(s: np.ndarray, fix: np.ndarray, noise: np.ndarray | None = None) -> float:
    s = s.astype(np.float64).ravel()
    f = fix.ravel() > 0
    if not f.any():
        return math.nan
    if noise is not None:
        s = s + noise.ravel()
    s = minmax(s)
    thresholds = sorted(s[f], reverse=True)
    n, p = len(thresholds), s.size
    tp, fp = [0.0], [0.0]
    for i, t in enumerate(thresholds, start=1):
        above = int(np.sum(s >= t))
        tp.append(i / n)
        fp.append((above - i) / (p - n))
    tp.append(1.0)
    fp.append(1.0)
    return trapz(fp, tp)


def step_auc(s_fix: np.ndarray, s_neg: np.ndarray, step: float = 0.1) -> float:
    """One split of the fixed-step ROC: thresholds 0:step:max over both samples, descending."""
    top = max(np.max(s_fix), np.max(s_neg)) if len(s_neg) else np.max(s_fix)
    if np.isnan(top):
        thresholds = []
    else:
        thresholds = [k * step for k in range(math.floor(top / step + 1e-9) + 1)][::-1]
    tp, fp = [0.0], [0.0]
    for t in thresholds:
        tp.append(np.sum(s_fix >= t) / len(s_fix))
        fp.append(np.sum(s_neg >= t) / len(s_neg) if len(s_neg) else math.nan)
    tp.append(1.0)
    fp.append(1.0)
    return trapz(fp, tp)


def auc_shuffled(s, fix, other, n_splits=100, step=0.1, rng=None) -> float:
    rng = np.random.default_rng(0) if rng is None else rng
    f = fix.ravel() > 0
    if not f.any():
        return math.nan
    s = minmax(s.astype(np.float64).ravel())
    where = np.flatnonzero(other.ravel() > 0)
    k = min(int(f.sum()), len(where))
    if k == 0:
        return math.nan
    aucs = []
    for _ in range(n_splits):
        chosen = rng.permutation(where)[:k]
        aucs.append(step_auc(s[f], s[chosen], step))
    return float(np.mean(aucs))


def auc_borji(s, fix, n_splits=100, step=0.1, rng=None) -> float:
    rng = np.random.default_rng(0) if rng is None else rng
    f = fix.ravel() > 0
    if f.sum() <= 1:  # scamlib: NaN when N <= 1
        return math.nan
    s = minmax(s.astype(np.float64).ravel())
    n = int(f.sum())
    aucs = []
    for _ in range(n_splits):
        chosen = rng.integers(0, s.size, n)
        aucs.append(step_auc(s[f], s[chosen], step))
    return float(np.mean(aucs))


def nss(s, fix) -> float:
    s = s.astype(np.float64).ravel()
    f = fix.ravel() > 0
    if not f.any() or s.max() == s.min():
        return math.nan
    z = (s - s.mean()) / s.std(ddof=1)
    return float(z[f].mean())


def cc(s, g) -> float:
    s = s.astype(np.float64).ravel()
    g = g.astype(np.float64).ravel()
    if s.max() == s.min() or g.max() == g.min():
        return math.nan
    return float(np.corrcoef(s, g)[0, 1])


def sim(s, g) -> float:
    def norm(m):
        m = m.astype(np.float64).ravel()
        if np.any(m):
            m = minmax(m)
            m = m / m.sum()
        return m

    return float(np.minimum(norm(s), norm(g)).sum())


def kld(s, g) -> float:
    def norm(m):
        m = m.astype(np.float64).ravel()
        return m / m.sum() if np.any(m) else m

    s, g = norm(s), norm(g)
    return float(np.sum(g * np.log(EPS + g / (s + EPS))))


# ---------------------------------------------------------------------------- MATLAB image ops


def cubic(x: float) -> float:
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def resize_1d(v: np.ndarray, n_out: int) -> np.ndarray:
    """MATLAB imresize along one axis, one output sample at a time (1-based as in MATLAB)."""
    n_in = len(v)
    scale = n_out / n_in
    width = 4.0 / scale if scale < 1 else 4.0
    aux = list(range(1, n_in + 1)) + list(range(n_in, 0, -1))
    out = np.zeros(n_out)
    for x in range(1, n_out + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        idx = [left + j for j in range(math.ceil(width) + 2)]
        if scale < 1:
            w = [scale * cubic(scale * (u - i)) for i in idx]
        else:
            w = [cubic(u - i) for i in idx]
        total = sum(w)
        value = 0.0
        for i, wi in zip(idx, w):
            value += wi / total * v[aux[(i - 1) % (2 * n_in)] - 1]
        out[x - 1] = value
    return out


def imresize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    rows = np.stack([resize_1d(r, size[1]) for r in img.astype(np.float64)])
    return np.stack([resize_1d(c, size[0]) for c in rows.T]).T


def gaussian_kernel(sigma: float = 2.0) -> np.ndarray:
    """fspecial('gaussian', 2*ceil(3 sigma)+1, sigma): 2-D, normalised to sum 1."""
    r = math.ceil(3 * sigma)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    h = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def imfilter_symmetric(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """imfilter(img, kernel, 'symmetric'): correlation, 'same' size, mirrored padding."""
    r = kernel.shape[0] // 2
    h, w = img.shape
    out = np.zeros((h, w))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            rows = [_mirror(i + dy, h) for i in range(h)]
            cols = [_mirror(j + dx, w) for j in range(w)]
            out += kernel[dy + r, dx + r] * img[np.ix_(rows, cols)]
    return out


def _mirror(i: int, n: int) -> int:
    aux = list(range(n)) + list(range(n - 1, -1, -1))
    return aux[i % (2 * n)]


def postprocess(pred: np.ndarray, size: tuple[int, int] | None = None, sigma=2.0) -> np.ndarray:
    """STAViS: clip(255 S), / max * 255, minmax (constant -> 0.5), blur, imresize."""
    x = np.clip(255 * pred.astype(np.float64), 0, 255)
    if x.max() == x.min():
        x = np.full_like(x, 0.5)
    else:
        x = x / x.max() * 255
        x = (x - x.min()) / (x.max() - x.min())
    x = imfilter_symmetric(x, gaussian_kernel(sigma))
    return x if size is None else imresize(x, size)
