"""The datasets the stages train and extract on, built from the run's data settings.

Everything here is a thin view over :class:`scamlib.data.AVE` and
:class:`scamlib.data.AVSaliency`: where the data lives (the built-in set generated under the
output folder, or the user's AVE / STAViS roots), the crops of the fine stage, and the
pseudo-ground-truth targets of the student stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from scamlib.data import AVE, AVSaliency, MultiGranularity, available_splits
from scamlib.functional import crop_clip

from .io import read_map
from .runner import Context

__all__ = [
    "CropDataset",
    "TargetDataset",
    "ave_root",
    "avsal_root",
    "grid_size",
    "pseudo_path",
    "read_map_png",
    "test_sets",
    "training_set",
]


def ave_root(ctx: Context) -> Path:
    """The folder holding ``AVE_Dataset`` (the built-in set lives in ``<out>/data``)."""
    data = ctx.cfg.data
    return ctx.path("data") if data.builtin else Path(data.ave_root or "")


def avsal_root(ctx: Context) -> Path | None:
    """The STAViS-layout root, or None when the run has no test sets."""
    data = ctx.cfg.data
    if data.builtin:
        return ctx.path("data", "stavis")
    return Path(data.avsal_root) if data.avsal_root else None


def training_set(ctx: Context, size: int | None, **kwargs) -> AVE:
    """The AVE training split at input ``size`` (``None``: stored frame size), shared per process.

    Decoded frames and audio are cached under ``<out>/cache/ave`` (the user's AVE folder is
    only read).
    """
    key = f"ave:{size}:{sorted(kwargs.items())}"

    def build() -> AVE:
        return AVE(
            ave_root(ctx),
            split="train",
            fps=ctx.cfg.data.fps,
            size=size,
            clip_len=ctx.cfg.clip_frames,
            cache_dir=ctx.path("cache", "ave"),
            **kwargs,
        )

    return ctx.shared(key, build)


def grid_size(frame_size: tuple[int, int], side: int) -> tuple[int, int]:
    """The grid pseudo-maps are computed on: the frame's aspect, longest side at most ``side``.

    Example:
        >>> grid_size((360, 640), 128), grid_size((96, 128), 128)
        ((72, 128), (96, 128))
    """
    h, w = frame_size
    scale = min(1.0, side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def pseudo_path(out: Path, stage: str, row: int, frame_index: int) -> Path:
    """``<out>/pseudo/<stage>/<row>/<frame_index:05d>.png``: where a pseudo-fixation map lives.

    Example:
        >>> pseudo_path(Path("run"), "pgt", 3, 17).as_posix()
        'run/pseudo/pgt/3/00017.png'
    """
    return out / "pseudo" / stage / str(row) / f"{frame_index:05d}.png"


def read_map_png(path: Path, size: tuple[int, int] | None = None) -> Tensor:
    """A map PNG as ``(h, w)`` float32 in ``[0, 1]``, bilinearly resized to ``size`` if given.

    A float32 view of :func:`scamlib._fs.read_map`, the package's one reader of map images.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a truncated or undecodable image (the message names the file).
    """
    return read_map(path, size, dtype=torch.float32)


class CropDataset(Dataset):
    """The fine stage's inputs (Sec. 3.2): every frame of an item's clip cropped by its box.

    Args:
        base: the training set at its stored frame size (``size=None``).
        boxes: ``(n, 4)`` int64 ``(x0, y0, x1, y1)`` per item of ``base``, in its frame grid.
        size: side of the square crops.
    """

    def __init__(self, base: AVE, boxes: Tensor, size: int) -> None:
        if base.size is not None:
            raise ValueError("CropDataset needs the base set at its stored size (size=None)")
        if boxes.shape != (len(base), 4):
            raise ValueError(f"boxes must have shape ({len(base)}, 4), got {tuple(boxes.shape)}")
        self.base, self.boxes, self.size = base, boxes, size

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        item = self.base[index]
        box = self.boxes[index : index + 1]
        item["frames"] = crop_clip(item["frames"][None], box, self.size)[0]
        item["box"] = box[0]
        return item


class TargetDataset(Dataset):
    """Items of ``base`` with a pseudo-ground-truth target read from ``pseudo/<stage>``.

    For a :class:`~scamlib.data.MultiGranularity` base, ``targets`` ``(n + 1, H, W)`` holds the
    target node's map and its MG frames' maps, ``valid`` ``(n + 1,)`` says which exist (the
    loss skips the others, Eq. 20); for a plain base, ``target`` ``(H, W)``.

    Args:
        base: the training set (or its multi-granularity view) at the student's input size.
        out: the run's output folder.
        stage: the pseudo stage whose maps are the targets.
        indices: the items of ``base`` to use (those whose target exists).
    """

    def __init__(self, base: Dataset, out: Path, stage: str, indices: list[int]) -> None:
        self.base, self.out, self.stage, self.indices = base, out, stage, indices
        self.frames: AVE = base.base if isinstance(base, MultiGranularity) else base

    def __len__(self) -> int:
        return len(self.indices)

    def _target(self, index: int, size: tuple[int, int]) -> tuple[Tensor, bool]:
        path = pseudo_path(
            self.out, self.stage, self.frames.row_of(index), self.frames.frame_index(index)
        )
        if not path.is_file():
            return torch.zeros(size), False
        return read_map_png(path, size), True

    def __getitem__(self, i: int) -> dict:
        index = self.indices[i]
        item = self.base[index]
        size = tuple(item["frames"].shape[-2:])
        if "mg_index" not in item:
            item["target"] = self._target(index, size)[0]
            return item
        pairs = [self._target(j, size) for j in [index, *item["mg_index"].tolist()]]
        item["targets"] = torch.stack([p[0] for p in pairs])
        item["valid"] = torch.tensor([p[1] for p in pairs])
        return item


def test_sets(
    root: Path, dataset: str, size: int | None, annotations: bool = True, **kwargs
) -> Mapping[int | None, AVSaliency]:
    """One :class:`~scamlib.data.AVSaliency` test set per fold of ``dataset``."""
    return {
        split: AVSaliency(
            root, dataset, split, "test", size=size, annotations=annotations, **kwargs
        )
        for split in available_splits(root, dataset)
    }
