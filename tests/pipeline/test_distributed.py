"""Two CPU processes under torchrun (gloo): DDP training and sharded extraction / prediction
write what one process writes from the same checkpoints."""

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
