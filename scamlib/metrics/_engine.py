"""Chunked evaluation of several saliency metrics over a batch of maps (private).

A :class:`Scorer` runs the *parts* step of every requested metric chunk by chunk (each chunk a
few maps, so that every pass over the pixels stays in the CPU caches and no temporary is large
enough to be mapped fresh from the operating system) and the *finish* step once for the whole
batch (so that the many small operations on the parts are paid once). The random draws of
s-AUC and AUC-B depend only on the fixation counts and are made before any pixel is read, and the
AUC-Judd jitter is drawn in row-major order over the batch whatever the chunks: the scores of
given maps do not depend on the chunking.

:func:`score_maps` is the entry point of the public metric functions;
:func:`scamlib.metrics.protocol.evaluate` drives a :class:`Scorer` with the post-processed
predictions of a batch of frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .._validation import check_finite
from ._common import Positions, Rows, Workspace
from .auc import (
    JuddParts,
    _borji_finish,
    _borji_negatives,
    _judd_finish,
    _judd_parts,
    _shuffled_finish,
    _shuffled_negatives,
)
from .distribution import _cc_cov, _cc_finish, _kld_rows, _nss_finish, _sim_excess, _sim_finish
from .distribution import _SimStats as SimStats

__all__ = ["CHUNK_PIXELS", "Scorer", "chunk_rows", "score_maps"]

#: Pixels scored at once on the CPU (``2^19``: two 360 x 640 frames, 4 MiB per float64 map).
CHUNK_PIXELS = 1 << 19

_FIXATION_METRICS = {"AUC_J", "sAUC", "AUC_B", "NSS"}
_DENSITY_METRICS = {"CC", "SIM", "KLD"}


def chunk_rows(b: int, p: int, device: torch.device) -> int:
    """Maps per chunk: about :data:`CHUNK_PIXELS` pixels on the CPU, the whole batch on a GPU."""
    return b if device.type != "cpu" else max(1, CHUNK_PIXELS // max(p, 1))


def _check_rows(rows: Rows, name: str) -> None:
    """Raise if ``rows`` holds NaN or Inf: the row extrema propagate NaN and keep Inf, and
    ``max - min`` is then NaN or infinite."""
    if not bool(torch.isfinite(rows.max - rows.min).all()):
        check_finite(rows.values, name)


class Scorer:
    """The metrics of one batch of ``b`` maps of ``p`` pixels, fed chunk by chunk.

    Args:
        metrics: names among ``AUC_J, sAUC, AUC_B, NSS, CC, SIM, KLD``.
        b, p: number of maps and pixels per map.
        fix: the fixations of the ``b`` maps (needed by AUC-J, s-AUC, AUC-B, NSS).
        other: the s-AUC candidate negatives of the ``b`` maps.
        jitter: AUC-Judd jitter. ``n_splits``, ``step``: s-AUC / AUC-B settings.
        generators: metric name -> random source (``None`` entries use the default one).
        workspace: scratch buffers reused from chunk to chunk (a private one by default).
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
        workspace: Workspace | None = None,
    ) -> None:
        self.metrics = tuple(metrics)
        self.want = set(metrics)
        self.b, self.p = b, p
        self.fix, self.other = fix, other
        self.jitter, self.n_splits, self.step = jitter, n_splits, step
        self.generators = generators or {}
        self.ws = Workspace() if workspace is None else workspace
        self.parts: dict[str, list[Any]] = {}
        if "sAUC" in self.want:
            self.sauc_draws, self.sauc_k = _shuffled_negatives(
                fix.counts, other, n_splits, self.generators.get("sAUC")
            )
        if "AUC_B" in self.want:
            self.borji_pixels = _borji_negatives(fix, n_splits, self.generators.get("AUC_B"))

    @property
    def needs_density(self) -> bool:
        """Whether :meth:`add` needs the ground-truth density maps."""
        return bool(self.want & _DENSITY_METRICS)

    def _keep(self, name: str, value: Any) -> None:
        self.parts.setdefault(name, []).append(value)

    def add(
        self,
        start: int,
        s: Rows,
        g: Rows | None = None,
        source: Tensor | None = None,
    ) -> None:
        """The pixel passes of maps ``start : start + len(s.values)``.

        Args:
            start: index of the chunk's first map in the batch.
            s: the chunk's predictions as float64 rows (checked finite here).
            g: the chunk's densities as float64 rows, when a density metric is requested.
            source: ``s`` in a narrower float type (exactly the same values), used for the
                AUC-Judd bucket pass.
        """
        want = self.want
        rows = s.values.shape[0]
        stop = start + rows
        _check_rows(s, "pred")
        self._keep("s_min", s.min)
        self._keep("s_max", s.max)
        if want & _FIXATION_METRICS:
            here = self.fix.slice(start, stop)
            self._keep("fixated", s.values[here.rows, here.cols])
        if "AUC_J" in want:
            parts = _judd_parts(s, here, self.jitter, source=source, ws=self.ws)
            self._keep("judd", parts.shifted(start, self.p))
        if "sAUC" in want:
            there = self.other.slice(start, stop)
            self._keep("sauc", s.values[there.rows, there.cols])
        if "AUC_B" in want:
            pixels = self.borji_pixels[start:stop].reshape(rows, -1)
            self._keep("borji", s.values.gather(1, pixels).view(rows, self.n_splits, -1))
        if want & {"NSS", "CC", "SIM"}:
            self._keep("s_sum", s.sum)
        if want & {"NSS", "CC"}:
            self._keep("s_css", s.css)
        if not self.needs_density:
            return
        _check_rows(g, "density")
        if want & {"CC", "SIM"}:
            self._keep("g_min", g.min)
            self._keep("g_max", g.max)
        if "CC" in want:
            self._keep("g_css", g.css)
            self._keep("cov", _cc_cov(s, g))
        if "SIM" in want:
            self._keep("g_sum", g.sum)
            self._keep("sim", _sim_excess(s, g, self.ws))
        if "KLD" in want:
            self._keep("KLD", _kld_rows(s, g))

    def finish(self) -> dict[str, Tensor]:
        """The ``(b,)`` float64 scores of every metric, once all chunks were added."""
        cat = {name: torch.cat(v) for name, v in self.parts.items() if name != "judd"}
        lo, hi = cat["s_min"], cat["s_max"]
        s_constant = lo == hi
        fix, p, step = self.fix, self.p, self.step
        scores: dict[str, Tensor] = {}
        for name in self.metrics:
            if name == "AUC_J":
                judd = JuddParts.cat(self.parts["judd"])
                gen = self.generators.get(name)
                scores[name] = _judd_finish(judd, fix, s_constant, self.jitter, gen)
            elif name == "sAUC":
                other, draws, k = self.other, self.sauc_draws, self.sauc_k
                scores[name] = _shuffled_finish(
                    cat["fixated"], fix, cat["sauc"], other, draws, k, lo, hi, step
                )
            elif name == "AUC_B":
                scores[name] = _borji_finish(cat["fixated"], fix, cat["borji"], lo, hi, step)
            elif name == "NSS":
                scores[name] = _nss_finish(
                    cat["s_sum"], cat["s_css"], s_constant, cat["fixated"], fix
                )
            elif name == "CC":
                constant = s_constant | (cat["g_min"] == cat["g_max"])
                scores[name] = _cc_finish(cat["cov"], cat["s_css"], cat["g_css"], constant)
            elif name == "SIM":
                s_stats = SimStats(lo, hi, cat["s_sum"], p)
                g_stats = SimStats(cat["g_min"], cat["g_max"], cat["g_sum"], p)
                scores[name] = _sim_finish(cat["sim"], s_stats, g_stats)
            else:  # KLD
                scores[name] = cat["KLD"]
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
    fix = Positions.of(fixations) if fixations is not None else None
    oth = Positions.of(other) if other is not None else None
    scorer = Scorer((metric,), b, p, fix=fix, other=oth, **options)
    ws = scorer.ws
    chunk = chunk_rows(b, p, pred.device)

    def as_float64(block: Tensor, name: str) -> Tensor:
        if block.dtype == torch.float64:
            return block
        return ws.get(name, block.shape, torch.float64, block.device).copy_(block)

    for start in range(0, b, chunk):
        block = pred[start : start + chunk].reshape(-1, p)
        s = Rows(as_float64(block, "pred"))
        g = None
        if density is not None:
            g = Rows(as_float64(density[start : start + chunk].reshape(-1, p), "density"))
        source = block if block.dtype == torch.float32 else None
        scorer.add(start, s, g, source)
    return scorer.finish()[metric]
