"""Bad input and faults against the ``scamlib`` command and the pipeline, table-driven.

Every case names its input and the exact outcome: the exit status (with a one-line message
that names the culprit and no traceback) or the exception type (with the culprit in the
message). The kill tests SIGKILL ``scamlib evaluate``, ``predict`` and ``synth`` at a few
seeded random moments and check that no earlier valid output is damaged and no partial output
looks complete.
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

import numpy as np
import pytest
import torch
from PIL import Image

from scamlib.cli import main
from scamlib.models import create, save_student
from scamlib.pipeline.config import check_config, load_config, profile
from scamlib.pipeline.distributed import DistEnv
from scamlib.pipeline.io import check_output_dir, check_output_file
from scamlib.pipeline.runner import Context, RunError, Stage, run_stages

ROOT = Path(__file__).resolve().parents[2]

SYNTH = [
    "--num-categories", "2", "--num-train", "1", "--num-val", "0", "--num-test", "0",
    "--seconds", "1", "--height", "32", "--width", "48", "--num-test-videos", "1",
    "--test-seconds", "1", "--test-datasets", "SynthAV",
]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny synthetic set, one untrained STA student, a short video and perfect predictions."""
    base = tmp_path_factory.mktemp("rel")
    data = base / "data"
    assert main(["synth", str(data), *SYNTH, "-q"]) == 0
    torch.manual_seed(0)
    students = base / "students"
    save_student(students / "sta.safetensors", create("sta").eval(), name="sta", image_size=32)
    frames = base / "frames"
    frames.mkdir()
    for k in range(1, 5):
        Image.fromarray(np.full((20, 30, 3), 40 * k, np.uint8)).save(frames / f"{k}.png")
    preds = base / "preds"
    stavis = data / "stavis"
    for video in sorted((stavis / "annotations" / "SynthAV").iterdir()):
        for eye in sorted((video / "maps").glob("eyeMap_*.jpg")):
            k = int(eye.stem.split("_")[1])
            (preds / video.name).mkdir(parents=True, exist_ok=True)
            Image.open(eye).save(preds / video.name / f"img_{k:05d}.png")
    a_file = base / "a_file"
    a_file.write_text("not a folder")
    foreign = base / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    (base / "taken.json").mkdir()
    return {
        "base": base,
        "data": data,
        "stavis": stavis,
        "ckpt": students / "sta.safetensors",
        "frames": frames,
        "mp4": next((data / "AVE_Dataset" / "AVE").glob("*.mp4")),
        "preds": preds,
        "file": a_file,
        "foreign": foreign,
    }


def _fill(argv: list[str], w: dict) -> list[str]:
    out = []
    for a in argv:
        for key, value in w.items():
            a = a.replace("{" + key + "}", str(value))
        out.append(a)
    return out


def _run(argv: list[str], w: dict, tmp_path: Path, capsys) -> tuple[int, str]:
    rc = main(_fill([a.replace("{tmp}", str(tmp_path)) for a in argv], w))
    return rc, capsys.readouterr().err


EVAL = ["evaluate", "--pred-root", "{preds}", "--data-root", "{stavis}", "--dataset", "SynthAV",
        "-q", "--splits-sauc", "2"]  # fmt: skip
PRED = ["predict", "{frames}", "-c", "{ckpt}", "--no-video", "-q"]
REPRO = ["reproduce", "--quiet"]

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")

