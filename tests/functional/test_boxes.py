import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scamlib.functional import coarse_box, crop_clip, paste_back, scale_boxes

from . import reference as ref


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def _random_boxes(g: torch.Generator, b: int, h: int, w: int) -> torch.Tensor:
    out = []
    for _ in range(b):
        x0 = int(torch.randint(0, w, (1,), generator=g))
        y0 = int(torch.randint(0, h, (1,), generator=g))
        x1 = int(torch.randint(x0 + 1, w + 1, (1,), generator=g))
        y1 = int(torch.randint(y0 + 1, h + 1, (1,), generator=g))
        out.append([x0, y0, x1, y1])
    return torch.tensor(out)


def test_coarse_box_matches_reference(device, dtype):
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(20, 9, 13, generator=g, dtype=dtype) ** 6  # a few bright pixels each
    maps[3] = 0.0  # nothing passes: whole map
    maps[4] = 0.7  # constant: whole map
    boxes = coarse_box(maps.to(device), factor=2.0)
    assert boxes.dtype == torch.int64 and boxes.shape == (20, 4)
    for b in range(20):
        assert tuple(boxes[b].tolist()) == ref.coarse_box(_np(maps[b]), 2.0)
    assert boxes[3].tolist() == [0, 0, 13, 9] and boxes[4].tolist() == [0, 0, 13, 9]


def test_coarse_box_single_pixel_is_one_pixel_box():
    m = torch.zeros(1, 5, 5)
    m[0, 2, 3] = 1.0
    assert coarse_box(m).tolist() == [[3, 2, 4, 3]]


@pytest.mark.parametrize("size", [(5, 7), 16])
def test_crop_clip_equals_slice_then_resize(device, dtype, size):
    g = torch.Generator().manual_seed(3)
    frames = torch.rand(4, 3, 2, 11, 15, generator=g, dtype=dtype)  # b, t, c, H, W
    boxes = _random_boxes(g, 4, 11, 15)
    out = crop_clip(frames.to(device), boxes.to(device), size)
    oh, ow = (size, size) if isinstance(size, int) else size
    assert out.shape == (4, 3, 2, oh, ow)
    for b in range(4):
        x0, y0, x1, y1 = boxes[b].tolist()
        for t in range(3):
            for c in range(2):
                want = ref.bilinear_resize(_np(frames[b, t, c, y0:y1, x0:x1]), oh, ow)
                np.testing.assert_allclose(_np(out[b, t, c]), want, atol=1e-5)


def test_crop_clip_whole_frame_same_size_is_identity():
    frames = torch.rand(2, 3, 8, 10)
    boxes = torch.tensor([[0, 0, 10, 8]] * 2)
    torch.testing.assert_close(crop_clip(frames, boxes, (8, 10)), frames)


def test_crop_clip_gradient_reaches_the_box_only():
    frames = torch.rand(1, 1, 6, 6, requires_grad=True)
    crop_clip(frames, torch.tensor([[1, 2, 4, 5]]), 3).sum().backward()
    grad = frames.grad[0, 0]
    assert torch.count_nonzero(grad[2:5, 1:4]) == 9
    assert torch.count_nonzero(grad) == 9


def test_paste_back_equals_resize_then_assign(device, dtype):
    g = torch.Generator().manual_seed(5)
    maps = torch.rand(6, 4, 7, generator=g, dtype=dtype)
    boxes = _random_boxes(g, 6, 12, 9)
    out = paste_back(maps.to(device), boxes.to(device), (12, 9))
    assert out.shape == (6, 12, 9)
    for b in range(6):
        x0, y0, x1, y1 = boxes[b].tolist()
        want = np.zeros((12, 9))
        want[y0:y1, x0:x1] = ref.bilinear_resize(_np(maps[b]), y1 - y0, x1 - x0)
        np.testing.assert_allclose(_np(out[b]), want, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_crop_then_paste_back_round_trips_on_identity_size(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    frame = torch.rand(1, 1, h, w, generator=g)
    box = _random_boxes(g, 1, h, w)
    x0, y0, x1, y1 = box[0].tolist()
    crop = crop_clip(frame, box, (y1 - y0, x1 - x0))[:, 0]
    pasted = paste_back(crop, box, (h, w))
    torch.testing.assert_close(pasted[0, y0:y1, x0:x1], frame[0, 0, y0:y1, x0:x1])
    assert pasted.sum() == pytest.approx(frame[0, 0, y0:y1, x0:x1].sum().item(), rel=1e-5)


@pytest.mark.parametrize(
    "box",
    [[0, 0, 0, 4], [2, 0, 1, 4], [0, 0, 5, 4], [-1, 0, 3, 3], [0, 0, 4, 5]],
)
def test_invalid_boxes_raise(box):
    with pytest.raises(ValueError, match="box 0 is"):
        crop_clip(torch.rand(1, 3, 4, 4), torch.tensor([box]), 2)
    with pytest.raises(ValueError, match="box 0 is"):
        paste_back(torch.rand(1, 2, 2), torch.tensor([box]), (4, 4))


def test_box_dtype_and_shape_errors():
    with pytest.raises(TypeError, match="integer"):
        crop_clip(torch.rand(1, 3, 4, 4), torch.tensor([[0.0, 0.0, 2.0, 2.0]]), 2)
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        crop_clip(torch.rand(2, 3, 4, 4), torch.tensor([[0, 0, 2, 2]]), 2)


def test_scale_boxes_covers_the_same_area():
    boxes = torch.tensor([[0, 0, 32, 32], [3, 5, 7, 6], [31, 31, 32, 32]])
    out = scale_boxes(boxes, (32, 32), (100, 75))
    assert out.tolist()[0] == [0, 0, 75, 100]
    x0, y0, x1, y1 = out[1].tolist()
    assert x0 <= 3 * 75 / 32 and x1 >= 7 * 75 / 32 and y0 <= 5 * 100 / 32 and y1 >= 6 * 100 / 32
    assert out[2].tolist()[2:] == [75, 100] and (out[:, 2] > out[:, 0]).all()
