"""The pipeline end to end on a reduced built-in set: outputs, results, reuse, the command.

One full run is shared by the module (a module-scoped fixture; ``--dist loadfile`` keeps this
file on one worker).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from scamlib.pipeline import io as pio
from scamlib.pipeline.reproduce import build_parser, config_from_args, main
from scamlib.pipeline.stages import build_stages
from scamlib.pipeline.train import saved_summary

from .small import ROOT, SMALL_WORLD, pngs, run_until, small_config

VARIANTS = ("sta", "sta_short", "sta_long", "pf_final", "pf_agg")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return out, run_until(out)


def test_pseudo_maps_are_written_per_row_and_frame(full_run):
    out, _ = full_run
    cam_s = pngs(out / "pseudo" / "cam_s")
    annotations = (out / "data" / "AVE_Dataset" / "Annotations.txt").read_text().splitlines()
    rows = len(annotations) - 1  # header line; val and test are empty in the small world
    assert rows == SMALL_WORLD["num_train"]
    assert sorted({int(p.parent.name) for p in cam_s}) == list(range(rows))
    assert len(cam_s) == rows * SMALL_WORLD["seconds"] * 8  # every frame, 8 fps
    for stage in ("scam_coarse", "scam_fine", "avg_fine", "scam_plus", "pgt"):
        maps = pngs(out / "pseudo" / stage)
        assert maps, stage
        assert {p.relative_to(out / "pseudo" / stage) for p in maps} <= {
            p.relative_to(out / "pseudo" / "cam_s") for p in cam_s
        }
    img = Image.open(cam_s[0])
    assert img.mode == "L" and img.size == (128, 96)  # uint8 at the frame's size


def test_predictions_cover_every_test_frame(full_run):
    out, _ = full_run
    frames_root = out / "data" / "stavis" / "video_frames"
    frames = sorted(p.relative_to(frames_root).with_suffix("") for p in frames_root.rglob("*.jpg"))
    for variant in VARIANTS:
        root = out / "predictions" / variant
        got = sorted(p.relative_to(root).with_suffix("") for p in pngs(root))
        assert got == frames, variant
        with Image.open(pngs(root)[0]) as img:
            assert img.size == (128, 96)


def test_results_hold_metrics_and_tables(full_run):
    out, results = full_run
    saved = json.loads((out / "results.json").read_text())
    assert saved["test"] == results["test"]
    assert saved["config"]["data"]["synthetic"]["num_train"] == SMALL_WORLD["num_train"]
    for db in ("SynthAV", "SynthDIEM"):
        for variant in VARIANTS:
            scores = saved["test"][db][variant]
            assert set(scores) >= {"AUC_J", "SIM", "sAUC", "CC", "NSS"}
            assert 0.0 <= scores["AUC_J"] <= 1.0
    quality = saved["pseudo_quality"]
    assert set(quality) >= {"cam_s", "scam_coarse", "avg_fine", "scam_fine", "scam_plus"}
    assert 0.0 < quality["cam_s"]["AUC_J"] <= 1.0
    assert set(saved["wall_time_s"]) >= {"train_coarse", "students", "evaluate"}
    md = (out / "results.md").read_text()
    assert "Table 1" in md and "Table 6" in md and "Table 7" in md
    assert (out / "config.json").is_file() and (out / "run.log").is_file()


def test_checkpoints_are_safetensors_and_students_load(full_run):
    out, _ = full_run
    from scamlib.inference import load_students

    assert set(load_students(out / "checkpoints" / "students")) == {"sta", "sta_short", "sta_long"}
    files = list((out / "checkpoints").rglob("*.safetensors"))
    assert len(files) >= 3 + 3 + 8 + 3
    assert not list((out / "checkpoints").rglob("*.resume.pt"))  # no half-trained leftovers
    for path in files:
        state, _ = pio.load_checkpoint(path)
        assert state
    # each student is stored once, as its student file, with its training summary
    assert not (out / "checkpoints" / "train").exists()
    results = json.loads((out / "results.json").read_text())
    for variant in ("sta", "sta_short", "sta_long"):
        _, meta = pio.load_checkpoint(out / "checkpoints" / "students" / f"{variant}.safetensors")
        summary = saved_summary(meta)
        assert summary["steps"] >= 1 and len(summary["loss"]) == 1
        final = results["stages"]["students"]["summary"][variant]["final_loss"]
        assert final == summary["loss"][-1]


def test_rerun_reuses_everything(full_run):
    out, _ = full_run
    before = {p: p.stat().st_mtime_ns for p in pngs(out)}
    results = run_until(out, resume=True)
    assert all(rec["reused"] for rec in results["stages"].values())
    assert {p: p.stat().st_mtime_ns for p in pngs(out)} == before


def test_changing_a_late_setting_reruns_only_what_depends_on_it(full_run):
    out, _ = full_run
    results = run_until(out, cfg=small_config(eval_splits=2), resume=True)
    ran = {name for name, rec in results["stages"].items() if not rec["reused"]}
    assert ran == {"pseudo_quality", "evaluate"}


def test_an_existing_run_is_not_overwritten_without_resume(full_run):
    out, _ = full_run
    with pytest.raises(Exception, match="--resume"):
        run_until(out)


def test_stage_keys_follow_settings():
    from scamlib.pipeline.store import stage_key

    a = {s.name: s.settings(small_config()) for s in build_stages()}
    b = {s.name: s.settings(small_config(lam=1e-3)) for s in build_stages()}
    changed = {name for name in a if stage_key(name, a[name]) != stage_key(name, b[name])}
    assert changed == {"scam_coarse", "scam_fine", "scam_plus"}


def test_parser_builds_configs_and_rejects_bad_input(tmp_path, capsys):
    parser = build_parser("reproduce")
    args = ["--out", str(tmp_path), "--set", "student.epochs=2", "--seed", "5"]
    cfg = config_from_args(parser.parse_args(args))
    assert cfg.student.epochs == 2 and cfg.seed == 5 and cfg.data.builtin
    paper = config_from_args(parser.parse_args(["--out", "x", "--profile", "paper"]))
    assert paper.fine.image_size == 356 and paper.preset == "paper" and paper.amp
    with pytest.raises(ValueError, match="unknown setting"):
        config_from_args(parser.parse_args(["--out", "x", "--set", "student.nope=1"]))
    absent = str(tmp_path / "absent")
    assert main(["--out", str(tmp_path), "--ave-root", absent, "--avsal-root", absent]) == 1
    assert "--ave-root" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--ave-root", str(tmp_path)]) == 2
    assert "both" in capsys.readouterr().err


def test_example_script_help():
    script = ROOT / "examples" / "reproduce_stanet_plus.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, check=True
    )
    for word in ("--profile", "--ave-root", "--avsal-root", "--datasets", "--resume", "torchrun"):
        assert word in proc.stdout


def test_full_supervision_reference_and_weak_over_full(full_run):
    out, _ = full_run
    frames_root = out / "data" / "stavis" / "video_frames"
    frames = sorted(p.relative_to(frames_root).with_suffix("") for p in frames_root.rglob("*.jpg"))
    root = out / "predictions" / "sta_full"  # on by default: the built-in set has train lists
    assert sorted(p.relative_to(root).with_suffix("") for p in pngs(root)) == frames
    saved = json.loads((out / "results.json").read_text())
    full = saved["full_supervision"]["sta_full"]
    assert set(full) == {"SynthAV", "SynthDIEM"}
    ratios = saved["weak_over_full"]["sta_full"]
    for db, per_variant in ratios.items():
        assert set(per_variant) >= set(VARIANTS) and "centre_prior" not in per_variant
        for variant, per_metric in per_variant.items():
            assert set(per_metric) == set(full[db])
            for metric, ratio in per_metric.items():
                weak, ref = saved["test"][db][variant][metric], full[db][metric]
                if weak is None or not ref:
                    assert ratio is None
                else:  # the ratio of the written (4-digit) scores, itself rounded to 4 digits
                    assert ratio == pytest.approx(weak / ref, abs=6e-5)
    assert "sta_full" in (out / "results.md").read_text()


def test_a_map_blanked_by_the_sparsification_is_no_target():
    """Sec. 5's sparsification keeps values at or above 3 x the map's mean: a flat map has none
    and comes out blank. A blank map marks no location, so the frame is left out of the
    students' training (its valid flag goes), as a frame that no source classifies."""
    from types import SimpleNamespace

    import torch

    from scamlib.pipeline.stages.mg import pseudo_ground_truth

    peaked = torch.zeros(8, 8)
    peaked[2:4, 5:7] = 1.0
    flat = torch.full((8, 8), 0.8)
    flat[0, 0] = 1.0  # max 1, mean ~0.8: nothing reaches 2.4
    maps = torch.stack([peaked, flat, peaked])
    valid = torch.tensor([True, True, False])
    for smooth in (True, False):
        cfg = SimpleNamespace(smooth=smooth, smooth_window=1, sparsify_factor=3.0)
        out, kept = pseudo_ground_truth(SimpleNamespace(cfg=cfg), maps, valid)
        if smooth:
            assert not bool(out[1].any()) and kept.tolist() == [True, False, False]
            torch.testing.assert_close(out[0], peaked)
        else:  # no sparsification: the flat map is a (poor) target, kept
            assert torch.equal(out, maps) and kept.tolist() == [True, True, False]
