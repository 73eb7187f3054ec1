"""The fully supervised networks in the student checkpoint format: DAVE and STAViS.

DAVE (Tavakoli et al., Sec. IV) and STAViS (Tsiami et al., Sec. 3) keep their architecture in
their own config (``net.arch``: :class:`~scamlib.models.dave.DAVEConfig`,
:class:`~scamlib.models.stavis.STAViSConfig`), which also says what each takes as input: the
clip length, the frame size, and the audio front end (a log-mel spectrogram for DAVE, the raw
waveform for STAViS). :func:`full_settings` reads those settings from the network, so a
checkpoint written by :func:`scamlib.models.save_student` records them and
:class:`~scamlib.inference.Predictor` feeds each network what it was built for;
:func:`build_full` rebuilds the network from the recorded config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from torch import nn

from . import dave as _dave
from . import stavis as _stavis
from .factory import PRESETS, ModelConfig

__all__ = ["FULL_NETWORKS", "build_full", "full_settings"]

#: The fully supervised networks that save as student checkpoints: ``create`` name -> class.
FULL_NETWORKS: dict[str, type[nn.Module]] = {"dave": _dave.DAVE, "stavis": _stavis.STAViS}

_MODULES = {"dave": (_dave, _dave.DAVEConfig), "stavis": (_stavis, _stavis.STAViSConfig)}


def _check_name(name: str) -> None:
    if name not in FULL_NETWORKS:
        raise ValueError(f"name must be one of {tuple(FULL_NETWORKS)}, got {name!r}")


def full_settings(model: nn.Module, name: str, num_classes: int = 28) -> dict[str, Any]:
    """What a checkpoint of a DAVE / STAViS network records, read from its own config.

    Args:
        model: a :class:`~scamlib.models.dave.DAVE` or :class:`~scamlib.models.stavis.STAViS`.
        name: ``"dave"`` or ``"stavis"``.
        num_classes: ``C`` of the run, recorded in the :class:`~scamlib.models.ModelConfig`
            when the network carries none (one :func:`~scamlib.models.create` stamped).

    Returns:
        :class:`~scamlib.models.StudentInfo` fields: ``preset``, ``num_classes``,
        ``image_size`` (the frame
        height), ``clip_len``, ``audio_seconds``, ``sample_rate``, ``spectrogram`` (the audio
        front end: ``"mel"`` or ``"waveform"``), ``arch`` (the config's fields, without the
        pretrained-weight files: the state dict holds those weights) and ``config``.

    Raises:
        ValueError: an unknown ``name``, or a ``model`` that is not that network.

    Example:
        >>> from scamlib.models import create
        >>> s = full_settings(create("stavis"), "stavis")
        >>> s["clip_len"], s["spectrogram"], s["arch"]["input_size"]
        (8, 'waveform', [64, 64])
    """
    _check_name(name)
    if not isinstance(model, FULL_NETWORKS[name]):
        raise ValueError(
            f"name={name!r} expects a {FULL_NETWORKS[name].__name__}, got {type(model).__name__}"
        )
    arch = replace(model.arch, video_weights=None, audio_weights=None)
    config = getattr(model, "config", None)
    if isinstance(config, ModelConfig):
        preset, num_classes = config.preset, config.num_classes
    else:
        preset = "tiny"
    return {
        "preset": preset,
        "num_classes": num_classes,
        "image_size": int(arch.input_size[0]),
        "clip_len": int(arch.clip_len),
        "audio_seconds": float(arch.audio_seconds),
        "sample_rate": int(arch.sample_rate),
        "spectrogram": arch.audio,
        "arch": json.loads(arch.to_json()),
        "config": ModelConfig(name, preset if preset in PRESETS else "tiny", num_classes),
    }


def build_full(name: str, preset: str, num_classes: int, arch: Mapping[str, Any]) -> nn.Module:
    """A freshly initialised DAVE / STAViS network from recorded config fields ``arch``.

    The network carries ``net.arch`` (its own config) and ``net.config`` (the
    :class:`~scamlib.models.ModelConfig` :func:`~scamlib.models.create` stamps).

    Raises:
        ValueError: an unknown ``name`` or config field.

    Example:
        >>> net = build_full("dave", "tiny", 28, {"clip_len": 4})
        >>> net.arch.clip_len, net.config.name
        (4, 'dave')
    """
    _check_name(name)
    module, cls = _MODULES[name]
    base = module.PRESETS.get(preset, module.PRESETS["tiny"])
    fields = {**json.loads(base.to_json()), **dict(arch)}
    net = module.build_from_model_config(SimpleNamespace(preset=preset, arch=cls.from_dict(fields)))
    net.config = ModelConfig(name, preset if preset in PRESETS else "tiny", num_classes)
    return net
