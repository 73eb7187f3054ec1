"""Speed of the STAViS evaluation path: scamlib vs a per-frame numpy loop vs pysaliency.

Synthetic data: ``--frames`` ground-truth frames of 360 x 640 with 1-60 fixations each, grouped
into videos of ``--video-length`` frames, and predictions of 224 x 384. Timed:

* scamlib, full protocol (post-process + MATLAB resize + AUC-J, SIM, s-AUC, CC, NSS) through
  :func:`scamlib.metrics.evaluate`, on CPU and on CUDA when present;
* scamlib, the five metrics alone on maps already at 360 x 640;
* a straightforward per-frame numpy implementation (the loops of ``tests/metrics/reference.py``
  for the metrics, ``scipy.ndimage`` blur and per-frame resize matrices);
* pysaliency's per-frame ``AUC_Judd``-style ROC, sAUC, NSS, CC, SIM on the same maps, run in a
  separate Python (pysaliency needs numpy < 2.4) given by ``--pysaliency-python`` or
  ``$SCAMLIB_PYSALIENCY_PYTHON``; skipped with a message when absent.

Run from the repository root::

    python benchmarks/bench_metrics.py --frames 500 --pysaliency-python /tmp/pysal-venv/bin/python
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scamlib.metrics import auc_judd, auc_shuffled, cc, nss, postprocess, sim  # noqa: E402
from scamlib.metrics.protocol import evaluate  # noqa: E402
from tests.metrics import reference as ref  # noqa: E402

GT = (360, 640)
PRED = (224, 384)

PYSALIENCY_WORKER = r"""
import sys, time, numpy as np
from pysaliency.metrics import CC, NSS, SIM
from pysaliency.roc import general_roc
data = np.load(sys.argv[1])
maps, dens, fix, other = data["maps"], data["dens"], data["fix"], data["other"]
start = time.perf_counter()
for k in range(len(maps)):
    s = maps[k].astype(float)
    ys, xs = np.nonzero(fix[k])
    pos = s[ys, xs]
    general_roc(pos, s[~fix[k]], judd=1)                      # AUC-Judd
    general_roc(pos, s[other[k]], judd=0)                     # shuffled AUC
    NSS(s, xs, ys).mean()
    CC(s, dens[k])
    SIM(s, dens[k])
