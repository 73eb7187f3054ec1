"""Resumability of the stage runner, on toy stages that count their work."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scamlib.pipeline.config import PipelineConfig, TrainConfig, load_config, profile
from scamlib.pipeline.io import atomic_path, read_json, write_map_png
from scamlib.pipeline.runner import RunError, Stage, run_stages
from scamlib.pipeline.store import stage_key


class Killed(Exception):
    pass


def _toy_stages(calls: dict[str, int], kill_at: tuple[str, int] | None = None):
    """Three stages: 'a' writes 4 files, 'b' reads them, 'c' depends on the student settings."""

    def run_a(ctx):
        folder = ctx.path("a")
        for i in range(4):
            target = folder / f"{i}.png"
            if target.exists():  # resumable: skip finished files
                continue
            if kill_at == ("a", i):
                with atomic_path(target) as tmp:
                    tmp.write_bytes(b"half a file")
                    raise Killed
            calls["a"] += 1
            write_map_png(target, np.full((3, 3), i / 4))
        return {"files": 4}

    def run_b(ctx):
        calls["b"] += 1
        total = sum(np.asarray(Image.open(p)).sum() for p in sorted(ctx.path("a").glob("*.png")))
        (ctx.path("b.json")).write_text(json.dumps({"total": int(total)}))
        return {"total": int(total)}

    def run_c(ctx):
        calls["c"] += 1
        ctx.path("c.txt").write_text(str(ctx.cfg.student.epochs))
        return {"epochs": ctx.cfg.student.epochs}

    return [
        Stage("a", lambda cfg: {"seed": cfg.seed}, (), ("a",), run_a),
        Stage("b", lambda cfg: {}, ("a",), ("b.json",), run_b),
        Stage("c", lambda cfg: {"student": cfg.student}, ("b",), ("c.txt",), run_c),
    ]


def _cfg(**changes) -> PipelineConfig:
    return profile("quick", **changes)


def test_second_run_reuses_everything(tmp_path: Path):
    calls = {"a": 0, "b": 0, "c": 0}
    first = run_stages(_toy_stages(calls), _cfg(), tmp_path, device="cpu", progress=False)
    assert calls == {"a": 4, "b": 1, "c": 1}
    second = run_stages(_toy_stages(calls), _cfg(), tmp_path, device="cpu", resume=True)
    assert calls == {"a": 4, "b": 1, "c": 1}
    assert all(rec["reused"] for rec in second["stages"].values())
    assert second["stages"]["b"]["summary"] == first["stages"]["b"]["summary"]
    assert (tmp_path / "results.json").is_file() and (tmp_path / "results.md").is_file()


def test_changing_a_late_setting_reruns_only_that_stage(tmp_path: Path):
    calls = {"a": 0, "b": 0, "c": 0}
    run_stages(_toy_stages(calls), _cfg(), tmp_path, device="cpu", progress=False)
    cfg = _cfg(student={"epochs": 9})
    run_stages(_toy_stages(calls), cfg, tmp_path, device="cpu", resume=True, progress=False)
    assert calls == {"a": 4, "b": 1, "c": 2}
    assert (tmp_path / "c.txt").read_text() == "9"
    assert load_config(tmp_path / "config.json").student.epochs == 9


def test_changing_an_early_setting_reruns_downstream(tmp_path: Path):
    calls = {"a": 0, "b": 0, "c": 0}
    run_stages(_toy_stages(calls), _cfg(), tmp_path, device="cpu", progress=False)
    run_stages(
        _toy_stages(calls), _cfg(seed=5), tmp_path, device="cpu", resume=True, progress=False
    )
    assert calls == {"a": 8, "b": 2, "c": 2}


def test_kill_mid_stage_leaves_no_partial_file_and_resumes(tmp_path: Path):
    calls = {"a": 0, "b": 0, "c": 0}
    with pytest.raises(Killed):
        run_stages(
            _toy_stages(calls, kill_at=("a", 2)), _cfg(), tmp_path, device="cpu", progress=False
        )
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written == ["0.png", "1.png"]  # no temp file, no half-written 2.png
    assert read_json(tmp_path / "state" / "a.json")["status"] == "running"
    run_stages(_toy_stages(calls), _cfg(), tmp_path, device="cpu", resume=True, progress=False)
    assert calls == {"a": 4, "b": 1, "c": 1}  # files 0 and 1 were not recomputed
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{i}.png" for i in range(4)]


def test_existing_run_needs_resume(tmp_path: Path):
    run_stages(
        _toy_stages({"a": 0, "b": 0, "c": 0}), _cfg(), tmp_path, device="cpu", progress=False
    )
    with pytest.raises(RunError, match="--resume"):
        run_stages(_toy_stages({"a": 0, "b": 0, "c": 0}), _cfg(), tmp_path, device="cpu")


def test_stage_key_depends_on_settings_and_upstream():
    base = stage_key("x", {"lr": 0.1}, ["k1"])
    assert base == stage_key("x", {"lr": 0.1}, ["k1"])
    assert base != stage_key("x", {"lr": 0.1}, ["k2"])
    assert base != stage_key("y", {"lr": 0.1}, ["k1"])
    assert base != stage_key("x", {"lr": 0.2}, ["k1"])


def test_config_round_trip_and_validation(tmp_path: Path):
    cfg = profile("paper", seed=7)
    assert cfg.fine.image_size == 356 and cfg.student.lr == 5e-5 and cfg.n_mg == 2
    assert (cfg.t_d, cfg.t_r, cfg.cgcn_steps) == (0.8, 0.6, 3)
    run_stages([], cfg, tmp_path, device="cpu", progress=False)
    assert load_config(tmp_path / "config.json") == cfg
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="profile"):
        profile("fast")
    with pytest.raises(ValueError, match="clip_frames"):
        replace(cfg, clip_frames=2)


def test_write_map_png_rejects_nan(tmp_path: Path):
    with pytest.raises(ValueError, match="NaN"):
        write_map_png(tmp_path / "x.png", np.array([[np.nan, 0.0]]))
    assert not any(tmp_path.iterdir())
