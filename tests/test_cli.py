"""The ``scamlib`` command, run in-process through :func:`scamlib.cli.main`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scamlib.cli import main
from scamlib.inference import save_student
from scamlib.models import create

SYNTH = [
    "--num-categories", "2", "--num-train", "1", "--num-val", "0", "--num-test", "0",
    "--seconds", "1", "--height", "32", "--width", "48", "--num-test-videos", "2",
    "--test-seconds", "1", "--test-datasets", "SynthAV", "SynthDIEM",
]  # fmt: skip


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """``scamlib synth`` into a folder: (rc, stdout, root)."""
    root = tmp_path_factory.mktemp("cli") / "data"
    capture = pytest.MonkeyPatch()
    import io

    out = io.StringIO()
    capture.setattr(sys, "stdout", out)
    try:
        rc = main(["synth", str(root), *SYNTH])
    finally:
        capture.undo()
    return rc, out.getvalue(), root


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A folder with the three untrained tiny students at 32 px."""
    folder = tmp_path_factory.mktemp("students")
    torch.manual_seed(0)
    save_student(folder / "sta.safetensors", create("sta").eval(), name="sta", image_size=32)
    for kind in ("short", "long"):
        save_student(
            folder / f"sta_{kind}.safetensors",
            create("sta+").eval(),
            name="sta+",
            kind=kind,
            image_size=32,
        )
    return folder


# ---- help ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], ["commands:", "predict", "evaluate", "reproduce", "synth", "examples:"]),
        (["predict", "--help"], ["--checkpoint", "pf_final", "examples:", "img_00001.png"]),
        (["evaluate", "--help"], ["--pred-root", "--data-root", "--split", "examples:"]),
        (["synth", "--help"], ["--num-train", "--seed", "examples:"]),
    ],
)
def test_help(capsys, argv, expected):
    assert main(argv) == 0
    text = capsys.readouterr().out
    for word in expected:
        assert word in text, word


def test_reproduce_help_is_the_pipelines(capsys):
    pytest.importorskip("scamlib.pipeline.reproduce")
    assert main(["reproduce", "--help"]) == 0
    text = capsys.readouterr().out
    assert "scamlib reproduce" in text and "--out" in text and "--profile" in text


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["predict", "clip.mp4"]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    assert main(["evaluate", "--pred-root", "a", "--data-root", "b", "--dataset", "X"]) == 1
    assert main(["evaluate", "--pred-root", "a", "--data-root", "b", "--dataset", "X",
                 "--split", "4"]) == 2  # fmt: skip
    assert main(["synth", "out", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


# ---- synth -----------------------------------------------------------------------------------
def test_synth_writes_the_builtin_set(synth):
    rc, out, root = synth
    assert rc == 0
    assert (root / "AVE_Dataset" / "Annotations.txt").is_file()
    assert len(list((root / "AVE_Dataset" / "AVE").glob("*.mp4"))) == 1
    assert (root / "stavis" / "fold_lists" / "SynthAV_list_test_1_fps.txt").is_file()
    assert str(root / "stavis") in out and "SynthAV" in out and "scamlib evaluate" in out


def test_synth_rejects_bad_settings(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "x"), "--height", "31"]) == 2
    assert "height and width must be even" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_synth_style_chooses_the_world(tmp_path, capsys):
    import json

    small = [
        "--num-train", "1", "--num-val", "0", "--num-test", "0", "--seconds", "1",
        "--height", "32", "--width", "32", "--num-test-videos", "1", "--test-seconds", "1",
    ]  # fmt: skip
    assert main(["synth", str(tmp_path / "d"), *small, "--style", "drawn", "-q"]) == 0
    stamp = json.loads((tmp_path / "d" / "synthetic_config.json").read_text())
    assert stamp["config"]["style"] == "drawn" and "material" not in stamp
    assert main(["synth", str(tmp_path / "p"), *small, "-q"]) == 0
    stamp = json.loads((tmp_path / "p" / "synthetic_config.json").read_text())
    assert stamp["config"]["style"] == "photo"
    assert set(stamp["material"]) == {"scikit-image", "pygame"}
    assert main(["synth", str(tmp_path / "x"), "--style", "cartoon"]) == 2
    assert "invalid choice: 'cartoon'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ---- evaluate --------------------------------------------------------------------------------
