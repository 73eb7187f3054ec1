"""CAM-family baselines for pseudo-fixations: the maps the papers' Table 7 compares SCAM with.

STANet+ (Table 7) sets its pseudo-fixations beside weakly supervised class-activation-map
methods applied to a classifier. This module computes such maps for the same trained
classifier that SCAM uses (the coarse S net of Fig. 5-A), with the clip's tag as the target
class, so that they can be scored and used beside CAM_S / SCAM / SCAM+. The CAM methods
themselves come from the pytorch-grad-cam library (import name ``pytorch_grad_cam``), the
implementation researchers already use; nothing here re-implements them. Install it with
``pip install "scamlib[baselines]"``.

Methods (:data:`BASELINES`):

* ``"gradcam"``: Grad-CAM (Selvaraju et al., 2017): channel weights are the spatially
  averaged gradients of the target logit.
* ``"gradcampp"``: Grad-CAM++ (Chattopadhay et al., 2018): weights from higher-order
  gradient terms, positive gradients only.
* ``"xgradcam"``: XGrad-CAM (Fu et al., 2020): weights are the activation-weighted
  gradients, normalised by the channel's activation sum.
* ``"layercam"``: LayerCAM (Jiang et al., 2021): every location weighted by its own
  positive gradient.
* ``"scorecam"``: Score-CAM (Wang et al., 2020): gradient-free; each channel, upsampled and
  min-max normalised, masks the input, and the softmax of the masked inputs' target logits
  weights the channels. It runs one forward pass per channel and frame.
* ``"centre"``: a centre-prior Gaussian, independent of the network and of the frame
  (:func:`centre_prior`): the centre bias of human fixations (Tatler, 2007) as a baseline.

A remark on the S net: its classifier is a 1x1 conv followed by global average pooling, so the
gradient of a logit with respect to the last feature layer is the same at every location.
On that layer Grad-CAM and XGrad-CAM therefore both reduce to CAM (Zhou et al., 2016) up to
the head's bias, which sits inside the ReLU: with a zero bias they equal CAM_S up to the
resize. Grad-CAM++, LayerCAM and Score-CAM weight the same layer differently; pass an earlier
``target_layer`` to see all the methods depart further from CAM.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._validation import as_size, check_finite, check_floating, check_ndim, check_tags
from .functional import minmax

__all__ = ["BASELINES", "baseline_maps", "centre_prior"]

#: Baseline names accepted by :func:`baseline_maps`: five CAM methods of pytorch-grad-cam
#: (``GradCAM``, ``GradCAMPlusPlus``, ``XGradCAM``, ``LayerCAM``, ``ScoreCAM``) and the
#: network-free centre prior.
BASELINES: tuple[str, ...] = ("gradcam", "gradcampp", "xgradcam", "layercam", "scorecam", "centre")

_CLASSES = {
    "gradcam": "GradCAM",
    "gradcampp": "GradCAMPlusPlus",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "scorecam": "ScoreCAM",
}


def _grad_cam() -> tuple[ModuleType, type]:
    """Import pytorch-grad-cam (the module, its class-logit target), or say how to install it."""
    try:
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as err:
        raise ImportError(
            "the CAM baselines need the pytorch-grad-cam library (import name "
            "'pytorch_grad_cam'), which is not installed; install it with "
            'pip install "scamlib[baselines]"'
        ) from err
    return pytorch_grad_cam, ClassifierOutputTarget


def centre_prior(
    size: int | tuple[int, int],
    *,
    sigma: float = 0.25,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Centre-prior saliency map: a Gaussian at the frame centre, min-max normalised.

    Human fixations concentrate near the centre of the frame whatever its content (the
    central fixation bias, Tatler 2007), so a centred Gaussian is the usual network-free
    baseline of saliency benchmarks. Pixel ``(i, j)`` (centre at ``(i + 0.5, j + 0.5)``) gets
    ``exp(-((i + 0.5 - h/2)^2 / (2 (sigma h)^2) + (j + 0.5 - w/2)^2 / (2 (sigma w)^2)))``:
    the standard deviation is a fixed fraction ``sigma`` of each side (a quarter by default,
    a choice of this library rather than a constant taken from a paper), so the Gaussian
    follows the frame's aspect ratio and the map does not depend on the resolution. The
    result is min-max normalised like every CAM map (``Z(.)``, STANet+ Eq. 1): 1 at the
    centre pixel (for odd sides), 0 at the corners.

    Args:
        size: ``h`` (square) or ``(h, w)``.
        sigma: standard deviation as a fraction of the side; positive and finite.
        device: device of the result (default: the CPU).
        dtype: floating dtype of the result (default: torch's default dtype).

    Returns:
        ``(h, w)`` map in ``[0, 1]``. A ``1 x 1`` map has no range and is all zeros (the
        convention of :func:`scamlib.functional.minmax`).

    Raises:
        TypeError: ``size`` is not an int or a pair of ints.
        ValueError: a non-positive size, or ``sigma`` not positive and finite.

    Example:
        >>> centre_prior(3)
        tensor([[0.0000, 0.2913, 0.0000],
                [0.2913, 1.0000, 0.2913],
                [0.0000, 0.2913, 0.0000]])
        >>> centre_prior((4, 8), sigma=0.5).shape
        torch.Size([4, 8])
    """
    h, w = as_size(size)
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite fraction of the side, got {sigma!r}")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    y = (torch.arange(h, device=device, dtype=dtype) + 0.5 - h / 2) / (sigma * h)
    x = (torch.arange(w, device=device, dtype=dtype) + 0.5 - w / 2) / (sigma * w)
    return minmax(torch.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)))


