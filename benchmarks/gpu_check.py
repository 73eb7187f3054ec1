"""The steps of ``benchmarks/gpu_check.sh``, run against one deadline, with one report.

Each step is a command line run in a subprocess with the time left as its timeout. After every
step the report (``gpu_check-<device>.json`` and ``.md`` in ``--out``) is rewritten, so a run
stopped at the limit still says what it measured and which steps did not run. Every number in
the report names the command that produced it.

Run it through ``benchmarks/gpu_check.sh``, which installs the project first; ``--dry-run``
prints the commands without running any.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Step:
    name: str
    what: str
    argv: list[str]
    json_out: Path | None = None
    status: str = "not run"
    seconds: float | None = None
    tail: str = ""
    result: dict | None = field(default=None)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def _steps(device: str, work: Path) -> list[Step]:
    py = sys.executable
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
        ),
    ]
    return steps


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
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--only", nargs="+", default=None, help="run these steps only")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gpu_check."))
    steps = _steps(args.device, work)
    if args.only:
        unknown = set(args.only) - {s.name for s in steps}
        if unknown:
            names = [s.name for s in steps]
            parser.error(f"--only: unknown step(s) {sorted(unknown)}; the steps are {names}")
        steps = [s for s in steps if s.name in args.only]
    if args.dry_run:
        for s in steps:
            print(f"+ {s.command}    # {s.name}: {s.what}")
        return 0
    deadline = time.monotonic() + args.limit
    report = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "limit_s": args.limit,
        "environment": _environment(args.device),
        "steps": [asdict(s) for s in steps],
    }
    _write(report, args.out, args.device)
    failed = False
    for i, step in enumerate(steps):
        left = deadline - time.monotonic()
        if left < 5:
            step.status = "not run: time limit"
            report["steps"][i] = asdict(step)
            continue
        print(f"== {step.name}: {step.command}", flush=True)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                step.argv, cwd=ROOT, capture_output=True, text=True, timeout=left
            )
            step.status = "passed" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
            step.tail = (proc.stdout + proc.stderr)[-6000:]
        except subprocess.TimeoutExpired as exc:
            step.status = "stopped: time limit"
            out = exc.stdout or b""
            step.tail = (out.decode() if isinstance(out, bytes) else out)[-6000:]
        step.seconds = time.monotonic() - t0
        failed |= step.status.startswith(("failed", "stopped"))
        if step.json_out is not None and step.json_out.is_file():
            step.result = json.loads(step.json_out.read_text())
        print(step.tail[-1500:], flush=True)
        report["steps"][i] = asdict(step)
        _write(report, args.out, args.device)
    _write(report, args.out, args.device)
    print(f"gpu_check: report in {args.out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
