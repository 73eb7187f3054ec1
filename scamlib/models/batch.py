"""One way to call any network of the method on a batch dict: :func:`run_batch`.

The data layer gives every network the same batch keys (see
:class:`~scamlib.data.MultiGranularity`): ``frames (b, t, 3, H, W)`` clips (or ``(b, 3, H, W)``
single frames), ``audio``, and for the multi-granularity nets ``mg_frames (b, n, t, 3, H, W)``
and ``mg_audio (b, n, ...)``. Which of them a network takes, and whether it sees the centre
frame or the whole clip, is decided here once, by the network's class, through an adapter per
network kind; no caller dispatches on name strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..nn import AudioSwitch
from .classifiers import SANet, SAPlusNet, SNet, SPlusNet, STNet, STPlusNet
from .saliency import STANet, STAPlusNet

__all__ = ["register_batch_adapter", "run_batch", "unwrap"]

Adapter = Callable[[nn.Module, Mapping[str, Any], "nn.Module | None"], Any]
_ADAPTERS: dict[type, Adapter] = {}


def unwrap(model: nn.Module) -> nn.Module:
    """``model`` without DistributedDataParallel / DataParallel and ``torch.compile`` wrappers.

    Example:
        >>> net = nn.Linear(2, 2)
        >>> unwrap(nn.DataParallel(net)) is net
        True
    """
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def register_batch_adapter(cls: type, adapter: Adapter) -> None:
    """Make :func:`run_batch` call networks of class ``cls`` with ``adapter(model, batch,
    switch)``; ``model`` may be wrapped (DDP, ``torch.compile``): call it, not its
    ``.module``, so the wrapper's hooks run.

    Example:
        >>> class Echo(nn.Module):
        ...     def forward(self, frames):
        ...         return frames
        >>> register_batch_adapter(Echo, lambda m, batch, switch: m(batch["frames"]))
        >>> run_batch(Echo(), {"frames": torch.ones(1)})
        tensor([1.])
    """
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise TypeError(f"cls must be an nn.Module subclass, got {cls!r}")
    _ADAPTERS[cls] = adapter


def _frames(batch: Mapping[str, Any]) -> Tensor:
    if "frames" not in batch:
        raise KeyError(f"the batch has no 'frames' (keys: {sorted(batch)})")
    return batch["frames"]


def _centre(x: Tensor) -> Tensor:
    """The centre frame of ``(b, t, 3, H, W)`` clips; ``(b, 3, H, W)`` frames as they are."""
    return x[:, x.shape[1] // 2] if x.ndim == 5 else x


def _key(batch: Mapping[str, Any], key: str, model: nn.Module) -> Tensor:
    if key not in batch:
        raise KeyError(
            f"a {type(unwrap(model)).__name__} needs batch[{key!r}]; the batch has {sorted(batch)}"
        )
    return batch[key]


@torch.no_grad()
def _gate(switch: nn.Module, frames: Tensor, audio: Tensor) -> Tensor:
    return switch(frames, audio).gate


def _mg_gates(switch: nn.Module, mg_frames: Tensor, mg_audio: Tensor) -> Tensor:
    """``(b, n)`` gates of the MG inputs (their centre frames and audio)."""
    b, n = mg_frames.shape[:2]
    flat = _centre(mg_frames.flatten(0, 1))
    return _gate(switch, flat, mg_audio.flatten(0, 1)).view(b, n)


def _s(model, batch, switch):
    return model(_centre(_frames(batch)))


def _st(model, batch, switch):
    return model(_frames(batch))


def _sa(model, batch, switch):
    frames, audio = _centre(_frames(batch)), _key(batch, "audio", model)
    gate = None if switch is None else _gate(switch, frames, audio)
    return model(frames, audio, gate)


def _s_plus(model, batch, switch):
    mg = _key(batch, "mg_frames", model)
    return model(_centre(_frames(batch)), mg[:, :, mg.shape[2] // 2] if mg.ndim == 6 else mg)


def _st_plus(model, batch, switch):
    return model(_frames(batch), _key(batch, "mg_frames", model))


def _sa_plus(model, batch, switch):
    frames, audio = _centre(_frames(batch)), _key(batch, "audio", model)
    mg_frames, mg_audio = _key(batch, "mg_frames", model), _key(batch, "mg_audio", model)
    if mg_frames.ndim == 6:
        mg_frames = mg_frames[:, :, mg_frames.shape[2] // 2]
    gate = mg_gate = None
    if switch is not None:
        gate = _gate(switch, frames, audio)
        mg_gate = _mg_gates(switch, mg_frames, mg_audio)
    return model(frames, audio, mg_frames, mg_audio, gate, mg_gate)


def _sta(model, batch, switch):
    clip, audio = _frames(batch), _key(batch, "audio", model)
    gate = None if switch is None else _gate(switch, _centre(clip), audio)
    return model(clip, audio, gate)


def _sta_plus(model, batch, switch):
    clip, audio = _frames(batch), _key(batch, "audio", model)
    mg_clips, mg_audio = _key(batch, "mg_frames", model), _key(batch, "mg_audio", model)
    if switch is None:
        return model(clip, audio, mg_clips, mg_audio)
    gate = _gate(switch, _centre(clip), audio)
    return model(clip, audio, mg_clips, mg_audio, gate, _mg_gates(switch, mg_clips, mg_audio))


def _audio_switch(model, batch, switch):
    return model(_centre(_frames(batch)), _key(batch, "audio", model))


for _cls, _fn in (
    (SNet, _s),
    (STNet, _st),
    (SANet, _sa),
    (SPlusNet, _s_plus),
    (STPlusNet, _st_plus),
    (SAPlusNet, _sa_plus),
    (STANet, _sta),
    (STAPlusNet, _sta_plus),
    (AudioSwitch, _audio_switch),
):
    register_batch_adapter(_cls, _fn)


def run_batch(model: nn.Module, batch: Mapping[str, Any], switch: nn.Module | None = None) -> Any:
    """Call ``model`` on a batch dict with the inputs its kind takes, and return its output.

    ===========================  =============================================================
    network                      called as
    ===========================  =============================================================
    S, SA, audio switch          centre frame of ``frames`` (+ ``audio``)
    ST, STA                      the whole ``frames`` clip (+ ``audio``)
    S+, SA+                      centre frames of ``frames`` and ``mg_frames`` (+ audio)
    ST+, STA+                    the clips ``frames`` and ``mg_frames`` (+ audio)
    ===========================  =============================================================

    Args:
        model: a network built by :func:`~scamlib.models.create` (or a DDP / DataParallel /
            ``torch.compile`` wrapper of one, which is called as is).
        batch: ``frames (b, t, 3, H, W)`` (or ``(b, 3, H, W)``), ``audio (b, ...)``,
            ``mg_frames (b, n, t, 3, H, W)``, ``mg_audio (b, n, ...)`` as the network needs.
        switch: an :class:`~scamlib.nn.AudioSwitch` whose gates ``g`` (Sec. 3.3, ``phi(a) =
            g a``) the SA / SA+ / STA / STA+ nets use, computed without gradient for the target
            and every MG input; ignored by nets without audio. ``None``: the network's own
            attached switch (``switch=True`` in its config) or no gate.

    Returns:
        The network's output: ``(logits, class_maps)`` for the classification nets, ``(b, H,
        W)`` maps for STA, ``(b, n + 1, H, W)`` for STA+, a ``SwitchOutput`` for the switch.

    Raises:
        TypeError: a network kind without an adapter (see :func:`register_batch_adapter`).
        KeyError: a batch without a key the network needs (the message lists the keys).

    Example:
        >>> from scamlib.models import create
        >>> net = create("s", num_classes=3)
        >>> logits, maps = run_batch(net, {"frames": torch.rand(2, 3, 3, 64, 64)})
        >>> logits.shape, maps.shape
        (torch.Size([2, 3]), torch.Size([2, 3, 8, 8]))
    """
    inner = unwrap(model)
    for cls in type(inner).__mro__:
        adapter = _ADAPTERS.get(cls)
        if adapter is not None:
            return adapter(model, batch, switch)
    raise TypeError(
        f"run_batch does not know how to call a {type(inner).__name__}; register an adapter "
        "with scamlib.models.register_batch_adapter"
    )