# (argv, exit status, words the one-line message must hold)
# fmt: off
CLI_CASES = [
    pytest.param([*EVAL, "--threads", "-1"], 2, ["--threads", "'-1'"], id="eval-threads-neg"),
    pytest.param([*EVAL, "--threads", "0"], 2, ["--threads"], id="eval-threads-zero"),
    pytest.param([*EVAL, "--readers", "-2"], 2, ["--readers", "'-2'"], id="eval-readers-neg"),
    pytest.param([*EVAL, "--metrics", "FOO"], 2, ["--metrics", "FOO", "AUC_J"], id="eval-metric"),
    pytest.param([*EVAL, "--device", "bogus"], 2, ["--device", "bogus"], id="eval-device-bogus"),
    pytest.param([*EVAL, "--device", "cuda"], 2, ["--device", "cuda", "not available"],
                 id="eval-device-cuda", marks=no_cuda),
    pytest.param([*EVAL, "--split", "4"], 2, ["--split", "'4'"], id="eval-split"),
    pytest.param([*EVAL, "--splits-sauc", "0"], 2, ["--splits-sauc"], id="eval-splits-sauc"),
    pytest.param([*EVAL, "--out", "{base}/taken.json"], 2, ["--out", "is a folder"],
                 id="eval-out-is-dir"),
    pytest.param([*EVAL, "--out", "{file}/x.json"], 1, ["--out", "a_file", "is a file"],
                 id="eval-out-under-file"),
    pytest.param([*PRED, "-o", "{tmp}/o", "--device", "bogus"], 2, ["--device", "bogus"],
                 id="pred-device-bogus"),
    pytest.param([*PRED, "-o", "{tmp}/o", "--device", "cuda"], 2, ["--device", "cuda"],
                 id="pred-device-cuda", marks=no_cuda),
    pytest.param([*PRED, "-o", "{tmp}/o", "--batch-size", "0"], 2, ["--batch-size"],
                 id="pred-batch-size"),
    pytest.param([*PRED, "-o", "{tmp}/o", "--fps", "nan"], 2, ["--fps", "nan"], id="pred-fps-nan"),
    pytest.param([*PRED, "-o", "{tmp}/o", "--fps", "-3"], 2, ["--fps", "-3"], id="pred-fps-neg"),
    pytest.param([*PRED, "-o", "{tmp}/o", "--variant", "pf_final"], 2,
                 ["--variant pf_final", "need all three"], id="pred-variant"),
    pytest.param([*PRED, "-o", "{file}/o"], 1, ["--out", "a_file", "is a file"],
                 id="pred-out-under-file"),
    pytest.param([*PRED, "-o", "{foreign}"], 2, ["--out", "foreign", "did not write"],
                 id="pred-out-foreign"),
    pytest.param([*PRED, "-o", "{tmp}/o", "--audio", "{tmp}/none.wav"], 1,
                 ["audio file not found", "none.wav"], id="pred-audio-missing"),
    pytest.param([*REPRO], 2, ["--out"], id="repro-no-out"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--device", "bogus"], 2, ["--device", "bogus"],
                 id="repro-device-bogus"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--set", "nope=1"], 2,
                 ["--set nope", "unknown setting"], id="repro-set-unknown"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--set", "student.epochs=\"two\""], 2,
                 ["wrong type"], id="repro-set-type"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--set", 'data.synthetic={"fps": 4}'], 2,
                 ["data.synthetic fps = 4", "data.fps = 8.0"], id="repro-fps-disagree"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--set", 'data.synthetic={"bogus": 1}'], 2,
                 ["data.synthetic", "bogus"], id="repro-synthetic-unknown"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--set", "student_plus.image_size=48"], 2,
                 ["student_plus.image_size = 48", "student.image_size = 64"],
                 id="repro-student-sizes"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--set", "t_d=1.5"], 2, ["t_d", "1.5"],
                 id="repro-t_d"),
    pytest.param([*REPRO, "--out", "{tmp}/r", "--ave-root", "{tmp}"], 2, ["both"],
                 id="repro-one-root"),
    pytest.param([*REPRO, "--out", "{file}/r"], 1, ["--out", "a_file", "is a file"],
                 id="repro-out-under-file"),
    pytest.param(["synth", "{tmp}/s", "--height", "31"], 2, ["even"], id="synth-odd-height"),
    pytest.param(["synth", "{tmp}/s", "--num-val", "-1"], 2, ["--num-val"], id="synth-num-val"),
    pytest.param(["synth", "{file}/s"], 1, ["a_file", "is a file"], id="synth-under-file"),
    pytest.param(["synth", "{foreign}"], 2, ["foreign", "did not write"], id="synth-foreign"),
    pytest.param(["frobnicate"], 2, ["invalid choice", "frobnicate"], id="unknown-command"),
]
# fmt: on