class _Logits(nn.Module):
    """The classifier as pytorch-grad-cam needs it: ``frames (b, 3, H, W) -> logits (b, C)``.

    With ``tap=True`` the forward runs ``head(tap(features(frames)))`` for a classifier with
    the S-net contract (``features`` + ``head``, whose composition is its forward), so that
    the identity module ``tap`` sees the input of the CAM head and can be the target layer.
    """

    def __init__(self, model: nn.Module, tap: bool) -> None:
        super().__init__()
        self.model = model
        self.tap = nn.Identity() if tap else None

    def forward(self, frames: Tensor) -> Tensor:
        if self.tap is not None:
            out = self.model.head(self.tap(self.model.features(frames)))
        else:
            out = self.model(frames)
        return out[0] if isinstance(out, (tuple, list)) else out


@contextlib.contextmanager
def _restored(model: nn.Module) -> Iterator[None]:
    """Put the model in eval mode with trainable parameters, then restore every module's
    mode and every parameter's ``requires_grad`` and ``.grad`` exactly."""
    modes = [(m, m.training) for m in model.modules()]
    params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _, _ in params:
            p.requires_grad_(True)
        yield
    finally:
        for m, training in modes:
            m.training = training
        for p, requires_grad, grad in params:
            p.requires_grad_(requires_grad)
            p.grad = grad


def _num_classes(model: nn.Module, adapter: _Logits, frames: Tensor) -> int:
    head = getattr(model, "head", None)
    if isinstance(getattr(head, "num_classes", None), int):
        return head.num_classes
    with torch.no_grad():
        return int(adapter(frames[:1]).shape[-1])


