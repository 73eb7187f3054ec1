"""Bad input to the data layer: damaged copies of real-format files, one table row per fault.

Each case builds a small, valid file set in a temporary folder (copies of the real AVE
annotation list and split files when ``../shared/reference-data`` exists, hand-written files
in the same format otherwise), damages one file, and checks either the exact exception type and
a message that names the file (and line) and says what was expected and what was found, or the
documented value the library returns for that input.
"""

from __future__ import annotations

import math
import re
import shutil
import signal
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from scamlib.data import AVE, AVSaliency, DataError, read_annotations, read_fold_list
from scamlib.data.annotations import read_ave_split
from scamlib.data.synthetic import SyntheticConfig
from scamlib.data.video import decode_mp4

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference-data"
REF_ROWS = [
    "Church bell&RUhOCu3LNXM&good&0&10",
    "Church bell&MH3m4AwEcRY&good&6&8",
    "Violin, fiddle&dupVID&good&2&7",
    "Acoustic guitar&dupVID&good&0&10",
]


# ---- builders of valid files -------------------------------------------------------------
def annotation_lines() -> list[str]:
    """The real annotation list (first rows) or its hand-written stand-in."""
    real = REF / "ave" / "Annotations.txt"
    if real.is_file():
        return real.read_text(encoding="utf-8").splitlines()[:40]
    return list(REF_ROWS)


def write_ave(root: Path, extra: list[str] | None = None, replace: dict | None = None) -> Path:
    """An AVE folder whose ``Annotations.txt`` holds the reference rows, edited."""
    lines = annotation_lines()
    for i, new in (replace or {}).items():
        lines[i] = new
    lines += extra or []
    root.mkdir(parents=True, exist_ok=True)
    (root / "Annotations.txt").write_text("\n".join(lines) + "\n")
    return root / "Annotations.txt"


def write_order(path: Path, data) -> Path:
    real = REF / "ave" / "train_order.h5"
    if data is None and real.is_file():
        shutil.copy(real, path)
        return path
    with h5py.File(path, "w") as f:
        f.create_dataset("order", data=np.arange(4) if data is None else data)
    return path


def write_jpeg(path: Path, h: int = 16, w: int = 20, gray: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, size=(h, w) if gray else (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, quality=90)
    return path


def write_stavis(root: Path, nframes: int = 3, rate: int = 16_000) -> Path:
    """A STAViS-layout root with one dataset ``DB``, one video ``v1`` of ``nframes`` frames."""
    (root / "fold_lists").mkdir(parents=True)
    (root / "fold_lists" / "DB_list_test_fps.txt").write_text(f"v1 {nframes} 8.000000\n")
    for k in range(1, nframes + 1):
        write_jpeg(root / "video_frames" / "DB" / "v1" / f"img_{k:05d}.jpg")
        write_jpeg(root / "annotations" / "DB" / "v1" / "maps" / f"eyeMap_{k:05d}.jpg", gray=True)
        fix = np.zeros((16, 20), np.uint8)
        fix[k, k] = 1
        mat = root / "annotations" / "DB" / "v1" / f"fixMap_{k:05d}.mat"
        scipy.io.savemat(mat, {"eyeMap": fix})
    wav = root / "video_audio" / "DB" / "v1" / "v1.wav"
    wav.parent.mkdir(parents=True)
    sf.write(str(wav), np.zeros(rate, np.float32), rate)
    return root


def write_mp4(path: Path, nframes: int = 8) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=8)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        for i in range(nframes):
            arr = np.full((32, 32, 3), 20 * i, np.uint8)
            for p in vs.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
    return path


def truncate(path: Path, keep: float | int) -> Path:
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:n])
    return path


def stavis_item(root: Path, index: int = 1):
    return AVSaliency(root, "DB", None, size=None)[index]


