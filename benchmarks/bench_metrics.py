"""Speed of the STAViS evaluation path: scamlib vs pysaliency vs a per-frame numpy loop.

Synthetic data: ``--frames`` ground-truth frames of 360 x 640 with 1-60 fixations each, grouped
into videos of ``--video-length`` frames, and predictions of 224 x 384. Timed, each
``--repeats`` times, the implementations interleaved within every repeat (the machine may be
shared: interleaving exposes all of them to the same load), medians reported:

* ``scamlib protocol``: :func:`scamlib.metrics.evaluate` end to end (post-process, MATLAB
  resize, AUC-J, SIM, s-AUC, CC, NSS, per-video tables) on ``--device``;
* ``scamlib <metric>``: each public metric alone on maps already at 360 x 640, in batches of
  ``--batch-size``, and ``scamlib postprocess`` (blur + resize) alone. Each library gets the
  maps in its natural type, holding the same values: scamlib float32 tensors (torch's default
  and the protocol's working type), pysaliency float64 arrays (numpy's default; converted
  before the timing). ``scamlib sAUC-f64`` is s-AUC on float64 tensors: its one pass over the
  whole map (the min-max of the MIT code) then reads twice the bytes;
* ``pysaliency <metric>``: pysaliency's per-frame metrics on the same resized maps, in a
  separate Python: AUC-Judd as ``SaliencyMapModel.AUC_Judd`` computes each image (jitter on, its
  default: Gaussian noise of 1e-7 from ``RandomNoiseSaliencyMapModel``, the unfixated pixels as
  negatives, ``general_roc(..., judd=1)``; scamlib's AUC-J jitters too), s-AUC through
  ``general_roc`` against the video's other fixations, ``NSS``, ``CC``, ``SIM``; run by the Python
  given by ``--pysaliency-python`` or ``$SCAMLIB_PYSALIENCY_PYTHON`` (pysaliency needs
  numpy < 2.4 and setuptools < 81); skipped with a message when absent;
* ``numpy <metric>`` / ``numpy protocol``: a straightforward per-frame numpy implementation (the
  loops of ``tests/metrics/reference.py``; ``scipy.ndimage`` blur and per-axis resize matrices)
  on ``--numpy-frames`` frames.

* ``scamlib from disk`` / ``scamlib in memory``: :func:`scamlib.metrics.evaluate_dir` on the
  first ``--disk-frames`` frames written in the STAViS layout (eyeMap JPEGs, fixMap ``.mat``
  files, 8-bit PNG predictions) to a temporary folder, against :func:`evaluate` on the same
  frames already decoded into memory, both at torch's default threads; the ``disk / memory``
  row is their ratio (the files sit in the page cache after the first repeat: decoding, not
  the drive, is measured); ``disk/memory-cpu`` is the ratio of the CPU seconds per frame of
  the two (memory / disk), the throughput ratio a machine whose cores are all free for the
  evaluation would see when the reading overlaps the scoring: on a shared machine it is far
  less noisy than the ratio of wall-clock rates.

The ratio column divides by the pysaliency figure of the same metric; the protocol rows divide
by pysaliency's five metrics together (pysaliency does no post-processing or resizing, so the
protocol ratio is conservative). pysaliency and numpy run single-threaded. The protocol is
timed at every torch thread count of ``--threads`` (default ``0,1``: torch's default, which is
every core and what a user gets, and one thread, the per-core comparison); the per-metric rows
use the first.

Run from the repository root::

    python benchmarks/bench_metrics.py --pysaliency-python /tmp/pysal-venv/bin/python
    python benchmarks/bench_metrics.py --quick            # a smoke run, a minute or less
    python benchmarks/bench_metrics.py --device cuda --json /tmp/bench_metrics.json

``--json PATH`` writes every row (median frames/s, spread, ratio, the single runs) and the
settings as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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

from scamlib._fs import read_map, write_map_png  # noqa: E402
from scamlib.metrics import auc_judd, auc_shuffled, cc, nss, postprocess, sim  # noqa: E402
from scamlib.metrics.protocol import evaluate, evaluate_dir  # noqa: E402
from tests.metrics import reference as ref  # noqa: E402

GT = (360, 640)
PRED = (224, 384)
METRICS = ("AUC_J", "SIM", "sAUC", "CC", "NSS")

PYSALIENCY_WORKER = r"""
import json, sys, time
import numpy as np
from pysaliency.metrics import CC, NSS, SIM
from pysaliency.roc import general_roc
from pysaliency.saliency_map_models import _get_unfixated_values

