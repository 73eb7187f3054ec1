"""Readers and writers of single files: JPEG/PNG frames, ``.mat`` fixation maps, atomic writes.

Every reader wraps the decoder's own exception into a :class:`~scamlib.data.DataError` that
names the file, so a corrupt file in a ``DataLoader`` worker is reported with its path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as nnf
from PIL import Image
from torch import Tensor

from scamlib._validation import as_size

from ._errors import DataError, missing
from ._matv5 import read_mat_v5_matrix

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "normalize",
    "read_fixation_mat",
    "read_gray",
    "read_gray_levels",
    "read_rgb",
    "resize_frames",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _open_image(path: Path, mode: str) -> np.ndarray:
    if not path.is_file():
        raise missing(path, "image")
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert(mode))
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: not a decodable image ({exc})") from exc


def read_rgb(path: str | os.PathLike) -> Tensor:
    """Read an image file as a ``(3, h, w)`` float tensor in ``[0, 1]`` (raw, un-normalised).

    Raises:
        DataError: the file is missing or cannot be decoded (the message names it).
    """
    arr = _open_image(Path(path), "RGB")
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def _gray_jpeg(path: Path) -> Tensor | None:
    """A one-channel JPEG decoded by ``torchvision.io`` as ``(h, w)`` uint8, else ``None``.

    libjpeg gives the grey levels Pillow gives for such a file (the same library decodes both;
    tests compare them), about twice as fast and without holding the GIL. Any other file, or
    any failure, is left to Pillow, whose result (or error) stays the reference.
    """
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        return None
    try:
        from torchvision.io import decode_jpeg, read_file

        img = decode_jpeg(read_file(str(path)))
    except Exception:  # Pillow decodes it again and reports the error
        return None
    return img[0] if img.ndim == 3 and img.shape[0] == 1 else None


def read_gray(path: str | os.PathLike) -> Tensor:
    """Read an image file as a ``(h, w)`` float tensor in ``[0, 1]`` (e.g. an ``eyeMap`` JPEG).

    Pillow's ``"L"`` conversion of the image, divided by 255. Grey JPEGs (the STAViS eyeMaps)
    are decoded by ``torchvision.io`` (the same values, faster); colour images by Pillow.

    Raises:
        DataError: the file is missing or cannot be decoded.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "g.png"
        >>> Image.fromarray(np.array([[0, 255]], dtype=np.uint8), mode="L").save(path)
        >>> read_gray(path).tolist()
        [[0.0, 1.0]]
    """
    arr = read_gray_levels(path).numpy()
    # float32 division by 255, as ``tensor.float().div_(255.0)`` rounds it (numpy's is faster)
    return torch.from_numpy(np.divide(arr, np.float32(255.0), dtype=np.float32))


def read_gray_levels(path: str | os.PathLike) -> Tensor:
    """The ``(h, w)`` uint8 grey levels :func:`read_gray` divides by 255.

    Raises:
        DataError: the file is missing or cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise missing(path, "image")
    gray = _gray_jpeg(path)
    return torch.from_numpy(np.array(_open_image(path, "L"))) if gray is None else gray


def read_fixation_mat(path: str | os.PathLike, key: str = "eyeMap") -> Tensor:
    """Read a binary fixation map from a MATLAB file as a ``(h, w)`` bool tensor.

    Reads MATLAB v5 files holding ``key`` as a real 2-D numeric array directly (a faster
    parser of that one case, :mod:`scamlib.data._matv5`), any other v5 file with
    :func:`scipy.io.loadmat` and v7.3 (HDF5) files with ``h5py`` (transposed back to
    row-major). Non-zero entries are fixations.

    Raises:
        DataError: missing file, undecodable file, no variable ``key``, or not a 2-D array.
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise missing(path, "fixation map")
    try:
        arr = read_mat_v5_matrix(path, key)
    except OSError as exc:
        raise DataError(f"{path}: not a readable MAT file ({exc})") from exc
    if arr is not None:
        return torch.from_numpy(arr != 0)
    try:
        data = scipy.io.loadmat(path, variable_names=[key])
        arr = data.get(key)
    except NotImplementedError:  # MATLAB v7.3 is HDF5
        import h5py

        try:
            with h5py.File(path, "r") as f:
                arr = np.asarray(f[key]).T if key in f else None
        except OSError as exc:
            raise DataError(f"{path}: not a readable MAT file ({exc})") from exc
    except Exception as exc:  # scipy raises MatReadError, ValueError, OSError, ...
        raise DataError(f"{path}: not a readable MAT file ({exc})") from exc
    if arr is None:
        raise DataError(f"{path}: expected a variable {key!r}, found none")
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise DataError(f"{path}: variable {key!r} must be 2-D, got shape {arr.shape}")
    return torch.from_numpy(arr != 0)


def resize_frames(frames: Tensor, size: int | Sequence[int] | None) -> Tensor:
    """Resize ``(... , 3, h, w)`` frames to ``size`` with antialiased bilinear interpolation.

    ``size`` is an int (square) or ``(H, W)``; ``None`` returns the input unchanged.

    Example:
        >>> resize_frames(torch.zeros(2, 3, 8, 6), (4, 3)).shape
        torch.Size([2, 3, 4, 3])
    """
    if size is None:
        return frames
    h, w = as_size(size, "size")
    if tuple(frames.shape[-2:]) == (h, w):
        return frames
    lead = frames.shape[:-3]
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = nnf.interpolate(flat, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0).reshape(*lead, *out.shape[-3:])


def normalize(frames: Tensor) -> Tensor:
    """ImageNet normalisation of ``(..., 3, h, w)`` frames in ``[0, 1]``.

    Example:
        >>> normalize(torch.full((3, 1, 1), 0.485))[0].abs().item() < 1e-6
        True
    """
    mean = torch.tensor(IMAGENET_MEAN, dtype=frames.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=frames.dtype).view(3, 1, 1)
    return (frames - mean) / std
