"""Files on disk, in one place: atomic writes, JSON, checkpoints, and saliency-map images.

Every writer works on a temporary name beside its target and renames it over the target
(``os.replace`` / ``os.rename`` are atomic within one file system), so a process killed at any
moment leaves the previous state or the new one, never a truncated file or a half-filled folder;
whoever resumes can trust every file it finds. Files are created with the permissions an
ordinary ``open`` would give them (``0666`` less the umask), not the ``0600`` of a temp file.

:func:`read_map` is the one reader of saliency-map images (predictions, pseudo-fixations)
and :func:`write_map_png` the one writer; the metrics protocol, the pipeline and the
``scamlib`` command all go through them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "atomic_dir",
    "atomic_path",
    "load_checkpoint",
    "read_json",
    "read_map",
    "remove_tree",
    "save_checkpoint",
    "write_json",
    "write_map_png",
    "write_text",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path beside ``target``; rename it onto ``target`` on success.

    On an exception the temporary file is removed and ``target`` is left untouched. The
    temporary name ends in ``.tmp`` + ``suffix``, so writers that infer the format from the
    extension (``suffix=".wav"``) still can.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; rename it onto ``path`` if the block succeeds.

    If another process finished ``path`` first, the temporary copy is discarded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        try:
            os.rename(tmp, path)
        except OSError:
            if not path.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
    """Read a JSON file; an unreadable or invalid file raises an error that names it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{os.fspath(path)}: not valid JSON ({exc})") from exc


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
    """Load a safetensors checkpoint: ``(state_dict, metadata)``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable safetensors file (the message names it).
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state: dict[str, Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            metadata = dict(f.metadata() or {})
            for key in f.keys():
                state[key] = f.get_tensor(key)
    except (SafetensorError, OSError) as exc:
        raise ValueError(
            f"{path}: not a readable safetensors checkpoint: expected an 8-byte header length, "
            f"a JSON header and the tensors; found {_describe_bytes(path)} ({exc})"
        ) from exc
    return state, metadata


def _describe_bytes(path: Path) -> str:
    """A few words on what a file that should be binary holds (for error messages)."""
    size = path.stat().st_size
    if size == 0:
        return "an empty file (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(64)
    if head.lstrip()[:1] in (b"{", b"["):
        return f"a text file of {size} bytes that starts like JSON"
    return f"{size} bytes"


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


def write_map_png(path: str | os.PathLike, saliency: Tensor | np.ndarray) -> Path:
    """Write a ``(h, w)`` map with values in ``[0, 1]`` as an 8-bit grey PNG, atomically.

    Values are clipped to ``[0, 1]`` and rounded to ``0..255`` (the STAViS protocol reads the
    first channel back and divides by 255). Rows are stored with the PNG "Up" filter (each row
    as its difference from the row above; see :func:`encode_gray8_png`).

    Raises:
        ValueError: a map that is not 2-D or holds NaN/Inf (the message names the target file).
    """
    arr = saliency.detach().float().cpu().numpy() if isinstance(saliency, Tensor) else saliency
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"saliency must have shape (h, w), got {arr.shape} (for {path})")
    if not np.isfinite(arr).all():
        raise ValueError(f"refusing to write a map with NaN/Inf values to {path}")
    data = encode_gray8_png(np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8))
    return _write_with(path, lambda p: p.write_bytes(data), suffix=".png")


def encode_gray8_png(levels: np.ndarray, level: int = 6) -> bytes:
    """An ``(h, w)`` uint8 array as the bytes of an 8-bit greyscale PNG.

    Every row is stored with the "Up" filter of the PNG specification (filter type 2: each byte
    minus the byte above it, modulo 256; the first row has no row above and is stored as it
    is), then deflated at zlib ``level``. A smooth saliency map changes little from one row to
    the next, so the file is smaller than with Pillow's per-row choice of filters, and a decoder
    reverses this filter at memory speed where Pillow's choice of "Paeth" costs a
    data-dependent pass per pixel (``torchvision.io.decode_png`` reads a smooth 224 x 384 map
    about 1.7x faster; ``benchmarks/bench_metrics.py``).

    Example:
        >>> import io
        >>> from PIL import Image
        >>> levels = np.array([[0, 7, 255], [3, 3, 200]], dtype=np.uint8)
        >>> np.asarray(Image.open(io.BytesIO(encode_gray8_png(levels)))).tolist()
        [[0, 7, 255], [3, 3, 200]]
    """
    import struct
    import zlib

    levels = np.ascontiguousarray(levels, dtype=np.uint8)
    if levels.ndim != 2 or 0 in levels.shape:
        raise ValueError(f"levels must be a non-empty (h, w) array, got shape {levels.shape}")
    h, w = levels.shape
    rows = np.empty((h, w + 1), dtype=np.uint8)
    rows[:, 0] = 2
    rows[0, 0] = 0
    rows[:, 1:] = levels
    np.subtract(levels[1:], levels[:-1], out=rows[1:, 1:])  # wraps modulo 256

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
            chunk(b"IEND", b""),
        )
    )


def _map_array(img: Any) -> np.ndarray:
    """The map an opened PIL image shows, as float64 in ``[0, 1]`` (first channel)."""
    mode = img.mode
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA" if "transparency" in img.info or mode == "PA" else "RGB")
        mode = img.mode
    if mode == "1":
        return np.asarray(img, dtype=np.float64)
    if mode.startswith("I;16"):
        return np.asarray(img, dtype=np.float64) / 65535.0
    if mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        # PNG stores 16-bit grey; Pillow may open it as 32-bit "I"
        return arr / (65535.0 if arr.max(initial=0) <= 65535 else float(np.iinfo(np.int32).max))
    if mode == "F":
        return np.asarray(img, dtype=np.float64)
    arr = np.asarray(img)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.dtype == np.uint16:
        return arr.astype(np.float64) / 65535.0
    return arr.astype(np.float64) / 255.0


def read_map(
    path: str | os.PathLike,
    size: tuple[int, int] | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Read a saliency-map image as the ``(h, w)`` map it shows, with values in ``[0, 1]``.

    The one reader of prediction and pseudo-fixation images. Multi-channel images (RGB, RGBA,
    grey + alpha) give their first channel, as the STAViS evaluation scripts read them; 8-bit
    values are divided by 255, 16-bit by 65535; 1-bit images give 0 / 1; palette images are
    looked up in their palette first (so a grey palette gives the grey it shows, not its
    indices).

    Args:
        path: the image file (PNG, JPEG or anything Pillow decodes).
        size: ``(h, w)`` to resize to, bilinearly, or ``None`` to keep the file's size.
        dtype: floating dtype of the result.

    Returns:
        ``(h, w)`` map with values in ``[0, 1]``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file cannot be decoded (truncated or not an image); the message names
            the file.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.png"
        >>> p = write_map_png(path, torch.tensor([[0.0, 1.0]]))
        >>> read_map(p).tolist()
        [[0.0, 1.0]]
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"map image not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            arr = _map_array(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: not a decodable map image ({exc})") from exc
    out = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
    if size is not None and tuple(out.shape) != tuple(size):
        out = torch.nn.functional.interpolate(
            out[None, None], size=tuple(size), mode="bilinear", align_corners=False
        )[0, 0]
    return out
