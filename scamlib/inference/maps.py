"""Writing predicted fixation maps as the 8-bit PNGs the evaluation reads."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from torch import Tensor

from .._fs import write_map_png

__all__ = ["write_maps"]


def write_maps(
    maps: Mapping[str, Tensor],
    root: str | os.PathLike,
    frame_indices: Sequence[int],
    *,
    subdir: str | None = None,
) -> dict[str, Path]:
    """Write ``{variant: (N, h, w)}`` maps as 8-bit PNGs, ``img_<frame_index:05d>.png``.

    Files go to ``<root>/<variant>/<subdir>/`` (or ``<root>/<variant>/`` without ``subdir``),
    each written atomically by :func:`scamlib._fs.write_map_png` (values clipped to
    ``[0, 1]`` and scaled to ``0..255``).

    Returns:
        ``{variant: folder written}``.

    Raises:
        ValueError: a map count that differs from ``len(frame_indices)``.

    Example:
        >>> import tempfile, torch
        >>> out = write_maps({"sta": torch.rand(2, 4, 4)}, tempfile.mkdtemp(), [1, 2])
        >>> sorted(p.name for p in out["sta"].iterdir())
        ['img_00001.png', 'img_00002.png']
    """
    folders = {}
    for variant, stack in maps.items():
        if len(stack) != len(frame_indices):
            raise ValueError(
                f"maps[{variant!r}] holds {len(stack)} maps for {len(frame_indices)} frame indices"
            )
        folder = Path(root) / variant
        if subdir:
            folder = folder / subdir
        for k, m in zip(frame_indices, stack):
            write_map_png(folder / f"img_{int(k):05d}.png", m)
        folders[variant] = folder
    return folders
