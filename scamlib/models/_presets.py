"""Presets and configs of the fully supervised baselines (DAVE, STAViS), in one place.

Both baselines describe their network with a frozen config dataclass and offer named presets
(``"paper"``: the paper's network; ``"tiny"``: a CPU-sized one). The config's JSON round trip,
building a network from a preset and field overrides, and the builder behind
:func:`scamlib.models.create` are the same idea for both, so they live here once; each model
module passes its own network class, config class and presets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields, replace
from typing import Any, TypeVar

from torch import nn

from .._validation import check_known_keys

__all__ = ["ConfigJSON", "build_from_model_config", "build_preset", "dataclass_from_dict"]

T = TypeVar("T")
N = TypeVar("N", bound=nn.Module)


def dataclass_from_dict(cls: type[T], data: Mapping[str, Any], what: str | None = None) -> T:
    """Rebuild the dataclass ``cls`` from a dict of its fields (JSON lists become tuples).

    Args:
        cls: a dataclass whose sequence fields are tuples.
        data: field name -> value, e.g. ``dataclasses.asdict`` or parsed JSON.
        what: how the error calls the fields (default ``"<cls name> field(s)"``).

    Raises:
        ValueError: a key that is not a field of ``cls`` (the message lists the known ones).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Size:
        ...     hw: tuple[int, ...] = (1, 1)
        >>> dataclass_from_dict(Size, {"hw": [2, 3]})
        Size(hw=(2, 3))
    """
    check_known_keys(data, (f.name for f in fields(cls)), what or f"{cls.__name__} field(s)")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class ConfigJSON:
    """Mixin of the baselines' frozen config dataclasses: a JSON round trip.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Cfg(ConfigJSON):
        ...     widths: tuple[int, ...] = (8, 16)
        >>> Cfg.from_dict(json.loads(Cfg().to_json())) == Cfg()
        True
    """

    def to_json(self) -> str:
        """The config as a JSON string (tuples become lists, keys sorted)."""
        return json.dumps(asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        """Inverse of ``dataclasses.asdict`` / :meth:`to_json` (lists become tuples).

        Raises:
            ValueError: an unknown field (the message lists the known ones).
        """
        return dataclass_from_dict(cls, data)


def build_preset(
    network: Callable[[Any], N],
    presets: Mapping[str, Any],
    label: str,
    preset: str,
    overrides: Mapping[str, Any],
) -> N:
    """``network(replace(presets[preset], **overrides))`` with its config at ``net.config``.

    Args:
        network: the network class, called with the config.
        presets: name -> config.
        label: the network's name in messages (``"DAVE"``).
        preset: a key of ``presets``.
        overrides: config fields to change (lists become tuples).

    Raises:
        ValueError: an unknown preset or field (the message lists the known ones).

    Example:
        >>> from scamlib.models.dave import DAVE, PRESETS
        >>> build_preset(DAVE, PRESETS, "DAVE", "tiny", {"clip_len": 4}).config.clip_len
        4
    """
    if preset not in presets:
        raise ValueError(f"{label} preset must be one of {tuple(presets)}, got {preset!r}")
    base = presets[preset]
    check_known_keys(overrides, (f.name for f in fields(base)), f"{label} config field(s)")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    net = network(replace(base, **overrides))
    net.config = net.arch
    return net


def build_from_model_config(
    network: Callable[[Any], N],
    presets: Mapping[str, Any],
    label: str,
    config: Any,
    pretrained: bool | str | os.PathLike = False,
) -> N:
    """Build a baseline for :func:`scamlib.models.create` from a model config.

    Uses ``config.arch`` when it is a config of the preset's type, else the preset named
    ``config.preset``. ``pretrained``: ``False`` (scratch), or the local path of a
    Kinetics-400 checkpoint for the video stream (``video_weights``); ``True`` raises, since
    nothing is looked up or downloaded.

    Raises:
        ValueError: ``pretrained=True`` or an unknown preset.

    Example:
        >>> from types import SimpleNamespace
        >>> from scamlib.models.dave import DAVE, PRESETS
        >>> cfg = SimpleNamespace(preset="tiny", arch=None)
        >>> build_from_model_config(DAVE, PRESETS, "DAVE", cfg).arch.clip_len
        8
    """
    arch = getattr(config, "arch", None)
    config_type = type(next(iter(presets.values())))
    if isinstance(arch, config_type):
        cfg = arch
    elif config.preset in presets:
        cfg = presets[config.preset]
    else:
        raise ValueError(f"{label} preset must be one of {tuple(presets)}, got {config.preset!r}")
    if pretrained is True:
        raise ValueError(
            f"{label}: pretrained=True looks nothing up; pass the local path of a Kinetics-400 "
            "checkpoint for the video stream (pretrained=<path>), or False"
        )
    if pretrained:
        cfg = replace(cfg, video_weights=str(pretrained))
    return network(cfg)