def _ground_truth_as_predictions(stavis: Path, dataset: str, target: Path) -> None:
    """Copy every eyeMap of ``dataset`` to ``target/<video>/img_%05d.png`` (a perfect model)."""
    for video in sorted((stavis / "annotations" / dataset).iterdir()):
        for eye in sorted((video / "maps").glob("eyeMap_*.jpg")):
            k = int(eye.stem.split("_")[1])
            (target / video.name).mkdir(parents=True, exist_ok=True)
            Image.open(eye).save(target / video.name / f"img_{k:05d}.png")


def test_evaluate_scores_a_folder_of_maps(synth, tmp_path, capsys):
    stavis = synth[2] / "stavis"
    preds = tmp_path / "preds"
    _ground_truth_as_predictions(stavis, "SynthAV", preds / "SynthAV")  # pipeline-style nesting
    out = tmp_path / "eval" / "synth.json"
    argv = ["evaluate", "--pred-root", str(preds), "--data-root", str(stavis)]
    rc = main(
        [*argv, "--dataset", "SynthAV", "--out", str(out), "--splits-sauc", "5", "--threads", "2"]
        + ["-q"]
    )
    assert rc == 0
    table = capsys.readouterr().out
    assert table.startswith("| dataset | split |") and "| SynthAV | mean |" in table
    report = json.loads(out.read_text())
    assert report["splits"] == [1, 2, 3] and set(report["per_split"]) == {"1", "2", "3"}
    assert report["summary"]["CC"] > 0.9 and report["summary"]["NSS"] > 1.0
    assert report["settings"]["splits_sauc"] == 5
    assert out.with_suffix(".md").read_text().count("| SynthAV |") == 4
    # one fold, a single-split dataset, default output file
    assert main([*argv, "--dataset", "SynthAV", "--split", "2", "-q",
                 "--pred-root", str(preds / "SynthAV")]) == 0  # fmt: skip
    assert (preds / "SynthAV" / "evaluation_SynthAV.json").is_file()


def test_evaluate_errors_are_one_line(synth, tmp_path, capsys):
    root = synth[2]
    preds = tmp_path / "p"
    preds.mkdir()
    argv = ["evaluate", "--pred-root", str(preds), "--dataset", "SynthAV"]
    assert main([*argv, "--data-root", str(root)]) == 1  # the synth folder, not its stavis/
    err = capsys.readouterr().err
    assert err.startswith("scamlib: error: ") and "not a STAViS-layout data root" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert main([*argv, "--data-root", str(root / "stavis")]) == 1
    assert "holds no predictions for the SynthAV test videos" in capsys.readouterr().err
    (preds / "pf_final").mkdir()
    assert main([*argv, "--data-root", str(root / "stavis")]) == 1
    assert "--pred-root" in capsys.readouterr().err  # suggests a variant folder
    argv[-1] = "Nope"
    assert main([*argv, "--data-root", str(root / "stavis")]) == 1
    assert "no test fold list for dataset 'Nope'" in capsys.readouterr().err
    assert main(["evaluate", "--pred-root", str(tmp_path / "none"), "--data-root",
                 str(root), "--dataset", "SynthAV"]) == 1  # fmt: skip
    assert "predictions folder not found" in capsys.readouterr().err


