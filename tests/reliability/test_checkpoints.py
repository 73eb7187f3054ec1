"""Damaged and wrong student checkpoints, table-driven.

Every case writes one bad checkpoint (or folder) next to a good one and names the exact
exception :func:`load_student` / :func:`load_students` must raise, with the words its message
must hold: the file, and what was expected and what was found.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from scamlib.models import create, load_student, load_students, save_student

REQUIRED = (
    "name", "kind", "preset", "image_size", "n_mg", "cgcn_steps", "num_classes", "clip_len",
    "audio_seconds", "sample_rate", "spectrogram",
)  # fmt: skip


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A valid STA checkpoint, its metadata and its weights."""
    path = tmp_path_factory.mktemp("ck") / "good.safetensors"
    torch.manual_seed(0)
    save_student(path, create("sta").eval(), name="sta", image_size=32)
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata())
        state = {k: f.get_tensor(k) for k in f.keys()}
    return {"path": path, "meta": meta, "state": state}


def _rewrite(meta: Callable | None = None, state: Callable | None = None):
    """A maker that saves the good checkpoint with its metadata / weights changed."""

    def make(good, folder: Path) -> Path:
        path = folder / "bad.safetensors"
        m = meta(dict(good["meta"])) if meta else good["meta"]
        s = state(dict(good["state"])) if state else good["state"]
        save_file(s, str(path), metadata=m)
        return path

    return make


def _bytes(content: Callable[[bytes], bytes]):
    def make(good, folder: Path) -> Path:
        path = folder / "bad.safetensors"
        path.write_bytes(content(good["path"].read_bytes()))
        return path

    return make


def _without(key: str):
    return _rewrite(meta=lambda m: {k: v for k, v in m.items() if k != key})


def _first_weight(state: dict, value: Callable[[torch.Tensor], torch.Tensor]) -> dict:
    key = next(iter(state))
    return state | {key: value(state[key])}


def _folder(files: dict[str, bytes]):
    def make(good, folder: Path) -> Path:
        target = folder / "students"
        target.mkdir()
        for name, content in files.items():
            (target / name).write_bytes(content)
        return target

    return make


