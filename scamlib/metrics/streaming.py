"""A streaming accumulator of the STAViS protocol: :class:`SaliencyMetrics`.

Feed it batches of raw predictions with their ground truth (``update``), read per-frame,
per-video and dataset tables (``compute``), start again (``reset``), in the manner of a
torchmetrics ``Metric``. Every batch is post-processed and resized as the STAViS evaluation
code does (:func:`scamlib.metrics.protocol.postprocess`) and scored by the chunked engine;
:func:`scamlib.metrics.protocol.evaluate` is a loop over it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_floating, check_ndim, check_tensor
from . import _judd, _sampled, distribution  # noqa: F401  (registers the metrics)
from . import _registry as registry
from ._common import Positions, Rows, Workspace, as_array
from ._engine import ChunkPool, Scorer, chunk_rows
from ._matlab import _postprocess, check_sigma
from ._results import EvaluationResult, _tables
from ._roc import check_splits

__all__ = ["DEFAULT_METRICS", "Frame", "SaliencyMetrics"]

#: The five metrics the papers report, in their column order.
DEFAULT_METRICS: tuple[str, ...] = ("AUC_J", "SIM", "sAUC", "CC", "NSS")
#: The metrics drawing random numbers, each from its own stream.
_RANDOM = ("AUC_J", "sAUC", "AUC_B")


@dataclass(frozen=True)
class Frame:
    """One frame to score: raw ``(h, w)`` prediction, ``(H, W)`` fixations and density.

    A ``uint8`` prediction or density holds the 8-bit grey levels of an image file and is
    converted where the scorer copies it into its own buffers, a chunk at a time: a
    prediction's map is ``levels / 255`` in the scoring dtype (the map
    :func:`scamlib._fs.read_map` reads from an 8-bit PNG, in that dtype), a density's is the
    float32 quotient ``levels / 255`` (the map :meth:`scamlib.data.AVSaliency.density` reads
    from an eyeMap). :func:`evaluate` hands the files of a directory and a
    :class:`~scamlib.data.GroundTruth` of ``levels=True`` over so, without a float copy each.
    """

    pred: Tensor
    fixations: Tensor
    density: Tensor | None
    video: str
    frame_index: int


def check_metrics(metrics: object) -> tuple[str, ...]:
    """``metrics`` as a tuple of registered names; errors name the option."""
    if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not metrics:
        raise TypeError(f"metrics must be a non-empty sequence of names, got {metrics!r}")
    unknown = [m for m in metrics if m not in registry.names()]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; expected names from {registry.names()}")
    return tuple(metrics)


def check_options(*, threads: object = None, dtype: object = torch.float32, **other: Any) -> None:
    """Raise a ``ValueError`` / ``TypeError`` naming the first bad protocol option."""
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    if "sigma" in other:
        check_sigma(other["sigma"])
    check_splits(other.get("n_splits", 100), other.get("step", 0.1))
    if not isinstance(other.get("jitter", True), bool):
        raise TypeError(f"jitter must be a bool, got {other['jitter']!r}")


def _key_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from ``seed`` and the parts' text (stable across processes)."""
    return (seed * 1_000_003 + zlib.crc32(repr(parts).encode())) % (1 << 63)


