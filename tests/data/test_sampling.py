"""Multi-granularity sampling: candidate sets against a brute-force reading of STANet+ Sec. 4."""

from __future__ import annotations

import pytest
import torch

from scamlib.data import AVE, AVSaliency, MultiGranularity, mg_candidates

from .conftest import TINY


@pytest.fixture(scope="module")
def ave(synth):
    return AVE(synth.root, "all", fps=TINY.fps, size=16)


def brute(ds, i, kind):
    t, g = ds.frame_index(i), ds.group_of(i)
    same = [j for j in range(len(ds)) if ds.group_of(j) == g and j != i]
    if kind == "short":
        return sorted(j for j in same if abs(ds.frame_index(j) - t) <= 4)
    if kind == "long":
        return sorted(j for j in same if abs(ds.frame_index(j) - t) > 4)
    return sorted(
        j for j in range(len(ds))
        if ds.tag_of(j) == ds.tag_of(i) and ds.video_of(j) != ds.video_of(i)
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["short", "long", "cross"])
def test_candidates_match_brute_force(ave, kind):
    for i in range(0, len(ave), 5):
        cands, fallback = mg_candidates(ave, i, kind)
        want = brute(ave, i, kind)
        if want:
            assert sorted(cands) == want and not fallback
        else:
            assert fallback


@pytest.mark.parametrize(
    ("net", "kind", "shape"),
    [("s", "short", (2, 3, 16, 16)), ("st", "cross", (2, 3, 3, 16, 16)),
     ("sa", "long", (2, 3, 16, 16)), ("sta", "short", (2, 3, 3, 16, 16))],
)  # fmt: skip
def test_items_and_determinism(ave, net, kind, shape):
    mg = MultiGranularity(ave, kind=kind, net=net, n=2, seed=7)
    item = mg[3]
    assert item["mg_frames"].shape == shape
    allowed = set(mg_candidates(ave, 3, kind)[0])
    assert set(item["mg_index"].tolist()) <= allowed and len(set(item["mg_index"].tolist())) == 2
    assert item["mg_frame_index"].tolist() == [ave.frame_index(j) for j in item["mg_index"]]
    j = int(item["mg_index"][0])
    want = ave.clip(j, length=3) if net in ("st", "sta") else ave.clip(j, length=1)[0]
    torch.testing.assert_close(item["mg_frames"][0], want)
    if net in ("sa", "sta"):
        torch.testing.assert_close(item["mg_audio"][1], ave.audio(int(item["mg_index"][1])))
    again = MultiGranularity(ave, kind=kind, net=net, n=2, seed=7)
    draws = [mg.draw(i)[0] for i in range(len(ave))]
    assert draws == [again.draw(i)[0] for i in range(len(ave))]
    again.set_epoch(1)
    assert draws != [again.draw(i)[0] for i in range(len(ave))]


def test_fallbacks_and_refusals(synth, ave):
    one = AVSaliency(synth.stavis_root, "SynthAV", split=1, size=8)  # 8-frame video
    mg = MultiGranularity(one, kind="long", net="s", n=2)
    assert one.frame_index(4) == 5  # no frame of 1..8 is more than 4 away from frame 5
    cands, fallback = mg_candidates(one, 4, "long")
    assert fallback and sorted(cands) == [0, 1, 2, 3, 5, 6, 7]
    assert mg[4]["mg_fallback"] is True and mg[0]["mg_fallback"] is False
    with pytest.raises(ValueError, match="tags"):
        mg_candidates(one, 0, "cross")
    with pytest.raises(ValueError, match="SA\\+"):
        MultiGranularity(ave, kind="short", net="sa")
    with pytest.raises(ValueError, match="kind"):
        MultiGranularity(ave, kind="medium")
