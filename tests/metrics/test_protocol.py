"""STAViS protocol: MATLAB imresize / blur rules, shuffled negatives, evaluate and its tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from scamlib._fs import read_map, write_map_png
from scamlib.metrics import cc, imresize, nss, postprocess
from scamlib.metrics.protocol import combine_splits, evaluate, shuffled_other

from . import reference as ref


def test_imresize_hand_worked_upscale():
    # [0, 1] -> 4 samples, scale 2: output 1 reads u = 1/2 + 1/4 = .75 with taps at -1..2
    # (1-based): cubic(1.75)=-.0234375, cubic(.75)=.2265625, cubic(.25)=.8671875,
    # cubic(1.25)=-.0703125. Mirroring sends -1 -> 2 and 0 -> 1, so
    # out_1 = (.2265625 + .8671875) * 0 + (-.0234375 - .0703125) * 1 = -.09375
    out = imresize(torch.tensor([[0.0, 1.0]], dtype=torch.float64), (1, 4))
    torch.testing.assert_close(
        out, torch.tensor([[-0.09375, 0.203125, 0.796875, 1.09375]], dtype=torch.float64)
    )


def test_imresize_reproduces_a_ramp_away_from_the_borders():
    # Keys' cubic (a = -1/2) reproduces linear functions: interior output x sits at u = x/2 + 1/4.
    ramp = torch.arange(1.0, 11.0, dtype=torch.float64)[None]
    out = imresize(ramp, (1, 20))[0]
    x = torch.arange(1, 21, dtype=torch.float64)
    torch.testing.assert_close(out[3:-3], (x / 2 + 0.25)[3:-3])


def test_imresize_downscale_7_to_3_centre_of_a_ramp():
    # scale 3/7: output 2 reads u = 14/3 - 2/3 = 4, the centre; weights symmetric, the two
    # mirrored taps (0 -> 1, 8 -> 7) change 0*w + 8*w into 1*w + 7*w: still 4.
    out = imresize(torch.arange(1.0, 8.0, dtype=torch.float64)[None], (1, 3))
    assert out[0, 1].item() == pytest.approx(4.0, abs=1e-12)


@pytest.mark.parametrize(
    ("shape", "size"), [((7, 10), (3, 4)), ((3, 4), (8, 9)), ((6, 5), (4, 11))]
)
def test_imresize_matches_matlab_rule_loop(shape, size):
    img = np.random.default_rng(0).random(shape)
    got = imresize(torch.tensor(img), size)
    np.testing.assert_allclose(got.numpy(), ref.imresize(img, size), atol=1e-12)


def test_imresize_constant_stays_constant_and_batches():
    out = imresize(torch.full((2, 7, 10), 0.25, dtype=torch.float64), (3, 4))
    torch.testing.assert_close(out, torch.full((2, 3, 4), 0.25, dtype=torch.float64))


def test_postprocess_matches_matlab_rule_loop():
    rng = np.random.default_rng(1)
    pred = rng.random((2, 9, 12)) * 1.2 - 0.1  # out-of-range values get clipped
    got = postprocess(torch.tensor(pred), (14, 7))
    want = np.stack([ref.postprocess(p, (14, 7)) for p in pred])
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    # blur alone, on a map smaller than the 13 x 13 kernel (padding mirrored more than once)
    small = rng.random((5, 4))
    np.testing.assert_allclose(
        postprocess(torch.tensor(small)).numpy(), ref.postprocess(small), atol=1e-12
    )


def test_postprocess_constant_map_becomes_half():
    out = postprocess(torch.zeros(3, 6, 8), (5, 9))
    torch.testing.assert_close(out, torch.full((3, 5, 9), 0.5))


def test_shuffled_other_is_union_minus_own_fixations():
    f = torch.tensor([[[1, 0, 0]], [[0, 1, 0]], [[1, 0, 1]]], dtype=torch.bool)
    want = torch.tensor([[[0, 1, 1]], [[1, 0, 1]], [[0, 1, 0]]], dtype=torch.bool)
    assert torch.equal(shuffled_other(f), want)
    assert torch.equal(shuffled_other(f, 2), want[2])


class FakeDataset:
    """Two videos of 3 and 2 frames; frame 2 of video 'b' has no fixations."""

    def __init__(self, h=10, w=14):
        rng = np.random.default_rng(2)
        self.items = []
        for video, frames in (("a", 3), ("b", 2)):
            for t in range(1, frames + 1):
                fix = rng.random((h, w)) < 0.08
                if video == "b" and t == 2:
                    fix[:] = False
                density = ref.imfilter_symmetric(fix.astype(float), ref.gaussian_kernel(1.0))
                self.items.append(
                    {
                        "density": torch.tensor(density / max(density.max(), 1e-9)),
                        "fixations": torch.tensor(fix),
                        "video": video,
                        "frame_index": t,
                        "fps": 25.0,
                    }
                )
        self.preds = [torch.tensor(rng.random((6, 8))) for _ in self.items]

    def pred_of(self, item):
        keys = [(i["video"], i["frame_index"]) for i in self.items]
        return self.preds[keys.index((item["video"], item["frame_index"]))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def fixation_union(self, video):
        return torch.stack([i["fixations"] for i in self.items if i["video"] == video]).any(0)


def test_evaluate_scores_frames_and_averages_videos(tmp_path):
    ds = FakeDataset()
    result = evaluate(
        lambda item: ds.pred_of(item),
        ds,
        batch_size=2,
        metrics=("CC", "NSS", "sAUC"),
        seed=0,
        dtype=torch.float64,
    )
    rows = result.frames.to_dict()
    assert [(r["video"], r["frame_index"]) for r in rows] == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("b", 1),
        ("b", 2),
    ]
    for row, item, pred in zip(rows, ds.items, ds.preds):
        m = torch.tensor(ref.postprocess(pred.numpy(), (10, 14)))
        want_cc = ref.cc(m.numpy(), item["density"].numpy())
        assert row["CC"] == pytest.approx(want_cc, abs=1e-10, nan_ok=True)
        want_nss = ref.nss(m.numpy(), item["fixations"].numpy())
        assert row["NSS"] == pytest.approx(want_nss, abs=1e-10, nan_ok=True)
    videos = {v["video"]: v for v in result.videos.to_dict()}
    assert videos["b"]["NSS"] == pytest.approx(rows[3]["NSS"])  # the NaN frame is dropped
    assert videos["a"]["CC"] == pytest.approx(np.mean([r["CC"] for r in rows[:3]]))
    assert result.summary["CC"] == pytest.approx((videos["a"]["CC"] + videos["b"]["CC"]) / 2)
    again = evaluate(
        lambda item: ds.pred_of(item), ds, batch_size=2, metrics=("sAUC",), dtype=torch.float64
    )
    np.testing.assert_array_equal([r["sAUC"] for r in again.frames.rows], [r["sAUC"] for r in rows])
    result.to_csv(tmp_path / "out")
    assert (tmp_path / "out" / "videos.csv").read_text().splitlines()[0].startswith("video,frames")
    loaded = json.loads(result.to_json(tmp_path / "r.json").read_text())
    assert loaded["frames"][4]["NSS"] is None  # NaN written as null


def test_evaluate_reads_prediction_images(tmp_path):
    ds = FakeDataset()
    for item, pred in zip(ds.items, ds.preds):
        folder = tmp_path / item["video"]
        folder.mkdir(exist_ok=True)
        u8 = np.round(pred.numpy() * 255).astype(np.uint8)
        Image.fromarray(np.stack([u8, u8 // 2, u8 // 3], -1)).save(
            folder / f"img_{item['frame_index']:05d}.png"
        )
    result = evaluate(tmp_path, ds, metrics=("CC",), dtype=torch.float64)
    first = np.round(ds.preds[0].numpy() * 255) / 255
    want = ref.cc(ref.postprocess(first, (10, 14)), ds.items[0]["density"].numpy())
    assert result.frames.rows[0]["CC"] == pytest.approx(want, abs=1e-10)
    (tmp_path / "b" / "img_00002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"img_00002\.png"):
        evaluate(tmp_path, ds, metrics=("CC",))


def test_combine_splits_averages_summaries():
    ds = FakeDataset()
    one = evaluate(lambda item: ds.pred_of(item), ds, metrics=("CC",))
    # (a negated map would be blank after clipping: no score, as in the MIT code)
    two = evaluate(lambda item: 1 - ds.pred_of(item), ds, metrics=("CC",))
    both = combine_splits({"1": one, "2": two})
    assert both.summary["CC"] == pytest.approx((one.summary["CC"] + two.summary["CC"]) / 2)
    assert len(both.frames) == 2 * len(one.frames) and both.frames.columns[0] == "split"


def test_evaluate_rejects_bad_arguments():
    ds = FakeDataset()
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(lambda item: ds.preds[0], ds, metrics=("AUC",))
    with pytest.raises(TypeError, match="fixation_union"):
        evaluate(lambda item: ds.preds[0], [ds.items[0]])
    with pytest.raises(TypeError, match="predictions"):
        evaluate(3, ds)


def test_metrics_on_postprocessed_maps_agree_with_direct_calls(device):
    ds = FakeDataset()
    maps = postprocess(torch.stack(ds.preds).to(device), (10, 14))
    dens = torch.stack([i["density"] for i in ds.items]).to(device)
    fix = torch.stack([i["fixations"] for i in ds.items]).to(device)
    res = evaluate(
        lambda item: ds.pred_of(item), ds, metrics=("CC", "NSS"), device=device, dtype=torch.float64
    )
    np.testing.assert_allclose([r["CC"] for r in res.frames.rows], cc(maps, dens).cpu(), atol=1e-12)
    np.testing.assert_allclose(
        [r["NSS"] for r in res.frames.rows], nss(maps, fix).cpu(), atol=1e-12
    )


def test_evaluate_matches_the_metric_functions_on_the_postprocessed_maps():
    # one batch per video: evaluate's random draws come from one seeded stream per metric
    # (seed + 0 jitter, + 1 s-AUC, + 2 AUC-B), consumed video after video in the same order as
    # the direct calls below, so every metric, randomised or not, gives the same number
    from scamlib.metrics import auc_borji, auc_judd, auc_shuffled, kld, sim

    ds = FakeDataset()
    metrics = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD", "AUC_B")
    res = evaluate(lambda item: ds.pred_of(item), ds, metrics=metrics, seed=7, dtype=torch.float64)
    gens = [torch.Generator().manual_seed(7 + k) for k in range(3)]
    rows = res.frames.to_dict()
    for frames in (slice(0, 3), slice(3, 5)):  # videos "a" and "b"
        items = ds.items[frames]
        maps = postprocess(torch.stack(ds.preds[frames]), (10, 14))
        dens = torch.stack([i["density"] for i in items])
        fix = torch.stack([i["fixations"] for i in items])
        other = fix.any(0) & ~fix

        want = {
            "AUC_J": auc_judd(maps, fix, generator=gens[0]),
            "sAUC": auc_shuffled(maps, fix, other, generator=gens[1]),
            "AUC_B": auc_borji(maps, fix, generator=gens[2]),
            "SIM": sim(maps, dens),
            "CC": cc(maps, dens),
            "NSS": nss(maps, fix),
            "KLD": kld(maps, dens),
        }
        for name, values in want.items():
            got = [r[name] for r in rows[frames]]
            np.testing.assert_allclose(got, values.numpy(), atol=1e-12, err_msg=name)


def test_evaluate_and_postprocess_do_not_depend_on_the_chunking(monkeypatch):
    # float32 post-processing: the resize of a chunk of one frame may differ in the last bit
    from scamlib.metrics import _engine

    ds = FakeDataset()
    metrics = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD", "AUC_B")

    def run():
        res = evaluate(lambda item: ds.pred_of(item), ds, metrics=metrics, dtype=torch.float32)
        return [[r[m] for m in metrics] for r in res.frames.rows], postprocess(
            torch.stack(ds.preds), (10, 14)
        )

    rows, maps = run()
    monkeypatch.setattr(_engine, "CHUNK_PIXELS", 140)  # one frame per chunk
    rows_chunked, maps_chunked = run()
    # the random draws do not depend on the chunks; the matrix products may round the last bit
    # differently for another number of rows
    np.testing.assert_allclose(np.array(rows), np.array(rows_chunked), rtol=0, atol=1e-6)
    torch.testing.assert_close(maps, maps_chunked, rtol=0, atol=1e-6)


def test_evaluate_rejects_non_finite_inputs():
    ds = FakeDataset()
    with pytest.raises(ValueError, match="NaN"):
        evaluate(lambda item: torch.full((6, 8), float("nan")), ds, metrics=("CC",))
    ds.items[1]["density"] = ds.items[1]["density"].clone()
    ds.items[1]["density"][0, 0] = float("inf")
    with pytest.raises(ValueError, match="density"):
        evaluate(lambda item: ds.pred_of(item), ds, metrics=("SIM",))


@pytest.mark.parametrize(
    ("shape", "size", "sigma"),
    [
        ((50, 70), (123, 37), 2.0),  # up along one axis, down along the other
        ((90, 60), (45, 200), None),
        ((33, 41), (None, None), 1.5),  # blur only
        ((224, 384), (360, 640), 2.0),  # the benchmark's sizes
    ],
)
def test_banded_blur_resize_equals_the_dense_operators(shape, size, sigma):
    # the strided-window products against the dense per-axis matrices (independent of the
    # blocking, padding and stride bookkeeping)
    from scamlib.metrics.protocol import _apply, _axis_operator

    x = torch.tensor(np.random.default_rng(3).random((2, *shape)))
    got = _apply(x, size, sigma)
    rows = _axis_operator(shape[0], size[0], sigma)
    cols = _axis_operator(shape[1], size[1], sigma)
    torch.testing.assert_close(got, rows @ x @ cols.T, rtol=0, atol=1e-12)


def test_centred_moments_match_float64_with_offsets_and_a_partial_block():
    from scamlib.metrics._common import MOMENT_BLOCK, centred_moments

    rng = np.random.default_rng(4)
    p = 3 * MOMENT_BLOCK + 333  # a zero-padded last block
    x = rng.random((3, 2, p)) * [[[1.0], [1e-3]]] + [[[1e3], [0.0]]]  # an offset that dwarfs
    x[2, 1] = 0.25  # a constant map
    x32 = torch.tensor(x, dtype=torch.float32)
    sums, gram = centred_moments(x32)
    exact = x32.double()
    centred = exact - exact.mean(dim=2, keepdim=True)
    want = centred @ centred.transpose(1, 2)
    torch.testing.assert_close(sums, exact.sum(dim=2), rtol=1e-8, atol=0)
    scale = torch.sqrt(torch.diagonal(want, dim1=1, dim2=2).clamp(min=1e-30))
    # every entry to 1e-6 of the product of the two maps' spreads
    err = (gram - want).abs() / (scale[:, :, None] * scale[:, None, :])
    assert float(err[:2].max()) < 1e-6
    assert float(gram[2, 1, 1]) == 0.0 and float(gram[2, 0, 1]) == 0.0


def test_evaluate_float32_agrees_with_float64():
    ds = FakeDataset(h=40, w=56)
    ds.preds = [torch.nn.functional.interpolate(p[None, None], (24, 32))[0, 0] for p in ds.preds]
    metrics = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD")

    def run(dtype):
        res = evaluate(lambda item: ds.pred_of(item), ds, metrics=metrics, dtype=dtype)
        return np.array([[r[m] for m in metrics] for r in res.frames.rows])

    np.testing.assert_allclose(run(torch.float32), run(torch.float64), rtol=0, atol=1e-5)


def test_evaluate_does_not_depend_on_the_threads(monkeypatch):
    # several chunks per batch, scored by one or three threads: the same numbers, bit for bit
    from scamlib.metrics import _engine

    ds = FakeDataset()
    metrics = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD", "AUC_B")
    monkeypatch.setattr(_engine, "CHUNK_PIXELS", 140)  # one frame per chunk
    threads_before = torch.get_num_threads()

    def run(threads):
        res = evaluate(lambda item: ds.pred_of(item), ds, metrics=metrics, threads=threads)
        return [[r[m] for m in metrics] for r in res.frames.rows]

    np.testing.assert_array_equal(run(3), run(1))  # NaN where NaN
    assert torch.get_num_threads() == threads_before  # the caller's setting is kept
    with pytest.raises(ValueError, match="threads"):
        evaluate(lambda item: ds.pred_of(item), ds, threads=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_evaluate_directory_equals_read_map_predictions(tmp_path, dtype):
    # 8-bit PNGs reach the scorer as their levels, divided by 255 in the scorer's buffers (one
    # frame per batch: every buffer is reused), a 16-bit PNG in the same batches as
    # read_map's map: the scores of read_map's float64 maps, bit for bit; the readers run on
    # the scoring threads (readers <= threads) or on threads of their own
    ds = FakeDataset()
    root = tmp_path / "preds"
    for k, (item, pred) in enumerate(zip(ds.items, ds.preds)):
        path = root / item["video"] / f"img_{item['frame_index']:05d}.png"
        if k == 1:
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((pred.numpy() * 65535).round().astype(np.uint16)).save(path)
        else:
            write_map_png(path, pred)
    metrics = ("AUC_J", "SIM", "sAUC", "CC", "NSS", "KLD")

    def on_disk(item):
        return read_map(root / item["video"] / f"img_{item['frame_index']:05d}.png")

    for batch_size in (1, 2, 64):
        want = evaluate(on_disk, ds, metrics=metrics, dtype=dtype, batch_size=batch_size)
        for readers in (0, 2, 3):
            got = evaluate(
                root, ds, metrics=metrics, dtype=dtype, batch_size=batch_size, readers=readers,
                threads=2,
            )  # fmt: skip
            np.testing.assert_array_equal(  # NaN where NaN
                [[r[m] for m in metrics] for r in got.frames.rows],
                [[r[m] for m in metrics] for r in want.frames.rows],
            )


def test_directory_maps_are_not_reused_before_their_batch_is_finished(tmp_path, monkeypatch):
    # the levels read ahead (on the scoring threads) are not changed before the scorer has
    # finished their batch
    from scamlib.metrics.streaming import SaliencyMetrics

    ds = FakeDataset()
    root = tmp_path / "preds"
    for item, pred in zip(ds.items, ds.preds):
        write_map_png(root / item["video"] / f"img_{item['frame_index']:05d}.png", pred)
    start, checked = SaliencyMetrics._start, []

    def checking_start(self, frames, *args):
        kept = [f.pred.clone() for f in frames]
        finish = start(self, frames, *args)

        def checked_finish():
            assert all(torch.equal(f.pred, k) for f, k in zip(frames, kept))
            checked.append(len(frames))
            return finish()

        return checked_finish

    monkeypatch.setattr(SaliencyMetrics, "_start", checking_start)
    evaluate(root, ds, metrics=("CC", "NSS"), batch_size=1, readers=2, threads=2)
    assert sum(checked) == len(ds)


def test_evaluate_with_readers_gives_the_same_tables(tmp_path):
    ds = FakeDataset()
    root = tmp_path / "preds"
    for item, pred in zip(ds.items, ds.preds):
        folder = root / item["video"]
        folder.mkdir(parents=True, exist_ok=True)
        png = (pred.numpy() * 255).round().astype(np.uint8)
        Image.fromarray(png).save(folder / f"img_{item['frame_index']:05d}.png")
    metrics = ("AUC_J", "sAUC", "CC", "NSS")
    serial = evaluate(root, ds, metrics=metrics, batch_size=2)
    keys = [(r["video"], r["frame_index"]) for r in serial.frames.rows]
    # readers on the scoring threads (1, 2 <= threads) and on threads of their own (3)
    for readers in (1, 2, 3):
        ahead = evaluate(root, ds, metrics=metrics, batch_size=2, readers=readers, threads=2)
        assert [(r["video"], r["frame_index"]) for r in ahead.frames.rows] == keys
        np.testing.assert_array_equal(  # NaN where NaN
            [[r[m] for m in metrics] for r in ahead.frames.rows],
            [[r[m] for m in metrics] for r in serial.frames.rows],
        )
    with pytest.raises(ValueError, match="readers"):
        evaluate(root, ds, readers=-1)
    (root / "b" / "img_00002.png").unlink()  # an error in a reader thread reaches the caller
    for readers in (2, 3):
        with pytest.raises(FileNotFoundError, match="img_00002"):
            evaluate(root, ds, metrics=metrics, readers=readers, threads=2)
