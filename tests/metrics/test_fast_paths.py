"""The fast paths of the evaluation give the values of the reference paths, bit for bit.

* eyeMap JPEGs decoded by ``torchvision.io`` (``scamlib.data._io.read_gray``) equal Pillow's
  ``"L"`` conversion; prediction PNGs decoded by ``torchvision.io`` equal
  :func:`scamlib._fs.read_map`, and every other image mode goes to ``read_map``;
* the PNGs :func:`scamlib._fs.write_map_png` writes (rows "Up"-filtered) hold the bytes the
  PNG specification says and decode to the written levels in Pillow and ``torchvision.io``;
* float64 NSS without the row extrema (constant rows found from the moments) equals NSS with
  them, on constant, zero, one-ulp and ordinary maps, and still rejects NaN / Inf;
* the shared thread pool of the public metrics scores batches as a fresh pool does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from scamlib._fs import encode_gray8_png, read_map, write_map_png
from scamlib.data._io import read_gray
from scamlib.metrics import auc_shuffled, nss
from scamlib.metrics._common import Rows, row_extrema
from scamlib.metrics._driver import _read_gray8_png, _read_prediction

from . import reference as ref

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:torchvision.*")


def smooth(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth map with noise in ``[0, 1]`` (what eyeMaps and predictions look like)."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    base = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.2 * w) ** 2))
    return np.clip(base + 0.1 * rng.random((h, w)), 0, 1)


@pytest.mark.parametrize("quality", [75, 95])
def test_grey_jpeg_matches_pillow(tmp_path, quality):
    rng = np.random.default_rng(quality)
    for k in range(3):
        arr = np.rint(255 * smooth(rng, 45, 80)).astype(np.uint8)
        path = tmp_path / f"eyeMap_{k:05d}.jpg"
        Image.fromarray(arr, mode="L").save(path, quality=quality)
        with Image.open(path) as img:
            expected = np.asarray(img.convert("L")).astype(np.float32) / 255.0
        assert torch.equal(read_gray(path), torch.from_numpy(expected))


def test_colour_jpeg_and_png_go_to_pillow(tmp_path):
    rng = np.random.default_rng(1)
    rgb = np.rint(255 * np.stack([smooth(rng, 30, 40) for _ in range(3)], -1)).astype(np.uint8)
    for name in ("c.jpg", "c.png"):
        Image.fromarray(rgb, mode="RGB").save(tmp_path / name)
        with Image.open(tmp_path / name) as img:
            expected = np.asarray(img.convert("L")).astype(np.float32) / 255.0
        assert torch.equal(read_gray(tmp_path / name), torch.from_numpy(expected))


def test_truncated_jpeg_error_names_the_file(tmp_path):
    path = tmp_path / "eyeMap_00001.jpg"
    Image.fromarray(np.full((32, 32), 9, np.uint8), mode="L").save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"eyeMap_00001\.jpg"):
        read_gray(path)


def test_grey_png_prediction_matches_read_map(tmp_path):
    rng = np.random.default_rng(2)
    path = write_map_png(tmp_path / "v" / "img_00001.png", smooth(rng, 36, 64))
    fast = _read_gray8_png(path)
    assert fast is not None and fast.dtype == torch.float64
    assert torch.equal(fast, read_map(path, dtype=torch.float64))
    assert torch.equal(_read_prediction(tmp_path, "v", 1), fast)


def test_float32_grey_png_is_the_float32_of_read_map(tmp_path):
    # every 8-bit level: the float32 division gives what the scorer's float32 conversion of
    # read_map's float64 map gives, so evaluate reads predictions in its dtype directly
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    path = tmp_path / "v" / "img_00001.png"
    path.parent.mkdir()
    Image.fromarray(levels, mode="L").save(path)
    fast = _read_gray8_png(path, torch.float32)
    assert fast is not None and fast.dtype == torch.float32
    expected = read_map(path, dtype=torch.float64).to(torch.float32)
    assert torch.equal(fast, expected)
    assert torch.equal(_read_prediction(tmp_path, "v", 1, torch.float32), expected)
    assert _read_prediction(tmp_path, "v", 1).dtype == torch.float64


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, body)`` of each chunk of a PNG, checking each CRC (a reader written here)."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def test_up_filtered_png_holds_the_specified_bytes():
    # a hand-worked 3 x 3 case: row 0 unfiltered, rows 1 and 2 minus the row above mod 256
    import zlib

    levels = np.array([[10, 200, 255], [12, 190, 0], [12, 191, 1]], dtype=np.uint8)
    chunks = _png_chunks(encode_gray8_png(levels))
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert chunks[0][1] == bytes([0, 0, 0, 3, 0, 0, 0, 3, 8, 0, 0, 0, 0])  # 3 x 3, 8-bit grey
    raw = zlib.decompress(chunks[1][1])
    assert list(raw) == [0, 10, 200, 255, 2, 2, 246, 1, 2, 0, 1, 1]
    assert chunks[2][1] == b""


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (36, 64), (224, 384)])
def test_written_png_decodes_to_its_levels(tmp_path, shape):
    from torchvision.io import decode_png, read_file

    rng = np.random.default_rng(sum(shape))
    for levels in (
        rng.integers(0, 256, shape, dtype=np.uint8),  # every wrap-around of the differences
        np.rint(255 * smooth(rng, *shape)).astype(np.uint8),
    ):
        path = write_map_png(tmp_path / "m.png", levels / 255.0)
        with Image.open(path) as img:
            assert img.mode == "L" and np.array_equal(np.asarray(img), levels)
        assert np.array_equal(decode_png(read_file(str(path)))[0].numpy(), levels)
        assert torch.equal(read_map(path), torch.from_numpy(levels / 255.0))
    with pytest.raises(ValueError, match=r"\(h, w\)"):
        encode_gray8_png(np.zeros((0, 4), np.uint8))


def test_written_png_of_a_smooth_map_is_smaller_than_pillows(tmp_path):
    yy, xx = np.mgrid[0:224, 0:384]  # what a network's upsampled map looks like: no noise
    blobs = np.exp(-((yy - 80) ** 2 + (xx - 120) ** 2) / 2e3) + np.exp(-((xx - 300) ** 2) / 5e3)
    levels = np.rint(255 * blobs / blobs.max()).astype(np.uint8)
    ours = write_map_png(tmp_path / "ours.png", levels / 255.0)
    Image.fromarray(levels, mode="L").save(tmp_path / "pillow.png")
    assert ours.stat().st_size < (tmp_path / "pillow.png").stat().st_size


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "P", "I;16", "1"])
def test_other_png_modes_are_read_by_read_map(tmp_path, mode):
    rng = np.random.default_rng(3)
    grey = np.rint(255 * smooth(rng, 20, 24)).astype(np.uint8)
    img = Image.fromarray(grey, mode="L")
    if mode == "I;16":
        img = Image.fromarray(grey.astype(np.uint16) * 257)
    elif mode == "1":
        img = img.point(lambda v: 255 if v > 128 else 0).convert("1")
    else:
        img = img.convert(mode)
    path = tmp_path / "v" / "img_00001.png"
    path.parent.mkdir()
    img.save(path)
    assert _read_gray8_png(path) is None
    assert torch.equal(_read_prediction(tmp_path, "v", 1), read_map(path, dtype=torch.float64))


def test_row_extrema_match_amin_amax():
    x = torch.randn(5, 301, dtype=torch.float64)
    x[1, 7] = float("inf")
    x[2, 3] = float("nan")
    lo, hi = row_extrema(x)
    torch.testing.assert_close(lo, x.amin(1), equal_nan=True, rtol=0, atol=0)
    torch.testing.assert_close(hi, x.amax(1), equal_nan=True, rtol=0, atol=0)


def test_constant_rows_from_moments_equal_extrema():
    p = 230_400
    one = np.nextafter(0.3, 1.0)
    rows = torch.stack(
        [
            torch.full((p,), 0.1, dtype=torch.float64),  # constant
            torch.zeros(p, dtype=torch.float64),  # all zero
            torch.full((p,), 0.3, dtype=torch.float64).index_fill_(0, torch.tensor([5]), one),
            torch.rand(p, dtype=torch.float64, generator=torch.Generator().manual_seed(0)),
            torch.full((p,), 1e6, dtype=torch.float64).index_fill_(0, torch.tensor([9]), 1e6 + 1),
        ]
    )
    from_moments = Rows(rows).constant
    with_extrema = Rows(rows)
    assert torch.equal(from_moments, with_extrema.max == with_extrema.min)
    assert from_moments.tolist() == [True, True, False, False, False]


def test_nss_without_extrema_matches_reference():
    rng = np.random.default_rng(4)
    maps = np.stack([rng.random((12, 16)), np.full((12, 16), 0.7), np.zeros((12, 16))])
    maps[0, 3, 4] = 1e9  # a large offset: the two-pass centred sum of squares
    fix = np.zeros(maps.shape, bool)
    fix[:, 2, 5] = fix[:, 7, 9] = True
    got = nss(torch.from_numpy(maps), torch.from_numpy(fix)).numpy()
    want = [ref.nss(m, f) for m, f in zip(maps, fix)]
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[1:]).all()
    for bad in (np.nan, np.inf):
        maps[0, 0, 0] = bad
        with pytest.raises(ValueError, match="pred"):
            nss(torch.from_numpy(maps), torch.from_numpy(fix))


def test_shared_pool_scores_as_a_fresh_call():
    gen = torch.Generator().manual_seed(0)
    maps = torch.rand(6, 300, 640, dtype=torch.float64, generator=gen)  # 3 chunks of 2 maps
    fix = torch.rand(6, 300, 640, generator=gen) > 0.9995
    other = torch.rand(6, 300, 640, generator=gen) > 0.995
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        first = auc_shuffled(maps, fix, other, generator=torch.Generator().manual_seed(5))
        again = auc_shuffled(maps, fix, other, generator=torch.Generator().manual_seed(5))
        torch.set_num_threads(1)
        serial = auc_shuffled(maps, fix, other, generator=torch.Generator().manual_seed(5))
    finally:
        torch.set_num_threads(saved)
    torch.testing.assert_close(first, again, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(first, serial, rtol=0, atol=0, equal_nan=True)
