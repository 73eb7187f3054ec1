"""scamlib.inference: student checkpoints, the Predictor, your own video as a dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import scamlib.functional as SF
from scamlib.data import AVSaliency, DataError, MultiGranularity
from scamlib.data.synthetic import SyntheticConfig, generate
from scamlib.inference import (
    FUSED_VARIANTS,
    STUDENT_VARIANTS,
    Predictor,
    StudentInfo,
    load_student,
    load_students,
    save_student,
    video_dataset,
    write_maps,
)
from scamlib.models import STANet, STAPlusNet, create

SIZE = 32  # network input side
CONFIG = SyntheticConfig(
    num_categories=2,
    num_train=1,
    num_val=0,
    num_test=0,
    seconds=1,
    height=32,
    width=48,
    num_test_videos=1,
    test_seconds=1,
    test_datasets=("SynthAV",),
    observers=4,
)


def _student(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return create(name, preset="tiny").eval()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny generated set (8 test frames of 32 x 48 px, an mp4 with sound) and 3 students."""
    root = tmp_path_factory.mktemp("inference")
    paths = generate(root / "data", CONFIG)
    students = root / "students"
    save_student(students / "sta.safetensors", _student("sta"), name="sta", image_size=SIZE)
    for i, kind in enumerate(("short", "long")):
        save_student(
            students / f"sta_{kind}.safetensors",
            _student("sta+", seed=i + 1),
            name="sta+",
            kind=kind,
            image_size=SIZE,
        )
    return {"paths": paths, "students": students, "root": root}


@pytest.fixture(scope="module")
def predictor(world):
    return Predictor(world["students"], batch_size=8)


@pytest.fixture(scope="module")
def test_set(world, predictor):
    return predictor.open_dataset(world["paths"].stavis_root, "SynthAV", 1)


@pytest.fixture(scope="module")
def predictions(predictor, test_set):
    return predictor.predict_video(test_set, test_set.videos[0])


def test_load_students_from_folder_and_run_folder(world, tmp_path):
    found = load_students(world["students"])
    assert list(found) == list(STUDENT_VARIANTS)
    assert isinstance(found["sta"][0], STANet) and isinstance(found["sta_long"][0], STAPlusNet)
    run = tmp_path / "run" / "checkpoints" / "students"
    run.mkdir(parents=True)
    (run / "sta_short.safetensors").write_bytes(
        (world["students"] / "sta_short.safetensors").read_bytes()
    )
    assert list(load_students(tmp_path / "run")) == ["sta_short"]
    assert list(load_students(run / "sta_short.safetensors")) == ["sta_short"]
    with pytest.raises(FileNotFoundError, match=r"sta\.safetensors, sta_short\.safetensors"):
        load_students(tmp_path / "run" / "checkpoints")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_students(tmp_path / "missing")


# ---- one home per name ------------------------------------------------------------------------
def test_public_names_keep_their_import_path():
    import scamlib.data.ingest as ingest
    import scamlib.inference as inference
    import scamlib.models as models
    from scamlib import _device

    assert inference.save_student is models.save_student
    assert inference.StudentInfo is models.StudentInfo
    assert inference.STUDENT_VARIANTS is models.STUDENT_VARIANTS
    assert inference.VARIANTS == (*STUDENT_VARIANTS, *FUSED_VARIANTS)
    assert inference.best_variant is models.best_variant
    assert inference.video_dataset is ingest.video_dataset
    assert inference.DEFAULT_FPS == ingest.DEFAULT_FPS == 8.0
    assert inference.resolve_device is _device.resolve_device
    assert list(models.VARIANT_LABELS) == ["sta", "sta_short", "sta_long", "pf_agg", "pf_final"]
    assert list(models.STUDENT_NETWORKS) == list(STUDENT_VARIANTS)


def test_resolve_device_auto_and_explicit():
    from scamlib.inference import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match=r"'gpu0' is not a device name .*available here: cpu"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"'cuda' is not available .*available here: cpu"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="'cuda:99' is not available"):
        resolve_device("cuda:99")


