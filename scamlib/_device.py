"""Device resolution, in one place: what ``device="auto"`` means and which names are valid."""

from __future__ import annotations

import torch

__all__ = ["available_devices", "resolve_device"]


def available_devices() -> list[str]:
    """The device names this machine can run on: ``"cpu"``, then ``"cuda:<k>"`` and ``"mps"``.

    Example:
        >>> available_devices()[0]
        'cpu'
    """
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` to run on.

    ``"auto"`` (or ``None``) is CUDA when available, else the CPU. Any other name must be a
    device this machine has: ``"cuda"`` without CUDA, ``"cuda:3"`` on a one-GPU machine or a
    misspelt name raise instead of silently falling back to another device.

    Args:
        device: ``"auto"``, ``None``, a device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
            ``"mps"``) or a ``torch.device``.

    Returns:
        The device.

    Raises:
        ValueError: a name torch does not parse, or a device that is not available here (the
            message names it and lists the available ones).

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("gpu0")
        Traceback (most recent call last):
        ...
        ValueError: device 'gpu0' is not a device name (available here: cpu...)
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    available = available_devices()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device {device!r} is not a device name (available here: {', '.join(available)}, "
            "or 'auto')"
        ) from None
    if dev.type == "cpu":
        return dev
    ok = False
    if dev.type == "cuda" and torch.cuda.is_available():
        ok = dev.index is None or dev.index < torch.cuda.device_count()
    elif dev.type == "mps":
        ok = "mps" in available
    if not ok:
        raise ValueError(
            f"device {str(device)!r} is not available on this machine (available here: "
            f"{', '.join(available)}, or 'auto')"
        )
    return dev