def baseline_maps(
    model: nn.Module | None,
    frames: Tensor,
    tags: Tensor,
    method: str,
    *,
    target_layer: nn.Module | None = None,
    size: int | tuple[int, int] | None = None,
    batch_size: int = 16,
) -> Tensor:
    """Baseline saliency maps of frames for their tag class: a CAM method or the centre prior.

    For the CAM methods (see the module text) the pytorch-grad-cam class is applied to the
    trained classifier ``model`` with ``tags`` as the targets (the class logit of each
    frame's tag), ``batch_size`` frames per call. The library returns each map ReLU-ed,
    scaled to ``[0, 1]`` and resized to the frame size; this function then resizes it
    bilinearly (``align_corners=False``) to ``size`` and min-max normalises it with
    :func:`scamlib.functional.minmax`: the resize and normalisation of CAM_S maps
    (:func:`scamlib.functional.cam`, STANet+ Eq. 1), so the maps are comparable with
    CAM_S / SCAM / SCAM+. ``"centre"`` ignores ``model`` and ``tags`` values and returns
    :func:`centre_prior` for every frame.

    Default target layer: the input of the classifier's CAM head, i.e. the output of
    ``model.features(frames)`` (the last feature layer, the branch output ``s`` of Fig. 5-A;
    in the ``"tiny"`` preset ResNet-10-T's ``layer2`` at stride 8, in ``"paper"`` conv5_3 of
    the dilated VGG16). It needs a model with the S-net contract (``features`` and ``head``,
    as :class:`scamlib.models.SNet`); any other model whose forward maps ``(b, 3, H, W)``
    frames to logits (or to ``(logits, ...)``) works with an explicit ``target_layer``, a
    submodule of ``model`` whose output is a ``(b, c, h, w)`` tensor.

    The model runs in eval mode with gradients enabled (also under ``torch.no_grad()``);
    afterwards every module's train/eval mode and every parameter's ``requires_grad`` and
    ``.grad`` are as before, and the library's hooks are removed. Deterministic on CPU;
    the maps come back on the frames' device and dtype.

    Args:
        model: a trained classifier (the coarse S net); ``None`` is allowed for ``"centre"``.
        frames: ``(b, 3, H, W)`` frames as the classifier takes them (ImageNet-normalised).
        tags: ``(b,)`` int64 class indices in ``[0, C)``, the target class of each frame.
        method: one of :data:`BASELINES`.
        target_layer: the layer the CAM method reads (default: see above).
        size: output size ``int`` or ``(h, w)``; ``None`` keeps ``(H, W)``.
        batch_size: frames per library call; for ``"scorecam"`` also the number of masked
            inputs per forward pass.

    Returns:
        ``(b, h, w)`` maps in ``[0, 1]``. A map without range (e.g. all gradients zero, or
        every weighted activation negative) comes out all zeros, never NaN.

    Raises:
        ImportError: a CAM method without pytorch-grad-cam (it says what to install).
        ValueError: an unknown method, wrong shapes, NaN/Inf frames, tags outside ``[0, C)``,
            ``batch_size < 1``, no model, or a ``target_layer`` that is not part of
            ``model`` (or no default target layer for this model).
        TypeError: non-float frames, non-integer tags, or a bad ``size``.

    Example:
        The centre prior needs no network (and no extra); a CAM method is called the same
        way with a trained S net, e.g. ``baseline_maps(net, frames, tags, "gradcam")``:

        >>> frames, tags = torch.rand(2, 3, 32, 32), torch.tensor([1, 3])
        >>> maps = baseline_maps(None, frames, tags, "centre", size=(3, 3))
        >>> maps.shape
        torch.Size([2, 3, 3])
        >>> maps[0, 1]
        tensor([0.2913, 1.0000, 0.2913])
    """
    if method not in BASELINES:
        raise ValueError(f"method must be one of {BASELINES}, got {method!r}")
    check_floating(frames, "frames")
    check_ndim(frames, "frames", 4, "(b, 3, H, W)")
    if frames.shape[1] != 3:
        raise ValueError(f"frames must have 3 colour channels on axis 1, got {tuple(frames.shape)}")
    check_finite(frames, "frames")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    out_size = tuple(frames.shape[-2:]) if size is None else as_size(size)
    b = frames.shape[0]

    if method == "centre":
        check_tags(tags, b, torch.iinfo(torch.int64).max)
        prior = centre_prior(out_size, device=frames.device, dtype=frames.dtype)
        return prior.expand(b, *out_size).clone()

    if model is None:
        raise ValueError(f"method {method!r} needs a classifier, got model=None")
    library, target_class = _grad_cam()
    cam_class = getattr(library, _CLASSES[method])
    if target_layer is None:
        if not (callable(getattr(model, "features", None)) and hasattr(model, "head")):
            raise ValueError(
                f"no default target layer for a {type(model).__name__}: the default (the input "
                "of the CAM head) needs a model with 'features' and 'head' like SNet; pass "
                "target_layer=<a submodule of the model>"
            )
        adapter = _Logits(model, tap=True)
        layer: nn.Module = adapter.tap
    else:
        if not any(m is target_layer for m in model.modules()):
            raise ValueError(
                f"target_layer must be a submodule of the model, got a "
                f"{type(target_layer).__name__} that is not part of {type(model).__name__}"
            )
        adapter = _Logits(model, tap=False)
        layer = target_layer
    frames = frames.detach()
    check_tags(tags, b, _num_classes(model, adapter, frames) if b else 1)
    if b == 0:
        return frames.new_zeros((0, *out_size))

    param = next(model.parameters())  # the library runs the model where its weights are
    chunks = []
    with _restored(model), torch.enable_grad():
        cam = cam_class(model=adapter, target_layers=[layer])
        try:
            if method == "scorecam":
                cam.batch_size = batch_size
            for start in range(0, b, batch_size):
                x = frames[start : start + batch_size].to(param.device, param.dtype)
                targets = [target_class(int(t)) for t in tags[start : start + batch_size]]
                # Score-CAM draws a progress bar on stderr; a library does not print.
                quiet = contextlib.redirect_stderr(io.StringIO())
                with quiet if method == "scorecam" else contextlib.nullcontext():
                    chunks.append(torch.from_numpy(cam(input_tensor=x, targets=targets)))
        finally:
            cam.activations_and_grads.release()
    maps = torch.cat(chunks).to(device=frames.device, dtype=frames.dtype)
    if tuple(maps.shape[-2:]) != out_size:
        maps = F.interpolate(maps[:, None], size=out_size, mode="bilinear", align_corners=False)
        maps = maps[:, 0]
    return minmax(maps)
