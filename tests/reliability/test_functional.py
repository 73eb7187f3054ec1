"""Bad input to the functional ops and the nn modules, one table row per case, plus properties.

``ERROR_CASES`` lists ``(callable, kwargs, exception type, message regex)``: the call must raise
exactly that type with a message naming the user's argument and what was expected.
``EMPTY_CASES`` lists the documented results on empty batches. The hypothesis tests check one
documented property per op family (ranges, shapes, invariances, agreement with a naive loop).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from scamlib import functional as SF
from scamlib import nn as snn

NAN = float("nan")
INF = float("inf")
PROPS = settings(max_examples=25, deadline=None)


def _nan(*shape: int) -> torch.Tensor:
    x = torch.rand(*shape)
    x.view(-1)[0] = NAN
    return x


def _conf(b: int, k: int, c: int) -> torch.Tensor:
    return torch.rand(b, k, c).softmax(-1)


def _outs(names, b=2, c=4, h=3, w=3):
    return {n: (torch.randn(b, c), torch.randn(b, c, h, w)) for n in names}


def _gcn_args(**over):
    args = {"target": torch.rand(2, 3, 2, 2), "mg": torch.rand(2, 2, 3, 2, 2)}
    args["proj_weight"] = torch.eye(3)
    args.update(over)
    return args


_T2 = torch.tensor([0, 1])
_BOX = torch.tensor([[0, 0, 2, 2]])

ERROR_CASES = [
    # ---- cam (Eq. 1)
    (
        "cam-float-tags",
        SF.cam,
        dict(class_maps=torch.rand(2, 3, 4, 4), tags=torch.tensor([0.0, 1.0])),
        TypeError,
        r"tags must be an integer tensor",
    ),
    (
        "cam-bool-tags",
        SF.cam,
        dict(class_maps=torch.rand(2, 3, 4, 4), tags=torch.tensor([True, False])),
        TypeError,
        r"tags must be an integer tensor",
    ),
    (
        "cam-tag-range",
        SF.cam,
        dict(class_maps=torch.rand(2, 3, 4, 4), tags=torch.tensor([0, 3])),
        ValueError,
        r"tags must lie in \[0, 3\)",
    ),
    (
        "cam-tag-shape",
        SF.cam,
        dict(class_maps=torch.rand(2, 3, 4, 4), tags=torch.tensor([0])),
        ValueError,
        r"tags must have shape \(2,\)",
    ),
    (
        "cam-nan",
        SF.cam,
        dict(class_maps=_nan(2, 3, 4, 4), tags=_T2),
        ValueError,
        r"class_maps holds 1 NaN/Inf",
    ),
    (
        "cam-3d",
        SF.cam,
        dict(class_maps=torch.rand(3, 4, 4), tags=_T2),
        ValueError,
        r"class_maps must have shape \(b, c, h, w\)",
    ),
    (
        "cam-empty-map",
        SF.cam,
        dict(class_maps=torch.rand(2, 3, 0, 4), tags=_T2),
        ValueError,
        r"class_maps must have a non-empty map",
    ),
    (
        "cam-size-0",
        SF.cam,
        dict(class_maps=torch.rand(2, 3, 4, 4), tags=_T2, size=0),
        ValueError,
        r"size must be positive",
    ),
    (
        "cam-int-maps",
        SF.cam,
        dict(class_maps=torch.ones(2, 3, 4, 4, dtype=torch.long), tags=_T2),
        TypeError,
        r"class_maps must be a floating-point tensor",
    ),
    # ---- soft filter, SCAM, SCAM+ (Eqs. 2, 3, 8)
    (
        "soft-filter-logits",
        SF.soft_filter,
        dict(confidences=torch.tensor([[2.0, -1.0]]), tags=torch.tensor([0])),
        ValueError,
        r"confidences must hold probabilities in \[0, 1\].*softmax",
    ),
    (
        "scam-logits",
        SF.scam,
        dict(
            cams=torch.rand(1, 2, 3, 3),
            confidences=torch.randn(1, 2, 4) * 3,
            tags=torch.tensor([1]),
        ),
        ValueError,
        r"confidences must hold probabilities",
    ),
    (
        "scam-lam-inf",
        SF.scam,
        dict(
            cams=torch.rand(1, 2, 3, 3), confidences=_conf(1, 2, 4), tags=torch.tensor([1]), lam=INF
        ),
        ValueError,
        r"lam must be finite, got inf",
    ),
    (
        "scam-lam-nan",
        SF.scam,
        dict(
            cams=torch.rand(1, 2, 3, 3), confidences=_conf(1, 2, 4), tags=torch.tensor([1]), lam=NAN
        ),
        ValueError,
        r"lam must be finite",
    ),
    (
        "scam-lam-negative",
        SF.scam,
        dict(
            cams=torch.rand(1, 2, 3, 3),
            confidences=_conf(1, 2, 4),
            tags=torch.tensor([1]),
            lam=-1.0,
        ),
        ValueError,
        r"lam must be >= 0",
    ),
    (
        "scam-lam-string",
        SF.scam,
        dict(
            cams=torch.rand(1, 2, 3, 3),
            confidences=_conf(1, 2, 4),
            tags=torch.tensor([1]),
            lam="1e-4",
        ),
        TypeError,
        r"lam must be a real number, got str",
    ),
    (
        "scam-no-source",
        SF.scam,
        dict(cams=torch.rand(1, 0, 3, 3), confidences=torch.rand(1, 0, 4), tags=torch.tensor([1])),
        ValueError,
        r"at least one source",
    ),
    (
        "scam-disagree",
        SF.scam,
        dict(cams=torch.rand(1, 2, 3, 3), confidences=_conf(1, 3, 4), tags=torch.tensor([1])),
        ValueError,
        r"must agree on \(b, k\)",
    ),
    (
        "scam-nan-cams",
        SF.scam,
        dict(cams=_nan(1, 2, 3, 3), confidences=_conf(1, 2, 4), tags=torch.tensor([1])),
        ValueError,
        r"cams holds 1 NaN/Inf",
    ),
    (
        "scam-plus-mg-logits",
        SF.scam_plus,
        dict(
            base_cams=torch.rand(1, 2, 3, 3),
            base_confidences=_conf(1, 2, 4),
            mg_cams=torch.rand(1, 3, 3, 3),
            mg_confidences=torch.randn(1, 3, 4) - 2,
            tags=torch.tensor([0]),
        ),
        ValueError,
        r"mg_confidences must hold probabilities",
    ),
    (
        "scam-plus-batch",
        SF.scam_plus,
        dict(
            base_cams=torch.rand(1, 2, 3, 3),
            base_confidences=_conf(1, 2, 4),
            mg_cams=torch.rand(2, 3, 3, 3),
            mg_confidences=_conf(2, 3, 4),
            tags=torch.tensor([0]),
        ),
        ValueError,
        r"base_cams and mg_cams must agree on \(b, h, w\)",
    ),
    (
        "average-cams-inf",
        SF.average_cams,
        dict(cams=torch.full((1, 2, 2, 2), INF)),
        ValueError,
        r"cams holds 8 NaN/Inf",
    ),
    (
        "stack-sources-missing",
        SF.stack_sources,
        dict(outputs=_outs(["s"]), tags=_T2, names=("s", "st")),
        ValueError,
        r"outputs has no source\(s\) \['st'\]",
    ),
    (
        "stack-sources-not-mapping",
        SF.stack_sources,
        dict(outputs=[1, 2], tags=_T2),
        TypeError,
        r"outputs must map source names",
    ),
    (
        "stack-sources-not-pair",
        SF.stack_sources,
        dict(outputs={"s": torch.rand(2, 4)}, tags=_T2),
        TypeError,
        r"outputs\['s'\] must be a pair",
    ),
    (
        "stack-sources-sizes",
        SF.stack_sources,
        dict(outputs={**_outs(["s"]), **_outs(["st"], h=5)}, tags=_T2),
        ValueError,
        r"different shapes.*size=\(h, w\)",
    ),
    (
        "stack-sources-nan-logits",
        SF.stack_sources,
        dict(outputs={"s": (_nan(2, 4), torch.rand(2, 4, 3, 3))}, tags=_T2),
        ValueError,
        r"outputs\['s'\] logits holds 1 NaN/Inf",
    ),
    # ---- coarse-to-fine geometry (Sec. 3.2)
    (
        "coarse-box-factor-nan",
        SF.coarse_box,
        dict(maps=torch.rand(2, 4, 4), factor=NAN),
        ValueError,
        r"factor must be finite, got nan",
    ),
    (
        "coarse-box-factor-negative",
        SF.coarse_box,
        dict(maps=torch.rand(2, 4, 4), factor=-1.0),
        ValueError,
        r"factor must be >= 0.0, got -1.0",
    ),
    (
        "coarse-box-factor-inf",
        SF.coarse_box,
        dict(maps=torch.rand(2, 4, 4), factor=INF),
        ValueError,
        r"factor must be finite",
    ),
    (
        "coarse-box-empty-map",
        SF.coarse_box,
        dict(maps=torch.rand(2, 0, 4)),
        ValueError,
        r"maps must have a non-empty map",
    ),
    (
        "coarse-box-nan",
        SF.coarse_box,
        dict(maps=_nan(2, 4, 4)),
        ValueError,
        r"maps holds 1 NaN/Inf",
    ),
    (
        "crop-clip-nan-frames",
        SF.crop_clip,
        dict(frames=_nan(1, 2, 3, 4, 4), boxes=_BOX, size=2),
        ValueError,
        r"frames holds 1 NaN/Inf",
    ),
    (
        "crop-clip-box-outside",
        SF.crop_clip,
        dict(frames=torch.rand(1, 3, 4, 4), boxes=torch.tensor([[0, 0, 5, 2]]), size=2),
        ValueError,
        r"0 <= x0 < x1 <= 4.*box 0 is \[0, 0, 5, 2\]",
    ),
    (
        "crop-clip-empty-box",
        SF.crop_clip,
        dict(frames=torch.rand(1, 3, 4, 4), boxes=torch.tensor([[2, 0, 2, 2]]), size=2),
        ValueError,
        r"box 0 is",
    ),
    (
        "crop-clip-float-boxes",
        SF.crop_clip,
        dict(frames=torch.rand(1, 3, 4, 4), boxes=_BOX.float(), size=2),
        TypeError,
        r"boxes must be an integer tensor",
    ),
    (
        "crop-clip-empty-frame",
        SF.crop_clip,
        dict(frames=torch.rand(1, 3, 0, 4), boxes=_BOX, size=2),
        ValueError,
        r"frames must have a non-empty frame",
    ),
    (
        "paste-back-nan",
        SF.paste_back,
        dict(maps=_nan(1, 2, 2), boxes=_BOX, frame_size=4),
        ValueError,
        r"maps holds 1 NaN/Inf",
    ),
    (
        "paste-back-empty-map",
        SF.paste_back,
        dict(maps=torch.rand(1, 2, 0), boxes=_BOX, frame_size=4),
        ValueError,
        r"maps must have a non-empty map",
    ),
    (
        "paste-back-box-count",
        SF.paste_back,
        dict(maps=torch.rand(2, 2, 2), boxes=_BOX, frame_size=4),
        ValueError,
        r"boxes must have shape \(2, 4\)",
    ),
    (
        "scale-boxes-size",
        SF.scale_boxes,
        dict(boxes=_BOX, from_size=(4, 4), to_size=(0, 8)),
        ValueError,
        r"to_size must be positive",
    ),
    # ---- temporal smoothing, sparsification (original release)
    (
        "sparsify-factor-nan",
        SF.sparsify,
        dict(maps=torch.rand(2, 4, 4), factor=NAN),
        ValueError,
        r"factor must be finite, got nan",
    ),
    (
        "sparsify-factor-negative",
        SF.sparsify,
        dict(maps=torch.rand(2, 4, 4), factor=-3.0),
        ValueError,
        r"factor must be >= 0",
    ),
    (
        "sparsify-factor-str",
        SF.sparsify,
        dict(maps=torch.rand(2, 4, 4), factor="3"),
        TypeError,
        r"factor must be a real number",
    ),
    (
        "sparsify-1d",
        SF.sparsify,
        dict(maps=torch.rand(4)),
        ValueError,
        r"maps must have shape \(\.\.\., h, w\)",
    ),
    (
        "smooth-even-window",
        SF.temporal_smooth,
        dict(maps=torch.rand(4, 2, 2), window=2),
        ValueError,
        r"window must be a positive odd int",
    ),
    (
        "smooth-valid-dtype",
        SF.temporal_smooth,
        dict(maps=torch.rand(4, 2, 2), valid=torch.ones(4)),
        ValueError,
        r"valid must be a bool tensor of shape \(4,\)",
    ),
    (
        "smooth-nan",
        SF.temporal_smooth,
        dict(maps=_nan(4, 2, 2)),
        ValueError,
        r"maps holds 1 NaN/Inf",
    ),
    # ---- final fixation map (Eqs. 21, 23), min-max
    (
        "pf-final-nan-b",
        SF.pf_final,
        dict(a=torch.rand(1, 3, 3), b=_nan(1, 3, 3), c=torch.rand(1, 3, 3)),
        ValueError,
        r"^b holds 1 NaN/Inf",
    ),
    (
        "pf-agg-shapes",
        SF.pf_agg,
        dict(a=torch.rand(1, 3, 3), b=torch.rand(1, 3, 3), c=torch.rand(1, 3, 4)),
        ValueError,
        r"a and c must have the same shape",
    ),
    (
        "pf-final-empty-map",
        SF.pf_final,
        dict(a=torch.rand(1, 0, 3), b=torch.rand(1, 0, 3), c=torch.rand(1, 0, 3)),
        ValueError,
        r"non-empty map",
    ),
    ("minmax-inf", SF.minmax, dict(x=torch.tensor([[1.0, INF]])), ValueError, r"x holds 1 NaN/Inf"),
    # ---- C-GCN and FRL (Eqs. 9-14)
    (
        "frl-t_r-range",
        SF.fixation_refine,
        dict(h=torch.rand(1, 2, 3, 3), t_r=2.0),
        ValueError,
        r"t_r must be <= 1.0, got 2.0",
    ),
    (
        "frl-t_d-nan",
        SF.fixation_refine,
        dict(h=torch.rand(1, 2, 3, 3), t_d=NAN),
        ValueError,
        r"t_d must be finite",
    ),
    (
        "frl-2d",
        SF.fixation_refine,
        dict(h=torch.rand(3, 3)),
        ValueError,
        r"h must have shape \(\.\.\., c, h, w\)",
    ),
    (
        "gcn-no-mg",
        SF.conservative_gcn,
        _gcn_args(mg=torch.rand(2, 0, 3, 2, 2)),
        ValueError,
        r"n >= 1",
    ),
    (
        "gcn-steps-0",
        SF.conservative_gcn,
        _gcn_args(steps=0),
        ValueError,
        r"steps must be an int >= 1, got 0",
    ),
    (
        "gcn-nan-target",
        SF.conservative_gcn,
        _gcn_args(target=_nan(2, 3, 2, 2)),
        ValueError,
        r"target holds 1 NaN/Inf",
    ),
    (
        "gcn-channels",
        SF.conservative_gcn,
        _gcn_args(proj_weight=torch.eye(4)),
        ValueError,
        r"target must have 4 channels to match proj_weight",
    ),
    (
        "gcn-mg-shape",
        SF.conservative_gcn,
        _gcn_args(mg=torch.rand(2, 2, 3, 2, 3)),
        ValueError,
        r"mg must have shape \(2, n, 3, 2, 2\)",
    ),
    (
        "gcn-messages-shapes",
        SF.gcn_messages,
        dict(keys=torch.rand(1, 2, 4, 3, 3), values=torch.rand(1, 3, 2, 3, 3)),
        ValueError,
        r"keys .* and values .* must agree on \(b, N, h, w\)",
    ),
    # ---- fusion with the audio switch (Eqs. 5, 6, 15)
    (
        "apply-gate-shape",
        SF.apply_gate,
        dict(a=torch.rand(2, 5), gate=torch.ones(3)),
        ValueError,
        r"gate must have shape \(2,\)",
    ),
    (
        "st-fuse-channels",
        SF.st_fuse,
        dict(s=torch.rand(1, 2, 3, 3), v=torch.rand(1, 3, 3, 3)),
        ValueError,
        r"v must have 2 channels like s",
    ),
    (
        "sa-fuse-deconv",
        SF.sa_fuse,
        dict(
            s=torch.rand(1, 2, 3, 3),
            a=torch.rand(1, 4),
            deconv=lambda a, size: torch.rand(1, 2, 2, 2),
        ),
        ValueError,
        r"deconv must map the audio feature to s's shape",
    ),
    (
        "sta-fuse-weight",
        SF.sta_fuse,
        dict(
            s=torch.rand(1, 2, 3, 3),
            v=torch.rand(1, 2, 3, 3),
            a=torch.rand(1, 4),
            deconv=lambda a, size: torch.rand(1, 2, *size),
            weight=torch.rand(2, 2, 1, 1),
        ),
        ValueError,
        r"weight must have shape \(c_out, 4, 1, 1\)",
    ),
    # ---- nn modules
    (
        "nn-scam-missing",
        lambda **kw: snn.SCAM()(**kw),
        dict(outputs=_outs(["s", "st"]), tags=_T2),
        ValueError,
        r"missing \['sa'\]",
    ),
    (
        "nn-scam-nan-maps",
        lambda **kw: snn.SCAM(sources=("s",))(**kw),
        dict(outputs={"s": (torch.randn(2, 4), _nan(2, 4, 3, 3))}, tags=_T2),
        ValueError,
        r"class_maps holds 1 NaN",
    ),
    (
        "nn-scam-lam",
        lambda **kw: snn.SCAM(**kw)(_outs(snn.BASE_SOURCES), _T2),
        dict(lam=INF),
        ValueError,
        r"lam must be finite",
    ),
    (
        "nn-scam-plus-dup",
        snn.SCAMPlus,
        dict(base_sources=("s",), mg_sources=("s",)),
        ValueError,
        r"unique names",
    ),
    ("nn-frl-t_r", snn.FixationRefineLayer, dict(t_r=1.5), ValueError, r"t_r must be <= 1.0"),
    ("nn-frl-t_d", snn.FixationRefineLayer, dict(t_d=INF), ValueError, r"t_d must be finite"),
    (
        "nn-gcn-channels",
        lambda **kw: snn.ConservativeGCN(3)(**kw),
        dict(target=torch.rand(1, 4, 2, 2), mg=torch.rand(1, 1, 4, 2, 2)),
        ValueError,
        r"target must have 3 channels",
    ),
    (
        "nn-gcn-refine",
        snn.ConservativeGCN,
        dict(channels=3, refine="yes"),
        TypeError,
        r"refine must be",
    ),
    (
        "nn-safuse-channels",
        lambda **kw: snn.SAFuse(3, 4)(**kw),
        dict(s=torch.rand(1, 2, 4, 4), a=torch.rand(1, 4)),
        ValueError,
        r"s must have 3 channels",
    ),
    (
        "nn-stfuse-v",
        lambda **kw: snn.STFuse(3)(**kw),
        dict(s=torch.rand(1, 3, 4, 4), v=torch.rand(1, 5, 2, 4, 4)),
        ValueError,
        r"v must have batch 1 and 3 channels",
    ),
    (
        "nn-stafuse-audio-batch",
        lambda **kw: snn.STAFuse(3, 4)(**kw),
        dict(s=torch.rand(2, 3, 4, 4), v=torch.rand(2, 3, 4, 4), a=torch.rand(1, 4)),
        ValueError,
        r"a must have batch size 2",
    ),
    (
        "nn-camhead-channels",
        lambda **kw: snn.CAMHead(6, 3)(**kw),
        dict(x=torch.rand(1, 5, 2, 2)),
        ValueError,
        r"x must have 6 channels",
    ),
]


@pytest.mark.parametrize(
    ("fn", "kwargs", "error", "pattern"),
    [pytest.param(*case[1:], id=case[0]) for case in ERROR_CASES],
)
def test_bad_input_raises_a_clear_error(fn, kwargs, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        fn(**kwargs)
    assert type(info.value) is error
    # Messages name the user's argument, never an internal variable of an op.
    if fn is not SF.minmax:  # ``x`` is minmax's own argument
        assert not str(info.value).startswith(("x holds", "selected", "fused", "numerator"))


def test_case_table_is_large_enough():
    assert len(ERROR_CASES) >= 30


EMPTY_CASES = [
    (
        "cam-b0",
        SF.cam,
        dict(class_maps=torch.rand(0, 3, 4, 4), tags=torch.zeros(0, dtype=torch.long)),
        (0, 4, 4),
    ),
    (
        "cam-b0-size",
        SF.cam,
        dict(class_maps=torch.rand(0, 3, 4, 4), tags=torch.zeros(0, dtype=torch.long), size=6),
        (0, 6, 6),
    ),
    (
        "soft-filter-b0",
        SF.soft_filter,
        dict(confidences=torch.rand(0, 3), tags=torch.zeros(0, dtype=torch.long)),
        (0,),
    ),
    (
        "scam-b0",
        lambda **kw: SF.scam(**kw).map,
        dict(
            cams=torch.rand(0, 2, 3, 3),
            confidences=torch.rand(0, 2, 4),
            tags=torch.zeros(0, dtype=torch.long),
        ),
        (0, 3, 3),
    ),
    ("coarse-box-b0", SF.coarse_box, dict(maps=torch.rand(0, 4, 4)), (0, 4)),
    (
        "crop-clip-b0",
        SF.crop_clip,
        dict(frames=torch.rand(0, 3, 4, 4), boxes=torch.zeros(0, 4, dtype=torch.long), size=2),
        (0, 3, 2, 2),
    ),
    (
        "crop-clip-t0",
        SF.crop_clip,
        dict(frames=torch.rand(1, 0, 3, 4, 4), boxes=_BOX, size=(2, 3)),
        (1, 0, 3, 2, 3),
    ),
    (
        "paste-back-b0",
        SF.paste_back,
        dict(maps=torch.rand(0, 2, 2), boxes=torch.zeros(0, 4, dtype=torch.long), frame_size=4),
        (0, 4, 4),
    ),
    ("smooth-t0", SF.temporal_smooth, dict(maps=torch.rand(0, 4, 4)), (0, 4, 4)),
    ("smooth-b0", SF.temporal_smooth, dict(maps=torch.rand(0, 5, 4, 4)), (0, 5, 4, 4)),
    ("smooth-h0", SF.temporal_smooth, dict(maps=torch.rand(5, 0, 4)), (5, 0, 4)),
    ("sparsify-h0", SF.sparsify, dict(maps=torch.rand(2, 0, 4)), (2, 0, 4)),
    ("minmax-h0", SF.minmax, dict(x=torch.rand(2, 0, 4)), (2, 0, 4)),
    (
        "pf-final-b0",
        SF.pf_final,
        dict(a=torch.rand(0, 3, 3), b=torch.rand(0, 3, 3), c=torch.rand(0, 3, 3)),
        (0, 3, 3),
    ),
    ("frl-b0", SF.fixation_refine, dict(h=torch.rand(0, 2, 3, 3)), (0, 2, 3, 3)),
    (
        "gcn-b0",
        lambda **kw: SF.conservative_gcn(**kw)[1],
        _gcn_args(target=torch.rand(0, 3, 2, 2), mg=torch.rand(0, 2, 3, 2, 2)),
        (0, 2, 3, 2, 2),
    ),
]


@pytest.mark.parametrize(
    ("fn", "kwargs", "shape"), [pytest.param(*case[1:], id=case[0]) for case in EMPTY_CASES]
)
def test_empty_input_gives_empty_result(fn, kwargs, shape):
    assert tuple(fn(**kwargs).shape) == shape


def test_minmax_of_empty_maps_is_not_valid():
    out, valid = SF.minmax(torch.rand(3, 0, 2), return_valid=True)
    assert out.shape == (3, 0, 2) and valid.shape == (3,) and not bool(valid.any())


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_cam_tags_of_any_integer_dtype_are_indices_even_when_b_equals_c(dtype):
    # b == c == 3: a uint8 index tensor of that length would be read as a mask by torch.
    torch.manual_seed(0)
    maps = torch.randn(3, 3, 4, 4)
    tags = torch.tensor([2, 0, 1])
    want = torch.stack([SF.minmax(F.relu(maps[i, int(tags[i])])) for i in range(3)])
    torch.testing.assert_close(SF.cam(maps, tags.to(dtype)), want)
    conf = torch.rand(3, 3).softmax(-1)
    torch.testing.assert_close(SF.soft_filter(conf, tags.to(dtype)), SF.soft_filter(conf, tags))


def test_one_result_type():
    assert snn.SCAMOutput is SF.SCAMResult
    r = snn.SCAM()(_outs(snn.BASE_SOURCES), _T2)
    f = SF.scam(r.cams, SF.stack_sources(_outs(snn.BASE_SOURCES), _T2).confidences, _T2)
    assert isinstance(r, SF.SCAMResult) and r.sources == snn.BASE_SOURCES and f.sources == ()
    assert SF.SCAMResult(r.map, r.valid).cams is None  # the two-field form still builds


# ---------------------------------------------------------------------------- properties
def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


seeds = st.integers(0, 2**31 - 1)


@PROPS
@given(
    b=st.integers(1, 3), c=st.integers(1, 5), h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds
)
def test_prop_cam_range_shape_and_naive_loop(b, c, h, w, seed):
    g = _gen(seed)
    maps = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    tags = torch.randint(0, c, (b,), generator=g)
    out = SF.cam(maps, tags.to(torch.int32))
    assert out.shape == (b, h, w) and bool(((out >= 0) & (out <= 1)).all())
    for i in range(b):
        x = maps[i, int(tags[i])].clamp_min(0)
        span = float(x.max() - x.min())
        want = (x - x.min()) / span if span > 0 else torch.zeros_like(x)
        torch.testing.assert_close(out[i], want)


@PROPS
@given(b=st.integers(1, 3), k=st.integers(1, 4), c=st.integers(2, 5), seed=seeds)
def test_prop_scam_range_validity_and_source_order(b, k, c, seed):
    g = _gen(seed)
    cams = torch.rand(b, k, 3, 4, generator=g, dtype=torch.float64)
    conf = torch.randn(b, k, c, generator=g, dtype=torch.float64).mul(3).softmax(-1)
    tags = torch.randint(0, c, (b,), generator=g)
    out = SF.scam(cams, conf, tags)
    assert bool(((out.map >= 0) & (out.map <= 1)).all())
    assert bool((out.map[~out.valid] == 0).all())
    # soft filter against a naive loop: the tag's confidence where it is the strict maximum.
    for i in range(b):
        for j in range(k):
            row = conf[i, j]
            others = torch.cat([row[: tags[i]], row[tags[i] + 1 :]])
            want = float(row[tags[i]]) if float(row[tags[i]]) > float(others.max()) else 0.0
            assert math.isclose(float(out.confidences[i, j]), want)
    # Eq. 2 sums over the sources: their order does not matter.
    perm = torch.randperm(k, generator=g)
    shuffled = SF.scam(cams[:, perm], conf[:, perm], tags)
    torch.testing.assert_close(shuffled.map, out.map)
    assert torch.equal(shuffled.valid, out.valid)
    # SCAM+ is SCAM over the concatenated groups.
    if k >= 2:
        plus = SF.scam_plus(cams[:, :1], conf[:, :1], cams[:, 1:], conf[:, 1:], tags)
        torch.testing.assert_close(plus.map, out.map)


@PROPS
@given(
    b=st.integers(1, 3),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    factor=st.floats(0, 4),
    seed=seeds,
)
def test_prop_coarse_box_holds_every_pixel_above_threshold(b, h, w, factor, seed):
    maps = torch.rand(b, h, w, generator=_gen(seed), dtype=torch.float64)
    boxes = SF.coarse_box(maps, factor)
    x0, y0, x1, y1 = boxes.unbind(1)
    assert bool(((x0 >= 0) & (y0 >= 0) & (x1 <= w) & (y1 <= h) & (x1 > x0) & (y1 > y0)).all())
    for i in range(b):
        ys, xs = (maps[i] > factor * maps[i].mean()).nonzero(as_tuple=True)
        if ys.numel():
            assert (int(ys.min()), int(xs.min())) == (int(y0[i]), int(x0[i]))
            assert (int(ys.max()) + 1, int(xs.max()) + 1) == (int(y1[i]), int(x1[i]))
        else:
            assert boxes[i].tolist() == [0, 0, w, h]


@PROPS
@given(b=st.integers(1, 3), big=st.integers(2, 8), out=st.integers(1, 6), seed=seeds)
def test_prop_crop_and_paste_match_a_per_sample_loop(b, big, out, seed):
    g = _gen(seed)
    frames = torch.rand(b, 2, big, big, generator=g, dtype=torch.float64)
    lo = torch.randint(0, big - 1, (b, 2), generator=g)
    size = torch.randint(1, big, (b, 2), generator=g)
    hi = torch.minimum(lo + size, torch.tensor(big))
    boxes = torch.cat([lo, hi], dim=1)  # (x0, y0, x1, y1)
    crops = SF.crop_clip(frames, boxes, out)
    pasted = SF.paste_back(crops[:, 0], boxes, big)
    for i in range(b):
        x0, y0, x1, y1 = boxes[i].tolist()
        want = F.interpolate(
            frames[i : i + 1, :, y0:y1, x0:x1], (out, out), mode="bilinear", align_corners=False
        )
        torch.testing.assert_close(crops[i : i + 1], want)
        back = F.interpolate(
            crops[i : i + 1, :1], (y1 - y0, x1 - x0), mode="bilinear", align_corners=False
        )[0, 0]
        full = torch.zeros(big, big, dtype=torch.float64)
        full[y0:y1, x0:x1] = back
        torch.testing.assert_close(pasted[i], full)


@PROPS
@given(t=st.integers(1, 9), window=st.sampled_from([1, 3, 5, 7]), seed=seeds)
def test_prop_temporal_smooth_is_a_window_mean_and_sparsify_only_zeroes(t, window, seed):
    g = _gen(seed)
    maps = torch.rand(t, 2, 3, generator=g, dtype=torch.float64)
    valid = torch.rand(t, generator=g) > 0.3
    out = SF.temporal_smooth(maps, window, valid)
    if window == 1:  # documented: the input comes back unchanged, valid or not
        assert out is maps
        return
    r = window // 2
    for i in range(t):
        idx = [j for j in range(max(0, i - r), min(t, i + r + 1)) if valid[j]]
        want = maps[idx].mean(0) if idx else torch.zeros(2, 3, dtype=torch.float64)
        torch.testing.assert_close(out[i], want)
    # A video constant in time is left as it is.
    still = maps[:1].expand(t, 2, 3)
    torch.testing.assert_close(SF.temporal_smooth(still, window), still)
    sparse = SF.sparsify(maps, 1.5)
    assert bool(((sparse == 0) | (sparse == maps)).all())


@PROPS
@given(b=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds)
def test_prop_pf_final_range_and_symmetry(b, h, w, seed):
    g = _gen(seed)
    a, p, c = (torch.rand(b, h, w, generator=g, dtype=torch.float64) for _ in range(3))
    final, agg = SF.pf_final(a, p, c), SF.pf_agg(a, p, c)
    assert bool(((final >= 0) & (final <= 1)).all())
    assert bool(((agg >= 0) & (agg <= 0.25 + 1e-12)).all())
    torch.testing.assert_close(SF.pf_final(c, a, p), final)
    torch.testing.assert_close(SF.pf_agg(p, c, a), agg)


@PROPS
@given(b=st.integers(1, 2), n=st.integers(2, 4), hw=st.integers(1, 9), seed=seeds)
def test_prop_gcn_messages_match_a_naive_loop(b, n, hw, seed):
    g = _gen(seed)
    keys = torch.randn(b, n, 2, 1, hw, generator=g, dtype=torch.float64)
    values = torch.randn(b, n, 3, 1, hw, generator=g, dtype=torch.float64)
    out = SF.gcn_messages(keys, values)
    for s in range(b):
        for i in range(n):
            want = torch.zeros(3, hw, dtype=torch.float64)
            for j in range(n):
                if j != i:
                    e = (keys[s, i, :, 0].T @ keys[s, j, :, 0]).softmax(dim=1)  # Eq. 10
                    want += values[s, j, :, 0] @ e.T  # Eq. 11
            torch.testing.assert_close(out[s, i, :, 0], want)


@PROPS
@given(b=st.integers(1, 3), seed=seeds, t_r=st.floats(0, 1))
def test_prop_cgcn_samples_are_independent_and_frl_bounds(b, seed, t_r):
    g = _gen(seed)
    target = torch.randn(b, 3, 2, 3, generator=g, dtype=torch.float64)
    mg = torch.randn(b, 2, 3, 2, 3, generator=g, dtype=torch.float64)
    weight = torch.randn(3, 3, generator=g, dtype=torch.float64)
    out_t, out_mg = SF.conservative_gcn(target, mg, weight, steps=2)
    for i in range(b):
        one_t, one_mg = SF.conservative_gcn(target[i : i + 1], mg[i : i + 1], weight, steps=2)
        torch.testing.assert_close(out_t[i : i + 1], one_t)
        torch.testing.assert_close(out_mg[i : i + 1], one_mg)
    # FRL multiplies every value by a factor in [1/2, 1]: magnitudes never grow, signs stay.
    refined = SF.fixation_refine(target, t_r=t_r)
    assert bool((refined.abs() <= target.abs() + 1e-12).all())
    assert bool((refined * target >= 0).all())