# ---- the table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """``setup(tmp)`` damages files and returns the call under test; ``raises`` is the exact
    exception type (or ``None`` when a documented value is expected, then ``check`` tests it);
    ``match`` is a regex over the message."""

    id: str
    setup: Callable[[Path], Callable[[], object]]
    raises: type[BaseException] | None
    match: str = ""
    check: Callable[[object], bool] | None = None


def _ann(line: str, *, at: int | None = None):
    def setup(tmp: Path):
        if at is None:
            p = write_ave(tmp, extra=[line])
        else:
            p = write_ave(tmp, replace={at: line})
        return lambda: read_annotations(p)

    return setup


NL = len(annotation_lines()) + 1  # line number of an appended annotation row
ANN = rf"Annotations\.txt:{NL}: "


def _ave_hang(tmp: Path):
    (tmp / "AVE_Dataset").mkdir()
    (tmp / "AVE_Dataset" / "Annotations.txt").write_text("Church bell&hangVID&good&0&inf\n")
    (tmp / "frames" / "frames" / "hangVID").mkdir(parents=True)
    return lambda: AVE(tmp, split="all", frames_root=tmp / "frames")


def _split(data):
    def setup(tmp: Path):
        write_ave(tmp)
        events = read_annotations(tmp / "Annotations.txt")
        write_order(tmp / "train_order.h5", data)
        return lambda: read_ave_split(tmp, "train", events)

    return setup


def _split_no_key(tmp: Path):
    write_ave(tmp)
    events = read_annotations(tmp / "Annotations.txt")
    with h5py.File(tmp / "train_order.h5", "w") as f:
        f.create_dataset("indices", data=np.arange(3))
    return lambda: read_ave_split(tmp, "train", events)


def _split_truncated(tmp: Path):
    write_ave(tmp)
    events = read_annotations(tmp / "Annotations.txt")
    truncate(write_order(tmp / "train_order.h5", None), 0.5)
    return lambda: read_ave_split(tmp, "train", events)


def _split_empty_file(tmp: Path):
    write_ave(tmp)
    events = read_annotations(tmp / "Annotations.txt")
    (tmp / "train_order.h5").write_bytes(b"")
    return lambda: read_ave_split(tmp, "train", events)


def _split_txt_unknown_row(tmp: Path):
    write_ave(tmp)
    events = read_annotations(tmp / "Annotations.txt")
    (tmp / "trainSet.txt").write_text("Church bell&notThere&good&0&10\n")
    return lambda: read_ave_split(tmp, "train", events)


def _fold(text: str):
    def setup(tmp: Path):
        p = tmp / "DB_list_test_fps.txt"
        p.write_text(text)
        return lambda: read_fold_list(p)

    return setup


def _stavis_fold(text: str):
    def setup(tmp: Path):
        root = write_stavis(tmp / "st")
        (root / "fold_lists" / "DB_list_test_fps.txt").write_text(text)
        return lambda: AVSaliency(root, "DB", None, size=None)

    return setup


def _damage(rel: str, how: Callable[[Path], object], index: int = 1, nframes: int = 3):
    def setup(tmp: Path):
        root = write_stavis(tmp / "st", nframes=nframes)
        how(root / rel)
        return lambda: stavis_item(root, index)

    return setup


FRAME2 = "video_frames/DB/v1/img_00002.jpg"
MAP2 = "annotations/DB/v1/maps/eyeMap_00002.jpg"
FIX2 = "annotations/DB/v1/fixMap_00002.mat"
WAV = "video_audio/DB/v1/v1.wav"


def _wav_rate(tmp: Path):
    root = write_stavis(tmp / "st", rate=8_000)
    return lambda: stavis_item(root)["audio"]


def _wav_empty_samples(tmp: Path):
    root = write_stavis(tmp / "st")
    sf.write(str(root / WAV), np.zeros(0, np.float32), 16_000)

    def call():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            audio = stavis_item(root)["audio"]
        return audio, [str(w.message) for w in caught]

    return call


def _wav_nan(tmp: Path):
    root = write_stavis(tmp / "st")
    sf.write(str(root / WAV), np.full(100, np.nan, np.float32), 16_000, subtype="FLOAT")
    return lambda: stavis_item(root)


def _union_size(tmp: Path):
    root = write_stavis(tmp / "st")
    scipy.io.savemat(root / FIX2, {"eyeMap": np.zeros((8, 8), np.uint8)})
    return lambda: AVSaliency(root, "DB", None, size=None).fixation_union("v1")


def _frames_missing(tmp: Path):
    root = write_stavis(tmp / "st")
    (root / "fold_lists" / "DB_list_test_fps.txt").write_text("v1 4 8.0\n")
    return lambda: AVSaliency(root, "DB", None, size=None)[3]


def _mp4(how: Callable[[Path], object]):
    def setup(tmp: Path):
        path = write_mp4(tmp / "clip.mp4")
        how(path)
        return lambda: decode_mp4(path, tmp / "out", 8.0, "clip")

    return setup


def _mp4_far_frame(tmp: Path):
    """A container whose third frame claims to be shown after 25000 s (pts 200000 at 8 fps)."""
    import av

    path = tmp / "far.mp4"
    with av.open(str(path), "w") as c:
        vs = c.add_stream("mpeg4", rate=8)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        for i, pts in enumerate([0, 1, 200_000]):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * i, np.uint8), "rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 8)
            for p in vs.encode(frame):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
    return lambda: decode_mp4(path, tmp / "out", 8.0, "far")


def _skip_all(tmp: Path):
    root = write_stavis(tmp / "st")
    (root / "fold_lists" / "DB_list_test_fps.txt").write_text("ghost 3 8\n")

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return AVSaliency(root, "DB", None, size=None, missing_videos="skip")

    return call


def _ave_mp4_truncated(tmp: Path):
    ave = tmp / "AVE_Dataset"
    write_ave(ave, replace={0: "Church bell&vidA&good&0&1"})
    lines = (ave / "Annotations.txt").read_text().splitlines()[:1]
    (ave / "Annotations.txt").write_text("\n".join(lines) + "\n")
    truncate(write_mp4(ave / "AVE" / "vidA.mp4"), 0.3)
    return lambda: AVE(tmp, split="all", size=None)[0]


def _ave_empty_frames(tmp: Path):
    write_ave(tmp / "AVE_Dataset", replace={0: "Church bell&vidA&good&0&1"})
    lines = (tmp / "AVE_Dataset" / "Annotations.txt").read_text().splitlines()[:1]
    (tmp / "AVE_Dataset" / "Annotations.txt").write_text("\n".join(lines) + "\n")
    (tmp / "fr" / "frames" / "vidA").mkdir(parents=True)
    return lambda: AVE(tmp, split="all", size=None, frames_root=tmp / "fr")[0]


def _synth(**kw):
    return lambda tmp: (lambda: SyntheticConfig(**kw))


def _zero(p: Path) -> None:
    p.write_bytes(b"")


def _text(p: Path) -> None:
    p.write_text("this is not an image\n")


def _mat(obj: dict):
    return lambda p: scipy.io.savemat(p, obj)


def _blank_lines_ok(v) -> bool:
    return [(e.name, e.nframes) for e in v] == [("a", 10), ("b", 20)]


def _resampled_ok(v) -> bool:
    return tuple(v.shape) == (1, 257, 101)


def _empty_audio_ok(v) -> bool:
    audio, msgs = v
    silent = bool((audio == audio.flatten()[0]).all())
    return silent and any(re.search(r"v1\.wav: audio lasts 0\.000 s", m) for m in msgs)


CASES = [
    # annotation lines
    Case("ann-too-few-fields", _ann("Church bell&abc&good&0"), DataError,
         ANN + r"expected 5 '&'-separated fields.*got 4"),
    Case("ann-too-many-fields", _ann("Church bell&abc&good&0&1&2"), DataError,
         ANN + r"expected 5 .*got 6"),
    Case("ann-empty-category", _ann("&abc&good&0&10"), DataError,
         ANN + r"Category must not be empty"),
    Case("ann-empty-videoid", _ann("Church bell& &good&0&10"), DataError,
         ANN + r"VideoID must not be empty"),
    Case("ann-videoid-path", _ann("Church bell&../etc&good&0&10"), DataError,
         ANN + r"VideoID .*'\.\./etc'"),
    Case("ann-start-not-number", _ann("Church bell&abc&good&zero&10"), DataError,
         ANN + r"StartTime must be a number of seconds, found 'zero'"),
    Case("ann-end-inf", _ann("Church bell&abc&good&0&inf"), DataError,
         ANN + r"EndTime must be a finite number of seconds, found 'inf'"),
    Case("ann-end-nan", _ann("Church bell&abc&good&0&nan"), DataError,
         ANN + r"EndTime must be a finite number of seconds, found 'nan'"),
    Case("ann-end-absurd", _ann("Church bell&abc&good&0&1e308"), DataError,
         ANN + r"EndTime must be at most 60 s.*found '1e308'"),
    Case("ann-start-negative", _ann("Church bell&abc&good&-1&10"), DataError,
         ANN + r"StartTime must be >= 0.*found '-1'"),
    Case("ann-start-after-end", _ann("Church bell&abc&good&7&3"), DataError,
         ANN + r"need StartTime <= EndTime, found 7 > 3"),
    Case("ann-duplicate-row", lambda t: _ann(annotation_lines()[1])(t), DataError,
         ANN + r"row '.*' is a duplicate of line 2"),
    Case("ann-not-utf8", lambda t: (lambda: read_annotations(
        (t.mkdir(exist_ok=True), (t / "Annotations.txt").write_bytes(b"\xff\xfe\x00\x81"),
         t / "Annotations.txt")[-1])), DataError, r"Annotations\.txt: .*not UTF-8"),
    Case("ann-no-rows", lambda t: (lambda: read_annotations(
        (t.mkdir(exist_ok=True), (t / "Annotations.txt").write_text(
            "Category&VideoID&Quality&StartTime&EndTime\n\n"), t / "Annotations.txt")[-1])),
         DataError, r"Annotations\.txt: .*no event row"),
    Case("ave-inf-end-no-hang", _ave_hang, DataError,
         r"Annotations\.txt:1: EndTime must be a finite number of seconds, found 'inf'"),
    # AVE split files (h5 / txt)
    Case("split-h5-no-order-key", _split_no_key, DataError,
         r"train_order\.h5: expected .*dataset 'order'"),
    Case("split-h5-truncated", _split_truncated, DataError,
         r"train_order\.h5: expected an HDF5 file"),
    Case("split-h5-zero-bytes", _split_empty_file, DataError,
         r"train_order\.h5: expected an HDF5 file"),
    Case("split-h5-float-indices", _split(np.array([0.0, 1.5])), DataError,
         r"train_order\.h5: 'order' must hold integer row indices, found float64"),
    Case("split-h5-out-of-range", _split(np.array([0, 5000])), DataError,
         r"train_order\.h5: row indices must lie in \[0, \d+\), found \[5000\]"),
    Case("split-h5-negative", _split(np.array([-1, 2])), DataError,
         r"train_order\.h5: row indices must lie in \[0, \d+\), found \[-1\]"),
    Case("split-h5-duplicate", _split(np.array([0, 1, 1])), DataError,
         r"train_order\.h5: row 1 is listed 2 times"),
    Case("split-h5-2d", _split(np.zeros((2, 3), np.int64)), DataError,
         r"train_order\.h5: 'order' must be 1-D, found shape \(2, 3\)"),
    Case("split-h5-longer-than-annotations", _split(np.arange(10**5)), DataError,
         r"train_order\.h5: 'order' must list at most the \d+ rows of the annotations, "
         r"found 100000 indices"),
    Case("split-txt-unknown-row", _split_txt_unknown_row, DataError,
         r"trainSet\.txt: row Church bell&notThere&0&10 is not in Annotations\.txt"),
    # fold-list lines
    Case("fold-too-few-fields", _fold("v1 10\n"), DataError,
         r"DB_list_test_fps\.txt:1: expected 'name nframes fps', found 2 fields"),
    Case("fold-nframes-not-int", _fold("v1 ten 30\n"), DataError,
         r"DB_list_test_fps\.txt:1: nframes must be a positive integer, found 'ten'"),
    Case("fold-nframes-zero", _fold("a 5 30\nv1 0 30\n"), DataError,
         r"DB_list_test_fps\.txt:2: nframes must be a positive integer, found '0'"),
    Case("fold-nframes-absurd", _fold("v1 1000000000000 30\n"), DataError,
         r"DB_list_test_fps\.txt:1: nframes must be at most 1000000, found '1000000000000'"),
    Case("fold-fps-inf", _fold("v1 10 inf\n"), DataError,
         r"DB_list_test_fps\.txt:1: fps must be a finite number in \(0, 1000\], found 'inf'"),
    Case("fold-fps-negative", _fold("v1 10 -30\n"), DataError,
         r"DB_list_test_fps\.txt:1: fps must be a finite number in \(0, 1000\], found '-30'"),
    Case("fold-duplicate-name", _fold("v1 10 30\nv2 5 30\nv1 10 30\n"), DataError,
         r"DB_list_test_fps\.txt:3: video 'v1' is listed again \(first on line 1\)"),
    Case("fold-name-path", _fold("../v1 10 30\n"), DataError,
         r"DB_list_test_fps\.txt:1: video name must be one folder or file name .*found '\.\./v1'"),
    Case("fold-blank-lines-skipped", _fold("\n  \na 10 30\n\nb 20 25\n"), None,
         check=_blank_lines_ok),
    Case("fold-missing-video", _stavis_fold("v1 3 8\nghost 3 8\n"), DataError,
         r"frame folder of video 'ghost' listed in .*DB_list_test_fps\.txt not found: "
         r".*video_frames/DB/ghost"),
    Case("fold-no-video", _stavis_fold("\n\n"), DataError,
         r"DB_list_test_fps\.txt: the fold list names no video"),
    # JPEG frames and density maps
    Case("jpeg-frame-truncated", _damage(FRAME2, lambda p: truncate(p, 0.5)), DataError,
         r"img_00002\.jpg: not a decodable image"),
    Case("jpeg-frame-zero-bytes", _damage(FRAME2, _zero), DataError,
         r"img_00002\.jpg: not a decodable image"),
    Case("jpeg-frame-not-image", _damage(FRAME2, _text), DataError,
         r"img_00002\.jpg: not a decodable image"),
    Case("jpeg-frame-other-size", _damage(FRAME2, lambda p: write_jpeg(p, 24, 20)), DataError,
         r"img_00002\.jpg: frame size \(24, 20\) differs from the video's first frame \(16, 20\)"),
    Case("jpeg-frame-missing", _frames_missing, DataError,
         r"image not found: .*img_00004\.jpg"),
    Case("jpeg-density-truncated", _damage(MAP2, lambda p: truncate(p, 0.4)), DataError,
         r"eyeMap_00002\.jpg: not a decodable image"),
    # WAV audio
    Case("wav-truncated-header", _damage(WAV, lambda p: truncate(p, 20)), DataError,
         r"v1\.wav: not a readable audio file"),
    Case("wav-zero-bytes", _damage(WAV, _zero), DataError, r"v1\.wav: not a readable audio file"),
    Case("wav-not-audio", _damage(WAV, _text), DataError, r"v1\.wav: not a readable audio file"),
    Case("wav-nan-samples", _wav_nan, DataError, r"v1\.wav: audio holds NaN/Inf samples"),
    Case("wav-other-rate-resampled", _wav_rate, None, check=_resampled_ok),
    Case("wav-no-samples-zero-padded", _wav_empty_samples, None, check=_empty_audio_ok),
    # .mat fixation maps
    Case("mat-missing-key", _damage(FIX2, _mat({"fixations": np.zeros((16, 20))})), DataError,
         r"fixMap_00002\.mat: expected a variable 'eyeMap', found none"),
    Case("mat-wrong-ndim", _damage(FIX2, _mat({"eyeMap": np.zeros((16, 20, 3))})), DataError,
         r"fixMap_00002\.mat: variable 'eyeMap' must be 2-D, got shape \(16, 20, 3\)"),
    Case("mat-other-size-than-density", _damage(FIX2, _mat({"eyeMap": np.zeros((8, 8))})),
         DataError, r"fixMap_00002\.mat: fixation map size \(8, 8\) differs from the density "
         r"map .*eyeMap_00002\.jpg \(16, 20\)"),
    Case("mat-truncated", _damage(FIX2, lambda p: truncate(p, 0.5)), DataError,
         r"fixMap_00002\.mat: not a readable MAT file"),
    Case("mat-zero-bytes", _damage(FIX2, _zero), DataError,
         r"fixMap_00002\.mat: not a readable MAT file"),
    Case("mat-union-other-size", _union_size, DataError,
         r"fixMap_00002\.mat: fixation map size \(8, 8\) differs from frame 1's \(16, 20\)"),
    # mp4
    Case("mp4-truncated", _mp4(lambda p: truncate(p, 0.3)), DataError,
         r"clip\.mp4: not a decodable video"),
    Case("mp4-zero-bytes", _mp4(_zero), DataError, r"clip\.mp4: not a decodable video"),
    Case("mp4-not-video", _mp4(_text), DataError, r"clip\.mp4: not a decodable video"),
    Case("mp4-absurd-timestamp", _mp4_far_frame, DataError,
         r"far\.mp4: video frame timestamp must be a finite time within 14400 s, "
         r"found 25000\.0 s"),
    Case("ave-mp4-truncated", _ave_mp4_truncated, DataError,
         r"vidA\.mp4: not a decodable video"),
    Case("ave-empty-frame-folder", _ave_empty_frames, DataError,
         r"frames/vidA: no frames img_%05d\.jpg found"),
    Case("ave-fps-inf", lambda t: (lambda: AVE(t, fps=math.inf)), ValueError,
         r"fps must be a finite number in \(0, 1000\], got inf"),
    Case("fold-all-videos-skipped", _skip_all, DataError,
         r"DB_list_test_fps\.txt: the fold list names no video \(every listed video was "
         r"skipped\)"),
    # synthetic world sizes (loops bounded by the config)
    Case("synth-seconds-absurd", _synth(seconds=10**9), ValueError,
         r"SyntheticConfig: seconds must be an int in \[1, 60\], found 1000000000"),
    Case("synth-fps-string", _synth(fps="4"), ValueError,
         r"SyntheticConfig: fps must be an int in \[1, 120\], found '4' \(str\)"),
    Case("synth-height-absurd", _synth(height=10**6), ValueError,
         r"SyntheticConfig: height must be an int in \[16, 4096\], found 1000000"),
    Case("synth-observers-float", _synth(observers=2.5), ValueError,
         r"SyntheticConfig: observers must be an int in \[1, 10000\], found 2\.5 \(float\)"),
    Case("synth-num-val-negative", _synth(num_val=-1), ValueError,
         r"SyntheticConfig: num_val must be an int in \[0, 100000\], found -1"),
]  # fmt: skip


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout("the call did not return within 10 s")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    call = case.setup(tmp_path)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)  # a regression to an endless loop fails instead of hanging the suite
    try:
        if case.raises is None:
            value = call()
            assert case.check is not None and case.check(value), value
            return
        with pytest.raises(BaseException) as info:
            call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert type(info.value) is case.raises, f"{type(info.value).__name__}: {info.value}"
    assert re.search(case.match, str(info.value)), str(info.value)


def test_enough_cases() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


# ---- property-based: annotation rows round trip through the parser ---------------------
_names = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" ,-_()"),
    min_size=1,
    max_size=12,
).map(str.strip).filter(bool)
_ids = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_"),
    min_size=1,
    max_size=11,
)
_times = st.tuples(
    st.integers(0, 600), st.integers(0, 600)
).map(lambda ab: (min(ab) / 10, max(ab) / 10))


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(_names, _ids, _times), min_size=1, max_size=8,
                     unique_by=lambda r: (r[0], r[1], r[2])),
       fps=st.floats(0.25, 120.0))  # fmt: skip
def test_annotation_rows_round_trip(rows, fps, tmp_path_factory) -> None:
    """Written rows come back in order, with their fields and times, and every AVE item's
    frame lies inside its event at any frame rate."""
    tmp = tmp_path_factory.mktemp("ann")
    lines = [f"{c}&{v}&good&{a:g}&{b:g}" for c, v, (a, b) in rows]
    (tmp / "Annotations.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    events = read_annotations(tmp / "Annotations.txt")
    assert [(e.row, e.category, e.video_id, e.start, e.end) for e in events] == [
        (i, c, v, a, b) for i, (c, v, (a, b)) in enumerate(rows)
    ]
    from scamlib.data.ave import event_frames

    for e in events:
        for rate in (fps, 8.0, 29.97):
            ks = event_frames(e.start, e.end, rate)
            ref, k = [], 1  # the defining predicate, read literally (bounded: end <= 60 s)
            while (k - 1) / rate < e.end - 1e-9:
                if (k - 1) / rate >= e.start - 1e-9:
                    ref.append(k)
                k += 1
            assert list(ks) == ref
