"""Atomic file output for the pipeline: every file appears whole or not at all.

Each writer writes to a temporary file in the destination folder and renames it over the
target (``os.replace`` is atomic on POSIX and Windows within one file system), so a run killed
at any moment leaves either the previous file or the new one, never a truncated one; a resumed
run can therefore trust every file it finds.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from scamlib._fs import atomic_path

__all__ = [
    "atomic_path",
    "load_checkpoint",
    "read_json",
    "remove_tree",
    "save_checkpoint",
    "write_json",
    "write_map_png",
    "write_text",
]


def _write_with(target: str | os.PathLike, write: Callable[[Path], None], suffix: str = "") -> Path:
    with atomic_path(target, suffix) as tmp:
        write(tmp)
    return Path(target)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return _write_with(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically (indented, keys in insertion order, NaN written as ``NaN``)."""
    return write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, Tensor) and obj.numel() == 1:
        return obj.item()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def write_map_png(path: str | os.PathLike, saliency: Tensor | np.ndarray) -> Path:
    """Write a ``(h, w)`` map with values in ``[0, 1]`` as an 8-bit grey PNG, atomically.

    Values are clipped to ``[0, 1]`` and rounded to ``0..255`` (the STAViS protocol reads the
    first channel back and divides by 255).
    """
    arr = saliency.detach().float().cpu().numpy() if isinstance(saliency, Tensor) else saliency
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"saliency must have shape (h, w), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"refusing to write a map with NaN/Inf values to {path}")
    img = Image.fromarray(np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8), mode="L")
    return _write_with(path, lambda p: img.save(p, format="PNG"), suffix=".png")


def save_checkpoint(
    path: str | os.PathLike, state: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None
) -> Path:
    """Save a ``state_dict`` as safetensors, atomically (tensors made contiguous, on CPU)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    return _write_with(path, lambda p: save_file(tensors, str(p), metadata=meta))


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Load a safetensors checkpoint: ``(state_dict, metadata)``."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state: dict[str, Tensor] = {}
    with safe_open(str(path), framework="pt", device=str(device)) as f:
        metadata = dict(f.metadata() or {})
        for key in f.keys():
            state[key] = f.get_tensor(key)
    return state, metadata


def remove_tree(path: str | os.PathLike) -> None:
    """Remove a folder so that no half-removed state is ever visible under its name.

    The folder is first renamed to a hidden sibling (atomic), then deleted.
    """
    path = Path(path)
    if not path.exists():
        return
    trash = path.with_name(f".{path.name}.trash-{os.getpid()}")
    if trash.exists():
        shutil.rmtree(trash)
    os.replace(path, trash)
    shutil.rmtree(trash)