class SaliencyMetrics:
    """Accumulates STAViS-protocol scores batch by batch; per-frame, per-video, dataset tables.

    Each :meth:`update` post-processes the raw predictions (scale to ``[0, 1]``, blur, MATLAB
    ``imresize`` to the ground truth) and scores them against the fixation maps (AUC-J, s-AUC,
    AUC-B, NSS) and densities (CC, SIM, KLD), with the MIT semantics (STAViS evaluation code).
    A blank prediction (all values ``<= 0``) is no score, as in the MIT code (its
    post-processing divides by ``max = 0``): every metric of that frame is NaN and the frame is
    dropped from the means. A constant non-zero prediction post-processes to an exact constant.

    s-AUC negatives are the video's fixation union minus the frame's own fixations. Pass the
    union with ``update(..., union=...)`` (what :func:`~scamlib.metrics.protocol.evaluate` does)
    to score s-AUC at once; without it, the raw predictions of the s-AUC frames are kept until
    :meth:`compute`, when the unions are complete, and each such frame draws its negatives from
    a stream seeded by ``(seed, video, frame_index)``, so the scores do not depend on which
    process saw which frame.

    Under ``torch.distributed`` (initialised, more than one process) and with ``sync=True``
    (the default, as torchmetrics' ``sync_on_compute``) :meth:`compute` gathers the fixation
    unions and the frame scores of every process (``all_gather_object``; gloo or NCCL), so
    every process returns the tables of all frames, ordered by video and frame. Every process
    must then call :meth:`compute`. ``sync=False`` keeps :meth:`compute` local to the process
    (what :func:`~scamlib.metrics.protocol.evaluate` uses: it scores the frames it is given).

    Args:
        metrics: names among ``AUC_J, SIM, sAUC, CC, NSS, KLD, AUC_B``.
        seed: seeds one stream per randomised metric (AUC-J jitter, s-AUC, AUC-B draws).
        generator: one random source shared by those metrics instead.
        device: where the maps are scored (default CPU).
        dtype: ``torch.float32`` (default) or ``torch.float64`` for the pixel passes.
        sigma: blur sigma in pixels (STAViS: 2). ``n_splits``, ``step``: s-AUC / AUC-B
            settings (MIT: 100, 0.1). ``jitter``: AUC-Judd jitter (MIT: ``True``).
        threads: CPU threads scoring the chunks of a batch (default ``torch.get_num_threads()``).
        sync: gather every process's frames in :meth:`compute` under ``torch.distributed``.

    Raises:
        TypeError / ValueError: a bad option; the message names it.

    Example:
        >>> m = SaliencyMetrics(metrics=("CC", "NSS"))
        >>> fix = torch.zeros(2, 6, 8, dtype=torch.bool); fix[:, 2, 3] = True
        >>> m.update(torch.rand(2, 6, 8, generator=torch.Generator().manual_seed(0)),
        ...          fix, fix.double(), video="v")
        >>> result = m.compute()
        >>> len(result.frames), result.videos.rows[0]["frames"]
        (2, 2)
        >>> m.reset(); len(m.compute().frames)
        0
    """

    def __init__(
        self,
        metrics: Sequence[str] = DEFAULT_METRICS,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        threads: int | None = None,
        sync: bool = True,
        seed: int = 0,
        generator: torch.Generator | None = None,
        sigma: float = 2.0,
        n_splits: int = 100,
        step: float = 0.1,
        jitter: bool = True,
    ) -> None:
        self.metrics = check_metrics(metrics)
        if not isinstance(sync, bool):
            raise TypeError(f"sync must be True or False, got {sync!r}")
        self.sync = sync
        check_options(
            threads=threads, dtype=dtype, sigma=sigma, n_splits=n_splits, step=step, jitter=jitter
        )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed, self.generator = seed, generator
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.dtype, self.sigma = dtype, float(sigma)
        self.n_splits, self.step, self.jitter = n_splits, step, jitter
        self.threads = threads
        self._pool: ChunkPool | None = None
        self.reset()

    # -- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every frame (the random streams restart from the seed)."""
        if self.generator is None:
            self._generators = {
                name: torch.Generator(device=self.device).manual_seed(self.seed + offset)
                for offset, name in enumerate(_RANDOM)
            }
        else:
            self._generators = dict.fromkeys(_RANDOM, self.generator)
        self._rows: list[dict[str, Any]] = []
        self._pending: Callable[[], list[dict[str, Any]]] | None = None
        self._deferred: list[Frame] = []  # s-AUC frames awaiting their union
        self._unions: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}

    def close(self) -> None:
        """Wait for the batch in flight and stop the scoring threads."""
        self._drain()
        if self._pool is not None:
            self._pool.__exit__(None, None, None)
            self._pool = None

    def __enter__(self) -> SaliencyMetrics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pool(self) -> ChunkPool:
        if self._pool is None:
            self._pool = ChunkPool.for_device(self.device, self.threads).__enter__()
        return self._pool

    def _drain(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            with self.pool.serial():
                self._rows.extend(pending())

    # -- update --------------------------------------------------------------------------

    def update(
        self,
        pred: Tensor | np.ndarray,
        fixations: Tensor | np.ndarray,
        density: Tensor | np.ndarray | None = None,
        *,
        video: str,
        frame_index: int | Sequence[int] | None = None,
        union: Tensor | np.ndarray | None = None,
    ) -> None:
        """Score a batch of frames of one video.

        Args:
            pred: ``(b, h, w)`` or ``(h, w)`` raw predictions (any size; float tensor or
                numpy array).
            fixations: ``(b, H, W)`` or ``(H, W)`` fixation maps (bool, ``> 0`` = fixated).
            density: ``(b, H, W)`` or ``(H, W)`` ground-truth densities (the eyeMap); needed
                by CC, SIM and KLD.
            video: the video the frames belong to (s-AUC negatives and per-video means).
            frame_index: the frames' indices (default: counting from 1 per video).
            union: ``(H, W)`` union of the video's fixation maps, to score s-AUC at once.

        Raises:
            TypeError / ValueError: shapes, dtypes or a missing density; the message names the
                argument.
        """
        preds = _as_stack(pred, "pred", float_=True)
        fixes = _as_stack(fixations, "fixations")
        b = preds.shape[0]
        if fixes.shape[0] != b:
            raise ValueError(f"fixations hold {fixes.shape[0]} maps but pred holds {b}")
        dens = None
        if density is not None:
            dens = _as_stack(density, "density", float_=True)
            if dens.shape != fixes.shape:
                raise ValueError(
                    f"density must have the shape of fixations {tuple(fixes.shape)}, "
                    f"got {tuple(dens.shape)}"
                )
        elif any(registry.get(m).density for m in self.metrics):
            raise ValueError(f"density is needed by the metrics {self.metrics}, got None")
        start = self._counts.get(video, 0)
        if frame_index is None:
            indices = list(range(start + 1, start + b + 1))
        else:
            indices = [frame_index] if isinstance(frame_index, int) else list(frame_index)
            if len(indices) != b:
                raise ValueError(f"frame_index must give {b} indices, got {len(indices)}")
        self._counts[video] = start + b
        frames = [
            Frame(preds[k], fixes[k], None if dens is None else dens[k], str(video), indices[k])
            for k in range(b)
        ]
        if union is not None:
            union = _as_stack(union, "union")[0]
        self.update_frames(frames, union)

    def update_frames(self, frames: Sequence[Frame], union: Tensor | None = None) -> None:
        """Score frames of one video (same prediction and ground-truth sizes) as one batch.

        The batch is started here (its chunks run on the scoring threads) and the previous
        batch finished, so that the caller can prepare the next batch meanwhile.
        """
        if not frames:
            return
        metrics = self.metrics
        if union is None and "sAUC" in metrics:
            video = frames[0].video
            seen = self._unions.get(video)
            masks = torch.stack([_bool(f.fixations) for f in frames]).any(0)
            self._unions[video] = masks if seen is None else seen | masks
            self._deferred.extend(replace(f, pred=f.pred.clone()) for f in frames)
            metrics = tuple(m for m in metrics if m != "sAUC")
        with self.pool.serial():
            started = self._start(list(frames), union, metrics, self._generators)
            self._drain()
        self._pending = started

    def _start(
        self,
        frames: list[Frame],
        union: Tensor | None,
        metrics: tuple[str, ...],
        generators: dict[str, torch.Generator | None],
    ) -> Callable[[], list[dict[str, Any]]]:
        """Start scoring one batch; returns the call that finishes it (score rows)."""
        device, dtype, pool = self.device, self.dtype, self.pool
        b = len(frames)
        shape = tuple(frames[0].fixations.shape)
        p = shape[0] * shape[1]
        fix = other = None
        if metrics:
            mask = torch.stack([_bool(f.fixations).to(device) for f in frames]).reshape(b, p)
            fix = Positions.of(mask)
            if "sAUC" in metrics:
                in_union = _bool(union).to(device).reshape(-1).nonzero().view(-1)
                rows, at = (~mask[:, in_union]).nonzero(as_tuple=True)
                other = Positions(rows, in_union[at], b, p)
        scorer = Scorer(
            metrics, b, p, fix=fix, other=other, jitter=self.jitter,
            n_splits=self.n_splits, step=self.step, generators=generators,
        )  # fmt: skip
        chunk = chunk_rows(b, p, device, pool.threads)
        layers = 2 if scorer.needs_density else 1
        blank: dict[int, Tensor] = {}

        def work(start: int, ws: Workspace) -> None:
            part = frames[start : start + chunk]
            n = len(part)
            preds = [f.pred for f in part]
            stacked = ws.get("preds", (n, *preds[0].shape), dtype, device)
            if all(x.dtype == dtype and x.device == device for x in preds):
                torch.stack(preds, out=stacked)
            else:
                for k, x in enumerate(preds):
                    _copy_map(stacked[k], x, dtype)
            rows = ws.get("maps", (n, layers, p), dtype, device)
            maps = rows[:, 0].view(n, *shape)
            resized, blank[start] = _postprocess(stacked, shape, self.sigma, ws, maps)
            if resized.data_ptr() != maps.data_ptr():  # not a whole number of blocks: a copy
                maps.copy_(resized)
            if scorer.needs_density:
                for k, f in enumerate(part):
                    _copy_map(rows[k, 1], f.density.reshape(-1), torch.float32)
                s, g = Rows.pair(rows, ws)
            else:
                s, g = Rows(rows[:, 0], ws), None
            scorer.add(start, s, g, ws=ws)

        pending = pool.submit(work, range(0, b, chunk))

        def finish() -> list[dict[str, Any]]:
            pending.wait()
            dropped = torch.cat([blank[k] for k in sorted(blank)]).cpu().tolist()
            values = {name: v.cpu().tolist() for name, v in scorer.finish().items()}
            return [
                {
                    "video": f.video,
                    "frame_index": int(f.frame_index),
                    **{
                        name: math.nan if dropped[k] else float(values[name][k]) for name in metrics
                    },
                }
                for k, f in enumerate(frames)
            ]

        return finish

    # -- compute -------------------------------------------------------------------------

    def compute(self) -> EvaluationResult:
        """Per-frame, per-video and dataset tables of every frame so far (all processes).

        NaN frame scores are dropped from the per-video means, NaN video means from the
        dataset mean (STAViS protocol).
        """
        self._drain()
        rows = [dict(r) for r in self._rows]
        distributed = self.sync and _world_size() > 1
        if self._deferred:
            unions = _merge_unions(self._unions) if distributed else self._unions
            at = {(r["video"], r["frame_index"]): r for r in rows}
            for frame in self._deferred:
                gen = torch.Generator(device=self.device)
                gen.manual_seed(_key_seed(self.seed, "sAUC", frame.video, frame.frame_index))
                done = self._start([frame], unions[frame.video], ("sAUC",), {"sAUC": gen})()
                at[(frame.video, frame.frame_index)]["sAUC"] = done[0]["sAUC"]
        rows = [{k: r[k] for k in ("video", "frame_index", *self.metrics)} for r in rows]
        if distributed:
            rows = _gather_rows(rows)
        return _tables(self.metrics, rows)


def _bool(x: Tensor) -> Tensor:
    return x if x.dtype == torch.bool else x > 0


def _copy_map(out: Tensor, x: Tensor, levels_dtype: torch.dtype) -> None:
    """Copy the map ``x`` into ``out`` (converted to its dtype and device); 8-bit grey levels
    (``uint8``) are divided by 255 in ``levels_dtype`` first (see :class:`Frame`), in place
    where that is ``out``'s dtype."""
    if x.dtype != torch.uint8:
        out.copy_(x)
    elif out.dtype == levels_dtype:
        out.copy_(x).div_(255.0)
    else:
        out.copy_(x.to(levels_dtype).div_(255.0))


def _as_stack(x: object, name: str, float_: bool = False) -> Tensor:
    """``(b, h, w)`` from a ``(b, h, w)`` / ``(h, w)`` tensor or numpy array."""
    x = as_array(x, name)
    check_tensor(x, name)
    if float_:
        check_floating(x, name)
    check_ndim(x, name, (2, 3), "(h, w) or (b, h, w)")
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"{name} must have at least one pixel per map, got shape {tuple(x.shape)}")
    return x if x.ndim == 3 else x[None]


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _merge_unions(unions: dict[str, Tensor]) -> dict[str, Tensor]:
    """The per-video fixation unions OR-ed over every process."""
    dist = torch.distributed
    local = {v: u.cpu().numpy() for v, u in unions.items()}
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, local)
    merged: dict[str, np.ndarray] = {}
    for part in gathered:
        for video, mask in part.items():
            merged[video] = mask if video not in merged else merged[video] | mask
    return {v: torch.from_numpy(m) for v, m in merged.items()}


def _gather_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every process's frame rows, ordered by video and frame index."""
    dist = torch.distributed
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, rows)
    merged = [r for part in gathered for r in part]
    return sorted(merged, key=lambda r: (r["video"], r["frame_index"]))
