"""Result tables of an evaluation: per frame, per video, per dataset, and split merging.

The STAViS protocol drops NaN frame scores (a frame the MIT code gives no score, e.g. a blank
prediction or a frame without fixations), averages frames per video and videos per dataset;
datasets evaluated on several folds average the folds' dataset scores (STAViS Sec. 4).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._fs import write_text

__all__ = ["EvaluationResult", "MetricTable", "combine_splits", "json_safe"]


@dataclass(frozen=True)
class MetricTable:
    """A table of scores: named ``columns`` and ``rows`` of values (one dict per row).

    Example:
        >>> MetricTable(("video", "CC"), ({"video": "a", "CC": 0.5},)).to_dict()
        [{'video': 'a', 'CC': 0.5}]
    """

    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> list[dict[str, Any]]:
        """Rows as a list of plain dicts (NaN kept as ``float('nan')``)."""
        return [dict(row) for row in self.rows]

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV with a header row; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=list(self.columns))
        writer.writeheader()
        writer.writerows(self.rows)
        return write_text(path, text.getvalue())

    def __len__(self) -> int:
        return len(self.rows)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN: no score) replaced by ``None``, for JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of a model on a dataset at three levels (STAViS protocol).

    Attributes:
        metrics: metric names, in column order.
        frames: one row per frame: ``video``, ``frame_index`` (and ``split``), the metrics.
        videos: one row per video: ``video``, ``frames`` (frames scored), the per-video means
            of the non-NaN frame scores.
        summary: metric name -> mean over videos (over splits too for :func:`combine_splits`).

    Example:
        >>> r = EvaluationResult(("CC",), MetricTable(("CC",)), MetricTable(("CC",)), {"CC": 0.4})
        >>> r.to_dict()["summary"]
        {'CC': 0.4}
    """

    metrics: tuple[str, ...]
    frames: MetricTable
    videos: MetricTable
    summary: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"metrics", "summary", "videos", "frames"}`` of plain Python values."""
        return {
            "metrics": list(self.metrics),
            "summary": dict(self.summary),
            "videos": self.videos.to_dict(),
            "frames": self.frames.to_dict(),
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON (NaN written as ``null``); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text(path, json.dumps(json_safe(self.to_dict()), indent=2))

    def to_csv(self, path: str | Path) -> Path:
        """Write ``frames.csv``, ``videos.csv`` and ``summary.csv`` into directory ``path``."""
        path = Path(path)
        self.frames.to_csv(path / "frames.csv")
        self.videos.to_csv(path / "videos.csv")
        MetricTable(self.metrics, (dict(self.summary),)).to_csv(path / "summary.csv")
        return path


def _nanmean(values: Iterable[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _tables(metrics: tuple[str, ...], frame_rows: list[dict[str, Any]]) -> EvaluationResult:
    by_video: dict[str, list[dict[str, Any]]] = {}
    for row in frame_rows:
        by_video.setdefault(row["video"], []).append(row)
    video_rows = []
    for video, rows in by_video.items():
        entry: dict[str, Any] = {"video": video, "frames": len(rows)}
        entry.update({m: _nanmean(r[m] for r in rows) for m in metrics})
        video_rows.append(entry)
    summary = {m: _nanmean(v[m] for v in video_rows) for m in metrics}
    extra = ("split",) if frame_rows and "split" in frame_rows[0] else ()
    return EvaluationResult(
        metrics,
        MetricTable((*extra, "video", "frame_index", *metrics), tuple(frame_rows)),
        MetricTable((*extra, "video", "frames", *metrics), tuple(video_rows)),
        summary,
    )


def combine_splits(results: Mapping[str, EvaluationResult]) -> EvaluationResult:
    """Merge the results of a dataset's splits: tables stacked, summary = mean over splits.

    Args:
        results: split name -> its :class:`EvaluationResult` (same metrics).

    Returns:
        Frame and video tables with a leading ``split`` column; ``summary`` the mean over splits
        of the per-split summaries (NaN summaries dropped).

    Raises:
        ValueError: no results, or results with different metrics.

    Example:
        >>> t = MetricTable(("CC",))
        >>> a = EvaluationResult(("CC",), t, t, {"CC": 0.2})
        >>> b = EvaluationResult(("CC",), t, t, {"CC": 0.4})
        >>> round(combine_splits({"1": a, "2": b}).summary["CC"], 6)
        0.3
    """
    if not results:
        raise ValueError("results must hold at least one split, got none")
    metrics = next(iter(results.values())).metrics
    if any(r.metrics != metrics for r in results.values()):
        raise ValueError(
            f"every split must have the same metrics, got {[r.metrics for r in results.values()]}"
        )
    frames = tuple({"split": k, **row} for k, r in results.items() for row in r.frames.rows)
    videos = tuple({"split": k, **row} for k, r in results.items() for row in r.videos.rows)
    summary = {m: _nanmean(r.summary[m] for r in results.values()) for m in metrics}
    return EvaluationResult(
        metrics,
        MetricTable(("split", *results[next(iter(results))].frames.columns), frames),
        MetricTable(("split", *results[next(iter(results))].videos.columns), videos),
        summary,
    )