print(len(maps) / (time.perf_counter() - start))
"""


def synthesize(frames: int, video_length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    low = rng.random((frames, 12, 20))
    preds = np.stack([ref.imresize(x, PRED) for x in low[:2]])  # smooth-ish templates
    preds = np.clip(preds[rng.integers(0, 2, frames)] + 0.3 * rng.random((frames, *PRED)), 0, 1)
    fix = np.zeros((frames, *GT), dtype=bool)
    for k in range(frames):
        n = int(rng.integers(1, 61))
        fix[k].flat[rng.choice(GT[0] * GT[1], n, replace=False)] = True
    dens = ndimage.gaussian_filter(fix.astype(np.float32), sigma=(0, 12, 12))
    dens /= dens.reshape(frames, -1).max(1)[:, None, None]
    videos = [f"v{k // video_length:03d}" for k in range(frames)]
    return preds.astype(np.float32), dens, fix, videos


class InMemory:
    """The dataset contract of :func:`scamlib.metrics.evaluate`, backed by arrays."""

    def __init__(self, dens, fix, videos):
        self.dens, self.fix, self.videos = torch.from_numpy(dens), torch.from_numpy(fix), videos
        self.start = {v: videos.index(v) for v in videos}

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        v = self.videos[i]
        return {
            "density": self.dens[i],
            "fixations": self.fix[i],
            "video": v,
            "frame_index": i - self.start[v] + 1,
            "fps": 25.0,
        }

    def fixation_union(self, video):
        idx = [i for i, v in enumerate(self.videos) if v == video]
        return self.fix[idx].any(0)


def others_of(fix, videos):
    other = np.zeros_like(fix)
    for v in dict.fromkeys(videos):
        idx = [i for i, u in enumerate(videos) if u == v]
        union = fix[idx].any(0)
        other[idx] = union[None] & ~fix[idx]
    return other


def bench_scamlib(preds, dens, fix, videos, device, dtype, batch_size):
    ds = InMemory(dens, fix, videos)
    p = torch.from_numpy(preds)
    evaluate(lambda item: p[0], InMemory(dens[:2], fix[:2], videos[:2]), device=device)  # warm
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    keys = {(v, i - ds.start[v] + 1): i for i, v in enumerate(videos)}
    evaluate(
        lambda item: p[keys[(item["video"], item["frame_index"])]],
        ds,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
    )
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(preds) / (time.perf_counter() - start)


def bench_scamlib_metrics(maps, dens, fix, other, batch_size):
    m, d, f, o = (torch.from_numpy(x) for x in (maps, dens, fix, other))
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for a in range(0, len(m), batch_size):
        sl = slice(a, a + batch_size)
        auc_judd(m[sl], f[sl], generator=g)
        auc_shuffled(m[sl], f[sl], o[sl], generator=g)
        nss(m[sl], f[sl])
        cc(m[sl], d[sl])
        sim(m[sl], d[sl])
    return len(m) / (time.perf_counter() - start)


def numpy_protocol_maps(preds):
    rows = np.stack([ref.resize_1d(e, GT[0]) for e in np.eye(PRED[0])], 1)
    cols = np.stack([ref.resize_1d(e, GT[1]) for e in np.eye(PRED[1])], 1)
    kernel = ref.gaussian_kernel(2.0)
    out = []
    start = time.perf_counter()
    for p in preds.astype(np.float64):
        x = np.clip(p, 0, 1)
        x = (x - x.min()) / (x.max() - x.min())
        x = ndimage.correlate(x, kernel, mode="reflect")  # scipy 'reflect' = MATLAB 'symmetric'
        out.append(rows @ x @ cols.T)
    return np.stack(out), time.perf_counter() - start


def bench_numpy_metrics(maps, dens, fix, other, frames):
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for k in range(frames):
        ref.auc_judd(maps[k], fix[k], rng.random(maps[k].shape) * 1e-7)
        ref.auc_shuffled(maps[k], fix[k], other[k], 100, rng=rng)
        ref.nss(maps[k], fix[k])
        ref.cc(maps[k], dens[k])
        ref.sim(maps[k], dens[k])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--video-length", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--numpy-frames", type=int, default=50, help="frames for the slow per-frame numpy loop"
    )
    parser.add_argument("--pysaliency-frames", type=int, default=100)
    parser.add_argument("--pysaliency-python", default=os.environ.get("SCAMLIB_PYSALIENCY_PYTHON"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    preds, dens, fix, videos = synthesize(args.frames, args.video_length)
    print(
        f"{args.frames} frames, GT {GT}, predictions {PRED}, torch threads "
        f"{torch.get_num_threads()}"
    )
    results = {}
    for dtype in (torch.float64, torch.float32):
        name = f"scamlib protocol cpu {str(dtype)[6:]}"
        results[name] = bench_scamlib(
            preds, dens, fix, videos, torch.device("cpu"), dtype, args.batch_size
        )
    if torch.cuda.is_available():
        results["scamlib protocol cuda float64"] = bench_scamlib(
            preds, dens, fix, videos, torch.device("cuda"), torch.float64, args.batch_size
        )

    maps = postprocess(torch.from_numpy(preds).double(), GT).numpy()
    other = others_of(fix, videos)
    results["scamlib metrics-only cpu"] = bench_scamlib_metrics(
        maps, dens, fix, other, args.batch_size
    )
    nf = min(args.numpy_frames, args.frames)
    np_maps, t_post = numpy_protocol_maps(preds[:nf])
    t_metrics = bench_numpy_metrics(np_maps, dens, fix, other, nf)
    results["numpy per-frame protocol"] = nf / (t_post + t_metrics)
    results["numpy per-frame metrics-only"] = nf / t_metrics

    if args.pysaliency_python and Path(args.pysaliency_python).exists():
        npf = min(args.pysaliency_frames, args.frames)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "data.npz"
            np.savez(
                path,
                maps=maps[:npf].astype(np.float32),
                dens=dens[:npf],
                fix=fix[:npf],
                other=other[:npf],
            )
            out = subprocess.run(
                [args.pysaliency_python, "-c", PYSALIENCY_WORKER, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
        results["pysaliency per-frame metrics-only"] = float(out.stdout.strip().splitlines()[-1])
    else:
        print(
            "pysaliency skipped: pass --pysaliency-python or set SCAMLIB_PYSALIENCY_PYTHON "
            "to a Python with pysaliency installed"
        )

    base = results.get("pysaliency per-frame metrics-only")
    for name, fps in results.items():
        ratio = f"  x{fps / base:6.1f} vs pysaliency" if base else ""
        print(f"{name:38s} {fps:9.1f} frames/s{ratio}")


if __name__ == "__main__":
    main()
