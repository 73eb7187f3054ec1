"""Every task example runs, at tiny settings, as a script (``runpy``, ``__name__ == "__main__"``).

``examples/reproduce_stanet_plus.py`` is tested with the pipeline.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import av
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(monkeypatch, script: str, *args: str) -> None:
    path = EXAMPLES / script
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    runpy.run_path(str(path), run_name="__main__")


def test_scam_own_classifier(monkeypatch, tmp_path, capsys):
    _run(monkeypatch, "scam_own_classifier.py", "--tiny", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "trained cnn" in out and "fine-tuned resnet+short" in out
    if "mean CC" in out:  # some frame was classified as its tag: SCAM and SCAM+ were scored
        assert "SCAM+" in out and (tmp_path / "scam_own.png").is_file()


def test_evaluate_own_maps(monkeypatch, tmp_path, capsys):
    _run(monkeypatch, "evaluate_own_maps.py", "--tiny", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "| centre |" in out and "| motion |" in out and "scamlib evaluate" in out
    assert (tmp_path / "centre.json").is_file() and (tmp_path / "motion.json").is_file()
    # 2 test videos of 8 frames (folds 1 and 3 test the same video)
    assert len(list((tmp_path / "predictions" / "motion").rglob("img_*.png"))) == 16


def test_predict_own_video(monkeypatch, tmp_path, capsys):
    _run(monkeypatch, "predict_own_video.py", "--tiny", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "pf_final" in out and (tmp_path / "frame.png").is_file()
    assert len(list((tmp_path / "maps" / "pf_final").glob("img_*.png"))) == 8
    (video,) = tmp_path.glob("*_pf_final.mp4")
    with av.open(str(video)) as container:
        assert container.streams.video and container.streams.audio


@pytest.mark.parametrize(
    "script", ["scam_own_classifier.py", "evaluate_own_maps.py", "predict_own_video.py"]
)
def test_examples_explain_themselves(script):
    source = (EXAMPLES / script).read_text()
    assert source.startswith('"""') and f"python examples/{script}" in source
    assert "--tiny" in source
