"""One training loop for every network of the pipeline (classifiers and students).

Single process or DistributedDataParallel under ``torchrun``; mixed precision on CUDA when
asked; resumable at epoch granularity (model and optimiser state saved atomically after every
epoch); the finished weights saved as safetensors with the loss history in their metadata.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .config import TrainConfig
from .distributed import DistEnv, barrier
from .io import atomic_path, load_checkpoint, save_checkpoint

__all__ = ["fit", "load_weights", "progress_bar", "saved_summary", "to_device"]

StepFn = Callable[[nn.Module, Mapping[str, Any]], Tensor]
#: ``save(path, model, summary)``: writes a trained network's weights (see :func:`fit`).
SaveFn = Callable[[Path, nn.Module, dict[str, Any]], Any]


def saved_summary(meta: Mapping[str, str]) -> dict[str, Any]:
    """The training summary a finished checkpoint's metadata holds (``{}`` when none).

    Example:
        >>> saved_summary({"summary": '{"steps": 3}'})
        {'steps': 3}
        >>> extra = json.dumps({"summary": json.dumps({"steps": 2}), "seed": "0"})
        >>> saved_summary({"extra": extra})
        {'steps': 2}
    """
    if "summary" in meta:
        return json.loads(meta["summary"])
    extra = json.loads(meta.get("extra") or "{}")
    return json.loads(extra.get("summary") or "{}")


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def load_weights(model: nn.Module, path: str | Path, device: torch.device | str = "cpu") -> dict:
    """Load a safetensors checkpoint written by :func:`fit` into ``model``; returns its metadata."""
    state, meta = load_checkpoint(path, device)
    model.load_state_dict(state, strict=True)
    return meta


def fit(
    model: nn.Module,
    dataset: Dataset,
    step: StepFn,
    cfg: TrainConfig,
    *,
    env: DistEnv,
    checkpoint: str | Path,
    seed: int = 0,
    amp: bool = False,
    num_workers: int = 0,
    collate_fn: Callable | None = None,
    desc: str = "train",
    progress: bool = True,
    save: SaveFn | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``dataset`` with ``step(model, batch) -> loss``; save to ``checkpoint``.

    If ``checkpoint`` already exists the weights are loaded and training is skipped (a finished
    network is never retrained). An interrupted run resumes from the last finished epoch (the
    model and optimiser state of every epoch but the last go to ``<checkpoint>.resume.pt``,
    removed once the weights are saved).

    ``save(checkpoint, model, summary)`` writes the finished weights (main process only);
    the default is a safetensors file with the summary in its metadata. A caller that keeps
    its networks in another format (the students' self-describing files) passes its own
    writer, so that the weights are stored once; the file must load with
    :func:`load_weights` and keep the summary as a ``"summary"`` entry of its metadata, or of
    the JSON of its ``"extra"`` entry (:func:`scamlib.models.save_student`'s ``extra``).

    Returns:
        ``{"epochs", "steps", "loss" (mean per epoch), "wall_time_s"}``.
    """
    checkpoint = Path(checkpoint)
    resume_path = checkpoint.with_name(checkpoint.name + ".resume.pt")
    model.to(env.device)
    if checkpoint.is_file():
        return saved_summary(load_weights(model, checkpoint, env.device))
    if len(dataset) == 0:
        raise ValueError(f"{desc}: the training set is empty; nothing to train on")

    generator = torch.Generator().manual_seed(seed)
    sampler = (
        DistributedSampler(dataset, env.world_size, env.rank, shuffle=True, seed=seed)
        if env.distributed
        else None
    )
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator if sampler is None else None,
        num_workers=num_workers,
        collate_fn=collate_fn,
        drop_last=len(dataset) > cfg.batch_size * env.world_size,
        persistent_workers=num_workers > 0,
    )
    net: nn.Module = model
    if env.distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[env.device.index] if env.device.type == "cuda" else None
        )
    optimizer = _optimizer(model, cfg)
    use_amp = amp and env.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    history: list[float] = []
    start_epoch, steps = 0, 0
    if resume_path.is_file():
        state = torch.load(resume_path, map_location=env.device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, start_epoch, steps = (
            list(state["history"]),
            int(state["epoch"]),
            int(state["steps"]),
        )
        generator.manual_seed(seed + start_epoch)

    per_epoch = len(loader)
    if cfg.max_steps_per_epoch is not None:
        per_epoch = min(per_epoch, cfg.max_steps_per_epoch)
    t0 = time.perf_counter()
    bar = progress_bar(
        total=cfg.epochs * per_epoch,
        initial=start_epoch * per_epoch,
        desc=desc,
        enabled=progress and env.is_main,
    )
    net.train()
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        total, count = 0.0, 0
        for i, batch in enumerate(loader):
            if i >= per_epoch:
                break
            batch = to_device(batch, env.device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(env.device.type, enabled=use_amp):
                loss = step(net, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{desc}: loss became {loss.item()} at epoch {epoch + 1}, step {i + 1}; "
                    "lower the learning rate or check the inputs"
                )
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += float(loss.detach())
            count += 1
            steps += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{total / count:.4f}")
        history.append(total / max(count, 1))
        if env.is_main and epoch + 1 < cfg.epochs:  # the last epoch ends in the saved weights
            with atomic_path(resume_path) as tmp:
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "history": history,
                        "epoch": epoch + 1,
                        "steps": steps,
                    },
                    tmp,
                )
        barrier(env)
    if bar is not None:
        bar.close()
    summary = {
        "epochs": cfg.epochs,
        "steps": steps,
        "loss": [round(v, 6) for v in history],
        "wall_time_s": round(time.perf_counter() - t0, 3),
    }
    if not all(math.isfinite(v) for v in history):
        raise FloatingPointError(f"{desc}: non-finite loss history {history}")
    if env.is_main:
        if save is None:
            save_checkpoint(checkpoint, model.state_dict(), {"summary": json.dumps(summary)})
        else:
            save(checkpoint, model, summary)
        resume_path.unlink(missing_ok=True)
    barrier(env)
    model.eval()
    return summary


def progress_bar(total: int, initial: int, desc: str, enabled: bool):
    """A tqdm bar (or None when disabled): the progress display of every long stage."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True)
