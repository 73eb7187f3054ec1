"""Kill test for ``scamlib reproduce``: SIGKILL a tiny run at seeded random moments.

The run is the small built-in world of ``tests/pipeline/small.py`` shrunk further (two training
clips of 1 s, one step per epoch, no baselines, no fully supervised reference). It is killed twice,
each time a seeded random moment after a stage of that attempt has started, and resumed after
each kill. After every kill no file in the run folder is a leftover temp file under a result's
name, every JSON file parses, and every student checkpoint present loads; the last ``--resume``
finishes the run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scamlib.models import load_student
from scamlib.pipeline.config import config_to_dict

from ..pipeline.small import ROOT, small_config
from .test_cli_pipeline import _spawn

STAGE_TRAINING = ("coarse", "fine", "switch", "mg", "student", "student_plus")


def _tiny_config(path: Path) -> Path:
    """``small_config()`` with two 1 s training clips and one step per epoch, as JSON."""
    data = config_to_dict(small_config())
    data["data"]["synthetic"].update(num_train=2, seconds=1, num_categories=2)
    for stage in STAGE_TRAINING:
        data[stage].update(batch_size=4, max_steps_per_epoch=1)
    data["map_side"] = 32
    path.write_text(json.dumps(data))
    return path


def _started_stages(log: Path) -> int:
    if not log.is_file():
        return 0
    return sum(" running" in line for line in log.read_text(errors="replace").splitlines())


def _kill_after_a_stage_starts(argv: list[str], log: Path, delay: float) -> int | None:
    """Run ``scamlib argv``; once it has started a stage, SIGKILL it ``delay`` s later."""
    before = _started_stages(log)
    proc = _spawn(argv)
    deadline = time.monotonic() + 120
    while proc.poll() is None and _started_stages(log) <= before:
        assert time.monotonic() < deadline, "no stage started within 120 s"
        time.sleep(0.05)
    end = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < end:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def _check_nothing_partial_is_taken_as_complete(out: Path) -> None:
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        hidden = any(part.startswith(".") for part in path.relative_to(out).parts)
        # a writer's temp file is hidden (".<name>.<random>.tmp"); nothing visible is one
        assert hidden or ".tmp" not in path.name, f"temp file under a result's name: {path}"
        if path.suffix == ".json" and not hidden:
            json.loads(path.read_text())  # a whole file, or none
        text = path.read_text(errors="replace") if path.suffix in (".json", ".md") else ""
        assert ".tmp" not in text or path.name == "run.log", f"{path} refers to a temp file"
    students = out / "checkpoints" / "students"
    for checkpoint in sorted(students.glob("*.safetensors")) if students.is_dir() else []:
        load_student(checkpoint)  # a checkpoint present is a whole one


@pytest.mark.slow
def test_kill_reproduce_then_resume_finishes(tmp_path):
    config = _tiny_config(tmp_path / "tiny.json")
    out = tmp_path / "run"
    argv = ["reproduce", "--config", str(config), "--out", str(out), "--baselines", "none",
            "--no-full-supervision", "--device", "cpu", "--quiet"]  # fmt: skip
    rng = random.Random("kill:reproduce")
    codes = []
    for attempt in range(2):
        resume = ["--resume"] if attempt else []
        if attempt and not (out / "config.json").is_file():
            resume = []  # killed before the run wrote its config: start it again
        delay = round(rng.uniform(0.2, 4.0), 2)
        codes.append(_kill_after_a_stage_starts([*argv, *resume], out / "run.log", delay))
        _check_nothing_partial_is_taken_as_complete(out)
    assert any(code == -signal.SIGKILL for code in codes), f"no attempt was killed: {codes}"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    last = [sys.executable, "-m", "scamlib", *argv, "--resume"]
    done = subprocess.run(last, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _check_nothing_partial_is_taken_as_complete(out)
    results = json.loads((out / "results.json").read_text())
    assert results and (out / "results.md").is_file()
    assert sorted(p.name for p in (out / "checkpoints" / "students").glob("*.safetensors")) == [
        "sta.safetensors", "sta_long.safetensors", "sta_short.safetensors",
    ]  # fmt: skip
