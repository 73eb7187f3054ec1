"""The pipeline end to end on a reduced built-in set: outputs, resume after a kill, determinism.

One full run is shared by the module (a module-scoped fixture); the resume and determinism
tests run the pseudo-fixation stages again in their own folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scamlib.pipeline import io as pio
from scamlib.pipeline import profile, run_stages
from scamlib.pipeline.reproduce import build_parser, config_from_args, main
from scamlib.pipeline.stages import build_stages, finalize

ROOT = Path(__file__).resolve().parents[2]

#: A world small enough for the test suite: 6 training clips of 2 s, one 1 s test video per set.
SMALL_WORLD = {
    "num_train": 6,
    "num_val": 0,
    "num_test": 0,
    "seconds": 2,
    "num_test_videos": 1,
    "test_seconds": 1,
    "num_categories": 3,
}
FAST = {"epochs": 1, "batch_size": 8, "image_size": 32}


def small_config(**changes):
    return profile(
        "quick",
        coarse=FAST,
        fine=FAST,
        switch=FAST,
        mg=FAST,
        student=FAST,
        eval_splits=3,
        data={"synthetic": SMALL_WORLD},
        **changes,
    )


def run_until(out: Path, last: str, cfg=None, **kwargs):
    stages = build_stages(cfg)
    names = [s.name for s in stages]
    return run_stages(
        stages[: names.index(last) + 1],
        cfg or small_config(),
        out,
        device="cpu",
        progress=False,
        finalize=finalize,
        **kwargs,
    )


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = small_config()
    results = run_stages(build_stages(cfg), cfg, out, device="cpu", progress=False,
                         finalize=finalize)  # fmt: skip
    return out, results


def _pngs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.png"))


def test_pseudo_maps_are_written_per_row_and_frame(full_run):
    out, _ = full_run
    cam_s = _pngs(out / "pseudo" / "cam_s")
    annotations = (out / "data" / "AVE_Dataset" / "Annotations.txt").read_text().splitlines()
    train_rows = len(annotations) - 1  # header line; val/test are empty in the small world
    assert len({p.parent.name for p in cam_s}) == train_rows
    assert len(cam_s) == train_rows * 2 * 8  # every frame of every 2 s clip at 8 fps
    for stage in ("scam_coarse", "scam_fine", "avg_fine", "scam_plus", "pgt"):
        maps = _pngs(out / "pseudo" / stage)
        assert maps, stage
        assert {p.name for p in maps} <= {p.name for p in cam_s}
    img = Image.open(cam_s[0])
    assert img.mode == "L" and img.size == (128, 96)  # uint8 at the frame's size


def test_predictions_cover_every_test_frame(full_run):
    out, _ = full_run
    stavis = out / "data" / "stavis" / "video_frames"
    frames = sorted(p.relative_to(stavis) for p in stavis.rglob("img_*.jpg"))
    for variant in ("sta", "sta_short", "sta_long", "pf_final", "pf_agg"):
        got = sorted(
            p.relative_to(out / "predictions" / variant).with_suffix(".jpg")
            for p in _pngs(out / "predictions" / variant)
        )
        assert got == frames, variant


def test_results_hold_metrics_and_tables(full_run):
    out, _ = full_run
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["data"]["synthetic"]["num_train"] == 6
    for db in ("SynthAV", "SynthDIEM"):
        for variant in ("sta", "sta_short", "sta_long", "pf_final", "pf_agg"):
            scores = saved["test"][db][variant]
            assert set(scores) >= {"AUC_J", "SIM", "sAUC", "CC", "NSS"}
            assert 0.0 <= scores["AUC_J"] <= 1.0
    quality = saved["pseudo_quality"]
    assert set(quality) >= {"cam_s", "scam_coarse", "avg_fine", "scam_fine", "scam_plus"}
    assert set(saved["wall_time_s"]) >= {"train_coarse", "students", "evaluate"}
    md = (out / "results.md").read_text()
    assert "Table 1" in md and "Table 6" in md and "Table 7" in md
    assert (out / "config.json").is_file() and (out / "run.log").is_file()


def test_students_load_in_a_fresh_process_without_the_run(full_run):
    out, _ = full_run
    from scamlib.inference import load_students

    students = load_students(out / "checkpoints" / "students")
    assert set(students) == {"sta", "sta_short", "sta_long"}
    for path in (out / "checkpoints").rglob("*.safetensors"):
        state, _ = pio.load_checkpoint(path)
        assert state


def test_rerun_reuses_everything(full_run):
    out, _ = full_run
    before = {p: p.stat().st_mtime_ns for p in _pngs(out / "pseudo")}
    results = run_stages(build_stages(), small_config(), out, device="cpu", resume=True,
                         progress=False, finalize=finalize)  # fmt: skip
    assert all(rec["reused"] for rec in results["stages"].values())
    assert {p: p.stat().st_mtime_ns for p in _pngs(out / "pseudo")} == before


def test_changing_a_late_setting_reruns_only_what_depends_on_it(full_run, tmp_path):
    out, _ = full_run
    cfg = small_config(eval_splits=2)
    results = run_stages(build_stages(cfg), cfg, out, device="cpu", resume=True,
                         progress=False, finalize=finalize)  # fmt: skip
    ran = {name for name, rec in results["stages"].items() if not rec["reused"]}
    assert ran == {"pseudo_quality", "evaluate"}


def test_an_existing_run_is_not_overwritten_without_resume(full_run):
    out, _ = full_run
    with pytest.raises(Exception, match="--resume"):
        run_stages(build_stages(), small_config(), out, device="cpu", progress=False)


class _Killed(Exception):
    pass


def test_resume_after_a_kill_leaves_no_partial_file_and_redoes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_until(out, "train_coarse")
    calls = {"n": 0}
    real = pio._write_with

    def dying_write(target, write, suffix=""):
        calls["n"] += 1
        if calls["n"] == 40:  # in the middle of scam_coarse's PNGs
            raise _Killed
        return real(target, write, suffix)

    monkeypatch.setattr(pio, "_write_with", dying_write)
    with pytest.raises(_Killed):
        run_until(out, "scam_coarse", resume=True)
    monkeypatch.setattr(pio, "_write_with", real)
    leftovers = [p for p in out.rglob("*") if ".tmp" in p.name or p.name.startswith(".")]
    assert leftovers == []
    finished = {p: p.stat().st_mtime_ns for p in (out / "work" / "coarse").glob("*.pt")}
    assert finished  # some rows completed before the kill
    run_until(out, "scam_coarse", resume=True)
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime  # finished rows were not recomputed
    fresh = tmp_path / "fresh"
    run_until(fresh, "scam_coarse")
    for stage in ("cam_s", "scam_coarse"):
        a, b = _pngs(out / "pseudo" / stage), _pngs(fresh / "pseudo" / stage)
        assert [p.relative_to(out) for p in a] == [p.relative_to(fresh) for p in b]
        for pa, pb in zip(a, b, strict=True):
            assert pa.read_bytes() == pb.read_bytes()


def test_same_seed_gives_identical_pseudo_ground_truth(full_run, tmp_path):
    out, _ = full_run
    again = tmp_path / "again"
    run_until(again, "pgt")
    a, b = _pngs(out / "pseudo" / "pgt"), _pngs(again / "pseudo" / "pgt")
    assert [p.relative_to(out) for p in a] == [p.relative_to(again) for p in b]
    assert all(pa.read_bytes() == pb.read_bytes() for pa, pb in zip(a, b, strict=True))


def test_parser_builds_configs_and_rejects_bad_input(tmp_path, capsys):
    parser = build_parser("reproduce")
    cfg = config_from_args(
        parser.parse_args(["--out", str(tmp_path), "--set", "student.epochs=2", "--seed", "5"])
    )
    assert cfg.student.epochs == 2 and cfg.seed == 5 and cfg.data.builtin
    paper = config_from_args(parser.parse_args(["--out", "x", "--profile", "paper"]))
    assert paper.fine.image_size == 356 and paper.preset == "paper"
    with pytest.raises(ValueError, match="unknown setting"):
        config_from_args(parser.parse_args(["--out", "x", "--set", "student.nope=1"]))
    assert main(["--out", str(tmp_path), "--ave-root", str(tmp_path / "absent"),
                 "--avsal-root", str(tmp_path)]) != 0  # fmt: skip
    assert "--ave-root" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--ave-root", str(tmp_path)]) == 2
    assert "both" in capsys.readouterr().err


def test_example_script_help():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "reproduce_stanet_plus.py"), "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "--profile" in proc.stdout and "--resume" in proc.stdout and "torchrun" in proc.stdout


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_gloo_processes_write_what_one_process_writes(tmp_path):
    """Sharded CAM extraction and prediction under torchrun equal a single process's files,
    and DDP training finishes with checkpoints that load in one process."""
    dist_out = tmp_path / "dist"
    script = tmp_path / "launch.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests' / 'pipeline')!r})\n"
        "from test_stages import small_config\n"
        "from scamlib.pipeline import run_stages\n"
        "from scamlib.pipeline.stages import build_stages, finalize\n"
        "cfg = small_config()\n"
        f"run_stages(build_stages(cfg), cfg, {str(dist_out)!r}, device='cpu', progress=False,\n"
        "           finalize=finalize)\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", "29561", str(script)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    # DDP-trained checkpoints load in this single process
    from scamlib.inference import load_students

    assert set(load_students(dist_out / "checkpoints" / "students")) == {
        "sta", "sta_short", "sta_long"
    }  # fmt: skip
    # a single process from the same checkpoints writes the same files (fit reuses them)
    single = tmp_path / "single"
    for src in (dist_out / "checkpoints").rglob("*.safetensors"):
        dst = single / src.relative_to(dist_out)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    cfg = small_config()
    run_stages(build_stages(cfg), cfg, single, device="cpu", progress=False, finalize=finalize)
    for folder in ("pseudo", "predictions"):
        a, b = _pngs(dist_out / folder), _pngs(single / folder)
        assert a, folder
        assert [p.relative_to(dist_out) for p in a] == [p.relative_to(single) for p in b]
        diffs = [
            np.abs(np.asarray(Image.open(pa), float) - np.asarray(Image.open(pb), float)).max()
            for pa, pb in zip(a, b, strict=True)
        ]
        assert max(diffs) <= 1, folder  # the same maps, up to one grey level of rounding