data = np.load(sys.argv[1])
maps, dens, fix, other = data["maps"], data["dens"], data["fix"], data["other"]
frames = [(maps[k].astype(float), dens[k], fix[k], other[k]) for k in range(len(maps))]
points = [np.nonzero(f) for _, _, f, _ in frames]
noise = np.random.RandomState(42)  # as pysaliency's RandomNoiseSaliencyMapModel


def run(name):
    for (s, d, f, o), (ys, xs) in zip(frames, points):
        if name == "AUC_J":  # SaliencyMapModel.AUC_Judd per image, jitter=True (its default)
            j = s + noise.randn(*s.shape) * 1e-7
            general_roc(j[ys, xs], _get_unfixated_values(j, ys, xs), judd=1)
        elif name == "sAUC":
            general_roc(s[ys, xs], s[o], judd=0)
        elif name == "NSS":
            NSS(s, xs, ys).mean()
        elif name == "CC":
            CC(s, d)
        else:
            SIM(s, d)


out = {}
for name in ("AUC_J", "SIM", "sAUC", "CC", "NSS"):
    start = time.perf_counter()
    run(name)
    out[name] = len(frames) / (time.perf_counter() - start)
out["five"] = 1 / sum(1 / v for v in out.values())
print(json.dumps(out))
"""


def synthesize(frames: int, video_length: int, seed: int = 0):
    """Predictions, densities, fixation maps and video names of a synthetic test set."""
    rng = np.random.default_rng(seed)
    low = rng.random((2, 12, 20))
    templates = np.stack([ref.imresize(x, PRED) for x in low])  # smooth-ish templates
    noise = 0.3 * rng.random((frames, *PRED))
    preds = np.clip(templates[rng.integers(0, 2, frames)] + noise, 0, 1)
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
        self.union = {
            v: self.fix[[i for i, u in enumerate(videos) if u == v]].any(0) for v in self.start
        }

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
        return self.union[video]


def others_of(fix, videos):
    """The s-AUC negatives of every frame: its video's fixations minus its own."""
    other = np.zeros_like(fix)
    for v in dict.fromkeys(videos):
        idx = [i for i, u in enumerate(videos) if u == v]
        other[idx] = fix[idx].any(0)[None] & ~fix[idx]
    return other


def protocol_tag(device: torch.device, threads: int) -> str:
    """`` (N threads)`` for a CPU protocol row, nothing for a GPU one."""
    return f" ({threads} thread{'s' if threads > 1 else ''})" if device.type == "cpu" else ""


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_protocol(preds, ds, device, dtype) -> float:
    """Frames per second of :func:`evaluate` over the whole synthetic set."""
    p = torch.from_numpy(preds)
    index = {(v, i - ds.start[v] + 1): i for i, v in enumerate(ds.videos)}
    sync(device)
    start = time.perf_counter()
    evaluate(
        lambda item: p[index[(item["video"], item["frame_index"])]],
        ds,
        metrics=METRICS,
        device=device,
        dtype=dtype,
    )
    sync(device)
    return len(preds) / (time.perf_counter() - start)


def time_scamlib_metrics(preds, maps, dens, fix, other, device, batch) -> dict[str, float]:
    """Frames per second of each public metric (and of the post-processing) alone."""
    m, d, f, o = (torch.from_numpy(x).to(device) for x in (maps, dens, fix, other))
    m64, m = m, m.float()  # float32, as the protocol holds its maps (see the module's notes)
    p = torch.from_numpy(preds).to(device)
    g = torch.Generator(device=device).manual_seed(0)
    calls = {
        "postprocess": lambda sl: postprocess(p[sl], GT),
        "AUC_J": lambda sl: auc_judd(m[sl], f[sl], generator=g),
        "SIM": lambda sl: sim(m[sl], d[sl]),
        "sAUC": lambda sl: auc_shuffled(m[sl], f[sl], o[sl], generator=g),
        "sAUC-f64": lambda sl: auc_shuffled(m64[sl], f[sl], o[sl], generator=g),
        "CC": lambda sl: cc(m[sl], d[sl]),
        "NSS": lambda sl: nss(m[sl], f[sl]),
    }
    out = {}
    for name, call in calls.items():
        sync(device)
        start = time.perf_counter()
        for a in range(0, len(m), batch):
            call(slice(a, a + batch))
        sync(device)
        out[name] = len(m) / (time.perf_counter() - start)
    return out


