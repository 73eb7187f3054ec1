"""The table of metrics: what each metric needs and its two kernels (private).

A metric is one :class:`MetricSpec`, registered by the module that defines it (its kernels,
its spec and its public function live together in that module). The chunked engine
(:mod:`scamlib.metrics._engine`) and the evaluation driver look metrics up here by name and
never dispatch on a name themselves, so adding a metric touches one module: write the two
kernels and the public function there, and call :func:`register`.

The two kernels, in the torchmetrics manner:

* ``update(batch, chunk)``: the passes over the pixels of one chunk of maps, returning a tuple
  of tensors whose first axis is the chunk's maps or its listed pixels (concatenated over the
  chunks, in order, before ``compute``);
* ``compute(batch, parts)``: the ``(b,)`` float64 scores from the concatenated parts.

An optional ``prepare(batch)`` makes the random draws of a batch before any pixel is read
(they then depend only on the fixation counts, never on the chunking).

Imports point down only: this module knows no metric.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ._common import Positions, Rows, Workspace

__all__ = ["Batch", "Chunk", "MetricSpec", "get", "names", "register"]


@dataclass
class Batch:
    """The frames of one batch scored together, and the options of the metrics.

    Attributes:
        b, p: number of maps and pixels per map.
        fix: the fixations of the ``b`` maps (metrics that need them).
        other: the s-AUC candidate negatives of the ``b`` maps.
        jitter, n_splits, step: AUC-Judd jitter; s-AUC / AUC-B settings.
        generators: metric name -> random source (``None``: the default one).
        prepared: metric name -> what its ``prepare`` returned.
    """

    b: int
    p: int
    fix: Positions | None = None
    other: Positions | None = None
    jitter: bool = True
    n_splits: int = 100
    step: float = 0.1
    generators: dict[str, torch.Generator | None] = field(default_factory=dict)
    prepared: dict[str, Any] = field(default_factory=dict)


class Chunk:
    """Maps ``start : start + len(s.values)`` of a :class:`Batch`, as float rows.

    The sliced fixations and negatives and the fixated values are computed once per chunk
    and shared by every metric that asks for them.
    """

    def __init__(
        self,
        batch: Batch,
        start: int,
        s: Rows,
        g: Rows | None,
        source: Tensor | None,
        ws: Workspace,
    ) -> None:
        self.batch, self.start, self.source, self.ws = batch, start, source, ws
        self.s, self.g = s, g
        self.rows = s.values.shape[0]
        self.stop = start + self.rows

    @functools.cached_property
    def fix(self) -> Positions:
        """The chunk's fixations, rows numbered from 0."""
        return self.batch.fix.slice(self.start, self.stop)

    @functools.cached_property
    def other(self) -> Positions:
        """The chunk's s-AUC candidate negatives, rows numbered from 0."""
        return self.batch.other.slice(self.start, self.stop)

    @functools.cached_property
    def fixated(self) -> Tensor:
        """Float64 prediction values at the fixated pixels, in :attr:`fix` order."""
        return self.s.gather(self.fix.rows, self.fix.cols)


@dataclass(frozen=True)
class MetricSpec:
    """One metric as the engine sees it.

    Attributes:
        name: the column name (``"AUC_J"``, ``"CC"``, ...).
        update: ``(batch, chunk) -> tuple of tensors``, the pixel passes of a chunk.
        compute: ``(batch, parts) -> (b,) float64``, from the parts concatenated over chunks.
        prepare: ``batch -> draws`` made before any pixel is read, or ``None``.
        fixations, density, other: which inputs the metric reads.
        extrema: whether ``update`` reads the prediction's row minima and maxima (when no
            metric of a batch does, float64 predictions are checked finite from their moments,
            saving two passes over the pixels).
        pointwise: whether ``update`` reads the prediction only through its row extrema and
            its values at listed pixels (the sampled AUCs). Both are exact in float32, so the
            public function scores a float32 map without copying it to float64 first (the
            same scores, one pass over the pixels fewer).
        cat: how to join the parts of consecutive chunks (default: ``torch.cat`` per field).
    """

    name: str
    update: Callable[[Batch, Chunk], tuple[Any, ...]]
    compute: Callable[[Batch, tuple[Any, ...]], Tensor]
    prepare: Callable[[Batch], Any] | None = None
    fixations: bool = False
    density: bool = False
    other: bool = False
    extrema: bool = True
    pointwise: bool = False
    cat: Callable[[list[tuple[Any, ...]]], tuple[Any, ...]] | None = None

    def join(self, parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
        """The parts of every chunk, in chunk order, joined into the batch's parts."""
        if self.cat is not None:
            return self.cat(parts)
        return tuple(torch.cat(list(field_)) for field_ in zip(*parts))


_REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to the table (a name registered twice is an error); returns it."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"a metric named {spec.name!r} is registered already")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> MetricSpec:
    """The spec of metric ``name``; ``ValueError`` naming the known metrics otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown metric {name!r}; expected one of {names()}") from None


def names() -> tuple[str, ...]:
    """Every registered metric, in registration order."""
    return tuple(_REGISTRY)
