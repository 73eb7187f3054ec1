"""Multi-granularity sampling for SCAM+ and STA+ (STANet+ Sec. 4, Eq. 8).

For a target frame ``t`` of a video ``V`` with tag ``c``:

- short-term: frames of ``V`` with ``0 < |k - t| <= 4`` (the 8 frames around ``t``);
- long-term: frames of ``V`` with ``|k - t| > 4``;
- cross-term: frames of other videos whose tag is ``c``.

``n`` frames are drawn from the candidate set without replacement (with replacement when it
holds fewer than ``n``). "Same video" is the sampling group of the base dataset: a video of
a STAViS-layout set, an event row of AVE (so every MG frame carries the tag).

Fallbacks (flagged by ``mg_fallback=True`` in the item, never silent): long-term with no
frame outside ``t±4`` uses the short-term window; cross-term with no other video of the tag
uses long-term (then short-term); a group of a single frame uses the target itself.

Randomness: item ``i`` in epoch ``e`` uses a generator seeded from ``(seed, e, i)``, so
results do not depend on worker count or iteration order; call :meth:`set_epoch` per epoch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ._base import FrameDataset

__all__ = ["SHORT_RADIUS", "MultiGranularity", "mg_candidates", "sample_mg"]

SHORT_RADIUS = 4
_KINDS = ("short", "long", "cross")
_NETS = ("s", "st", "sa", "sta")


def mg_candidates(base: FrameDataset, index: int, kind: str) -> tuple[list[int], bool]:
    """Candidate item indices of ``kind`` for target item ``index``, and a fallback flag.

    Example:
        >>> from scamlib.data.sampling import SHORT_RADIUS
        >>> SHORT_RADIUS
        4
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    group = base.group_of(index)
    members = base.groups()[group]
    t = base.frame_index(index)

    def window(near: bool) -> list[int]:
        out = []
        for j in members:
            d = abs(base.frame_index(j) - t)
            if j != index and ((0 < d <= SHORT_RADIUS) if near else d > SHORT_RADIUS):
                out.append(j)
        return out

    if kind == "short":
        cands = window(True)
        return (cands, False) if cands else ([index], True)
    if kind == "long":
        cands = window(False)
        if cands:
            return cands, False
        cands = window(True)
        return (cands or [index]), True
    tag = base.tag_of(index)
    if tag is None:
        raise ValueError("cross-term sampling needs tags; this dataset has none (use AVE)")
    video = base.video_of(index)
    cands = [
        members_j
        for g, idx in base.groups().items()
        if g != group and base.video_of(idx[0]) != video and base.tag_of(idx[0]) == tag
        for members_j in idx
    ]
    if cands:
        return cands, False
    return mg_candidates(base, index, "long")[0], True


def sample_mg(
    base: FrameDataset, index: int, kind: str, n: int, generator: torch.Generator
) -> tuple[list[int], bool]:
    """Draw ``n`` multi-granularity item indices for target ``index`` (see module docstring).

    Returns:
        ``(indices, fallback)``: ``n`` item indices of ``base`` and whether a fallback applied.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    cands, fallback = mg_candidates(base, index, kind)
    if len(cands) >= n:
        pick = torch.randperm(len(cands), generator=generator)[:n]
    else:
        pick = torch.randint(len(cands), (n,), generator=generator)
    return [cands[int(p)] for p in pick], fallback


class MultiGranularity(Dataset):
    """Wrap a frame dataset so each item also carries its multi-granularity inputs (STANet+
    Sec. 4).

    Items are the base item plus:

    - ``mg_frames``: ``s``/``sa``: ``(n, 3, H, W)`` single frames; ``st``/``sta``:
      ``(n, 3, 3, H, W)`` three-frame clips centred on each drawn frame;
    - ``mg_audio``: ``sa``/``sta`` only, ``(n, 1, f, s)`` the 1 s window of each drawn frame;
    - ``mg_index`` ``(n,)`` item indices in ``base``; ``mg_frame_index`` ``(n,)`` their 1-based
      frame numbers; ``mg_fallback`` (bool).

    The paper's combinations are {S+, ST+} × {short, long, cross} and SA+ × {long, cross};
    STA+ uses ``net="sta"`` with ``short`` or ``long``. SA+ with ``short`` is refused.

    Args:
        base: an :class:`~scamlib.data.AVE` or :class:`~scamlib.data.AVSaliency`.
        kind: ``"short"``, ``"long"`` or ``"cross"``.
        net: ``"s"``, ``"st"``, ``"sa"`` or ``"sta"``.
        n: MG nodes per target (2 in the paper).
        seed: base seed; the draw for item ``i`` depends only on ``(seed, epoch, i)``.

    Example:
        >>> from scamlib.data.synthetic import SyntheticConfig, generate
        >>> from scamlib.data import AVE
        >>> import tempfile
        >>> p = generate(tempfile.mkdtemp(), SyntheticConfig(num_train=4, num_test_videos=1))
        >>> mg = MultiGranularity(AVE(p.root, fps=8, size=32), kind="long", net="st", n=2)
        >>> mg[0]["mg_frames"].shape
        torch.Size([2, 3, 3, 32, 32])
    """

    def __init__(
        self, base: FrameDataset, kind: str = "short", net: str = "s", n: int = 2, seed: int = 0
    ) -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        if net not in _NETS:
            raise ValueError(f"net must be one of {_NETS}, got {net!r}")
        if net == "sa" and kind == "short":
            raise ValueError(
                "SA+ has no short-term input (STANet+ Sec. 4); use kind='long' or 'cross'"
            )
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        self.base, self.kind, self.net, self.n, self.seed = base, kind, net, n, int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws ``__getitem__`` returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def generator(self, index: int) -> torch.Generator:
        """The generator of item ``index`` in the current epoch."""
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2)
        seed = (int(state[0]) << 32 | int(state[1])) & ((1 << 63) - 1)
        return torch.Generator().manual_seed(seed)

    def draw(self, index: int) -> tuple[list[int], bool]:
        """Item indices drawn for target ``index`` in the current epoch, and the fallback flag."""
        return sample_mg(self.base, index, self.kind, self.n, self.generator(index))

    def __getitem__(self, index: int) -> dict:
        item = self.base[index]
        picks, fallback = self.draw(index)
        clip_len = 3 if self.net in ("st", "sta") else 1
        frames = torch.stack([self.base.clip(j, length=clip_len) for j in picks])
        item["mg_frames"] = frames if clip_len == 3 else frames[:, 0]
        if self.net in ("sa", "sta"):
            item["mg_audio"] = torch.stack([self.base.audio(j, seconds=1.0) for j in picks])
        item["mg_index"] = torch.tensor(picks)
        item["mg_frame_index"] = torch.tensor([self.base.frame_index(j) for j in picks])
        item["mg_fallback"] = fallback
        return item

    def extra_repr(self) -> str:  # pragma: no cover - cosmetic
        return f"kind={self.kind}, net={self.net}, n={self.n}, seed={self.seed}"