def time_numpy(preds, maps, dens, fix, other) -> dict[str, float]:
    """Frames per second of the per-frame numpy loops (post-processing and each metric)."""
    rows = np.stack([ref.resize_1d(e, GT[0]) for e in np.eye(PRED[0])], 1)
    cols = np.stack([ref.resize_1d(e, GT[1]) for e in np.eye(PRED[1])], 1)
    kernel = ref.gaussian_kernel(2.0)
    rng = np.random.default_rng(0)

    def post(k):
        x = np.clip(preds[k].astype(np.float64), 0, 1)
        x = (x - x.min()) / (x.max() - x.min())
        x = ndimage.correlate(x, kernel, mode="reflect")  # scipy 'reflect' = MATLAB 'symmetric'
        return rows @ x @ cols.T

    calls = {
        "postprocess": post,
        "AUC_J": lambda k: ref.auc_judd(maps[k], fix[k], rng.random(GT) * 1e-7),
        "SIM": lambda k: ref.sim(maps[k], dens[k]),
        "sAUC": lambda k: ref.auc_shuffled(maps[k], fix[k], other[k], 100, rng=rng),
        "CC": lambda k: ref.cc(maps[k], dens[k]),
        "NSS": lambda k: ref.nss(maps[k], fix[k]),
    }
    out = {}
    for name, call in calls.items():
        start = time.perf_counter()
        for k in range(len(preds)):
            call(k)
        out[name] = len(preds) / (time.perf_counter() - start)
    out["protocol"] = 1 / sum(1 / out[n] for n in ("postprocess", *METRICS))
    return out


DISK_SET = "Bench"


def write_disk_set(root: Path, preds, dens, fix, videos) -> tuple[Path, Path]:
    """The frames in the STAViS layout under ``root``: ``(prediction root, data root)``."""
    import scipy.io
    from PIL import Image

    data, pred_root = root / "stavis", root / "pred"
    counts: dict[str, int] = {}
    for k, video in enumerate(videos):
        i = counts[video] = counts.get(video, 0) + 1
        ann = data / "annotations" / DISK_SET / video
        (ann / "maps").mkdir(parents=True, exist_ok=True)
        for sub in ("video_frames", "video_audio"):
            (data / sub / DISK_SET / video).mkdir(parents=True, exist_ok=True)
        eye = np.rint(np.clip(dens[k], 0, 1) * 255).astype(np.uint8)
        Image.fromarray(eye, mode="L").save(ann / "maps" / f"eyeMap_{i:05d}.jpg", quality=95)
        scipy.io.savemat(ann / f"fixMap_{i:05d}.mat", {"eyeMap": fix[k].astype(np.uint8)})
        write_map_png(pred_root / video / f"img_{i:05d}.png", preds[k])
    lists = data / "fold_lists"
    lists.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{v} {n} 25.000000\n" for v, n in counts.items())
    (lists / f"{DISK_SET}_list_test_fps.txt").write_text(lines)
    (lists / f"{DISK_SET}_list_train_fps.txt").write_text(lines)
    return pred_root, data


class Decoded:
    """The frames of a STAViS-layout set read once into memory (the same values as on disk)."""

    def __init__(self, pred_root: Path, data_root: Path) -> None:
        from scamlib.data import AVSaliency

        gt = AVSaliency(data_root, DISK_SET, split=None, size=None).ground_truth()
        self.items = [gt[i] for i in range(len(gt))]
        self.unions = {v: gt.fixation_union(v) for v in gt.videos}
        self.preds = {
            (it["video"], it["frame_index"]): read_map(
                pred_root / it["video"] / f"img_{it['frame_index']:05d}.png"
            )
            for it in self.items
        }

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def fixation_union(self, video):
        return self.unions[video]


