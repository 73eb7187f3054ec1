import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scamlib.functional import average_cams, cam, scam, scam_plus, soft_filter

from . import reference as ref


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


# --- cam (Eq. 1) --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [None, 9, (7, 12)])
def test_cam_matches_reference(device, dtype, size):
    maps = torch.randn(3, 5, 6, 8, dtype=dtype, device=device)
    tags = torch.tensor([4, 0, 2], device=device)
    out = cam(maps, tags, size=size)
    hw = (6, 8) if size is None else ((size, size) if isinstance(size, int) else size)
    assert out.shape == (3, *hw) and out.dtype == dtype and out.device == maps.device
    for b, tag in enumerate(tags.tolist()):
        m = np.maximum(_np(maps[b, tag]), 0)
        if size is not None:
            m = ref.bilinear_resize(m, *hw)
        np.testing.assert_allclose(_np(out[b]), ref.minmax(m), atol=1e-5)


def test_cam_all_negative_class_map_is_zero():
    maps = -torch.rand(1, 3, 4, 4) - 0.1
    assert torch.count_nonzero(cam(maps, torch.tensor([1]))) == 0


@pytest.mark.parametrize(
    ("tags", "error", "match"),
    [
        (torch.tensor([0, 3]), ValueError, r"\[0, 3\)"),
        (torch.tensor([-1, 0]), ValueError, r"\[0, 3\)"),
        (torch.tensor([0]), ValueError, r"shape \(2,\)"),
        (torch.tensor([0.0, 1.0]), TypeError, "integer"),
    ],
)
def test_cam_bad_tags(tags, error, match):
    with pytest.raises(error, match=match):
        cam(torch.rand(2, 3, 4, 4), tags)


def test_cam_bad_shape_names_argument():
    with pytest.raises(
        ValueError, match=r"class_maps must have shape \(b, c, h, w\), got \(3, 4, 4\)"
    ):
        cam(torch.rand(3, 4, 4), torch.tensor([0, 0, 0]))


# --- soft filter (Eq. 3) ------------------------------------------------------------------


def test_soft_filter_matches_reference(device, dtype):
    conf = torch.rand(64, 6, dtype=dtype, device=device).softmax(1)
    tags = torch.randint(0, 6, (64,), device=device)
    out = soft_filter(conf, tags)
    expected = [ref.soft_filter(_np(conf[b]), int(tags[b])) for b in range(64)]
    np.testing.assert_allclose(_np(out), expected, rtol=0, atol=0)
    assert 0 < (out > 0).sum() < 64  # both branches were exercised


def test_soft_filter_tie_is_not_a_strict_argmax():
    conf = torch.tensor([[0.4, 0.4, 0.2]])
    assert soft_filter(conf, torch.tensor([0])).item() == 0.0


def test_soft_filter_accepts_sources_axis():
    conf = torch.rand(4, 3, 5).softmax(-1)
    tags = torch.tensor([0, 1, 2, 3])
    out = soft_filter(conf, tags)
    for k in range(3):
        assert torch.equal(out[:, k], soft_filter(conf[:, k], tags))


# --- SCAM (Eq. 2) and SCAM+ (Eq. 8) -------------------------------------------------------


@pytest.mark.parametrize("lam", [1e-4, 0.5])
def test_scam_matches_reference(device, dtype, lam):
    g = torch.Generator().manual_seed(1)
    cams = torch.rand(16, 3, 5, 7, generator=g, dtype=dtype).to(device)
    logits = torch.randn(16, 3, 4, generator=g, dtype=dtype).to(device) * 3
    tags = torch.randint(0, 4, (16,), generator=g).to(device)
    out = scam(cams, logits.softmax(-1), tags, lam=lam)
    n_valid = 0
    for b in range(16):
        m, valid = ref.scam(_np(cams[b]), _np(logits[b].softmax(-1)), int(tags[b]), lam)
        assert bool(out.valid[b]) == valid
        np.testing.assert_allclose(_np(out.map[b]), m, atol=1e-5)
        n_valid += valid
    assert 0 < n_valid < 16


def test_scam_no_trusted_source_is_invalid_and_zero():
    cams = torch.rand(2, 3, 4, 4)
    conf = torch.tensor([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]]).expand(2, 3, 2)
    out = scam(cams, conf, torch.tensor([0, 0]))
    assert out.valid.tolist() == [False, False]
    assert torch.count_nonzero(out.map) == 0


def test_scam_all_zero_confidences_is_invalid():
    out = scam(torch.rand(1, 3, 4, 4), torch.zeros(1, 3, 5), torch.tensor([2]))
    assert not out.valid.item() and torch.count_nonzero(out.map) == 0


def test_scam_constant_cams_are_invalid_even_when_trusted():
    conf = torch.tensor([[[0.9, 0.1]] * 3])
    out = scam(torch.full((1, 3, 4, 4), 0.5), conf, torch.tensor([0]))
    assert not out.valid.item()


