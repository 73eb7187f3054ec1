"""Chunked evaluation of several saliency metrics over a batch of maps (private).

The engine knows no metric: it looks each one up in :mod:`scamlib.metrics._registry` and
runs its kernels. A :class:`Scorer` runs the *update* kernel of every requested metric chunk
by chunk (each chunk a few maps, so that every pass over the pixels stays in the CPU caches
and no temporary is large enough to be mapped fresh from the operating system) and the
*compute* kernel once for the whole batch (so that the many small operations on the parts are
paid once). The random draws of s-AUC and AUC-B depend only on the fixation counts and are
made before any pixel is read, and the AUC-Judd jitter is drawn in row-major order over the
batch whatever the chunks: the scores of given maps do not depend on the chunking.

:func:`score_maps` is the entry point of the public metric functions;
:class:`scamlib.metrics.SaliencyMetrics` (and :func:`scamlib.metrics.protocol.evaluate`,
a loop over it) drives a :class:`Scorer` with the post-processed predictions of a batch.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch import Tensor

from . import _registry as registry
from ._common import Positions, Rows, Workspace
from ._registry import Batch, Chunk

__all__ = [
    "CHUNKS_PER_THREAD",
    "CHUNK_PIXELS",
    "MAX_CHUNK_PIXELS",
    "ChunkPool",
    "Pending",
    "Scorer",
    "chunk_rows",
    "score_maps",
    "serial_executor",
]

#: Pixels scored at once on the CPU (``2^19``: two 360 x 640 frames, 4 MiB per float64 map).
CHUNK_PIXELS = 1 << 19


#: With several threads, the chunks of a batch per thread (at most; see :func:`chunk_rows`).
CHUNKS_PER_THREAD = 2
#: With several threads, the most pixels per chunk (bounds each thread's scratch memory).
MAX_CHUNK_PIXELS = 1 << 22


def chunk_rows(b: int, p: int, device: torch.device, threads: int = 1) -> int:
    """Maps per chunk: the whole batch on a GPU; on the CPU about :data:`CHUNK_PIXELS` pixels,
    or, with several threads, enough maps that each thread gets at most
    :data:`CHUNKS_PER_THREAD` chunks of the batch (every chunk costs some interpreter work,
    which the threads cannot do at the same time; two chunks per thread keep them balanced),
    up to :data:`MAX_CHUNK_PIXELS` pixels.
    """
    if device.type != "cpu":
        return b
    p = max(p, 1)
    rows = max(1, CHUNK_PIXELS // p)
    if threads > 1:
        fewer = min(-(-b // (CHUNKS_PER_THREAD * threads)), MAX_CHUNK_PIXELS // p)
        rows = max(rows, fewer)
    return rows


def serial_executor(threads: int, prefix: str) -> ThreadPoolExecutor:
    """A started thread pool whose threads run torch with one intra-op thread each.

    Every thread is started at once and sets its own intra-op threads to 1, so that threads
    working side by side do not each start a team of intra-op threads on the same cores (a
    team waiting for a core another thread holds costs a scheduler time slice per operation on
    a busy machine). The calling thread's setting is given back afterwards
    (``torch.set_num_threads`` also sets the default of threads started later).
    """
    saved = torch.get_num_threads()
    ready = threading.Barrier(threads)
    executor = ThreadPoolExecutor(
        threads, thread_name_prefix=prefix, initializer=torch.set_num_threads, initargs=(1,)
    )
    for future in [executor.submit(ready.wait) for _ in range(threads)]:
        future.result()
    torch.set_num_threads(saved)
    return executor


class Pending:
    """Chunks submitted to a :class:`ChunkPool`; :meth:`wait` blocks until all are done."""

    def __init__(self, futures: Sequence[Future] = ()) -> None:
        self._futures = futures

    def wait(self) -> None:
        """Wait for every chunk; the first error raised by one is raised here."""
        for future in self._futures:
            future.result()


class ChunkPool:
    """Runs the chunks of batches on ``threads`` CPU threads, each with its own scratch memory.

    The chunks of a batch are independent (a chunk's parts are kept under its first row), so
    they can run concurrently: torch releases the GIL inside its kernels. The pool's threads
    run torch with one intra-op thread each (set in each thread, so the calling thread keeps
    its own setting), so that they do not each start a team of intra-op threads on the same
    cores. Used as a context manager (the threads live as long as the ``with`` block); with one
    thread the chunks run in the calling thread, when submitted.

    Args:
        threads: number of threads (at least 1).
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(int(threads), 1)
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def for_device(cls, device: torch.device, threads: int | None = None) -> ChunkPool:
        """A pool of ``threads`` (default: ``torch.get_num_threads()``) threads on the CPU, of
        one thread elsewhere (a GPU gets the whole batch as one chunk)."""
        if torch.device(device).type != "cpu":
            return cls(1)
        return cls(torch.get_num_threads() if threads is None else threads)

    def __enter__(self) -> ChunkPool:
        if self.threads > 1:
            self._executor = serial_executor(self.threads, "scamlib-metrics")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @contextlib.contextmanager
    def serial(self) -> Iterator[None]:
        """A block of the calling thread's work that runs beside the pool's threads: one
        intra-op thread for it while the pool has threads (restored after)."""
        if self._executor is None:
            yield
            return
        saved = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(saved)

    def workspace(self) -> Workspace:
        """The calling thread's scratch memory (created on first use)."""
        ws = getattr(self._local, "ws", None)
        if ws is None:
            ws = self._local.ws = Workspace()
        return ws

    def submit(self, work: Callable[[int, Workspace], None], starts: Iterable[int]) -> Pending:
        """Start ``work(start, workspace)`` for every chunk start; :meth:`Pending.wait` for them.

        Without threads (or for a single chunk) the work is done before this returns.
        """
        starts = list(starts)
        if self._executor is None or len(starts) < 2:
            for start in starts:
                work(start, self.workspace())
            return Pending()
        return Pending([self._executor.submit(self._call, work, a) for a in starts])

    def submit_call(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on one of the pool's threads, after the work submitted before it
        (the chunks and other calls share the threads in submission order); the pool must
        have threads."""
        if self._executor is None:
            raise RuntimeError("submit_call needs a pool with threads (threads > 1, entered)")
        return self._executor.submit(fn, *args)

    def _call(self, work: Callable[[int, Workspace], None], start: int) -> None:
        work(start, self.workspace())

    def run(self, work: Callable[[int, Workspace], None], starts: Iterable[int]) -> None:
        """``work(start, workspace)`` for every chunk start, waiting for all."""
        self.submit(work, starts).wait()


class Scorer:
    """The metrics of one batch of ``b`` maps of ``p`` pixels, fed chunk by chunk.

    Args:
        metrics: registered metric names (``AUC_J, sAUC, AUC_B, NSS, CC, SIM, KLD``, ...).
        b, p: number of maps and pixels per map.
        fix: the fixations of the ``b`` maps (needed by AUC-J, s-AUC, AUC-B, NSS).
        other: the s-AUC candidate negatives of the ``b`` maps.
        jitter: AUC-Judd jitter. ``n_splits``, ``step``: s-AUC / AUC-B settings.
        generators: metric name -> random source (``None`` entries use the default one).

    The random draws of every metric are made here, in registration order, before any pixel
    is read. :meth:`add` may be called for the chunks in any order and from several threads;
    the parts are kept under each chunk's first row and put in order by :meth:`finish`.
    """

    def __init__(
        self,
        metrics: Sequence[str],
        b: int,
        p: int,
        *,
        fix: Positions | None = None,
        other: Positions | None = None,
        jitter: bool = True,
        n_splits: int = 100,
        step: float = 0.1,
        generators: dict[str, torch.Generator | None] | None = None,
    ) -> None:
        self.metrics = tuple(metrics)
        self.specs = {name: registry.get(name) for name in self.metrics}
        self.b, self.p = b, p
        self.batch = Batch(b, p, fix, other, jitter, n_splits, step, dict(generators or {}))
        self.parts: dict[str, dict[int, Any]] = {name: {} for name in self.metrics}
        #: whether a metric reads the prediction's extrema (else finiteness comes from moments)
        self.extrema = any(spec.extrema for spec in self.specs.values())
        for name in registry.names():  # a fixed order, whatever the order asked for
            spec = self.specs.get(name)
            if spec is not None and spec.prepare is not None:
                self.batch.prepared[name] = spec.prepare(self.batch)

    @property
    def needs_density(self) -> bool:
        """Whether :meth:`add` needs the ground-truth density maps."""
        return any(spec.density for spec in self.specs.values())

    def add(
        self,
        start: int,
        s: Rows,
        g: Rows | None = None,
        source: Tensor | None = None,
        ws: Workspace | None = None,
    ) -> None:
        """The pixel passes of maps ``start : start + len(s.values)``.

        Args:
            start: index of the chunk's first map in the batch.
            s: the chunk's predictions as float32 or float64 rows (checked finite here).
            g: the chunk's densities as rows of the same dtype, when a density metric is
                requested.
            source: float64 ``s`` in float32 (exactly the same values), used for the AUC-Judd
                bucket pass.
            ws: scratch memory of the calling thread (a fresh one when not given).
        """
        s.check_finite("pred", self.extrema)
        if self.needs_density:
            g.check_finite("density")
        chunk = Chunk(self.batch, start, s, g, source, Workspace() if ws is None else ws)
        for name, spec in self.specs.items():
            self.parts[name][start] = spec.update(self.batch, chunk)

    def finish(self) -> dict[str, Tensor]:
        """The ``(b,)`` float64 scores of every metric, once all chunks were added."""
        scores: dict[str, Tensor] = {}
        for name, spec in self.specs.items():
            chunks = self.parts[name]
            joined = spec.join([chunks[start] for start in sorted(chunks)])
            scores[name] = spec.compute(self.batch, joined)
        return scores


def score_maps(
    metric: str,
    pred: Tensor,
    *,
    fixations: Tensor | None = None,
    density: Tensor | None = None,
    other: Tensor | None = None,
    **options: Any,
) -> Tensor:
    """One metric of checked ``(b, h, w)`` maps, chunk by chunk; ``(b,)`` float64 scores.

    ``fixations`` / ``other`` are ``(b, p)`` bool rows, ``density`` ``(b, h, w)`` float maps
    on ``pred``'s device; ``options`` go to :class:`Scorer`. NaN or Inf in ``pred`` or
    ``density`` raise ``ValueError`` (found from the row extrema, without an extra pass).
    """
    b, h, w = pred.shape
    p = h * w
    if b == 0:
        return torch.empty(0, dtype=torch.float64, device=pred.device)
    # one chunk needs no threads; a pointwise metric reads the maps in one chunk (no copy)
    single = registry.get(metric).pointwise or chunk_rows(b, p, pred.device) >= b
    pool = _SERIAL if single else _shared_pool(pred.device)
    with pool.serial():
        return _score_maps(pool, metric, pred, fixations, density, other, options)


def _score_maps(
    pool: ChunkPool,
    metric: str,
    pred: Tensor,
    fixations: Tensor | None,
    density: Tensor | None,
    other: Tensor | None,
    options: dict[str, Any],
) -> Tensor:
    """:func:`score_maps` on ``pool`` (the calling thread lists and finishes, the pool's
    threads make the passes over the pixels)."""
    b, h, w = pred.shape
    p = h * w
    exact = not registry.get(metric).pointwise  # pointwise metrics read float32 values exactly
    chunk = chunk_rows(b, p, pred.device, pool.threads) if exact else b
    spaces: dict[int, Workspace] = {}  # scratch memory of this call, per thread
    fix = Positions.of(fixations) if fixations is not None else None
    oth = Positions.of(other) if other is not None else None
    scorer = Scorer((metric,), b, p, fix=fix, other=oth, **options)

    def as_float64(block: Tensor, name: str, ws: Workspace) -> Tensor:
        if block.dtype == torch.float64:
            return block
        return ws.get(name, block.shape, torch.float64, block.device).copy_(block)

    def work(start: int, _: Workspace) -> None:
        ws = spaces.setdefault(threading.get_ident(), Workspace())
        block = pred[start : start + chunk].reshape(-1, p)
        s = Rows(as_float64(block, "pred", ws) if exact else block)
        g = None
        if density is not None:
            g = Rows(as_float64(density[start : start + chunk].reshape(-1, p), "density", ws))
        source = block if block.dtype == torch.float32 else None
        scorer.add(start, s, g, source, ws)

    pool.run(work, range(0, b, chunk))
    return scorer.finish()[metric]


_SERIAL = ChunkPool(1)
_SHARED: dict[tuple[int, int], ChunkPool] = {}
_SHARED_LOCK = threading.Lock()


def _shared_pool(device: torch.device) -> ChunkPool:
    """The started :class:`ChunkPool` of the public metric functions on ``device``.

    One pool per process and thread count (``torch.get_num_threads()`` on the CPU), started on
    first use and kept, so that a call on a batch does not pay for starting threads; its
    threads idle between calls. A forked child starts its own (threads do not survive a fork).
    """
    threads = torch.get_num_threads() if device.type == "cpu" else 1
    if threads == 1:
        return _SERIAL
    key = (os.getpid(), threads)
    with _SHARED_LOCK:
        pool = _SHARED.get(key)
        if pool is None:
            pool = _SHARED[key] = ChunkPool(threads).__enter__()
    return pool