CASES = [
    pytest.param(_bytes(lambda b: b[: len(b) // 2]), load_student, ValueError,
                 ["bad.safetensors", "not a readable safetensors", "expected", "found"],
                 id="truncated-half"),
    pytest.param(_bytes(lambda b: b[:8]), load_student, ValueError,
                 ["bad.safetensors", "expected an 8-byte header length", "found 8 bytes"],
                 id="truncated-to-header-length"),
    pytest.param(_bytes(lambda b: b""), load_student, ValueError,
                 ["bad.safetensors", "expected", "empty file (0 bytes)"], id="zero-bytes"),
    pytest.param(_bytes(lambda b: json.dumps({"image_size": 32}).encode()), load_student,
                 ValueError, ["bad.safetensors", "expected", "starts like JSON"],
                 id="json-renamed"),
    pytest.param(_rewrite(meta=lambda m: {k: v for k, v in m.items() if k != "format"}),
                 load_student, ValueError,
                 ["bad.safetensors", "lacks the key 'format'", "scamlib.student/1"],
                 id="format-missing"),
    pytest.param(_rewrite(meta=lambda m: {}), load_student, ValueError,
                 ["bad.safetensors", "lacks the key 'format'", "found keys []"],
                 id="no-metadata"),
    pytest.param(_rewrite(meta=lambda m: m | {"format": "timm"}), load_student, ValueError,
                 ["bad.safetensors", "'format' = 'timm'", "expected 'scamlib.student/1'"],
                 id="format-of-another-tool"),
    pytest.param(_rewrite(meta=lambda m: m | {"format": "scamlib.student/9"}), load_student,
                 ValueError, ["bad.safetensors", "'scamlib.student/9' is not supported",
                              "expected 'scamlib.student/1'"], id="format-newer-version"),
    *[
        pytest.param(_without(key), load_student, ValueError,
                     ["bad.safetensors", "lacks required metadata keys", f"['{key}'] missing"],
                     id=f"missing-{key}")
        for key in REQUIRED
    ],
    pytest.param(_rewrite(meta=lambda m: m | {"image_size": "abc"}), load_student, ValueError,
                 ["bad.safetensors", "'image_size' must be an integer", "found 'abc'"],
                 id="image-size-not-a-number"),
    pytest.param(_rewrite(meta=lambda m: m | {"image_size": "-3"}), load_student, ValueError,
                 ["bad.safetensors", "image_size must be a positive int", "got -3"],
                 id="image-size-negative"),
    pytest.param(_rewrite(meta=lambda m: m | {"audio_seconds": "nan"}), load_student,
                 ValueError, ["bad.safetensors", "audio_seconds must be positive", "nan"],
                 id="audio-seconds-nan"),
    pytest.param(_rewrite(meta=lambda m: m | {"model_config": "{not json"}), load_student,
                 ValueError, ["bad.safetensors", "'model_config' must be JSON", "{not json"],
                 id="model-config-not-json"),
    pytest.param(_rewrite(meta=lambda m: m | {"name": "resnet50"}), load_student, ValueError,
                 ["bad.safetensors", "name must be one of", "'resnet50'"],
                 id="another-network-name"),
    pytest.param(_rewrite(meta=lambda m: m | {"model_config": json.dumps(
                     json.loads(m["model_config"]) | {"name": "sta+"})}),
                 load_student, ValueError,
                 ["bad.safetensors", "builds a 'sta+' network, not 'sta'"],
                 id="config-of-another-network"),
    pytest.param(_rewrite(meta=lambda m: {k: v for k, v in m.items() if k != "model_config"}
                          | {"preset": "huge"}),
                 load_student, ValueError,
                 ["bad.safetensors", "cannot be built", "preset must be one of", "'huge'"],
                 id="unknown-preset"),
    pytest.param(_rewrite(state=lambda s: _first_weight(s, lambda w: torch.zeros(3, 3))),
                 load_student, ValueError,
                 ["bad.safetensors", "has shape (3, 3)", "expected ("],
                 id="weight-of-wrong-shape"),
    pytest.param(_rewrite(state=lambda s: dict(list(s.items())[1:])), load_student, ValueError,
                 ["bad.safetensors", "do not fit", "missing ['"], id="weight-missing"),
    pytest.param(_rewrite(state=lambda s: s | {"extra.w": torch.zeros(1)}), load_student,
                 ValueError, ["bad.safetensors", "do not fit", "unexpected ['extra.w']"],
                 id="weight-unexpected"),
    pytest.param(_rewrite(state=lambda s: _first_weight(s, lambda w: w * float("nan"))),
                 load_student, ValueError,
                 ["bad.safetensors", "holds NaN/Inf", "expected finite"], id="weights-nan"),
    pytest.param(_rewrite(meta=lambda m: m | {"name": "sta+", "kind": "short",
                                              "model_config": ""}),
                 load_student, ValueError,
                 ["bad.safetensors", "'sta+' network", "missing ['branch."],
                 id="sta-weights-labelled-sta-plus"),
    pytest.param(lambda good, folder: folder, load_student, FileNotFoundError,
                 ["student checkpoint not found", "it is a folder: use load_students"],
                 id="load-student-on-a-folder"),
    pytest.param(lambda good, folder: folder / "none.safetensors", load_student,
                 FileNotFoundError, ["student checkpoint not found", "none.safetensors"],
                 id="no-such-file"),
    pytest.param(_folder({}), load_students, FileNotFoundError,
                 ["no student checkpoint in", "students", "expected sta.safetensors",
                  "found []"], id="empty-folder"),
    pytest.param(_folder({"notes.txt": b"x"}), load_students, FileNotFoundError,
                 ["no student checkpoint in", "expected sta.safetensors", "found ['notes.txt']"],
                 id="folder-with-a-stray-file"),
    pytest.param(_folder({"sta.safetensors": b"x", "notes.txt": b"x"}), load_students,
                 ValueError, ["sta.safetensors", "not a readable safetensors", "found 1 bytes"],
                 id="folder-with-a-damaged-student"),
    pytest.param(lambda good, folder: folder / "nowhere", load_students, FileNotFoundError,
                 ["not found", "nowhere"], id="load-students-on-nothing"),
]


@pytest.mark.parametrize("make, loader, error, words", CASES)
def test_bad_checkpoint(good, tmp_path, make, loader, error, words):
    path = make(good, tmp_path)
    with pytest.raises(error) as info:
        loader(path)
    assert type(info.value) is error
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_the_good_checkpoint_loads(good):
    model, info = load_student(good["path"])
    assert info.variant == "sta" and info.image_size == 32 and not model.training


def test_half_precision_weights_load_as_the_network_dtype(good, tmp_path):
    """Documented value: weights stored in float16 are converted to the network's dtype."""
    path = _rewrite(state=lambda s: {k: v.half() if v.is_floating_point() else v
                                     for k, v in s.items()})(good, tmp_path)  # fmt: skip
    model, _ = load_student(path)
    assert next(model.parameters()).dtype == torch.float32
