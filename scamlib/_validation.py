"""Input checks shared by every public op.

Each check raises a ``ValueError`` or ``TypeError`` that names the argument, what was expected
and what was found, so a user sees the cause at the call site instead of a broadcast error deep
inside an op. These helpers are private; the public ops document which checks they apply.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence

import torch
from torch import Tensor

__all__ = [
    "as_size",
    "check_finite",
    "check_floating",
    "check_known_keys",
    "check_ndim",
    "check_probabilities",
    "check_real",
    "check_required_keys",
    "check_same_shape",
    "check_tags",
    "check_tensor",
]


def check_tensor(x: object, name: str) -> Tensor:
    """Return ``x`` if it is a tensor, else raise ``TypeError`` naming ``name``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_floating(x: Tensor, name: str) -> Tensor:
    """Require a floating-point tensor (maps, confidences and features are never integers)."""
    check_tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_ndim(x: Tensor, name: str, ndims: int | Sequence[int], layout: str) -> Tensor:
    """Require ``x.ndim`` to be one of ``ndims``; ``layout`` describes the expected axes."""
    check_tensor(x, name)
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in allowed:
        raise ValueError(f"{name} must have shape {layout}, got {tuple(x.shape)}")
    return x


def check_finite(x: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN or Inf (nothing propagates NaN silently)."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {bad} NaN/Inf value(s); expected finite values")
    return x


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Require two tensors of identical shape (no silent broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_real(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """Require a finite real number (not bool) in ``[low, high]`` (``(low, high]`` if
    ``low_open``); return it as a float. The message names ``name`` and the value found."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if not (isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex()):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        value = value.item()
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_probabilities(x: Tensor, name: str) -> Tensor:
    """Require values in ``[0, 1]`` (softmax or sigmoid outputs), finite.

    Logits passed where confidences are expected would weight maps by negative or unbounded
    numbers and still give a plausible-looking result; this check turns that into an error.
    """
    check_finite(x, name)
    if x.numel() and (bool((x < 0).any()) or bool((x > 1).any())):
        raise ValueError(
            f"{name} must hold probabilities in [0, 1] (e.g. the softmax of the logits), got "
            f"values in [{float(x.min()):.4g}, {float(x.max()):.4g}]; pass "
            "logits.softmax(-1), not the logits"
        )
    return x


def check_tags(tags: Tensor, batch: int, num_classes: int, name: str = "tags") -> Tensor:
    """Require ``(batch,)`` integer class indices in ``[0, num_classes)``; return them as int64.

    Any integer dtype is accepted (uint8, int8, int16, int32, int64). The returned tensor is
    always int64, so it indexes as class indices: a uint8 or bool tensor used as an index would
    otherwise be read by torch as a mask (silently, when its length equals the indexed axis).
    """
    check_tensor(tags, name)
    if tags.dtype in (torch.bool,) or tags.is_floating_point() or tags.is_complex():
        raise TypeError(
            f"{name} must be an integer tensor of class indices, got dtype {tags.dtype}"
        )
    if tags.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},), got {tuple(tags.shape)}")
    if tags.numel() and (int(tags.min()) < 0 or int(tags.max()) >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, {num_classes}), got values in "
            f"[{int(tags.min())}, {int(tags.max())}]"
        )
    return tags.long()


def as_size(size: int | Sequence[int], name: str = "size") -> tuple[int, int]:
    """Normalise ``int`` or ``(h, w)`` to a tuple of two positive ints."""
    if isinstance(size, int) and not isinstance(size, bool):
        pair = (size, size)
    elif (
        isinstance(size, Sequence)
        and len(size) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) for s in size)
    ):
        pair = (int(size[0]), int(size[1]))
    elif isinstance(size, torch.Size) and len(size) == 2:
        pair = (int(size[0]), int(size[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints (h, w), got {size!r}")
    if pair[0] <= 0 or pair[1] <= 0:
        raise ValueError(f"{name} must be positive, got {pair}")
    return pair


def check_known_keys(given: Iterable[str], known: Iterable[str], what: str) -> None:
    """Refuse names outside ``known`` (settings from a file, a dict or ``**overrides``).

    A misspelt setting is an error, never silently ignored. ``what`` names the kind of
    setting, e.g. ``"DAVE config field(s)"``.

    Raises:
        ValueError: ``unknown <what> [...]; known: [...]`` (both lists sorted).

    Example:
        >>> check_known_keys({"depth": 3}, ("clip_len", "widths"), "DAVE config field(s)")
        Traceback (most recent call last):
        ...
        ValueError: unknown DAVE config field(s) ['depth']; known: ['clip_len', 'widths']
    """
    known = set(known)
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; known: {sorted(known)}")


def check_required_keys(
    found: Collection[str], required: Sequence[str], what: str, noun: str = "keys"
) -> None:
    """Require every name of ``required`` in ``found`` (a mapping read from a file).

    ``what`` says which file and what it should be (``"<path> is not a scamlib run
    configuration"``); the message adds the missing names, in ``required``'s order, and the
    first eight names found.

    Raises:
        ValueError: ``<what>: it lacks required <noun>: [...] missing (found keys [...])``.

    Example:
        >>> check_required_keys({"name": "sta"}, ("name", "size"), "x.st")
        Traceback (most recent call last):
        ...
        ValueError: x.st: it lacks required keys: ['size'] missing (found keys ['name'])
    """
    missing = [k for k in required if k not in found]
    if missing:
        raise ValueError(
            f"{what}: it lacks required {noun}: {missing} missing "
            f"(found keys {sorted(found)[:8]})"
        )
