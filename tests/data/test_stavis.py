"""STAViS-layout adapter on the synthetic test sets and on broken copies."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from scamlib.data import AVSaliency, DataError

from .conftest import TINY


def disk_gray(p):
    return torch.from_numpy(np.asarray(Image.open(p).convert("L")).astype(np.float32) / 255)


@pytest.mark.parametrize(("db", "split"), [("SynthAV", 1), ("SynthAV", 2), ("SynthDIEM", None)])
def test_items_equal_files_on_disk(synth, db, split):
    root = synth.stavis_root
    ds = AVSaliency(root, db, split=split, subset="test", size=16)
    lines = (root / "fold_lists" / ds_list_name(db, split)).read_text().split("\n")
    names = [ln.split()[0] for ln in lines if ln.strip()]
    assert ds.videos == names
    assert len(ds) == len(names) * TINY.test_seconds * TINY.fps
    for video in ds.videos:
        union = np.zeros((TINY.height, TINY.width), bool)
        for i in ds.frames_of(video):
            item = ds[i]
            k = item["frame_index"]
            ann = root / "annotations" / db / video
            torch.testing.assert_close(
                item["density"], disk_gray(ann / "maps" / f"eyeMap_{k:05d}.jpg")
            )
            fix = scipy.io.loadmat(ann / f"fixMap_{k:05d}.mat")["eyeMap"] != 0
            assert torch.equal(item["fixations"], torch.from_numpy(fix))
            union |= fix
            rgb = np.asarray(Image.open(root / "video_frames" / db / video / f"img_{k:05d}.jpg"))
            raw = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255
            torch.testing.assert_close(ds.raw_frame(i), raw)
            assert item["video"] == video and item["fps"] == TINY.fps
            assert item["frames"].shape == (3, 3, 16, 16)
        assert torch.equal(ds.fixation_union(video), torch.from_numpy(union))
        assert union.sum() > 0


def test_ground_truth_view_reads_only_the_annotations(synth, monkeypatch):
    ds = AVSaliency(synth.stavis_root, "SynthAV", split=1, subset="test", size=16)
    want = [ds[i] for i in range(len(ds))]
    # the view must not touch frames or audio: make reading them fail
    monkeypatch.setattr(type(ds), "_base_item", lambda *a: pytest.fail("frames were read"))
    truth = ds.ground_truth()
    assert len(truth) == len(ds) and truth.videos == ds.videos
    for i in range(len(truth)):
        item = truth[i]
        assert set(item) == {"density", "fixations", "video", "frame_index", "fps"}
        assert torch.equal(item["density"], want[i]["density"])
        assert torch.equal(item["fixations"], want[i]["fixations"])
        assert (item["video"], item["frame_index"], item["fps"]) == (
            want[i]["video"],
            want[i]["frame_index"],
            want[i]["fps"],
        )
    video = ds.videos[0]
    assert torch.equal(truth.fixation_union(video), ds.fixation_union(video))


def test_ground_truth_levels_are_the_eyemap_grey_levels(synth):
    # levels=True gives the uint8 levels of the eyeMap files, whose float32 quotient by 255 is
    # the float density, and evaluate scores both alike, bit for bit, in float32 and float64
    from scamlib.metrics import evaluate

    ds = AVSaliency(synth.stavis_root, "SynthAV", split=1, subset="test", size=16)
    floats, levels = ds.ground_truth(), ds.ground_truth(levels=True)
    for i in range(len(ds)):
        got, want = levels[i], floats[i]
        k, video = got["frame_index"], got["video"]
        path = synth.stavis_root / "annotations" / "SynthAV" / video / "maps"
        grey = np.array(Image.open(path / f"eyeMap_{k:05d}.jpg").convert("L"))
        assert got["density"].dtype == torch.uint8
        assert torch.equal(got["density"], torch.from_numpy(grey))
        assert torch.equal(got["density"].float() / 255, want["density"])
        assert torch.equal(got["fixations"], want["fixations"])
    rng = np.random.default_rng(5)
    preds = [torch.from_numpy(rng.random((12, 20))) for _ in range(len(ds))]

    def predict(item):
        return preds[ds.frames_of(item["video"])[item["frame_index"] - 1]]

    metrics = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD")
    for dtype in (torch.float32, torch.float64):
        a, b = (evaluate(predict, gt, metrics=metrics, dtype=dtype) for gt in (floats, levels))
        np.testing.assert_array_equal(  # NaN where NaN
            [[r[m] for m in metrics] for r in a.frames.rows],
            [[r[m] for m in metrics] for r in b.frames.rows],
        )


def test_an_evaluation_decodes_each_fixation_file_once(synth, monkeypatch):
    """fixation_union reads every fixMap of a video; the frames' own reads then reuse them
    (the same maps as from the files), and a second read goes to the file again."""
    import scamlib.data.stavis as stavis

    ds = AVSaliency(synth.stavis_root, "SynthAV", split=1, subset="test", size=16)
    want = [ds.fixations(ds.video_of(i), ds.frame_index(i)) for i in range(len(ds))]
    reads = []
    real = stavis.read_fixation_mat
    monkeypatch.setattr(stavis, "read_fixation_mat", lambda p: reads.append(p) or real(p))
    truth = ds.ground_truth()
    for video in truth.videos:
        truth.fixation_union(video)
    got = [truth[i]["fixations"] for i in range(len(truth))]
    assert len(reads) == len(set(reads)) == len(ds)
    assert all(torch.equal(a, b) and a.dtype == torch.bool for a, b in zip(got, want))
    assert torch.equal(truth[0]["fixations"], want[0]) and len(reads) == len(ds) + 1


def ds_list_name(db, split):
    return f"{db}_list_test_{split}_fps.txt" if split else f"{db}_list_test_fps.txt"


@pytest.fixture
def copy(synth, tmp_path):
    dst = tmp_path / "stavis"
    shutil.copytree(synth.stavis_root, dst)
    return dst


def test_fold_list_errors(copy):
    with pytest.raises(DataError, match=r"SynthDIEM_list_test_1_fps\.txt.*SynthDIEM_list_test_fps"):
        AVSaliency(copy, "SynthDIEM", split=1)
    lst = copy / "fold_lists" / "SynthDIEM_list_test_fps.txt"
    lst.write_text(lst.read_text() + "ghost 5 8.0\n")
    with pytest.raises(DataError, match="ghost"):
        AVSaliency(copy, "SynthDIEM")
    with pytest.warns(UserWarning, match="ghost"):
        ds = AVSaliency(copy, "SynthDIEM", missing_videos="skip")
    assert "ghost" not in ds.videos


def test_corrupt_files_name_the_path(copy):
    ds = AVSaliency(copy, "SynthDIEM", size=8)
    video = ds.videos[0]
    ann = copy / "annotations" / "SynthDIEM" / video
    (ann / "maps" / "eyeMap_00002.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    (ann / "fixMap_00003.mat").write_bytes(b"MATLAB 5.0 broken")
    (copy / "video_frames" / "SynthDIEM" / video / "img_00008.jpg").unlink()
    wav = copy / "video_audio" / "SynthDIEM" / ds.videos[1] / f"{ds.videos[1]}.wav"
    wav.write_bytes(b"RIFF....WAVEjunk")
    idx = ds.frames_of(video)
    with pytest.raises(DataError, match=r"eyeMap_00002\.jpg"):
        ds[idx[1]]
    with pytest.raises(DataError, match=r"fixMap_00003\.mat"):
        ds[idx[2]]
    with pytest.raises(DataError, match=r"img_00008\.jpg"):
        ds[idx[7]]
    with pytest.raises(DataError, match=r"fixMap_00003\.mat"):
        ds.fixation_union(video)
    with pytest.raises(DataError, match=r"\.wav"):
        ds[ds.frames_of(ds.videos[1])[0]]
    scipy.io.savemat(ann / "fixMap_00003.mat", {"other": np.zeros((2, 2))})
    with pytest.raises(DataError, match="eyeMap"):
        ds.fixations(video, 3)


def test_bad_arguments(synth):
    with pytest.raises(ValueError, match="split"):
        AVSaliency(synth.stavis_root, "SynthAV", split=4)
    with pytest.raises(ValueError, match="subset"):
        AVSaliency(synth.stavis_root, "SynthAV", split=1, subset="val")