@pytest.mark.parametrize(("argv", "code", "words"), CLI_CASES)
def test_cli_bad_input(world, tmp_path, capsys, argv, code, words):
    rc, err = _run(argv, world, tmp_path, capsys)
    assert rc == code, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("scamlib"), err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "r").exists()  # nothing was started


# (contents of config.json, words of the error)
# fmt: off
RESUME_CASES = [
    pytest.param("{}", ["not a scamlib run configuration", "lacks"], id="empty-object"),
    pytest.param("[1, 2]", ["not a scamlib run configuration", "list"], id="a-list"),
    pytest.param("{oops", ["not valid JSON"], id="invalid-json"),
    pytest.param('{"profile": "quick", "seed": 0, "preset": "tiny", "data": {}, "x": 1}',
                 ["unknown PipelineConfig settings", "'x'"], id="foreign-key"),
]
# fmt: on


@pytest.mark.parametrize(("content", "words"), RESUME_CASES)
def test_resume_refuses_a_folder_that_holds_no_run(tmp_path, capsys, content, words):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(content)
    assert main(["reproduce", "--out", str(out), "--resume", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "config.json" in err and "--resume" in err
    for word in words:
        assert word in err, (word, err)
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]  # nothing written


def test_an_existing_run_needs_resume(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"profile": "quick"}))
    assert main(["reproduce", "--out", str(out), "--quiet"]) == 1
    assert "already holds a run" in capsys.readouterr().err


def test_reproduce_is_a_true_subcommand(tmp_path):
    from scamlib.cli import build_parser

    args = build_parser().parse_args(["reproduce", "--out", "runs/x", "--quiet"])
    assert args.command == "reproduce" and args.quiet and str(args.out) == "runs/x"
    args = build_parser().parse_args(["reproduce", "--quiet", "--out", "runs/x", "--seed", "3"])
    assert args.seed == 3


@pytest.mark.parametrize("command", ["predict", "evaluate", "synth", "reproduce"])
def test_help_shows_real_usage(capsys, command):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: scamlib {command} ")
    assert "{commands}" not in text and "COMMAND [ARGS ...]" not in text


# ---- the pipeline, in-process --------------------------------------------------------------------
def _gt_ctx(tmp_path: Path) -> Context:
    folder = tmp_path / "data" / "AVE_Dataset" / "ground_truth"
    folder.mkdir(parents=True)
    np.savez(folder / "00000.npz", frame_index=np.array([1, 2]), density=np.zeros((2, 4, 4)),
             audio_matches=np.array(True))  # fmt: skip
    return Context(cfg=profile("quick"), out=tmp_path, env=DistEnv())


def _truncated_png(tmp_path: Path) -> Path:
    path = tmp_path / "pseudo" / "pgt" / "0" / "00001.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:30])
    return path


def _case_gt_missing_frame(tmp_path):
    from scamlib.pipeline.stages.quality import _GroundTruthFrames

    return _GroundTruthFrames(_gt_ctx(tmp_path), [(0, 5)])[0]


def _case_truncated_pseudo_map(tmp_path):
    from scamlib.pipeline.datasets import read_map_png

    return read_map_png(_truncated_png(tmp_path))


def _case_write_pseudo_count(tmp_path):
    from scamlib.pipeline.extract import write_pseudo_maps

    return write_pseudo_maps(tmp_path, "pgt", 0, [1, 2], torch.zeros(3, 4, 4), (4, 4))


