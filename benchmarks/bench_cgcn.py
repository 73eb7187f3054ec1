"""Batched ConservativeGCN vs a per-sample, per-node loop: speed and peak memory.

Forward + backward of the C-GCN (default B=16, n=2 MG nodes, m=3 steps, 28 x 32 x 32 nodes) as
scamlib runs it (``ConservativeGCN``: samples and node pairs batched, one affinity per unordered
pair, edges recomputed in the backward pass) and as the straightforward reading of Eqs. 9-14
runs it (``loop_reference``: Python loops over samples and ordered node pairs, one
``softmax(P h_i^T P h_j)`` per edge, differentiated by autograd). Same module, same parameters.

Timing: one warm-up call of each variant, then ``--repeats`` rounds that run the variants in
alternation (so both see the same machine load); the table gives the median and the minimum
milliseconds per forward + backward, and the speed-up is the ratio of the medians.
``torch.set_num_threads(--threads)`` holds for both.

Memory, two columns:

- ``saved MiB``: what autograd keeps for the backward pass after the forward (every tensor
  packed through ``torch.autograd.graph.saved_tensors_hooks``, unique storages, parameters
  included); device independent.
- ``peak MiB``: on CUDA, ``torch.cuda.max_memory_allocated`` during one forward + backward over
  the memory allocated before it (after a warm-up call). On CPU, each variant runs in a fresh
  subprocess (libraries warmed up on a 4 x 4 input) and we report the growth of its peak
  resident set size (``VmHWM`` of ``/proc/self/status``; ``ru_maxrss`` where /proc is absent)
  over one cold full-size forward + backward. This is process level (allocator caching and
  page slack included) but comparable between the variants. (tracemalloc does not see torch's
  allocations, and a warm process keeps freed heap memory resident, hiding the peak.)

Usage::

    python benchmarks/bench_cgcn.py [--device cpu|cuda|all] [--repeats 5] [--quick]
                                    [--threads N] [--batch 16] [--nodes 2] [--steps 3]
                                    [--channels 28] [--size 32]

``--quick`` is a smoke run (B=4, 16 x 16 nodes, 2 repeats).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from scamlib.nn import ConservativeGCN

VARIANTS = ("batched", "loop")


def loop_reference(gcn: ConservativeGCN, target: torch.Tensor, mg: torch.Tensor):
    """Eqs. 9-14 with Python loops over samples and ordered node pairs (i, j), i != j."""
    outs_t, outs_mg = [], []
    for b in range(target.shape[0]):
        nodes = [target[b], *mg[b].unbind(0)]
        c, h, w = nodes[0].shape
        for _ in range(gcn.steps):
            flat = [x.reshape(c, h * w) for x in nodes]
            proj = [gcn.proj(x[None])[0].reshape(-1, h * w) for x in nodes]
            new = []
            for i in range(len(nodes)):
                msg = torch.zeros_like(flat[i])
                for j in range(len(nodes)):
                    if i != j:
                        edge = (proj[i].T @ proj[j]).softmax(dim=-1)  # e_ij, Eqs. 9-10
                        msg = msg + flat[j] @ edge.T  # Eq. 11
                upd = (flat[i] * torch.sigmoid(msg)).reshape(c, h, w)  # Eq. 12
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


def _forward(variant, gcn, target, mg):
    return gcn(target, mg) if variant == "batched" else loop_reference(gcn, target, mg)


def _step(variant, gcn, target, mg):
    out_t, out_mg = _forward(variant, gcn, target, mg)
    (out_t.sum() + out_mg.sum()).backward()


def _saved_mib(variant, gcn, target, mg) -> float:
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[(s.data_ptr(), t.device)] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = _forward(variant, gcn, target, mg)
    del out
    return sum(storages.values()) / 2**20


def _time(args, device):
    """Median and min seconds per fwd+bwd of each variant, run in alternation."""
    gcn, target, mg = _setup(args, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = {v: [] for v in VARIANTS}
    for v in VARIANTS:
        _step(v, gcn, target, mg)  # warm-up
    for _ in range(args.repeats):
        for v in VARIANTS:
            sync()
            start = time.perf_counter()
            _step(v, gcn, target, mg)
            sync()
            times[v].append(time.perf_counter() - start)
    return {v: (statistics.median(t), min(t)) for v, t in times.items()}


def _cuda_peak_mib(args, variant) -> float:
    device = torch.device("cuda")
    gcn, target, mg = _setup(args, device)
    _step(variant, gcn, target, mg)  # warm-up (cuBLAS workspaces, caching allocator)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    _step(variant, gcn, target, mg)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _cpu_child(args, variant) -> None:
    """Run in a subprocess: print the peak-RSS growth of one cold fwd+bwd, in MiB."""
    torch.set_num_threads(args.threads)
    gcn, target, mg = _setup(args, torch.device("cpu"))
    # Initialise the kernels' libraries and threads on a tiny input, not on the real one: a
    # warm-up at full size would leave its freed memory resident and hide the real peak.
    tiny = (torch.randn(1, args.channels, 4, 4), torch.randn(1, args.nodes, args.channels, 4, 4))
    _step(variant, gcn, tiny[0].requires_grad_(), tiny[1].requires_grad_())
    gcn.zero_grad()
    base = _peak_rss_kib()
    _step(variant, gcn, target, mg)
    print(json.dumps({"peak_mib": (_peak_rss_kib() - base) / 1024}))


def _cpu_peak_mib(args, variant) -> float:
    cmd = [sys.executable, __file__, "--child", variant, "--threads", str(args.threads),
           "--batch", str(args.batch), "--nodes", str(args.nodes), "--steps", str(args.steps),
           "--channels", str(args.channels), "--size", str(args.size)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mib"]


def _check(args) -> tuple[float, float]:
    """Max |batched - loop| of the outputs and of the input gradients, on 2 samples (CPU)."""
    gcn, target, mg = _setup(args, torch.device("cpu"))
    target, mg = target[:2].detach(), mg[:2].detach()
    res = []
    for v in VARIANTS:
        t, m = target.clone().requires_grad_(), mg.clone().requires_grad_()
        out_t, out_mg = _forward(v, gcn, t, m)
        (out_t.square().sum() + out_mg.sum()).backward()
        res.append((out_t.detach(), out_mg.detach(), t.grad, m.grad))
    diffs = [(a - b).abs().max().item() for a, b in zip(*res, strict=True)]
    return max(diffs[:2]), max(diffs[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="smoke run: B=4, 16x16, 2 repeats")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=None, help="B (default 16)")
    parser.add_argument("--nodes", type=int, default=2, help="MG nodes n")
    parser.add_argument("--steps", type=int, default=3, help="reasoning steps m")
    parser.add_argument("--channels", type=int, default=28)
    parser.add_argument("--size", type=int, default=None, help="h = w (default 32)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = args.quick
    args.batch = args.batch or (4 if quick else 16)
    args.size = args.size or (16 if quick else 32)
    args.repeats = args.repeats or (2 if quick else 5)
    if args.child:
        _cpu_child(args, args.child)
        return
    torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        print("(CUDA not available: skipped)")
        devices.remove("cuda")
    s = args.size
    print(f"C-GCN forward+backward: B={args.batch} n={args.nodes} m={args.steps} "
          f"nodes {args.channels}x{s}x{s} (hw={s * s}), torch {torch.__version__}, "
          f"{args.threads} CPU threads, {args.repeats} repeats")  # fmt: skip
    out_err, grad_err = _check(args)
    print(f"check (2 samples): max |batched - loop| outputs {out_err:.1e}, "
          f"input grads {grad_err:.1e}")  # fmt: skip
    print(f"{'device':6s} {'variant':8s} {'median ms':>10s} {'min ms':>9s} "
          f"{'saved MiB':>10s} {'peak MiB':>9s}")  # fmt: skip
    for name in devices:
        device = torch.device(name)
        times = _time(args, device)
        gcn, target, mg = _setup(args, device)
        saved = {v: _saved_mib(v, gcn, target, mg) for v in VARIANTS}
        del gcn, target, mg
        peak_fn = _cpu_peak_mib if name == "cpu" else _cuda_peak_mib
        peak = {v: peak_fn(args, v) for v in VARIANTS}
        for v in VARIANTS:
            med, best = times[v]
            print(f"{name:6s} {v:8s} {med * 1e3:10.1f} {best * 1e3:9.1f} "
                  f"{saved[v]:10.1f} {peak[v]:9.1f}")  # fmt: skip
        ratio = times["loop"][0] / times["batched"][0]
        ratio_min = times["loop"][1] / times["batched"][1]
        print(f"{name:6s} speed-up batched vs loop: {ratio:.2f}x (medians), "
              f"{ratio_min:.2f}x (minima); peak memory batched / loop: "
              f"{peak['batched'] / max(peak['loop'], 1e-9):.2f}")  # fmt: skip
    print("saved MiB: tensors autograd keeps for backward; peak MiB: CPU = peak-RSS growth of one "
          "cold fwd+bwd in a fresh subprocess, CUDA = max_memory_allocated over the pre-call "
          "allocation")  # fmt: skip


if __name__ == "__main__":
    main()
