"""The steps of ``benchmarks/gpu_check.sh``, run against one deadline, with one report.

Each step is a command line run in a subprocess (its own process group) with the time left as
its timeout. After every step the report (``gpu_check-<device>.json`` and ``.md`` in ``--out``)
is rewritten, so a run stopped at the limit still says what it measured and which steps did not
run (``not run: time limit``). Every number in the report, and in the summary printed at the
end, names the command that produced it.

The report goes to ``benchmarks/results/`` on CUDA (the report to commit), to a temporary
folder on the CPU, or to ``--out``. Step outputs (the smoke run's folder, the benchmarks' JSON)
live in a temporary folder that is removed at the end; the tests run without a pytest cache, so
the checkout is left as it was.

Run it through ``benchmarks/gpu_check.sh``, which installs the project first; ``--dry-run``
prints the commands without running any.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The steps, in the order they run.
STEP_NAMES = ("cuda_tests", "bench_metrics", "bench_cgcn", "bench_predict", "paper_smoke")
#: Free disk the paper smoke needs: the paper networks' weights (the classifiers ~1.3 GB, three
#: students ~3.4 GB, one ablation or fully supervised student at a time ~1.1 GB) and a margin.
SMOKE_DISK_GIB = 8.0


@dataclass
class Step:
    name: str
    what: str
    argv: list[str]
    json_out: Path | None = None
    disk_gib: float = 0.0  # free space it needs in the work folder
    status: str = "not run"
    seconds: float | None = None
    tail: str = ""
    result: dict | None = field(default=None)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def _steps(device: str, work: Path, python: str | None = None) -> list[Step]:
    py = python or sys.executable
    cuda = device.startswith("cuda")
    steps = [
        Step(
            "cuda_tests",
            "the tests marked cuda (they skip without a CUDA device)",
            [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", "tests"],
        ),
        Step(
            "bench_metrics",
            "post-process + resize + five metrics at 360x640 (goal on CUDA: >= 5,000 frames/s)",
            [py, "benchmarks/bench_metrics.py", "--device", device]
            + ([] if cuda else ["--quick"])
            + ["--json", str(work / "bench_metrics.json")],
            work / "bench_metrics.json",
        ),
        Step(
            "bench_cgcn",
            "batched C-GCN against the per-sample loop, B = 16, paper sizes (goal: >= 3x)",
            [py, "benchmarks/bench_cgcn.py", "--device", device] + ([] if cuda else ["--quick"]),
        ),
        Step(
            "bench_predict",
            "students at the paper preset, eager fp32 against bf16 + channels_last "
            "(goals: STA >= 500 frames/s at 356 px, PF_final >= 150 frames/s)",
            [py, "benchmarks/bench_predict.py", "--device", device]
            + ([] if cuda else ["--quick"])
            + ["--json", str(work / "bench_predict.json")],
            work / "bench_predict.json",
        ),
        Step(
            "paper_smoke",
            "every stage of the paper profile on a generated set at the paper's input sizes, "
            + ("2 steps per training stage, AMP on" if cuda else "1 step per training stage"),
            [py, "benchmarks/paper_smoke.py", "--device", device, "--out", str(work / "smoke"),
             "--steps", "2" if cuda else "1", "--json", str(work / "paper_smoke.json")],
            work / "paper_smoke.json",
            disk_gib=SMOKE_DISK_GIB,
        ),
    ]
    return steps


def _run_step(step: Step, timeout: float) -> None:
    """Run ``step`` with ``timeout`` seconds; on the limit, end its whole process group."""
    proc = subprocess.Popen(
        step.argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
        step.status = "passed" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        step.status = "stopped: time limit"
    step.tail = (out or "")[-6000:]


def _numbers(value, prefix: str = "") -> list[tuple[str, float]]:
    """Every number in a step's JSON result, with its dotted path (list rows by their name)."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [(prefix, value)]
    found: list[tuple[str, float]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _numbers(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            name = v.get("model", v.get("name", i)) if isinstance(v, dict) else i
            found += _numbers(v, f"{prefix}[{name}]")
    return found


def _summary(report: dict) -> str:
    """Each step's status and time, and each number it measured, under the command it came from."""
    lines = [f"gpu_check summary ({report['environment']['device']}, limit {report['limit_s']} s):"]
    for s in report["steps"]:
        secs = "" if s["seconds"] is None else f", {s['seconds']:.1f} s"
        lines.append(f"  {s['name']}: {s['status']}{secs}")
        if s["seconds"] is None:
            continue
        lines.append(f"    from: {shlex.join(s['argv'])}")
        for path, number in _numbers(s["result"] or {})[:40]:
            lines.append(f"      {path} = {number:.6g}")
    return "\n".join(lines)


def _environment(device: str) -> dict:
    import torch

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "device": device,
        "host_cpus": os.cpu_count(),
        "install_seconds": os.environ.get("SCAMLIB_GPU_CHECK_INSTALL_SECONDS"),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
    return env


def _markdown(report: dict) -> str:
    lines = [
        f"# gpu_check on {report['environment'].get('gpu', report['environment']['device'])}",
        "",
        f"Started {report['started']}, limit {report['limit_s']} s, "
        f"torch {report['environment']['torch']}.",
        "",
        "| step | status | seconds | what |",
        "| --- | --- | --- | --- |",
    ]
    for s in report["steps"]:
        secs = "" if s["seconds"] is None else f"{s['seconds']:.1f}"
        lines.append(f"| {s['name']} | {s['status']} | {secs} | {s['what']} |")
    lines += ["", "## Where each number came from", ""]
    for s in report["steps"]:
        lines += [f"### {s['name']}", "", f"`{shlex.join(s['argv'])}`", ""]
        if s["result"]:
            lines += ["```json", json.dumps(s["result"], indent=2)[:4000], "```", ""]
        if s["tail"]:
            lines += ["```", s["tail"][-3000:], "```", ""]
    return "\n".join(lines) + "\n"


def _write(report: dict, out: Path, device: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"gpu_check-{device.split(':')[0]}"
    texts = (
        (".json", json.dumps(report, indent=2, default=str) + "\n"),
        (".md", _markdown(report)),
    )
    for suffix, text in texts:
        tmp = stem.with_name(stem.name + suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, stem.with_name(stem.name + suffix))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="scamlib's CUDA checks in one run")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--limit", type=float, default=450.0, help="seconds for all steps")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report folder (default: benchmarks/results on CUDA, a temporary folder on the CPU)",
    )
    parser.add_argument("--only", nargs="+", default=None, help="run these steps only")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    args = parser.parse_args(argv)
    if args.only:
        unknown = set(args.only) - set(STEP_NAMES)
        if unknown:
            parser.error(f"--only: unknown step(s) {sorted(unknown)}; the steps are {STEP_NAMES}")
    if args.limit <= 0:
        parser.error(f"--limit must be a positive number of seconds, got {args.limit}")
    cuda = args.device.startswith("cuda")
    work = Path(tempfile.mkdtemp(prefix="gpu_check."))
    try:
        return _check(args, work, cuda)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check(args: argparse.Namespace, work: Path, cuda: bool) -> int:
    # a dry run names the step outputs' folder $WORK (a temporary folder in a real run)
    # (and the interpreter gpu_check.sh would have installed into, when it asks for a dry run)
    shown = os.environ.get("SCAMLIB_GPU_CHECK_DRY_PYTHON") if args.dry_run else None
    steps = _steps(args.device, Path("$WORK") if args.dry_run else work, shown)
    chosen = [s for s in steps if not args.only or s.name in args.only]
    for s in steps:
        if s not in chosen:
            s.status = "not run: not in --only"
    if args.dry_run:
        for s in chosen:
            print(f"+ {s.command}    # {s.name}: {s.what}")
        print("($WORK: a temporary folder, removed at the end; the report goes to "
              f"{args.out or ('benchmarks/results' if cuda else 'a temporary folder')})")
        return 0
    out = args.out
    if out is None:  # the report to commit on CUDA; a throw-away one on the CPU
        out = ROOT / "benchmarks" / "results"
        if not cuda:
            out = Path(tempfile.mkdtemp(prefix="gpu_check-report."))
    report = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "limit_s": args.limit,
        "environment": _environment(args.device),
        "steps": [asdict(s) for s in steps],
    }
    _write(report, out, args.device)
    deadline = time.monotonic() + args.limit
    failed = timed_out = short = False
    for i, step in enumerate(steps):
        if step not in chosen:
            continue
        left = deadline - time.monotonic()
        if left < 1:
            step.status = "not run: time limit"
            report["steps"][i] = asdict(step)
            timed_out = True
            continue
        free = shutil.disk_usage(work).free / 2**30
        if free < step.disk_gib:
            step.status = (
                f"not run: disk (needs {step.disk_gib:.0f} GiB free in {work}, found {free:.1f})"
            )
            print(f"== {step.name}: {step.status}", flush=True)
            report["steps"][i] = asdict(step)
            short = True
            continue
        print(f"== {step.name}: {step.command}", flush=True)
        t0 = time.monotonic()
        _run_step(step, left)
        step.seconds = time.monotonic() - t0
        failed |= step.status.startswith("failed")
        timed_out |= step.status.startswith("stopped")
        if step.json_out is not None and step.json_out.is_file():
            step.result = json.loads(step.json_out.read_text())
        print(step.tail[-1500:], flush=True)
        report["steps"][i] = asdict(step)
        _write(report, out, args.device)
    _write(report, out, args.device)
    print(_summary(report), flush=True)
    print(f"gpu_check: report in {out}", flush=True)
    # 1: a step failed; 3: nothing failed, but the time limit or the disk stopped a step
    # (partial report)
    return 1 if failed else 3 if timed_out or short else 0


if __name__ == "__main__":
    sys.exit(main())
