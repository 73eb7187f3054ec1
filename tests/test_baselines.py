"""scamlib.baselines: the CAM baselines equal pytorch-grad-cam's own output on the same
classifier and input, after the documented resize + min-max; the centre prior matches its
closed form; the model is left as it was found."""

from __future__ import annotations

import importlib.util
import math
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from scamlib.baselines import BASELINES, baseline_maps, centre_prior
from scamlib.functional import minmax
from scamlib.models import create

# The library tests need the ``baselines`` extra; the centre prior and the error without the
# extra are tested either way.
needs_library = pytest.mark.skipif(
    importlib.util.find_spec("pytorch_grad_cam") is None,
    reason='needs pip install "scamlib[baselines]"',
)
CAM_METHODS = {
    "gradcam": "GradCAM",
    "gradcampp": "GradCAMPlusPlus",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "scorecam": "ScoreCAM",
}
NUM_CLASSES = 4


class _LogitsOnly(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return create("s", preset="tiny", num_classes=NUM_CLASSES).eval()


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 3, 32, 32, generator=g), torch.tensor([0, 3, 1])


def _library(net, frames, tags, method, layer):
    """pytorch-grad-cam called directly on ``net`` (at ``layer``), the maps at frame size."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam_class = getattr(pytorch_grad_cam, CAM_METHODS[method])
    cam = cam_class(model=_LogitsOnly(net), target_layers=[layer])
    try:
        if method == "scorecam":
            cam.batch_size = 64
        out = cam(input_tensor=frames, targets=[ClassifierOutputTarget(int(t)) for t in tags])
    finally:
        cam.activations_and_grads.release()
    return torch.from_numpy(out)


def test_names():
    assert BASELINES == tuple(CAM_METHODS) + ("centre",)


@needs_library
@pytest.mark.parametrize("method", list(CAM_METHODS))
def test_equals_the_library(net, inputs, method):
    """The default target layer is the S net's last feature layer: ResNet-10-T's layer2 in the
    tiny preset; then the documented bilinear resize and min-max."""
    frames, tags = inputs
    batch = 64 if method == "scorecam" else 2  # 2 < 3 frames: several library calls
    ours = baseline_maps(net, frames, tags, method, size=(24, 40), batch_size=batch)
    ref = _library(net, frames, tags, method, net.backbone.body.layer2)
    ref = minmax(F.interpolate(ref[:, None], size=(24, 40), mode="bilinear")[:, 0])
    assert ours.shape == (3, 24, 40) and ours.dtype == frames.dtype
    assert float(ours.min()) >= 0.0 and float(ours.max()) <= 1.0
    peak = ours.amax(dim=(1, 2))
    assert (peak.eq(1.0) | peak.eq(0.0)).all() and peak.eq(1.0).any()  # a map without range is 0
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)


@needs_library
def test_gradcam_on_the_s_net_is_cam_without_the_bias(net, inputs):
    """On a 1x1-conv + GAP head the gradient is spatially constant: Grad-CAM on the head's
    input is ReLU(class map - bias), as the module text says."""
    frames, tags = inputs
    with torch.no_grad():
        class_maps = net(frames)[1][torch.arange(3), tags]
    plain = class_maps - net.head.conv.bias[tags][:, None, None]
    ref = minmax(F.interpolate(F.relu(plain)[:, None], size=(32, 32), mode="bilinear")[:, 0])
    ours = baseline_maps(net, frames, tags, "gradcam")
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


@needs_library
def test_size_defaults_and_int(net, inputs):
    frames, tags = inputs
    assert baseline_maps(net, frames, tags, "layercam").shape == (3, 32, 32)
    assert baseline_maps(net, frames, tags, "layercam", size=8).shape == (3, 8, 8)


@needs_library
def test_tag_changes_the_map(net, inputs):
    frames, tags = inputs
    a = baseline_maps(net, frames[:1], tags[:1], "gradcam")
    b = baseline_maps(net, frames[:1], (tags[:1] + 1) % NUM_CLASSES, "gradcam")
    assert (a - b).abs().max() > 1e-2


@needs_library
def test_deterministic_and_no_grad_context(net, inputs):
    frames, tags = inputs
    a = baseline_maps(net, frames, tags, "gradcampp")
    with torch.no_grad():
        b = baseline_maps(net, frames, tags, "gradcampp")
    assert torch.equal(a, b)


@needs_library
def test_explicit_target_layer(net, inputs):
    frames, tags = inputs
    ours = baseline_maps(net, frames, tags, "gradcam", target_layer=net.backbone.body.layer1)
    ref = minmax(_library(net, frames, tags, "gradcam", net.backbone.body.layer1))
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)


@needs_library
def test_model_state_restored_and_hooks_released():
    torch.manual_seed(0)
    net = create("s", num_classes=NUM_CLASSES).train()
    net.backbone.body.bn1.eval()
    next(net.backbone.parameters()).requires_grad_(False)
    marker = torch.full_like(net.head.conv.weight, 7.0)
    net.head.conv.weight.grad = marker
    modes = {name: m.training for name, m in net.named_modules()}
    flags = {name: p.requires_grad for name, p in net.named_parameters()}
    stats = {k: v.clone() for k, v in net.state_dict().items()}
    frames = torch.rand(2, 3, 32, 32)
    for method in ("gradcam", "scorecam"):
        baseline_maps(net, frames, torch.tensor([0, 1]), method, batch_size=64)
    assert {name: m.training for name, m in net.named_modules()} == modes
    assert {name: p.requires_grad for name, p in net.named_parameters()} == flags
    assert net.head.conv.weight.grad is marker
    assert all(p.grad is None for n, p in net.named_parameters() if n != "head.conv.weight")
    for k, v in net.state_dict().items():  # eval mode inside: BN statistics untouched
        assert torch.equal(v, stats[k]), k
    for m in net.modules():
        assert not m._forward_hooks and not m._backward_hooks


@needs_library
def test_zero_map_stays_zero():
    torch.manual_seed(0)
    net = create("s", num_classes=NUM_CLASSES).eval()
    with torch.no_grad():
        net.head.conv.weight.zero_()
        net.head.conv.bias.zero_()
    frames = torch.rand(2, 3, 32, 32)
    for method in ("gradcam", "layercam", "xgradcam"):
        maps = baseline_maps(net, frames, torch.tensor([0, 1]), method)
        assert not maps.isnan().any() and not maps.any(), method


@needs_library
def test_empty_batch(net):
    out = baseline_maps(net, torch.rand(0, 3, 32, 32), torch.zeros(0, dtype=torch.long), "gradcam")
    assert out.shape == (0, 32, 32)


def _closed_form(h, w, sigma):
    ys = [(i + 0.5 - h / 2) / (sigma * h) for i in range(h)]
    xs = [(j + 0.5 - w / 2) / (sigma * w) for j in range(w)]
    g = torch.tensor([[math.exp(-0.5 * (y * y + x * x)) for x in xs] for y in ys])
    return (g - g.min()) / (g.max() - g.min())


@pytest.mark.parametrize(("h", "w", "sigma"), [(5, 5, 0.25), (6, 10, 0.25), (7, 4, 0.6)])
def test_centre_prior_closed_form(h, w, sigma):
    torch.testing.assert_close(centre_prior((h, w), sigma=sigma), _closed_form(h, w, sigma))


def test_centre_baseline(inputs):
    frames, tags = inputs
    maps = baseline_maps(None, frames, tags, "centre", size=(6, 10))
    assert maps.shape == (3, 6, 10)
    torch.testing.assert_close(maps, _closed_form(6, 10, 0.25).expand(3, 6, 10))
    assert torch.equal(baseline_maps(None, frames, tags, "centre")[0], centre_prior(32))
    assert not centre_prior(1).any()


def test_centre_prior_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        centre_prior(4, sigma=0.0)
    with pytest.raises(ValueError, match="positive"):
        centre_prior((0, 4))


@needs_library
def test_bad_input(net, inputs):
    frames, tags = inputs
    with pytest.raises(ValueError, match="method must be one of"):
        baseline_maps(net, frames, tags, "gradcam++")
    with pytest.raises(ValueError, match=r"tags must lie in \[0, 4\)"):
        baseline_maps(net, frames, torch.tensor([0, 1, 4]), "gradcam")
    with pytest.raises(ValueError, match="tags must have shape"):
        baseline_maps(net, frames, tags[:2], "gradcam")
    with pytest.raises(ValueError, match="3 colour channels"):
        baseline_maps(net, frames[:, :2], tags, "gradcam")
    with pytest.raises(ValueError, match="needs a classifier"):
        baseline_maps(None, frames, tags, "gradcam")
    with pytest.raises(ValueError, match="batch_size"):
        baseline_maps(net, frames, tags, "gradcam", batch_size=0)
    with pytest.raises(ValueError, match="submodule"):
        baseline_maps(net, frames, tags, "gradcam", target_layer=nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="no default target layer"):
        baseline_maps(nn.Sequential(nn.Conv2d(3, 4, 1)), frames, tags, "gradcam")


def test_centre_bad_input(inputs):
    frames, tags = inputs
    with pytest.raises(ValueError, match="tags must have shape"):
        baseline_maps(None, frames, tags[:2], "centre")
    with pytest.raises(TypeError, match="size"):
        baseline_maps(None, frames, tags, "centre", size=2.5)


def test_missing_library(monkeypatch, inputs):
    frames, tags = inputs
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "scamlib\[baselines\]"'):
        baseline_maps(create("s", num_classes=NUM_CLASSES), frames, tags, "gradcam")
    assert baseline_maps(None, frames, tags, "centre").shape == (3, 32, 32)  # needs no library