def _case_resume_empty_config(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    return run_stages([], profile("quick"), tmp_path, device="cpu", resume=True, progress=False)


def _case_run_under_file(tmp_path):
    (tmp_path / "f").write_text("x")
    return run_stages([], profile("quick"), tmp_path / "f" / "run", device="cpu", progress=False)


def _case_build_stages_disagree(tmp_path):
    from scamlib.pipeline.stages import build_stages

    return build_stages(profile("quick", data={"synthetic": {"fps": 4}}))


def _case_stage_order(tmp_path):
    stage = Stage("b", lambda cfg: {}, ("a",), (), lambda ctx: {})
    return run_stages([stage], profile("quick"), tmp_path / "run", device="cpu", progress=False)


def _case_load_config_missing(tmp_path):
    return load_config(tmp_path / "config.json")


# fmt: off
PIPELINE_CASES = [
    pytest.param(_case_gt_missing_frame, RunError, ["frame 5", "row 0", "00000.npz"],
                 id="gt-missing-frame"),
    pytest.param(_case_truncated_pseudo_map, ValueError, ["00001.png"], id="truncated-png"),
    pytest.param(_case_write_pseudo_count, ValueError, ["3 maps for 2 frame indices"],
                 id="pseudo-map-count"),
    pytest.param(_case_resume_empty_config, RunError, ["config.json", "not a scamlib run"],
                 id="resume-empty-config"),
    pytest.param(_case_run_under_file, NotADirectoryError, ["--out", "is a file"],
                 id="out-under-file"),
    pytest.param(_case_build_stages_disagree, ValueError, ["data.synthetic fps", "data.fps"],
                 id="stages-fps"),
    pytest.param(_case_stage_order, RunError, ["stage b needs ['a']"], id="stage-order"),
    pytest.param(_case_load_config_missing, FileNotFoundError, ["config.json"],
                 id="config-missing"),
    pytest.param(lambda p: check_config(profile("quick", t_r=-0.1)), ValueError, ["t_r", "-0.1"],
                 id="t_r-range"),
    pytest.param(lambda p: check_config(profile("quick", student_plus={"image_size": 32})),
                 ValueError, ["student_plus.image_size = 32", "student.image_size = 64"],
                 id="student-sizes"),
    pytest.param(lambda p: check_config(profile("quick", data={"synthetic": {"height": 31}})),
                 ValueError, ["data.synthetic", "even"], id="synthetic-invalid"),
    pytest.param(lambda p: check_output_file(p), IsADirectoryError, ["is a folder"],
                 id="out-file-is-dir"),
    pytest.param(lambda p: check_output_dir(Path(__file__) / "x"), NotADirectoryError,
                 ["test_cli_pipeline.py", "is a file"], id="out-dir-under-file"),
]
# fmt: on


@pytest.mark.parametrize(("call", "error", "words"), PIPELINE_CASES)
def test_pipeline_bad_input(tmp_path, call, error, words):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert type(info.value) is error
    for word in words:
        assert word in str(info.value), (word, str(info.value))


# ---- kill tests --------------------------------------------------------------------------------
def _spawn(argv: list[str]) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "scamlib", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_after(argv: list[str], delay: float) -> int | None:
    """Run ``scamlib argv``; SIGKILL it after ``delay`` s unless it ended; its exit status."""
    proc = _spawn(argv)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def _delays(name: str, n: int, low: float, high: float) -> list[float]:
    rng = random.Random(f"kill:{name}")
    return sorted(round(rng.uniform(low, high), 2) for _ in range(n))


def _hidden_temps(folder: Path) -> list[Path]:
    return [p for p in folder.parent.glob(f".{folder.name}.*") if p.exists()]


@pytest.mark.parametrize("delay", _delays("evaluate", 3, 1.8, 3.5))
def test_kill_evaluate_keeps_the_previous_report(world, tmp_path, delay):
    out = tmp_path / "eval.json"
    argv = _fill([*EVAL, "--out", str(out)], world)[1:]
    assert main(["evaluate", *argv]) == 0
    before_json, before_md = out.read_text(), out.with_suffix(".md").read_text()
    _kill_after(["evaluate", *argv, "--seed", "1"], delay)
    after = json.loads(out.read_text())  # whole, valid JSON: the old report or the new one
    assert after["settings"]["seed"] in (0, 1) and "summary" in after
    if after["settings"]["seed"] == 0:
        assert out.read_text() == before_json
    md = out.with_suffix(".md").read_text()
    assert md == before_md or md.startswith("# SynthAV")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "eval.json",
        "eval.md",
    ]