# ---- predict ---------------------------------------------------------------------------------
def test_predict_writes_maps_and_a_video_with_sound(synth, checkpoints, tmp_path, capsys):
    import av

    mp4 = next((synth[2] / "AVE_Dataset" / "AVE").glob("*.mp4"))
    out = tmp_path / "pred"
    assert main(["predict", str(mp4), "--checkpoint", str(checkpoints), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "8 frames at 8 fps, 48x32 px" in said and "pf_final" in said
    for variant in ("sta", "sta_short", "sta_long", "pf_final", "pf_agg"):
        files = sorted((out / variant).glob("img_*.png"))
        assert [f.name for f in files] == [f"img_{k:05d}.png" for k in range(1, 9)]
        with Image.open(files[0]) as img:
            assert img.size == (48, 32) and img.mode == "L"
    video = out / f"{mp4.stem}_pf_final.mp4"
    with av.open(str(video)) as container:
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 1
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 8 and frames[0].shape == (32, 48, 3)
    with av.open(str(video)) as container:
        sound = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert sound.shape[1] > 0.5 * 16_000 and np.abs(sound).max() > 0.01
    summary = json.loads((out / "prediction.json").read_text())
    assert summary["frames"] == 8 and summary["video_variant"] == "pf_final"
    assert set(summary["students"]) == {"sta", "sta_short", "sta_long"}


def test_predict_one_student_from_frames_no_video(checkpoints, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(1, 5):
        Image.fromarray(np.full((20, 30, 3), 40 * k, np.uint8)).save(frames / f"{k}.png")
    out = tmp_path / "o"
    argv = ["predict", str(frames), "-c", str(checkpoints / "sta.safetensors"), "-o", str(out)]
    assert main([*argv, "--no-video", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in out.iterdir()) == ["prediction.json", "sta"]
    assert len(list((out / "sta").glob("*.png"))) == 4
    summary = json.loads((out / "prediction.json").read_text())
    assert (summary["precision"], summary["autocast"]) == ("auto", None)  # fp32 on the CPU
    assert main([*argv, "--no-video", "--quiet", "--precision", "bf16"]) == 0
    assert json.loads((out / "prediction.json").read_text())["autocast"] == "torch.bfloat16"
    assert main([*argv, "--precision", "int8"]) == 2
    assert "invalid choice: 'int8'" in capsys.readouterr().err
    assert main([*argv, "--variant", "pf_final"]) == 2
    assert "pf_final and pf_agg need all three" in capsys.readouterr().err


def test_predict_replaces_an_earlier_longer_run(synth, checkpoints, tmp_path, capsys):
    mp4 = next((synth[2] / "AVE_Dataset" / "AVE").glob("*.mp4"))
    out = tmp_path / "pred"
    ck = str(checkpoints / "sta.safetensors")
    assert main(["predict", str(mp4), "-c", ck, "-o", str(out), "--no-video", "-q"]) == 0
    assert len(list((out / "sta").glob("*.png"))) == 8
    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(1, 5):
        Image.fromarray(np.full((20, 30, 3), 40 * k, np.uint8)).save(frames / f"{k}.png")
    assert main(["predict", str(frames), "-c", ck, "-o", str(out), "--no-video", "-q"]) == 0
    names = sorted(p.name for p in (out / "sta").iterdir())
    assert names == [f"img_{k:05d}.png" for k in range(1, 5)]  # no stale img_00005..8
    assert json.loads((out / "prediction.json").read_text())["frames"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "pred"]  # no temp folders
    mode = (out / "sta" / "img_00001.png").stat().st_mode & 0o777
    assert mode == (out / "prediction.json").stat().st_mode & 0o777  # 0644 with umask 022


def test_reproduce_is_a_subcommand_with_the_pipeline_options(tmp_path, capsys):
    from scamlib.cli import build_parser

    args = build_parser().parse_args(["reproduce", "--out", "runs/x", "--quiet"])
    assert args.command == "reproduce" and args.quiet and args.profile == "quick"
    bad = ["reproduce", "--out", str(tmp_path / "r"), "--set", 'data.synthetic={"fps": 4}']
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert "data.synthetic fps = 4" in err and "data.fps = 8.0" in err
    assert not (tmp_path / "r").exists()


def test_predict_silent_video_warns_and_writes_a_silent_mp4(checkpoints, tmp_path, capsys):
    import av

    from tests.test_inference import _silent_mp4

    mp4 = _silent_mp4(tmp_path / "silent.mp4", frames=4)
    out = tmp_path / "o"
    ck = str(checkpoints / "sta.safetensors")
    assert main(["predict", str(mp4), "-c", ck, "-o", str(out), "--fps", "8"]) == 0
    captured = capsys.readouterr()
    assert "scamlib: warning: " in captured.err and "no sound track" in captured.err
    assert "no sound" in captured.out
    with av.open(str(out / "silent_sta.mp4")) as container:
        assert len(container.streams.video) == 1 and not container.streams.audio


def test_predict_errors(checkpoints, tmp_path, capsys):
    ck = str(checkpoints)
    assert main(["predict", str(tmp_path / "none.mp4"), "-c", ck, "-o", str(tmp_path)]) == 1
    assert "video not found" in capsys.readouterr().err
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"\x00" * 64)
    assert main(["predict", str(clip), "-c", str(tmp_path / "ck"), "-o", str(tmp_path)]) == 1
    assert "student checkpoint (file or folder) not found" in capsys.readouterr().err
    assert main(["predict", str(clip), "-c", str(clip), "-o", str(tmp_path)]) == 1
    assert "not a readable safetensors checkpoint" in capsys.readouterr().err
    assert main(["predict", str(clip), "-c", ck, "-o", str(tmp_path / "o")]) == 1
    assert "not a decodable video" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "-c", ck, "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "no frame images found" in err and "Traceback" not in err


# ---- the installed command -------------------------------------------------------------------
def test_console_script_runs():
    exe = shutil.which("scamlib")
    if exe is None:
        pytest.skip("the scamlib console script is not installed (pip install -e .)")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: scamlib" in done.stdout and "predict" in done.stdout
