"""Batched ConservativeGCN vs a per-sample, per-node loop: speed and peak memory.

Forward + backward of the C-GCN (default B=16, n=2 MG nodes, m=3 steps, 28 x 32 x 32 nodes) as
scamlib runs it (all samples and node pairs in one batched einsum per step) and as a naive
implementation runs it (Python loops over samples and node pairs, same parameters and maths).

Memory: on CUDA, ``torch.cuda.max_memory_allocated`` (peak tensor memory, reset before each
variant). On CPU, each variant runs one forward + backward in a fresh subprocess and we report
the growth of its peak resident set size (``VmHWM`` of ``/proc/self/status``; ``ru_maxrss``
where /proc is absent, which Linux inherits from the parent at fork, hence VmHWM) over the
baseline after imports and input allocation: process-level, so it includes allocator caching,
but comparable between the two variants. tracemalloc does not see torch's allocations.

Usage: ``python benchmarks/bench_cgcn.py [--device cpu|cuda|all] [--batch 16] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from scamlib.nn import ConservativeGCN


def loop_reference(gcn: ConservativeGCN, target: torch.Tensor, mg: torch.Tensor):
    """The same maths with Python loops over samples and ordered node pairs."""
    outs_t, outs_mg = [], []
    for b in range(target.shape[0]):
        nodes = [target[b]] + list(mg[b].unbind(0))
        c, h, w = nodes[0].shape
        for _ in range(gcn.steps):
            flat = [x.reshape(c, h * w) for x in nodes]
            proj = [gcn.proj(x[None])[0].reshape(-1, h * w) for x in nodes]
            new = []
            for i in range(len(nodes)):
                msg = torch.zeros_like(flat[i])
                for j in range(len(nodes)):
                    if i != j:
                        edge = (proj[i].T @ proj[j]).softmax(dim=-1)
                        msg = msg + flat[j] @ edge.T
                upd = (flat[i] * torch.sigmoid(msg)).reshape(c, h, w)
                new.append(gcn.refine(upd[None])[0] if gcn.refine is not None else upd)
            nodes = new
        outs_t.append(nodes[0])
        outs_mg.append(torch.stack(nodes[1:]))
    return torch.stack(outs_t), torch.stack(outs_mg)


def _setup(args, device):
    torch.manual_seed(0)
    gcn = ConservativeGCN(args.channels, steps=args.steps).to(device)
    target = torch.randn(args.batch, args.channels, args.size, args.size, device=device)
    mg = torch.randn(args.batch, args.nodes, args.channels, args.size, args.size, device=device)
    return gcn, target.requires_grad_(), mg.requires_grad_()


def _step(variant, gcn, target, mg):
    fn = gcn if variant == "batched" else (lambda t, m: loop_reference(gcn, t, m))
    out_t, out_mg = fn(target, mg)
    (out_t.sum() + out_mg.sum()).backward()


def _time(args, variant, device):
    gcn, target, mg = _setup(args, device)
    _step(variant, gcn, target, mg)  # warm-up
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync()
    start = time.perf_counter()
    for _ in range(args.repeats):
        _step(variant, gcn, target, mg)
    sync()
    seconds = (time.perf_counter() - start) / args.repeats
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return seconds, peak


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_child(args, variant):
    """Run in a subprocess: one forward+backward, report the peak-RSS growth in MiB."""
    gcn, target, mg = _setup(args, torch.device("cpu"))
    base = _peak_rss_kib()
    _step(variant, gcn, target, mg)
    print(json.dumps({"rss_mib": (_peak_rss_kib() - base) / 1024}))


def _cpu_rss(args, variant):
    cmd = [sys.executable, __file__, "--child", variant, "--batch", str(args.batch),
           "--nodes", str(args.nodes), "--steps", str(args.steps),
           "--channels", str(args.channels), "--size", str(args.size)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["rss_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--nodes", type=int, default=2, help="MG nodes n")
    parser.add_argument("--steps", type=int, default=3, help="reasoning steps m")
    parser.add_argument("--channels", type=int, default=28)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", choices=["batched", "loop"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _cpu_child(args, args.child)
        return
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    print(f"C-GCN fwd+bwd: B={args.batch} n={args.nodes} m={args.steps} "
          f"nodes {args.channels}x{args.size}x{args.size}, torch {torch.__version__}")  # fmt: skip
    # correctness check first
    gcn, target, mg = _setup(args, torch.device("cpu"))
    with torch.no_grad():
        a, b = gcn(target[:2], mg[:2]), loop_reference(gcn, target[:2], mg[:2])
    err = max((a[0] - b[0]).abs().max().item(), (a[1] - b[1]).abs().max().item())
    print(f"max |batched - loop| on 2 samples: {err:.2e}")
    for name in devices:
        device = torch.device(name)
        res = {v: _time(args, v, device) for v in ("batched", "loop")}
        if name == "cpu":
            mem = {v: _cpu_rss(args, v) for v in ("batched", "loop")}
            unit = "MiB max-RSS growth (subprocess)"
        else:
            mem = {v: res[v][1] for v in res}
            unit = "MiB torch.cuda.max_memory_allocated"
        for v in ("batched", "loop"):
            print(f"[{name}] {v:8s} {res[v][0] * 1e3:9.1f} ms/iter   peak {mem[v]:8.1f} {unit}")
        print(f"[{name}] speed-up batched vs loop: {res['loop'][0] / res['batched'][0]:.2f}x")


if __name__ == "__main__":
    main()