def test_scam_single_trusted_source_returns_its_cam():
    cams = torch.rand(1, 3, 6, 6)
    cams = cams / cams.amax(dim=(2, 3), keepdim=True)
    conf = torch.tensor([[[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]])  # only source 1 agrees with tag 0
    out = scam(cams, conf, torch.tensor([0]), lam=0.0)
    expected = ref.minmax(_np(cams[0, 1]))
    np.testing.assert_allclose(_np(out.map[0]), expected, atol=1e-6)


def test_scam_rejects_nan_and_mismatched_sources():
    cams = torch.rand(2, 3, 4, 4)
    conf = torch.rand(2, 3, 5).softmax(-1)
    tags = torch.tensor([0, 1])
    bad = cams.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="cams holds 1 NaN"):
        scam(bad, conf, tags)
    with pytest.raises(ValueError, match="agree on"):
        scam(cams, conf[:, :2], tags)
    with pytest.raises(ValueError, match="lam"):
        scam(cams, conf, tags, lam=-1.0)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        scam(cams, conf, torch.tensor([0, 5]))


def test_scam_is_differentiable():
    cams = torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    logits = torch.tensor(
        [[[3.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 2.0, 0.0]]] * 2, dtype=torch.float64
    ).requires_grad_(True)
    tags = torch.tensor([0, 0])

    def fn(c, lg):
        return scam(c, lg.softmax(-1), tags).map

    assert torch.autograd.gradcheck(fn, (cams, logits))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(0, 9), st.integers(0, 2**31 - 1))
def test_scam_plus_equals_scam_over_concatenation(k1, k2, seed):
    g = torch.Generator().manual_seed(seed)
    b, c = 3, 5
    base = torch.rand(b, k1, 4, 5, generator=g)
    mg = torch.rand(b, k2, 4, 5, generator=g)
    cb = (torch.randn(b, k1, c, generator=g) * 2).softmax(-1)
    cm = (torch.randn(b, k2, c, generator=g) * 2).softmax(-1)
    tags = torch.randint(0, c, (b,), generator=g)
    got = scam_plus(base, cb, mg, cm, tags)
    want = scam(torch.cat([base, mg], 1), torch.cat([cb, cm], 1), tags)
    assert torch.equal(got.map, want.map) and torch.equal(got.valid, want.valid)


def test_scam_plus_rejects_mismatched_groups():
    with pytest.raises(ValueError, match=r"agree on \(b, h, w\)"):
        scam_plus(
            torch.rand(2, 3, 4, 4),
            torch.rand(2, 3, 5),
            torch.rand(2, 8, 4, 5),
            torch.rand(2, 8, 5),
            torch.tensor([0, 1]),
        )
    with pytest.raises(ValueError, match=r"agree on \(b, c\)"):
        scam_plus(
            torch.rand(2, 3, 4, 4),
            torch.rand(2, 3, 5),
            torch.rand(2, 8, 4, 4),
            torch.rand(2, 8, 6),
            torch.tensor([0, 1]),
        )


# --- AC (Eq. 22) --------------------------------------------------------------------------


def test_average_cams_is_eq22(device, dtype):
    cams = torch.rand(2, 3, 4, 4, dtype=dtype, device=device)
    expected = (cams[:, 0] + cams[:, 1] + cams[:, 2]) / 3
    torch.testing.assert_close(average_cams(cams), expected)


def test_average_cams_needs_a_source():
    with pytest.raises(ValueError, match="at least one source"):
        average_cams(torch.rand(2, 0, 4, 4))


def test_stack_sources_is_cam_and_softmax_per_source():
    from scamlib.functional import stack_sources

    torch.manual_seed(5)
    outs = {n: (torch.randn(2, 4), torch.randn(2, 4, 3, 3)) for n in ("s", "st", "sa")}
    tags = torch.tensor([1, 3])
    cams, conf = stack_sources(outs, tags, size=5, names=("sa", "s"))
    assert cams.shape == (2, 2, 5, 5) and conf.shape == (2, 2, 4)
    torch.testing.assert_close(cams[:, 0], cam(outs["sa"][1], tags, 5))
    torch.testing.assert_close(conf[:, 1], outs["s"][0].softmax(-1))
    half = {"s": (outs["s"][0].half(), outs["s"][1].half())}
    assert stack_sources(half, tags).cams.dtype == torch.float32


def test_scam_result_carries_weights_and_cams():
    cams = torch.rand(2, 3, 4, 4)
    conf = torch.rand(2, 3, 5).softmax(-1)
    tags = torch.tensor([0, 2])
    out = scam(cams, conf, tags)
    torch.testing.assert_close(out.confidences, soft_filter(conf, tags))
    assert out.cams is cams and out.sources == ()
