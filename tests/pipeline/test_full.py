"""The fully supervised references (``full_<name>`` stages) on the reduced built-in world.

DAVE and STAViS at the ``tiny`` preset, one training step per fold; the STA reference and its
``weak_over_full`` ratios are checked on the whole run of ``test_stages.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from scamlib.cli import main
from scamlib.inference import Predictor
from scamlib.models import load_student, save_student
from scamlib.models.supervised import build_full
from scamlib.pipeline import run_stages
from scamlib.pipeline.runner import Stage
from scamlib.pipeline.stages import build_stages, finalize
from scamlib.pipeline.stages.full import evaluate_full, fold_plan

from .small import pngs, small_config

NAMES = ("dave", "stavis")
ONE_STEP = {"epochs": 1, "batch_size": 2, "image_size": 32, "max_steps_per_epoch": 1}


def _config(**changes):
    return small_config(**({"full_models": NAMES, "full": ONE_STEP} | changes))


def _run(out, cfg=None, **kwargs):
    """``data``, the full stages, and an ``evaluate`` that scores only the full models."""
    cfg = cfg or _config()
    stages = [s for s in build_stages(cfg) if s.name == "data" or s.name.startswith("full_")]
    stages.append(
        Stage("evaluate", lambda c: {}, tuple(s.name for s in stages), (),
              lambda ctx: {"test": {}, "full": evaluate_full(ctx)})
    )  # fmt: skip
    return run_stages(stages, cfg, out, device="cpu", progress=False, finalize=finalize, **kwargs)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return out, _run(out)


def test_predictions_per_fold_model_in_the_layout(full_run):
    out, results = full_run
    frames_root = out / "data" / "stavis" / "video_frames"
    frames = sorted(p.relative_to(frames_root).with_suffix("") for p in frames_root.rglob("*.jpg"))
    train, _use = fold_plan(out / "data" / "stavis", ["SynthAV", "SynthDIEM"])
    assert sorted(train) == [1, 2, 3]  # the DIEM-style list joins every fold
    assert all(("SynthDIEM", None) in parts for parts in train.values())
    for name in NAMES:
        root = out / "predictions" / f"{name}_full"
        got = sorted(p.relative_to(root).with_suffix("") for p in pngs(root))
        assert got == frames, name
        with Image.open(pngs(root)[0]) as img:
            assert img.size == (128, 96) and img.mode == "L"  # the frame's size
        for k in (1, 2, 3):
            ck = out / "checkpoints" / "full" / name / f"{name}_split{k}.safetensors"
            model, info = load_student(ck)
            assert info.variant == name and info.extra["supervision"] == "full"
            assert info.clip_len == model.arch.clip_len == 8
            assert info.dataset_kwargs["size"] == tuple(model.arch.input_size)
    summary = results["stages"]["full_stavis"]["summary"]
    assert summary["variant"] == "stavis_full" and set(summary["folds"]) == {
        "split1", "split2", "split3"
    }  # fmt: skip
    # one weights file per fold (the student file is the training checkpoint) and its marker
    for name in NAMES:
        folder = out / "checkpoints" / "full" / name
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"{name}_split{k}{ext}" for k in (1, 2, 3) for ext in (".safetensors", ".done.json")
        )
        marker = json.loads((folder / f"{name}_split1.done.json").read_text())
        assert marker == results["stages"][f"full_{name}"]["summary"]["folds"]["split1"]
        assert marker["frames"] > 0 and marker["final_loss"] is not None


def test_without_keep_weights_the_folds_are_not_trained_again(tmp_path, monkeypatch):
    """``keep_weights=False``: each fold's weights go once its test lists are predicted; the
    scores stay, and a run stopped after a fold resumes with the next one."""
    from scamlib.pipeline.stages import full as full_stage

    cfg = _config(full_models=("dave",), keep_weights=False)
    results = _run(tmp_path, cfg)
    folder = tmp_path / "checkpoints" / "full" / "dave"
    assert not list(folder.glob("*.safetensors"))
    assert len(list(folder.glob("*.done.json"))) == 3
    assert set(results["full_supervision"]["dave_full"]) == {"SynthAV", "SynthDIEM"}
    # as if the run had stopped during fold 3: the stage still running, no marker for fold 3
    (folder / "dave_split3.done.json").unlink()
    state = tmp_path / "state" / "full_dave.json"
    state.write_text(json.dumps(json.loads(state.read_text()) | {"status": "running"}))
    trained = []
    real = full_stage._train
    monkeypatch.setattr(
        full_stage, "_train", lambda ctx, name, k, *a: trained.append(k) or real(ctx, name, k, *a)
    )
    again = _run(tmp_path, cfg, resume=True)
    assert trained == [3]
    assert not list(folder.glob("*.safetensors"))
    assert set(again["stages"]["full_dave"]["summary"]["folds"]) == {"split1", "split2", "split3"}


def test_scores_are_in_results_json(full_run):
    out, results = full_run
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["full_supervision"]) == {"dave_full", "stavis_full"}
    for per_db in saved["full_supervision"].values():
        assert set(per_db) == {"SynthAV", "SynthDIEM"}
        for scores in per_db.values():
            assert set(scores) >= {"AUC_J", "SIM", "sAUC", "CC", "NSS"}
            assert 0.0 <= scores["AUC_J"] <= 1.0
    assert saved["full_supervision"] == results["full_supervision"]


def test_resume_reuses_the_full_stages(full_run):
    out, _ = full_run
    before = {p: p.stat().st_mtime_ns for p in pngs(out / "predictions")}
    results = _run(out, resume=True)
    assert all(rec["reused"] for rec in results["stages"].values())
    assert {p: p.stat().st_mtime_ns for p in pngs(out / "predictions")} == before


@pytest.mark.parametrize("name", NAMES)
def test_scamlib_predict_runs_a_full_model_checkpoint(full_run, tmp_path, capsys, name):
    out, _ = full_run
    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(1, 4):
        Image.fromarray(np.full((20, 30, 3), 40 * k, np.uint8)).save(frames / f"{k}.png")
    ck = out / "checkpoints" / "full" / name / f"{name}_split1.safetensors"
    dest = tmp_path / "o"
    assert main(["predict", str(frames), "-c", str(ck), "-o", str(dest), "--no-video", "-q"]) == 0
    written = sorted(p.name for p in (dest / name).iterdir())
    assert written == [f"img_{k:05d}.png" for k in (1, 2, 3)]
    summary = json.loads((dest / "prediction.json").read_text())
    assert summary["variants"] == [name] and summary["students"][name]["clip_len"] == 8


@pytest.mark.parametrize(("name", "audio"), [("dave", (1, 64)), ("stavis", (1,))])
def test_clip_length_and_audio_come_from_the_model_config(full_run, tmp_path, name, audio):
    out, _ = full_run
    net = build_full(name, "tiny", 3, {"clip_len": 4})
    path = save_student(tmp_path / f"{name}.safetensors", net, name=name, image_size=99, clip_len=7)
    model, info = load_student(path)
    assert info.clip_len == 4 and model.arch.clip_len == 4  # not the arguments
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append([a.shape for a in args]))
    predictor = Predictor({name: (model, info)}, batch_size=8)
    ds = predictor.open_dataset(out / "data" / "stavis", "SynthAV", 1)
    maps = predictor.predict_video(ds, ds.videos[0])[name]
    assert maps.shape == (8, 96, 128) and torch.all((maps >= 0) & (maps <= 1))
    clip, sound = seen[0]
    assert clip[1:] == (4, 3, *model.arch.input_size)
    assert tuple(sound[1 : 1 + len(audio)]) == audio
    if name == "stavis":  # the raw waveform window of the config
        assert sound[-1] == round(model.arch.audio_seconds * model.arch.sample_rate)