def time_disk(pred_root: Path, data_root: Path, device) -> tuple[float, float]:
    """Frames per second of :func:`evaluate_dir` (files decoded, default readers), and the
    process's CPU seconds per frame (every thread)."""
    n = sum(1 for _ in pred_root.glob("*/*.png"))
    sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    evaluate_dir(pred_root, data_root, DISK_SET, metrics=METRICS, device=device)
    sync(device)
    return n / (time.perf_counter() - start), (time.process_time() - cpu) / n


def time_decoded(decoded: Decoded, device) -> tuple[float, float]:
    """:func:`time_disk` of :func:`evaluate` on the same frames, already in memory."""
    sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    evaluate(
        lambda item: decoded.preds[(item["video"], item["frame_index"])],
        decoded,
        metrics=METRICS,
        device=device,
    )
    sync(device)
    n = len(decoded)
    return n / (time.perf_counter() - start), (time.process_time() - cpu) / n


def time_pysaliency(python: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [python, "-c", PYSALIENCY_WORKER, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--video-length", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="maps per public-metric call")
    parser.add_argument("--numpy-frames", type=int, default=20)
    parser.add_argument("--pysaliency-frames", type=int, default=100)
    parser.add_argument("--pysaliency-python", default=os.environ.get("SCAMLIB_PYSALIENCY_PYTHON"))
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda, or all (the CPU and CUDA when present)"
    )
    parser.add_argument(
        "--threads",
        default="0,1",
        help="comma-separated torch thread counts for the protocol rows (0: torch's default)",
    )
    parser.add_argument(
        "--disk-frames",
        type=int,
        default=200,
        help="frames of the from-disk rows (evaluate_dir against evaluate in memory); 0: none",
    )
    parser.add_argument("--json", type=Path, help="also write every row to this JSON file")
    parser.add_argument("--quick", action="store_true", help="100 frames, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.repeats = min(args.frames, 100), min(args.repeats, 2)
        args.numpy_frames, args.pysaliency_frames = min(args.numpy_frames, 5), 50
        args.disk_frames = min(args.disk_frames, 100)
    default_threads = torch.get_num_threads()
    thread_counts = [int(t) or default_threads for t in args.threads.split(",")]
    torch.set_num_threads(thread_counts[0])
    if args.device == "all":
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    else:
        devices = [args.device]
    devices = [torch.device(d) for d in devices]
    for d in devices:
        if d.type == "cuda" and not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device available")

    preds, dens, fix, videos = synthesize(args.frames, args.video_length)
    ds = InMemory(dens, fix, videos)
    maps = postprocess(torch.from_numpy(preds).double(), GT).numpy()
    other = others_of(fix, videos)
    nf = min(args.numpy_frames, args.frames)
    npf = min(args.pysaliency_frames, args.frames)
    python = args.pysaliency_python
    have_pysaliency = bool(python) and Path(python).exists()
    print(
        f"{args.frames} frames, ground truth {GT}, predictions {PRED}; torch "
        f"{torch.__version__}, protocol at {thread_counts} thread(s) (torch default "
        f"{default_threads}), metrics at {thread_counts[0]}; median of {args.repeats} "
        f"interleaved repeats; pysaliency on {npf} frames, numpy loops on {nf}"
    )
    if not have_pysaliency:
        print(
            "pysaliency skipped: pass --pysaliency-python or set SCAMLIB_PYSALIENCY_PYTHON to a "
            "Python with pysaliency installed (numpy < 2.4, setuptools < 81)"
        )

    # warm-up: caches of the banded operators, allocator, lazy imports
    for d in devices:
        warm = InMemory(dens[:4], fix[:4], videos[:4])
        time_protocol(preds[:4], warm, d, torch.float32)
        time_scamlib_metrics(preds[:4], maps[:4], dens[:4], fix[:4], other[:4], d, 4)

    runs: dict[str, list[float]] = {}

    def record(name: str, fps: float) -> None:
        runs.setdefault(name, []).append(fps)

    with tempfile.TemporaryDirectory() as tmp:
        ndisk = min(args.disk_frames, args.frames)
        if ndisk:
            sets = write_disk_set(Path(tmp), preds[:ndisk], dens, fix, videos[:ndisk])
            decoded = Decoded(*sets)
        data = Path(tmp) / "data.npz"
        np.savez(
            data,
            maps=maps[:npf].astype(np.float32),
            dens=dens[:npf],
            fix=fix[:npf],
            other=other[:npf],
        )
        for rep in range(args.repeats):
            for d in devices:
                for t in thread_counts if d.type == "cpu" else thread_counts[:1]:
                    torch.set_num_threads(t)
                    fps = time_protocol(preds, ds, d, torch.float32)
                    record(f"scamlib protocol {d.type}{protocol_tag(d, t)}", fps)
                torch.set_num_threads(thread_counts[0])
                each = time_scamlib_metrics(preds, maps, dens, fix, other, d, args.batch_size)
                for name, fps in each.items():
                    record(f"scamlib {name} {d.type}", fps)
                if ndisk:  # at torch's default threads, in both orders over the repeats
                    torch.set_num_threads(default_threads)
                    pair = [
                        ("disk", lambda d=d: time_disk(*sets, d)),
                        ("memory", lambda d=d: time_decoded(decoded, d)),
                    ]
                    for what, run in pair[:: -1 if rep % 2 else 1]:
                        fps, cpu = run()
                        record(f"scamlib {what} {d.type}", fps)
                        record(f"cpu-seconds {what} {d.type}", cpu)
                    torch.set_num_threads(thread_counts[0])
            if have_pysaliency:
                for name, fps in time_pysaliency(python, data).items():
                    record(f"pysaliency {name}", fps)
            for name, fps in time_numpy(preds[:nf], maps, dens, fix, other).items():
                record(f"numpy {name}", fps)

    for d in devices:
        disk, memory = runs.get(f"scamlib disk {d.type}"), runs.get(f"scamlib memory {d.type}")
        if disk and memory:
            runs[f"scamlib disk/memory {d.type}"] = [a / b for a, b in zip(disk, memory)]
            cpu = [runs[f"cpu-seconds {what} {d.type}"] for what in ("disk", "memory")]
            runs[f"scamlib disk/memory-cpu {d.type}"] = [b / a for a, b in zip(*cpu)]
    median = {name: statistics.median(v) for name, v in runs.items()}
    base = {name: median.get(f"pysaliency {name}") for name in (*METRICS, "five")}
    print(f"\n{'':40s} {'frames/s':>10s} {'spread':>8s} {'vs pysaliency':>14s}")
    order = ["protocol", "postprocess", *METRICS, "sAUC-f64"]
    rows = [
        f"scamlib protocol {d.type}{protocol_tag(d, t)}"
        for d in devices
        for t in (thread_counts if d.type == "cpu" else thread_counts[:1])
    ]
    rows += [f"scamlib {n} {d.type}" for d in devices for n in order[1:]]
    rows += [
        f"scamlib {n} {d.type}"
        for d in devices
        for n in ("disk", "memory", "disk/memory", "disk/memory-cpu")
    ]
    rows += [f"pysaliency {n}" for n in (*METRICS, "five")]
    rows += [f"numpy {n}" for n in order]
    report = []
    for name in rows:
        if name not in median:
            continue
        metric = name.split()[1]
        ref_fps = base.get("five" if metric == "protocol" else metric.removesuffix("-f64"))
        ratio = median[name] / ref_fps if ref_fps else None
        spread = (max(runs[name]) - min(runs[name])) / median[name] if len(runs[name]) > 1 else 0
        shown = f"x{ratio:8.2f}" if ratio else ""
        if metric.startswith("disk/memory"):
            print(f"{name:40s} {median[name]:10.2f} {100 * spread:7.0f}%   (ratio, goal >= 0.65)")
        else:
            print(f"{name:40s} {median[name]:10.1f} {100 * spread:7.0f}% {shown:>14s}")
        unit = "ratio" if metric.startswith("disk/memory") else "frames/s"
        report.append(
            {"name": name, "median": median[name], "spread": spread, "vs_pysaliency": ratio,
             "unit": unit, "runs": runs[name]}
        )  # fmt: skip
    if base["five"]:
        print(
            "\nprotocol rows: ratio to pysaliency's five metrics per frame (without its "
            "post-processing and resizing, which pysaliency does not do)"
        )
    if args.json:
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        settings.update(
            torch=torch.__version__, default_threads=default_threads, threads=thread_counts,
            devices=[str(d) for d in devices], pysaliency=have_pysaliency,
            cpus=os.cpu_count(), ground_truth=GT, predictions=PRED,
        )  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"settings": settings, "rows": report}, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
