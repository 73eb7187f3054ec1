"""Resume after a kill mid-stage, and determinism of the pseudo-ground truth."""

from __future__ import annotations

import pytest

from scamlib import _fs as pio

from .small import pngs, run_until


class _Killed(BaseException):
    """Stands in for SIGKILL: nothing catches it."""


def test_resume_after_a_kill_leaves_no_partial_file_and_redoes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_until(out, "train_coarse")
    calls = {"n": 0}
    real = pio._write_with

    def dying_write(target, write, suffix=""):
        calls["n"] += 1
        if calls["n"] == 40:  # in the middle of scam_coarse's PNGs (2-3 rows in)
            with pio.atomic_path(target, suffix) as tmp:
                write(tmp)
                raise _Killed  # killed between writing the temporary file and the rename
        return real(target, write, suffix)

    monkeypatch.setattr(pio, "_write_with", dying_write)
    with pytest.raises(_Killed):
        run_until(out, "scam_coarse", resume=True)
    monkeypatch.setattr(pio, "_write_with", real)
    assert [p for p in out.rglob("*") if ".tmp" in p.name] == []
    finished = {p: p.stat().st_mtime_ns for p in (out / "work" / "coarse").glob("*.pt")}
    assert 0 < len(finished) < 4  # some rows, not all, completed before the kill
    results = run_until(out, "scam_coarse", resume=True)
    assert results["stages"]["train_coarse"]["reused"]
    assert results["stages"]["scam_coarse"]["summary"]["rows"] == 4 - len(finished)
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime  # finished rows were not recomputed
    fresh = tmp_path / "fresh"
    run_until(fresh, "scam_coarse")
    for stage in ("cam_s", "scam_coarse"):
        a, b = pngs(out / "pseudo" / stage), pngs(fresh / "pseudo" / stage)
        assert [p.relative_to(out) for p in a] == [p.relative_to(fresh) for p in b]
        assert all(pa.read_bytes() == pb.read_bytes() for pa, pb in zip(a, b, strict=True))


def test_same_seed_gives_identical_pseudo_ground_truth(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    run_until(first, "pgt")
    run_until(second, "pgt")
    a, b = pngs(first / "pseudo" / "pgt"), pngs(second / "pseudo" / "pgt")
    assert a
    assert [p.relative_to(first) for p in a] == [p.relative_to(second) for p in b]
    assert all(pa.read_bytes() == pb.read_bytes() for pa, pb in zip(a, b, strict=True))
