"""SaliencyMetrics: streaming updates, deferred s-AUC, two processes equal one; map reading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from scamlib._fs import read_map
from scamlib.metrics import SaliencyMetrics
from scamlib.metrics.protocol import evaluate

METRICS = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD")


def _data():
    """Two videos of 4 frames: raw 6 x 8 predictions, 10 x 14 fixations and densities."""
    rng = np.random.default_rng(9)
    frames = []
    for video in ("a", "b"):
        for t in range(1, 5):
            fix = rng.random((10, 14)) < 0.1
            fix[t, t] = True
            frames.append(
                (video, t, rng.random((6, 8)).astype(np.float32), fix, rng.random((10, 14)))
            )
    frames[2] = (*frames[2][:2], np.zeros((6, 8), np.float32), *frames[2][3:])  # blank
    return frames


def _score(frames, rank=0, world=1):
    m = SaliencyMetrics(METRICS, jitter=False, threads=1)
    for k, (video, t, pred, fix, dens) in enumerate(frames):
        if k % world == rank:
            m.update(pred, fix, dens, video=video, frame_index=t)
    result = m.compute()
    m.close()
    return [[r["video"], r["frame_index"], *[r[k] for k in METRICS]] for r in result.frames.rows]


def _worker(rank, world, init, out):
    torch.distributed.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        rows = _score(_data(), rank, world)
        if rank == 0:
            with open(out, "w") as handle:
                json.dump(rows, handle)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    import torch.multiprocessing as mp

    one = sorted(_score(_data()), key=lambda r: (r[0], r[1]))
    out = tmp_path / "rows.json"
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_worker, args=(2, init, str(out)), nprocs=2, join=True)
    two = json.loads(out.read_text())
    assert [r[:2] for r in two] == [r[:2] for r in one]
    np.testing.assert_array_equal(  # NaN where NaN (the blank frame)
        np.array([r[2:] for r in two], dtype=float), np.array([r[2:] for r in one], dtype=float)
    )
    assert all(math.isnan(v) for v in one[2][2:])


def test_deferred_sauc_uses_the_video_union_and_is_order_free():
    frames = _data()
    forward = {tuple(r[:2]): r for r in _score(frames)}
    backward = {tuple(r[:2]): r for r in _score(frames[::-1])}
    assert forward.keys() == backward.keys()
    for key in forward:
        np.testing.assert_array_equal(forward[key], backward[key])


def test_update_checks_and_empty_results():
    m = SaliencyMetrics(("CC",))
    assert len(m.compute().frames) == 0
    with pytest.raises(ValueError, match="density"):
        m.update(np.zeros((6, 8), np.float32), np.zeros((10, 14), bool), video="v")
    with pytest.raises(ValueError, match="fixations hold 1 maps but pred holds 2"):
        m.update(np.zeros((2, 6, 8), np.float32), np.zeros((10, 14), bool), video="v")
    with pytest.raises(ValueError, match="pred must have at least one pixel"):
        m.update(np.zeros((0, 8), np.float32), np.zeros((10, 14), bool), video="v")
    m.update(np.zeros((0, 6, 8), np.float32), np.zeros((0, 10, 14), bool),
             np.zeros((0, 10, 14)), video="v")  # fmt: skip
    assert len(m.compute().frames) == 0


def _save(path, array, mode):
    Image.fromarray(array, mode=mode).save(path)
    return path


GREY = np.array([[0, 64, 128], [192, 255, 32]], dtype=np.uint8)


@pytest.mark.parametrize("kind", ["L", "RGB", "RGBA", "LA", "P", "I;16", "1"])
def test_every_image_mode_reads_as_its_map(tmp_path, kind):
    want = GREY / 255.0
    path = tmp_path / "m.png"
    if kind == "L":
        Image.fromarray(GREY).save(path)
    elif kind in ("RGB", "RGBA"):
        other = np.stack([GREY, 255 - GREY, GREY // 2, np.full_like(GREY, 255)], -1)
        Image.fromarray(other[..., : len(kind)]).save(path)  # first channel: STAViS
    elif kind == "LA":
        Image.fromarray(np.stack([GREY, np.full_like(GREY, 9)], -1), mode="LA").save(path)
    elif kind == "P":
        image = Image.fromarray(np.arange(6, dtype=np.uint8).reshape(2, 3), mode="P")
        palette = np.zeros((256, 3), np.uint8)
        palette[:6] = GREY.reshape(-1)[:, None]  # index k shows the grey GREY.flat[k]
        image.putpalette(palette.reshape(-1).tolist())
        image.save(path)
    elif kind == "I;16":
        Image.fromarray(GREY.astype(np.uint16) * 257).save(path)  # 16-bit: same fractions
    else:  # 1-bit
        Image.fromarray(GREY > 100).save(path)
        want = (GREY > 100).astype(float)
    np.testing.assert_allclose(read_map(path).numpy(), want, atol=1e-12)


def test_truncated_prediction_names_the_file(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(
        tmp_path / "full.png"
    )
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.png"):
        read_map(tmp_path / "cut.png")


def test_evaluate_reads_a_palette_prediction_as_its_map(tmp_path):
    from .test_protocol import FakeDataset

    ds = FakeDataset()
    for item, pred in zip(ds.items, ds.preds):
        folder = tmp_path / item["video"]
        folder.mkdir(exist_ok=True)
        grey = np.round(pred.numpy() * 255).astype(np.uint8)
        Image.fromarray(grey).convert("P").save(folder / f"img_{item['frame_index']:05d}.png")
        Image.fromarray(grey).save(tmp_path / f"{item['video']}{item['frame_index']}.png")
    res = evaluate(tmp_path, ds, metrics=("CC",), dtype=torch.float64)
    want = evaluate(
        lambda it: read_map(tmp_path / f"{it['video']}{it['frame_index']}.png"), ds,
        metrics=("CC",), dtype=torch.float64,
    )  # fmt: skip
    np.testing.assert_allclose(
        [r["CC"] for r in res.frames.rows], [r["CC"] for r in want.frames.rows], atol=1e-12
    )