# ---- Predictor -------------------------------------------------------------------------------
def test_predictor_maps_at_frame_size_in_unit_range(predictions, test_set):
    n = len(test_set.frames_of(test_set.videos[0]))
    assert list(predictions) == [*STUDENT_VARIANTS, *FUSED_VARIANTS]
    for variant, maps in predictions.items():
        assert maps.shape == (n, CONFIG.height, CONFIG.width), variant
        assert maps.dtype == torch.float32
        assert float(maps.min()) >= 0.0 and float(maps.max()) <= 1.0
    assert float(predictions["pf_agg"].max()) <= 0.25 + 1e-6


def test_predictor_fuses_with_pf_final_and_pf_agg(predictions):
    a, b, c = (predictions[v] for v in STUDENT_VARIANTS)
    assert torch.equal(predictions["pf_final"], SF.pf_final(a, b, c))
    assert torch.equal(predictions["pf_agg"], SF.pf_agg(a, b, c))


def test_predictor_matches_direct_forward(world, predictor, test_set, predictions):
    """STA maps are the net's output on the dataset's clips, resized bilinearly."""
    model, _info = predictor.students["sta"]
    idx = test_set.frames_of(test_set.videos[0])
    clips = torch.stack([test_set.clip(i) for i in idx])
    audio = torch.stack([test_set.audio(i) for i in idx])
    with torch.no_grad():
        maps = model(clips, audio)
    resized = torch.nn.functional.interpolate(
        maps[:, None], size=(CONFIG.height, CONFIG.width), mode="bilinear", align_corners=False
    )[:, 0]
    torch.testing.assert_close(predictions["sta"], resized, atol=1e-5, rtol=0)


def test_predictor_is_deterministic_given_the_seed(world, test_set, predictions):
    video = test_set.videos[0]
    long_only = {"sta_long": load_student(world["students"] / "sta_long.safetensors")}
    again = Predictor(long_only, seed=0).predict_video(test_set, video)
    assert torch.equal(again["sta_long"], predictions["sta_long"])  # the same MG draws
    moved = Predictor(long_only, seed=1).predict_video(test_set, video)
    assert not torch.equal(moved["sta_long"], predictions["sta_long"])


def test_mg_inputs_are_those_of_multigranularity(predictor, test_set):
    from scamlib.inference import _Memo

    mg = MultiGranularity(test_set, "long", net="sta", n=2, seed=0)
    clips, audio = predictor._mg_inputs(mg, [0, 5], _Memo(4))
    for row, i in enumerate([0, 5]):
        item = mg[i]
        assert torch.equal(clips[row], item["mg_frames"])
        assert torch.equal(audio[row], item["mg_audio"])


def test_predictor_single_student_and_checks(world, test_set):
    only = Predictor({"sta": load_student(world["students"] / "sta.safetensors")})
    assert only.variants == ("sta",)
    maps = only.predict_indices(test_set, [0, 1])
    assert list(maps) == ["sta"] and maps["sta"].shape == (2, SIZE, SIZE)
    wrong = AVSaliency(world["paths"].stavis_root, "SynthAV", 1, size=48, annotations=False)
    with pytest.raises(ValueError, match="inputs the students were not trained on"):
        only.predict_video(wrong, wrong.videos[0])
    with pytest.raises(ValueError, match="holds a 'sta' student"):
        Predictor({"sta_long": load_student(world["students"] / "sta.safetensors")})
    other_size = (create("sta").eval(), StudentInfo("sta", 64))
    short = load_student(world["students"] / "sta_short.safetensors")
    with pytest.raises(ValueError, match="different input settings"):
        Predictor({"sta": other_size, "sta_short": short})


def test_predict_to_dir_writes_the_evaluation_layout(world, predictor, test_set, tmp_path):
    only = Predictor({"sta": load_student(world["students"] / "sta.safetensors")})
    written = only.predict_to_dir(test_set, tmp_path, prefix="SynthAV")
    video = test_set.videos[0]
    assert written == {video: 8}
    for variant in only.variants:
        files = sorted((tmp_path / variant / "SynthAV" / video).iterdir())
        assert [f.name for f in files] == [f"img_{k:05d}.png" for k in range(1, 9)]
    with pytest.raises(ValueError, match="holds 2 maps for 3 frame indices"):
        write_maps({"sta": torch.zeros(2, 4, 4)}, tmp_path, [1, 2, 3])


