"""Two CPU processes under torchrun (gloo): DDP training and sharded extraction / prediction
write what one process writes from the same checkpoints, and a sharded stage killed under one
world size resumes under another."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from .small import ROOT, pngs, run_until

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed is not available"
)


def _torchrun(tmp_path, out, last, port):
    script = tmp_path / f"launch_{port}.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.pipeline.small import run_until\n"
        f"run_until(__import__('pathlib').Path({str(out)!r}), {last!r}, resume=True)\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(port), str(script)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _same_maps(a_root, b_root, folder):
    a, b = pngs(a_root / folder), pngs(b_root / folder)
    assert a, folder
    assert [p.relative_to(a_root) for p in a] == [p.relative_to(b_root) for p in b]
    worst = max(
        np.abs(np.asarray(Image.open(pa), float) - np.asarray(Image.open(pb), float)).max()
        for pa, pb in zip(a, b, strict=True)
    )
    assert worst <= 1, folder  # the same maps, up to one grey level of float rounding


def test_ddp_training_and_sharded_stages_match_one_process(tmp_path):
    dist_out = tmp_path / "dist"
    _torchrun(tmp_path, dist_out, "scam_coarse", 29561)
    # DDP-trained checkpoints load in one process, and one process extracting from them
    # writes the files the two ranks wrote
    single = tmp_path / "single"
    shutil.copytree(dist_out / "checkpoints", single / "checkpoints")
    results = run_until(single, "scam_coarse")  # fit() finds the checkpoints and loads them
    assert results["stages"]["scam_coarse"]["summary"]["rows"] == 4
    for stage in ("cam_s", "scam_coarse"):
        _same_maps(dist_out, single, f"pseudo/{stage}")

    # sharded prediction: finish the run in one process, then predict again with two
    run_until(single, resume=True)
    shutil.rmtree(single / "predictions")
    for name in ("predict", "evaluate"):
        (single / "state" / f"{name}.json").unlink()
    reference = tmp_path / "reference"
    shutil.copytree(single, reference)
    run_until(reference, resume=True)
    _torchrun(tmp_path, single, None, 29562)
    _same_maps(reference, single, "predictions")


# ---- resuming under another world size ---------------------------------------------------------
#: 7 event rows of 1-3 items each: the unit of sharding and of resumption of the per-frame stages
ROWS = {r: list(range(sum(r % 3 + 1 for r in range(r)), sum(r % 3 + 1 for r in range(r + 1))))
        for r in range(7)}  # fmt: skip

_WORKER = """
import os, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from tests.pipeline.test_distributed import extract_rows
extract_rows(Path({out!r}), kill_after=int(os.environ.get("KILL_AFTER", "0")))
"""


def extract_rows(out, *, kill_after: int = 0, env=None) -> list[int]:
    """Run :func:`for_each_row` over :data:`ROWS` (items ``i`` -> ``2 i``) into ``out``, logging
    the rows this process computes; ``kill_after``: die after that many rows (a killed run)."""
    from types import SimpleNamespace

    from scamlib.pipeline.distributed import init_distributed
    from scamlib.pipeline.extract import for_each_row, save_row
    from scamlib.pipeline.runner import Context

    env = env or init_distributed("cpu")
    ctx = Context(cfg=SimpleNamespace(num_workers=0), out=out, env=env, progress=False)
    items = [{"x": torch.tensor([float(i)])} for i in range(sum(map(len, ROWS.values())))]
    computed: list[int] = []

    def row_fn(row, indices, result):
        save_row(ctx, "rows", row, {"y": result["y"], "index": torch.tensor(indices)})
        computed.append(row)
        with open(out / f"computed-{os.getpid()}.txt", "a") as log:
            log.write(f"{row}\n")
        if kill_after and len(computed) >= kill_after:
            if env.distributed:
                os._exit(3)  # a rank dies: torchrun takes the other one down
            raise KeyboardInterrupt

    out.mkdir(parents=True, exist_ok=True)
    for_each_row(ctx, items, ROWS, "rows", lambda b: {"y": 2 * b["x"]}, row_fn, batch_size=2,
                 desc="rows")  # fmt: skip
    return computed


def _torchrun_rows(tmp_path, out, port, kill_after=0):
    """Two processes on one node, launched with the rendezvous form of the multi-node line."""
    script = tmp_path / f"rows_{port}.py"
    script.write_text(_WORKER.format(root=str(ROOT), out=str(out)))
    env = dict(os.environ, OMP_NUM_THREADS="1", KILL_AFTER=str(kill_after))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
           "--nproc-per-node", "2", "--rdzv-backend", "c10d",
           "--rdzv-endpoint", f"localhost:{port}", str(script)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _computed(out) -> list[int]:
    rows = [int(x) for f in out.glob("computed-*.txt") for x in f.read_text().split()]
    for f in out.glob("computed-*.txt"):
        f.unlink()
    return sorted(rows)


def _assert_rows_equal(out, reference):
    files = sorted(p.name for p in (out / "work" / "rows").iterdir())
    assert files == [f"{r:05d}.pt" for r in ROWS]
    for name in files:
        a = torch.load(out / "work" / "rows" / name, weights_only=True)
        b = torch.load(reference / "work" / "rows" / name, weights_only=True)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_sharded_rows_resume_under_another_world_size(tmp_path):
    """Killed with 2 processes and resumed with 1, or killed with 1 and resumed with 2: the
    finished rows are kept, every other row is computed exactly once, and the work files are
    those of an uninterrupted run."""
    from scamlib.pipeline.distributed import DistEnv

    one = DistEnv()
    reference = tmp_path / "reference"
    assert extract_rows(reference, env=one) == list(ROWS)
    assert _computed(reference) == list(ROWS)

    # 2 processes, one rank dies after its second row; then 1 process finishes
    two_then_one = tmp_path / "two_then_one"
    proc = _torchrun_rows(tmp_path, two_then_one, 29571, kill_after=2)
    assert proc.returncode != 0
    first = _computed(two_then_one)
    assert 2 <= len(first) < len(ROWS) and len(set(first)) == len(first)
    second = extract_rows(two_then_one, env=one)
    assert sorted(first + second) == list(ROWS)  # nothing computed twice, nothing missed
    _assert_rows_equal(two_then_one, reference)

    # 1 process killed after 3 rows; then 2 processes finish, sharing the 4 rows left
    one_then_two = tmp_path / "one_then_two"
    with pytest.raises(KeyboardInterrupt):
        extract_rows(one_then_two, kill_after=3, env=one)
    first = _computed(one_then_two)
    assert first == [0, 1, 2]
    proc = _torchrun_rows(tmp_path, one_then_two, 29572)
    assert proc.returncode == 0, proc.stderr[-4000:]
    per_rank = [sorted(int(x) for x in f.read_text().split())
                for f in sorted(one_then_two.glob("computed-*.txt"))]  # fmt: skip
    assert sorted(r for rows in per_rank for r in rows) == [3, 4, 5, 6]
    assert sorted(map(len, per_rank)) == [2, 2]  # the rows left are shared out evenly
    _assert_rows_equal(one_then_two, reference)
