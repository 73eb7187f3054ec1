"""benchmarks/gpu_check.py: the step list of a dry run and the partial report at the limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
STEPS = ["cuda_tests", "bench_metrics", "bench_cgcn", "bench_predict", "paper_smoke"]


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_dry_run_lists_the_five_steps_and_runs_nothing():
    for device in ("cuda", "cpu"):
        proc = _run("--dry-run", "--device", device)
        assert proc.returncode == 0, proc.stderr
        commands = [line for line in proc.stdout.splitlines() if line.startswith("+ ")]
        assert [line.rsplit("# ", 1)[1].split(":")[0] for line in commands] == STEPS
        assert all(f"--device {device}" in c for c in commands[1:])
        assert ("--quick" in proc.stdout) == (device == "cpu")


def test_limit_stops_the_run_with_a_partial_report(tmp_path):
    """The first chosen step is cut at the limit, the next one never starts, the report says
    so, and the steps left out by --only are marked as such."""
    out = tmp_path / "report"
    proc = _run("--device", "cpu", "--only", "cuda_tests", "bench_cgcn", "--limit", "1.5",
                "--out", str(out))  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr  # stopped at the limit, none failed
    report = json.loads((out / "gpu_check-cpu.json").read_text())
    status = {s["name"]: s["status"] for s in report["steps"]}
    assert status["cuda_tests"] in ("stopped: time limit", "passed")
    assert status["bench_cgcn"] == "not run: time limit"
    for name in ("bench_metrics", "bench_predict", "paper_smoke"):
        assert status[name] == "not run: not in --only"
    md = (out / "gpu_check-cpu.md").read_text()
    assert "not run: time limit" in md and "Where each number came from" in md
    assert "from: " in proc.stdout  # the summary names each command
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check-cpu.json", "gpu_check-cpu.md"]


def test_unknown_step_is_a_usage_error():
    proc = _run("--dry-run", "--only", "nope")
    assert proc.returncode == 2 and "unknown step" in proc.stderr


def test_a_step_without_the_free_disk_it_needs_is_not_run(tmp_path, monkeypatch, capsys):
    """The paper smoke needs ~8 GiB for the paper networks' weights: with less free, it is not
    started, the report says why, and the exit status is 3 (partial), not 1 (failed)."""
    import importlib.util
    import shutil
    from collections import namedtuple

    spec = importlib.util.spec_from_file_location("gpu_check_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**40, 2**40 - 2**30, 2**30))
    started = []
    monkeypatch.setattr(module, "_run_step", lambda step, timeout: started.append(step.name))
    out = tmp_path / "report"
    code = module.main(["--device", "cpu", "--only", "paper_smoke", "--out", str(out)])
    assert code == 3 and started == []
    report = json.loads((out / "gpu_check-cpu.json").read_text())
    status = {s["name"]: s["status"] for s in report["steps"]}["paper_smoke"]
    assert status.startswith("not run: disk (needs 8 GiB free") and "found 1.0" in status
    assert "not run: disk" in capsys.readouterr().out
