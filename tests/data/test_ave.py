"""AVE adapter: synthetic mp4s, frames extracted beforehand, caching, corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image
from torch.utils.data import DataLoader

import scamlib.data.video as video_mod
from scamlib.data import AVE, DataError, audio_window, log_spectrogram
from scamlib.data._io import IMAGENET_MEAN, IMAGENET_STD
from scamlib.data.synthetic import _HEADS

from .conftest import TINY

HEADER = "Category&VideoID&Quality&StartTime&EndTime"


def norm(x):
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def extracted(root: Path, vid: str, n: int, h=12, w=16, rate=8000, seconds=None, sizes=None):
    """Write frames/<vid>/img_%05d.jpg (distinct grey levels) and audio/<vid>.wav."""
    d = root / "frames" / vid
    d.mkdir(parents=True, exist_ok=True)
    for k in range(1, n + 1):
        hh, ww = sizes[k - 1] if sizes else (h, w)
        Image.fromarray(np.full((hh, ww, 3), 10 * k, np.uint8)).save(d / f"img_{k:05d}.jpg")
    (root / "audio").mkdir(exist_ok=True)
    secs = n / 4 if seconds is None else seconds
    wave = np.sin(np.arange(round(secs * rate)) * 0.05).astype(np.float32)
    sf.write(root / "audio" / f"{vid}.wav", wave, rate, subtype="FLOAT")
    return wave


def test_synthetic_items_tags_and_decoded_frames(synth, tmp_path):
    ds = AVE(synth.root, "train", fps=TINY.fps, size=(24, 32), cache_dir=tmp_path / "c")
    assert ds.categories == sorted(synth.categories)
    lines = (synth.ave_dir / "Annotations.txt").read_text().splitlines()[1:]
    want = []
    for r in range(TINY.num_train):
        _cat, _vid, _q, s, e = lines[r].split("&")
        n = TINY.seconds * TINY.fps
        want += [(r, k) for k in range(1, n + 1) if float(s) <= (k - 1) / TINY.fps < float(e)]
    assert [(ds.row_of(i), ds.frame_index(i)) for i in range(len(ds))] == want
    hits = 0
    for i in range(0, len(ds), 3):
        item = ds[i]
        row, k = item["row"], item["frame_index"]
        assert ds.categories[item["tag"]] == lines[row].split("&")[0]
        assert item["frames"].shape == (3, 3, 24, 32) and item["audio"].shape[:2] == (1, 257)
        gt = np.load(synth.ground_truth / f"{row:05d}.npz")
        assert int(gt["tag"]) == item["tag"]
        raw = ds.raw_frame(i)
        assert raw.shape == (3, TINY.height, TINY.width) and tuple(item["frame_size"]) == (64, 80)
        x, y = np.rint(gt["head_xy"][k - 1]).astype(int)
        colour = raw[:, y, x].numpy() * 255
        hits += np.abs(colour - _HEADS[item["tag"]]).max() < 70
    assert hits >= 0.8 * len(range(0, len(ds), 3))  # the decoded frame shows the head there
    assert ds.indices_of(row=0) == [i for i in range(len(ds)) if ds.row_of(i) == 0]


def test_extracted_frames_are_returned_as_on_disk(tmp_path):
    (tmp_path / "AVE_Dataset").mkdir()
    (tmp_path / "AVE_Dataset" / "Annotations.txt").write_text(
        "\n".join(["Dog&v1&good&0&2", "Cat&v1&good&1&2", "Dog&v2&good&0&1"]) + "\n"
    )
    fr = tmp_path / "extracted"
    wave = extracted(fr, "v1", 8)
    extracted(fr, "v2", 4)
    ds = AVE(tmp_path, "all", fps=4, size=None, frames_root=fr, sample_rate=8000)
    assert len(ds) == 8 + 4 + 4 and ds.categories == ["Cat", "Dog"]
    # duplicated VideoID: two rows, two tags, same files
    assert {ds[i]["tag"] for i in ds.indices_of(video_id="v1")} == {0, 1}
    assert [ds.frame_index(i) for i in ds.indices_of(row=1)] == [5, 6, 7, 8]
    i = ds.indices_of(row=0)[0]  # frame 1: clip repeats it at the start
    disk = [
        torch.from_numpy(np.asarray(Image.open(fr / "frames/v1" / f"img_{k:05d}.jpg")).copy())
        for k in (1, 1, 2)
    ]
    want = torch.stack([d.permute(2, 0, 1).float() / 255 for d in disk])
    torch.testing.assert_close(ds[i]["frames"], norm(want))
    torch.testing.assert_close(ds.raw_frame(i), want[0])
    last = ds.indices_of(row=0)[-1]
    assert ds.frame_index(last) == 8
    torch.testing.assert_close(ds.clip(last)[1:], ds.clip(last)[1:2].expand(2, -1, -1, -1))
    # audio: the 1 s window centred on (k-1)/fps, zero-padded, then the log spectrogram
    k = 3
    j = ds.indices_of(row=0)[k - 1]
    start = round(((k - 1) / 4 - 0.5) * 8000)
    seg = np.zeros(8000, np.float32)
    lo = max(start, 0)
    seg[lo - start :] = wave[lo : start + 8000]
    assert torch.equal(
        audio_window(torch.from_numpy(wave), 8000, (k - 1) / 4, 1.0), torch.from_numpy(seg)
    )
    torch.testing.assert_close(ds[j]["audio"], log_spectrogram(torch.from_numpy(seg)))


def test_short_audio_and_mixed_sizes(tmp_path):
    (tmp_path / "Annotations.txt").write_text("Dog&v1&good&0&2\nDog&v2&good&0&1\n")
    fr = tmp_path / "x"
    extracted(fr, "v1", 8, seconds=0.5)
    extracted(fr, "v2", 4, sizes=[(12, 16), (12, 16), (10, 16), (12, 16)])
    ds = AVE(tmp_path, "all", fps=4, size=8, frames_root=fr)
    with pytest.warns(UserWarning, match=r"v1\.wav.*shorter|v1\.wav: audio lasts"):
        ds[0]
    strict = AVE(tmp_path, "all", fps=4, size=8, frames_root=fr, on_short_audio="error")
    with pytest.raises(DataError, match=r"v1\.wav"):
        strict[0]
    with pytest.raises(DataError, match=r"v2/img_00003\.jpg.*size"):
        ds[ds.indices_of(row=1)[2]]


def test_missing_and_corrupt_files(tmp_path):
    ave = tmp_path / "AVE_Dataset"
    (ave / "AVE").mkdir(parents=True)
    (ave / "Annotations.txt").write_text(HEADER + "\nDog&gone&good&0&1\n")
    with pytest.raises(DataError, match=r"gone\.mp4"):
        AVE(tmp_path, "all", fps=4)
    (ave / "AVE" / "gone.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 corrupt")
    ds = AVE(tmp_path, "all", fps=4, size=8)
    with pytest.raises(DataError, match=r"gone\.mp4"):
        ds[0]
    assert not (ave / ".scamlib_cache" / "fps4" / "frames" / "gone").exists()
    with pytest.raises(DataError, match=r"Annotations\.txt"):
        AVE(tmp_path / "nowhere", "all")
    fr = tmp_path / "fr"
    extracted(fr, "gone", 4)
    (fr / "frames" / "gone" / "img_00002.jpg").write_bytes(b"\xff\xd8\xff garbage")
    ds = AVE(tmp_path, "all", fps=4, size=8, frames_root=fr)
    with pytest.raises(DataError, match=r"img_00002\.jpg"):
        ds[0]


def test_dataloader_epochs_decode_once(synth, tmp_path, monkeypatch):
    log = tmp_path / "decodes.log"
    real = video_mod.decode_mp4

    def counting(path, *args, **kwargs):
        with open(log, "a") as f:
            f.write(f"{Path(path).name}\n")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(video_mod, "decode_mp4", counting)
    ds = AVE(synth.root, "train", fps=TINY.fps, size=16, cache_dir=tmp_path / "cache")
    loader = DataLoader(ds, batch_size=16, num_workers=2, shuffle=True)
    seen = 0
    for batch in loader:
        assert batch["frames"].shape[1:] == (3, 3, 16, 16)
        seen += len(batch["tag"])
    assert seen == len(ds)
    first = log.read_text().splitlines()
    assert set(first) == {f"{ds.video_of(i)}.mp4" for i in range(len(ds))}
    for _ in DataLoader(ds, batch_size=16, num_workers=2):
        pass
    assert log.read_text().splitlines() == first  # the second epoch read the cache only