def test_precision_auto_is_fp32_on_cpu_and_bf16_stays_within_the_tolerance(
    world, test_set, predictions
):
    """On the CPU the default ("auto") is the float32 path bit for bit; bf16 autocast with
    channels_last keeps every student's map within BF16_TOLERANCE of float32."""
    from scamlib.inference.predictor import BF16_TOLERANCE

    video = test_set.videos[0]
    fp32 = Predictor(world["students"], precision="fp32")
    assert fp32.autocast_dtype is None
    exact = fp32.predict_video(test_set, video)
    for variant in exact:
        assert torch.equal(exact[variant], predictions[variant]), variant  # predictions: "auto"
    fast = Predictor(world["students"], precision="bf16")
    assert fast.autocast_dtype is torch.bfloat16
    model, _info = fast.students["sta"]
    four_d = [p for p in model.parameters() if p.dim() == 4]
    assert four_d and all(p.is_contiguous(memory_format=torch.channels_last) for p in four_d)
    approx = fast.predict_video(test_set, video)
    diffs = {v: (approx[v] - exact[v]).abs().max().item() for v in exact}
    for variant in STUDENT_VARIANTS:
        assert approx[variant].dtype == torch.float32
        assert diffs[variant] <= BF16_TOLERANCE, diffs
    # the fusions min-max normalise each map (Z, Eq. 21), which stretches the rounding of a
    # nearly flat map (as these untrained students give): they are held to the fusion of the
    # bf16 students' maps, not to a tolerance
    a, b, c = (approx[v] for v in STUDENT_VARIANTS)
    assert torch.equal(approx["pf_final"], SF.pf_final(a, b, c)), diffs
    with pytest.raises(ValueError, match="precision must be one of"):
        Predictor(world["students"], precision="int8")
    compiled = Predictor(world["students"], compile=True)  # compiles lazily, at the first batch
    assert all(hasattr(m, "_orig_mod") for m in compiled._run.values())
    assert compiled.students["sta"][0] is compiled._run["sta"]._orig_mod


# ---- your own video --------------------------------------------------------------------------
def _silent_mp4(path: Path, frames: int = 6) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for k in range(frames):
            img = np.full((32, 32, 3), 30 * k, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_video_dataset_from_an_mp4_with_sound(world, predictor, tmp_path):
    mp4 = next((world["paths"].ave_dir / "AVE").glob("*.mp4"))
    ds = video_dataset(mp4, tmp_path, **predictor.dataset_kwargs)
    assert ds.videos == [mp4.stem] and len(ds) == CONFIG.seconds * CONFIG.fps
    assert ds.frame_size(0) == (CONFIG.height, CONFIG.width)
    assert ds.entries[mp4.stem].fps == 8.0
    assert float(ds.audio(3).std()) > 0  # the sound track made it through
    assert not (tmp_path / ".decode").exists()
    fold = (tmp_path / "fold_lists" / "video_list_test_fps.txt").read_text()
    assert fold == f"{mp4.stem} 8 8.000000\n"


def test_video_dataset_without_sound(tmp_path):
    mp4 = _silent_mp4(tmp_path / "my silent clip.mp4")
    with pytest.warns(UserWarning, match="no sound track; predicting with silence"):
        ds = video_dataset(mp4, tmp_path / "w", size=SIZE)
    assert ds.videos == ["my_silent_clip"] and len(ds) == 6
    assert float(ds.audio(0).std()) < 1e-4  # constant log(eps): silence
    with pytest.raises(DataError, match="no sound track"):
        video_dataset(mp4, tmp_path / "w2", size=SIZE, on_missing_audio="error")


def test_video_dataset_errors(tmp_path):
    with pytest.raises(DataError, match="video not found"):
        video_dataset(tmp_path / "none.mp4", tmp_path / "w")
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(DataError, match="not a decodable video"):
        video_dataset(bad, tmp_path / "w")
    folder = tmp_path / "frames"
    folder.mkdir()
    with pytest.raises(DataError, match="no frame images"):
        video_dataset(folder, tmp_path / "w")
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a.jpg")
    import soundfile

    soundfile.write(str(folder / "a.wav"), np.zeros(800, np.float32), 8000)
    with pytest.raises(ValueError, match="needs fps"):
        video_dataset(folder, tmp_path / "w")
    ds = video_dataset(folder, tmp_path / "w", fps=4, size=8)
    assert len(ds) == 1 and json.dumps(ds.videos) == '["frames"]'
