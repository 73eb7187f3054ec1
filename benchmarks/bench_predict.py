"""Inference throughput of the student networks: eager fp32 against the fast path.

Times the three students of STANet+ (STA, Sec. 5.1; STA+ short and long, Sec. 5.2) and
PF_final over the three (Eq. 21), as :class:`scamlib.inference.Predictor` runs them: a batch of
target frames with their 3-frame clips and 1 s spectrograms (and, for STA+, ``n`` MG clips).

Two paths, on the same inputs and the same weights:

- ``fp32``: eager float32, NCHW, as the networks are built;
- ``fast``: ``torch.autocast`` in bfloat16 (float16 where the device has no bf16) with the
  networks and inputs in ``channels_last``, optionally ``torch.compile``-d (``--compile``).

For each it reports frames per second (warmed up, median of ``--repeats`` timed rounds), the
peak memory of the device (CUDA only) and, for ``fast``, ``max |fast - fp32|`` over the maps.
The goals on one H100-class GPU at the ``paper`` preset (356 px): STA >= 500 frames/s in bf16,
PF_final over three students >= 150 frames/s.

Run::

    python benchmarks/bench_predict.py --device cuda                 # paper preset, 356 px
    python benchmarks/bench_predict.py --device cpu --quick          # tiny preset, 64 px, CI
    python benchmarks/bench_predict.py --device cuda --json out.json # machine-readable report
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from scamlib._fs import write_json
from scamlib.data.audio import log_spectrogram
from scamlib.functional import pf_final
from scamlib.inference.predictor import autocast_dtype, channels_last_clip, to_channels_last
from scamlib.models import create


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _inputs(batch: int, size: int, n_mg: int, device: torch.device, seed: int) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    # (1, 257, 101): a 1 s window at 16 kHz, as the datasets give it (n_fft 512, hop 10 ms)
    spec = log_spectrogram(torch.randn(16_000, generator=g))
    audio = spec[None].expand(batch, -1, -1, -1).contiguous()
    return {
        "clip": torch.rand(batch, 3, 3, size, size, generator=g).to(device),
        "audio": audio.to(device),
        "mg_clips": torch.rand(batch, n_mg, 3, 3, size, size, generator=g).to(device),
        "mg_audio": audio[:, None].expand(-1, n_mg, -1, -1, -1).contiguous().to(device),
    }


def _students(preset: str, device: torch.device, seed: int) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    nets = {"sta": create("sta", preset=preset)}
    for kind in ("short", "long"):
        nets[f"sta_{kind}"] = create("sta+", preset=preset)
    return {k: v.to(device).eval() for k, v in nets.items()}


def _call(name: str, net: nn.Module, x: dict[str, Tensor]) -> Tensor:
    if name == "sta":
        return net(x["clip"], x["audio"])
    return net(x["clip"], x["audio"], x["mg_clips"], x["mg_audio"])[:, 0]


def _channels_last(x: dict[str, Tensor]) -> dict[str, Tensor]:
    # clips are 5-D / 6-D; the encoder flattens them to (b t) c h w, so make that view NHWC
    return {k: channels_last_clip(v) if k in ("clip", "mg_clips") else v for k, v in x.items()}


def _autocast(device: torch.device) -> tuple[Callable[[], object], str]:
    # the Predictor's fast path: its "auto" on CUDA; bf16 on the CPU (where "auto" is fp32)
    dtype = autocast_dtype("auto" if device.type == "cuda" else "bf16", device)
    return (lambda: torch.autocast(device.type, dtype=dtype)), str(dtype).replace("torch.", "")


def _time(fn: Callable[[], Tensor], device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        rounds.append(time.perf_counter() - t0)
    return statistics.median(rounds)


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_predict: --device cuda asked for, but torch sees no CUDA device")
    torch.backends.cudnn.benchmark = device.type == "cuda"
    nets = _students(args.preset, device, args.seed)
    x = _inputs(args.batch, args.image_size, args.n_mg, device, args.seed)
    cast, cast_name = _autocast(device)
    fast_nets = _students(args.preset, device, args.seed)  # same seed: the same weights
    for k, net in fast_nets.items():
        net.load_state_dict(nets[k].state_dict())
        to_channels_last(net)
    if args.compile:
        fast_nets = {k: torch.compile(v) for k, v in fast_nets.items()}
    fx = _channels_last(x)

    def eager(name: str) -> Tensor:
        with torch.inference_mode():
            return _call(name, nets[name], x).float()

    def fast(name: str) -> Tensor:
        with torch.inference_mode(), cast():
            return _call(name, fast_nets[name], fx).float()

    def fused(path: Callable[[str], Tensor]) -> Tensor:
        return pf_final(path("sta"), path("sta_short"), path("sta_long"))

    rows = []
    targets: dict[str, Callable[[Callable[[str], Tensor]], Tensor]] = {
        name: (lambda path, n=name: path(n)) for name in nets
    }
    targets["pf_final"] = fused
    for name, target in targets.items():
        row = {"model": name}
        for label, path in (("fp32", eager), ("fast", fast)):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            seconds = _time(
                lambda t=target, p=path: t(p), device, args.warmup, args.repeats
            )
            row[f"{label}_fps"] = args.batch / seconds
            row[f"{label}_peak_mib"] = (
                torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
            )
        row["speedup"] = row["fast_fps"] / row["fp32_fps"]
        row["max_abs_diff"] = (target(fast) - target(eager)).abs().max().item()
        rows.append(row)
        print(
            f"{name:>9}: fp32 {row['fp32_fps']:8.1f} frames/s | fast ({cast_name}, channels_last"
            f"{', compiled' if args.compile else ''}) {row['fast_fps']:8.1f} frames/s "
            f"({row['speedup']:.2f}x) | max |fast - fp32| {row['max_abs_diff']:.2e}",
            flush=True,
        )
    return {
        "benchmark": "bench_predict",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "preset": args.preset,
        "image_size": args.image_size,
        "batch": args.batch,
        "n_mg": args.n_mg,
        "autocast": cast_name,
        "compile": args.compile,
        "threads": torch.get_num_threads(),
        "rows": rows,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--preset", default=None, help="paper (default on CUDA) or tiny")
    parser.add_argument("--image-size", type=int, default=None, help="356 paper, 64 tiny")
    parser.add_argument("--batch", type=int, default=None, help="target frames (16 CUDA, 2 CPU)")
    parser.add_argument("--n-mg", type=int, default=2, help="MG clips per STA+ target")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="torch.compile the fast path")
    parser.add_argument("--quick", action="store_true", help="tiny preset, 64 px, 1 repeat")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if args.quick:
        args.preset = args.preset or "tiny"
        args.image_size = args.image_size or 64
        args.warmup, args.repeats = 1, 1
    args.preset = args.preset or ("paper" if cuda else "tiny")
    args.image_size = args.image_size or (356 if args.preset == "paper" else 64)
    args.batch = args.batch or (16 if cuda else 2)
    report = run(args)
    if args.json is not None:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
