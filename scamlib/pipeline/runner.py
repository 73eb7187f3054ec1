"""The stage runner: keys, reuse, timing, logging and the results files of one run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import PipelineConfig, config_to_dict, load_config
from .distributed import DistEnv, barrier, init_distributed
from .io import check_output_dir, write_json, write_text
from .report import results_markdown
from .store import StageStore, stage_key

__all__ = ["Context", "RunError", "Stage", "run_stages"]

log = logging.getLogger("scamlib.pipeline")


class RunError(RuntimeError):
    """A run cannot start or go on (wrong output folder, missing data, ...)."""


@dataclass
class Context:
    """What every stage receives: the config, the output folder, the process, shared state.

    ``cache`` holds objects that stages share within one process (datasets, categories); it is
    rebuilt on resume, so nothing in it may be needed to reuse a finished stage.
    """

    cfg: PipelineConfig
    out: Path
    env: DistEnv
    progress: bool = True
    cache: dict[str, Any] = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def shared(self, name: str, build: Callable[[], Any]) -> Any:
        """A per-process shared object, built on first use."""
        if name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]


@dataclass(frozen=True)
class Stage:
    """One resumable step of the pipeline.

    Attributes:
        name: the stage's name (its state file is ``state/<name>.json``).
        settings: the part of the config the stage's outputs depend on.
        upstream: stages whose outputs it reads (their keys enter its key).
        outputs: files and folders it writes, relative to the output folder; removed when the
            stage must run again under a new key.
        run: does the work; returns a JSON-able summary. Must skip files it already wrote.
    """

    name: str
    settings: Callable[[PipelineConfig], Mapping[str, Any]]
    upstream: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Callable[[Context], Mapping[str, Any]]


def _setup_logging(out: Path, env: DistEnv) -> None:
    """Log to ``<out>/run.log`` and the terminal (main process); one file handler per run, so
    several runs in one process each get their own ``run.log``."""
    log.setLevel(logging.INFO)
    if not env.is_main:
        return
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    target = str((out / "run.log").resolve())
    for handler in [h for h in log.handlers if getattr(h, "_scamlib", False)]:
        if isinstance(handler, logging.FileHandler) and handler.baseFilename != target:
            log.removeHandler(handler)
            handler.close()
    present = [h for h in log.handlers if getattr(h, "_scamlib", False)]
    wanted = []
    if not any(isinstance(h, logging.FileHandler) for h in present):
        wanted.append(logging.FileHandler(target))
    if not any(type(h) is logging.StreamHandler for h in present):
        wanted.append(logging.StreamHandler())
    for handler in wanted:
        handler.setFormatter(fmt)
        handler._scamlib = True  # type: ignore[attr-defined]
        log.addHandler(handler)


def _check_out(out: Path, cfg: PipelineConfig, resume: bool) -> None:
    """Refuse an output folder that is not ours to write into (before anything is written)."""
    check_output_dir(out, "--out")
    config_path = out / "config.json"
    if not config_path.is_file():
        return
    if not resume:
        raise RunError(
            f"{out} already holds a run (config.json). Pass --resume to reuse its finished stages "
            "(stages whose settings changed run again), or choose another --out."
        )
    try:  # a folder of some other tool fails here, before anything is removed
        load_config(config_path)
    except ValueError as exc:
        raise RunError(
            f"--resume: {exc}; refusing to write into {out} (choose another --out)"
        ) from None


def run_stages(
    stages: Sequence[Stage],
    cfg: PipelineConfig,
    out: str | Path,
    *,
    device: str | None = "auto",
    resume: bool = False,
    progress: bool = True,
    finalize: Callable[[Context, dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run ``stages`` in order under ``out``, reusing every finished stage whose key matches.

    Writes ``config.json``, ``run.log``, ``state/`` and ``results.json`` / ``results.md``
    (the latter two from ``finalize(ctx, stage_records)``, which returns the results dict).
    """
    out = Path(out)
    env = init_distributed(device)
    if env.is_main:
        _check_out(out, cfg, resume)
        out.mkdir(parents=True, exist_ok=True)
    barrier(env)
    _setup_logging(out, env)
    if env.is_main:
        write_json(out / "config.json", config_to_dict(cfg))
    ctx = Context(cfg=cfg, out=out, env=env, progress=progress)
    store = StageStore(out)
    keys: dict[str, str] = {}
    records: dict[str, dict[str, Any]] = {}
    for stage in stages:
        missing = [u for u in stage.upstream if u not in keys]
        if missing:
            raise RunError(f"stage {stage.name} needs {missing} to run before it")
        key = stage_key(stage.name, stage.settings(cfg), [keys[u] for u in stage.upstream])
        keys[stage.name] = key
        if store.is_done(stage.name, key):
            rec = store.record(stage.name) or {}
            records[stage.name] = {
                "wall_time_s": 0.0,
                "reused": True,
                "summary": rec.get("summary", {}),
            }
            log.info("[%s] reused (key %s)", stage.name, key)
            continue
        barrier(env)
        if env.is_main:
            resuming = store.begin(stage.name, key, stage.outputs)
            log.info("[%s] %s (key %s)", stage.name, "resuming" if resuming else "running", key)
        barrier(env)
        t0 = time.perf_counter()
        summary = dict(stage.run(ctx))
        barrier(env)
        wall = time.perf_counter() - t0
        if env.is_main:
            store.finish(stage.name, key, wall, summary)
        records[stage.name] = {"wall_time_s": round(wall, 3), "reused": False, "summary": summary}
        log.info("[%s] done in %.1f s: %s", stage.name, wall, _one_line(summary))
    results: dict[str, Any] = {
        "config": config_to_dict(cfg),
        "device": str(env.device),
        "stages": records,
    }
    if finalize is not None:
        results = finalize(ctx, results)
    if env.is_main:
        write_json(out / "results.json", results)
        write_text(out / "results.md", results_markdown(results))
    barrier(env)
    return results


def _one_line(summary: Mapping[str, Any]) -> str:
    parts = []
    for k, v in summary.items():
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        elif isinstance(v, (int, str, bool)):
            parts.append(f"{k}={v}")
    return ", ".join(parts) or "ok"