@pytest.mark.parametrize("delay", _delays("predict", 3, 2.0, 5.0))
def test_kill_predict_leaves_a_whole_folder_or_none(world, tmp_path, delay):
    out = tmp_path / "pred"
    ck = str(world["ckpt"])
    assert main(["predict", str(world["mp4"]), "-c", ck, "-o", str(out), "--no-video", "-q"]) == 0
    assert len(list((out / "sta").glob("*.png"))) == 8  # an earlier, longer run
    _kill_after(["predict", str(world["frames"]), "-c", ck, "-o", str(out), "--no-video", "-q"],
                delay)  # fmt: skip
    if out.exists():  # the old run or the new one, never a mix, never without its record
        record = json.loads((out / "prediction.json").read_text())
        assert len(list((out / "sta").glob("img_*.png"))) == record["frames"] in (4, 8)
        assert not (out / ".work").exists()
    # the next run replaces it cleanly and removes what the killed one left behind
    assert main(["predict", str(world["frames"]), "-c", ck, "-o", str(out), "--no-video",
                 "-q"]) == 0  # fmt: skip
    assert sorted(p.name for p in (out / "sta").iterdir()) == [
        f"img_{k:05d}.png" for k in range(1, 5)
    ]
    assert json.loads((out / "prediction.json").read_text())["frames"] == 4
    assert _hidden_temps(out) == []
    assert oct((out / "sta" / "img_00001.png").stat().st_mode & 0o777) == oct(
        0o666 & ~_umask()
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("delay", _delays("synth", 3, 1.5, 3.0))
def test_kill_synth_overwrite_leaves_one_whole_set(world, tmp_path, delay):
    target = tmp_path / "set"
    assert main(["synth", str(target), *SYNTH, "-q"]) == 0
    old = _files(target)
    _kill_after(["synth", str(target), *SYNTH, "--seed", "1", "--overwrite", "-q"], delay)
    killed = None
    if target.exists():
        killed = json.loads((target / "synthetic_config.json").read_text())["seed"], _files(target)
    assert main(["synth", str(target), *SYNTH, "--seed", "1", "--overwrite", "-q"]) == 0
    new = _files(target)
    assert json.loads((target / "synthetic_config.json").read_text())["seed"] == 1
    assert new != old and _hidden_temps(target) == []
    # what the kill left is one whole set, of one seed: never files of both
    assert killed in (None, (0, old), (1, new))


def test_overwrite_removes_the_trash_of_a_killed_removal_only(world, tmp_path):
    """A run killed while deleting the folder it replaced leaves ``.<name>.trash-<pid>``."""
    target = tmp_path / "set"
    assert main(["synth", str(target), *SYNTH, "-q"]) == 0
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f".set.trash-{int(gone.stdout)}"
    (dead / "AVE_Dataset").mkdir(parents=True)
    (dead / "AVE_Dataset" / "Annotations.txt").write_text("half removed\n")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        busy = tmp_path / f".set.trash-{alive.pid}"  # another run's removal, under way
        busy.mkdir()
        try:
            assert main(["synth", str(target), *SYNTH, "--seed", "1", "--overwrite", "-q"]) == 0
            assert not dead.exists() and busy.is_dir()
        finally:
            alive.kill()
    assert json.loads((target / "synthetic_config.json").read_text())["seed"] == 1


def test_synth_refuses_another_seed_without_overwrite(world, tmp_path, capsys):
    target = tmp_path / "set"
    assert main(["synth", str(target), *SYNTH, "-q"]) == 0
    mtimes = {p: p.stat().st_mtime_ns for p in target.rglob("*")}
    assert main(["synth", str(target), *SYNTH, "--seed", "1", "-q"]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "synthetic_config.json" in err
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*")} == mtimes
    assert main(["synth", str(target), *SYNTH, "-q"]) == 0  # the same set: left as is
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*")} == mtimes
