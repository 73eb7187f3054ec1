"""The stages of STANet+ (Secs. 3-6; SPEC §3-10), in the order :func:`build_stages` runs them.

========================  =====================================================================
stage                     does
========================  =====================================================================
``data``                  generates the built-in set (or checks the user's AVE root), decodes
                          every training video once into ``cache/``
``train_coarse``          S, ST, SA classifiers on tags, multi-label soft margin (Eq. 7)
``scam_coarse``           their CAMs and confidences, SCAM (Eq. 2), coarse boxes (Sec. 3.2);
                          writes ``pseudo/cam_s`` and ``pseudo/scam_coarse``
``train_fine``            S, ST, SA on the crops
``scam_fine``             fine CAMs pasted back, SCAM (fine) and AC (Eq. 22); writes
                          ``pseudo/scam_fine`` and ``pseudo/avg_fine``
``switch``                audio-switch labels (SPEC §6) and the switch
``train_mg``              S+ / ST+ / SA+ on short-, long- and cross-term inputs (Sec. 4)
``scam_plus``             their CAMs, SCAM+ over the 11 sources (Eq. 8); ``pseudo/scam_plus``
``pgt``                   pseudo-ground truth: SCAM+ smoothed over time and sparsified (SPEC §5)
                          on valid frames; ``pseudo/pgt``
``pseudo_quality``        every pseudo stage against the ground truth, when the set has one
``students``              STA, STA+ short, STA+ long on the pseudo-ground truth (Eqs. 17, 20)
``predict``               the test sets without tags: students, PF_final (Eq. 21), PF_agg (Eq. 23)
``evaluate``              the STAViS protocol on every test set
========================  =====================================================================

Where the papers leave the order open, scamlib decides (documented in ``docs/equations.rst``):
the coarse and fine SA nets use no switch (``g = 1``: the switch is trained after them, stage
4 of the issue's order); the SA+ nets are trained and read with the switch's gate; the S+ / ST+
/ SA+ branches start from the coarse nets' weights and see whole frames; the students take no
gate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from scamlib import functional as Fn
from scamlib.data import MultiGranularity, available_splits
from scamlib.data.synthetic import SyntheticConfig, generate
from scamlib.losses import bce_kl_loss, msm_loss, sta_plus_loss, switch_loss
from scamlib.metrics import protocol
from scamlib.models import create
from scamlib.models.audio import SpectrogramEncoder
from scamlib.nn import BASE_SOURCES, MG_SOURCES, FixationRefineLayer, switch_labels

from .datasets import (
    CropDataset,
    TargetDataset,
    avsal_root,
    grid_size,
    pseudo_path,
    read_map_png,
    test_sets,
    training_set,
)
from .distributed import barrier, shard
from .extract import (
    classify,
    for_each_row,
    load_row,
    resize_maps,
    save_row,
    work_file,
    write_maps,
)
from .io import atomic_path, load_checkpoint, write_map_png
from .runner import Context, RunError, Stage
from .train import fit, load_weights

__all__ = ["STUDENT_VARIANTS", "build_stages"]

log = logging.getLogger("scamlib.pipeline")

#: The student networks: variant -> (network, multi-granularity kind).
STUDENT_VARIANTS: dict[str, tuple[str, str | None]] = {
    "sta": ("sta", None),
    "sta_short": ("sta+", "short"),
    "sta_long": ("sta+", "long"),
}


# ---- small shared pieces --------------------------------------------------------------------
def _seed(ctx: Context, name: str) -> int:
    """A seed per (run seed, purpose), so each network's initialisation is reproducible."""
    digest = hashlib.sha256(f"{ctx.cfg.seed}:{name}".encode()).hexdigest()
    seed = int(digest[:8], 16)
    torch.manual_seed(seed)
    return seed


def _num_classes(ctx: Context) -> int:
    return training_set(ctx, None).num_classes


def _net(ctx: Context, name: str) -> nn.Module:
    cfg = ctx.cfg
    net = create(
        name,
        preset=cfg.preset,
        num_classes=_num_classes(ctx),
        pretrained=cfg.pretrained,
        steps=cfg.cgcn_steps,
    )
    for module in net.modules():  # the FRL thresholds of every C-GCN (Eqs. 13-14)
        if getattr(module, "refine", None) is not None and hasattr(module, "proj"):
            module.refine = FixationRefineLayer(cfg.t_d, cfg.t_r)
    return net


def _ckpt(ctx: Context, group: str, name: str) -> Path:
    return ctx.path("checkpoints", group, f"{name.replace('+', 'plus')}.safetensors")


def _trained(ctx: Context, group: str, name: str, model: str | None = None) -> nn.Module:
    """The network ``model`` (default ``name``) with its weights from ``checkpoints/group``."""
    net = _net(ctx, model or name)
    load_weights(net, _ckpt(ctx, group, name), ctx.env.device)
    return net.to(ctx.env.device).eval()


def _fit(ctx: Context, net: nn.Module, dataset, step, tcfg, group: str, name: str) -> dict:
    return fit(
        net,
        dataset,
        step,
        tcfg,
        env=ctx.env,
        checkpoint=_ckpt(ctx, group, name),
        seed=_seed(ctx, f"data:{group}:{name}"),
        amp=ctx.cfg.amp,
        num_workers=ctx.cfg.num_workers,
        desc=f"{group}/{name}",
        progress=ctx.progress,
    )


def _rows(dataset) -> dict[int, list[int]]:
    return {int(r): list(idx) for r, idx in dataset.groups().items()}


def _row_geometry(ctx: Context, index: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(frame size, map grid)`` of the row of training item ``index``."""
    frame = training_set(ctx, None).frame_size(index)
    return frame, grid_size(frame, ctx.cfg.map_side)


def _frame_indices(ctx: Context, indices: list[int]) -> list[int]:
    ds = training_set(ctx, None)
    return [ds.frame_index(i) for i in indices]


def _soft_confidences(logits: Tensor) -> Tensor:
    return logits.float().softmax(dim=-1)


def _train_classifiers(ctx: Context, group: str, dataset, tcfg) -> dict:
    summary = {}
    for name in BASE_SOURCES:
        _seed(ctx, f"init:{group}:{name}")
        net = _net(ctx, name)

        def step(model, batch, name=name):
            return msm_loss(classify(name, model, batch)[0], batch["tag"])

        summary[name] = _fit(ctx, net, dataset, step, tcfg, group, name)["loss"]
    return {"final_loss": {k: v[-1] for k, v in summary.items()}}


# ---- stage 0: data ----------------------------------------------------------------------------
def _run_data(ctx: Context) -> dict:
    cfg = ctx.cfg
    if cfg.data.builtin and ctx.env.is_main:
        generate(ctx.path("data"), SyntheticConfig(**cfg.data.synthetic), seed=cfg.seed)
    barrier(ctx.env)
    ds = training_set(ctx, None)
    if ctx.env.is_main:
        ds.decode_all()
    barrier(ctx.env)
    if len(ds) == 0:
        raise RunError(f"the AVE training split under {ds.ave_dir} has no frames")
    return {"rows": len(ds.groups()), "frames": len(ds), "classes": ds.num_classes}


# ---- stages 1-2: coarse -----------------------------------------------------------------------
def _run_train_coarse(ctx: Context) -> dict:
    tcfg = ctx.cfg.coarse
    return _train_classifiers(ctx, "coarse", training_set(ctx, tcfg.image_size), tcfg)


def _sources_batch(nets: Mapping[str, nn.Module], size) -> Any:
    """Batch function: the tag's CAM (at ``size``) and the confidences of every source net."""

    def batch_fn(batch: dict) -> dict[str, Tensor]:
        cams, confs = [], []
        for name, net in nets.items():
            logits, maps = classify(name, net, batch)
            cams.append(Fn.cam(maps.float(), batch["tag"], size=size))
            confs.append(_soft_confidences(logits))
        return {"cams": torch.stack(cams, 1), "conf": torch.stack(confs, 1), "tag": batch["tag"]}

    return batch_fn


def _run_scam_coarse(ctx: Context) -> dict:
    cfg = ctx.cfg
    ds = training_set(ctx, cfg.coarse.image_size)
    nets = {n: _trained(ctx, "coarse", n) for n in BASE_SOURCES}
    valid_count = [0, 0]

    def row_fn(row: int, indices: list[int], out: dict[str, Tensor]) -> None:
        frame, grid = _row_geometry(ctx, indices[0])
        ks = _frame_indices(ctx, indices)
        cams = resize_maps(out["cams"], grid, normalize=True)
        tags = out["tag"].long()
        result = Fn.scam(cams, out["conf"], tags, lam=cfg.lam)
        write_maps(ctx.out, "cam_s", row, ks, cams[:, 0], frame)
        keep = result.valid.nonzero().flatten().tolist()
        write_maps(ctx.out, "scam_coarse", row, [ks[i] for i in keep], result.map[keep], frame)
        boxes = Fn.scale_boxes(Fn.coarse_box(result.map, cfg.box_factor), grid, frame)
        valid_count[0] += len(keep)
        valid_count[1] += len(ks)
        save_row(ctx, "coarse", row, {"index": torch.tensor(indices), "boxes": boxes})

    rows = for_each_row(
        ctx,
        ds,
        _rows(ds),
        "coarse",
        _sources_batch(nets, (cfg.coarse.image_size,) * 2),
        row_fn,
        batch_size=cfg.coarse.batch_size,
        desc="scam_coarse",
    )
    return {"rows": rows, "valid_frames": valid_count[0], "frames": valid_count[1]}


# ---- stages 3: fine ----------------------------------------------------------------------------
def _crops(ctx: Context) -> CropDataset:
    def build() -> CropDataset:
        base = training_set(ctx, None)
        boxes = torch.zeros(len(base), 4, dtype=torch.int64)
        for row in _rows(base):
            saved = load_row(ctx, "coarse", row)
            boxes[saved["index"]] = saved["boxes"]
        return CropDataset(base, boxes, ctx.cfg.fine.image_size)

    return ctx.shared("crops", build)


def _run_train_fine(ctx: Context) -> dict:
    return _train_classifiers(ctx, "fine", _crops(ctx), ctx.cfg.fine)


def _run_scam_fine(ctx: Context) -> dict:
    cfg = ctx.cfg
    crops = _crops(ctx)
    nets = {n: _trained(ctx, "fine", n) for n in BASE_SOURCES}
    counts = [0, 0]

    def row_fn(row: int, indices: list[int], out: dict[str, Tensor]) -> None:
        frame, grid = _row_geometry(ctx, indices[0])
        ks = _frame_indices(ctx, indices)
        boxes = Fn.scale_boxes(crops.boxes[indices], frame, grid)
        n, k = out["cams"].shape[:2]
        pasted = Fn.paste_back(
            out["cams"].flatten(0, 1), boxes.repeat_interleave(k, dim=0), grid
        ).view(n, k, *grid)
        tags = out["tag"].long()
        result = Fn.scam(pasted, out["conf"], tags, lam=cfg.lam)
        write_maps(ctx.out, "avg_fine", row, ks, Fn.average_cams(pasted), frame)
        keep = result.valid.nonzero().flatten().tolist()
        write_maps(ctx.out, "scam_fine", row, [ks[i] for i in keep], result.map[keep], frame)
        counts[0] += len(keep)
        counts[1] += len(ks)
        save_row(
            ctx,
            "fine",
            row,
            {"cams": pasted.half(), "conf": out["conf"], "tag": tags, "valid": result.valid},
        )

    rows = for_each_row(
        ctx,
        crops,
        _rows(crops.base),
        "fine",
        _sources_batch(nets, None),
        row_fn,
        batch_size=cfg.fine.batch_size,
        desc="scam_fine",
    )
    return {"rows": rows, "valid_frames": counts[0], "frames": counts[1]}


# ---- stage 4: audio switch -----------------------------------------------------------------
class AudioTagNet(nn.Module):
    """Audio-only tag classifier: the label source of the switch when no audio classifier is
    given (SPEC §6). ``(b, 1, F, S) -> (b, C)`` logits."""

    def __init__(self, num_classes: int, channels=(16, 32, 64)) -> None:
        super().__init__()
        self.encoder = SpectrogramEncoder(channels)
        self.fc = nn.Linear(self.encoder.out_dim, num_classes)

    def forward(self, spec: Tensor) -> Tensor:
        return self.fc(self.encoder(spec))


class _Labelled(torch.utils.data.Dataset):
    """Items ``indices`` of ``base`` with switch labels; or, given ``audio_only`` (the
    spectrograms of all items of ``base``), only their audio and tag."""

    def __init__(
        self, base, indices: list[int], labels: Tensor | None = None, audio_only=None
    ) -> None:
        self.base, self.indices, self.labels, self.audio_only = base, indices, labels, audio_only

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        index = self.indices[i]
        if self.audio_only is not None:
            return {"audio": self.audio_only[index], "tag": self.base.tag_of(index)}
        item = self.base[index]
        if self.labels is not None:
            item["switch_label"] = self.labels[i]
        return item


#: The audio tag nets of the switch labels train for this many times the switch's epochs.
AUDIO_EPOCHS_FACTOR = 5


def _switch_labels(ctx: Context, ds) -> Tensor:
    """Out-of-fold predictions of two audio tag nets (rows split by parity), as 0/1 labels."""
    rows = _rows(ds)
    folds = [[r for j, r in enumerate(sorted(rows)) if j % 2 == f] for f in (0, 1)]
    bank = torch.stack([ds.audio(i) for i in range(len(ds))])  # computed once, reused per epoch
    labels = torch.zeros(len(ds))
    for f in (0, 1):
        train_idx = [i for r in folds[1 - f] for i in rows[r]]
        predict_idx = [i for r in folds[f] for i in rows[r]]
        if not train_idx or not predict_idx:
            labels[predict_idx] = 1.0
            continue
        _seed(ctx, f"init:switch:audio{f}")
        net = AudioTagNet(ds.num_classes)

        def step(model, batch):
            return msm_loss(model(batch["audio"]), batch["tag"])

        # audio only: cheap, so it trains for several times the switch's epochs
        tcfg = replace(ctx.cfg.switch, epochs=AUDIO_EPOCHS_FACTOR * ctx.cfg.switch.epochs)
        train = _Labelled(ds, train_idx, audio_only=bank)
        _fit(ctx, net, train, step, tcfg, "switch", f"audio{f}")
        net.eval()
        loader = torch.utils.data.DataLoader(
            _Labelled(ds, predict_idx, audio_only=bank), batch_size=ctx.cfg.switch.batch_size
        )
        preds = []
        with torch.inference_mode():
            for batch in loader:
                preds.append(net(batch["audio"].to(ctx.env.device)).argmax(-1).cpu())
        tags = torch.tensor([ds.tag_of(i) for i in predict_idx])
        labels[predict_idx] = switch_labels(torch.cat(preds), tags)
    return labels


def _run_switch(ctx: Context) -> dict:
    ds = training_set(ctx, ctx.cfg.switch.image_size)
    labels_path = ctx.path("work", "switch_labels.pt")
    if labels_path.is_file():
        labels = torch.load(labels_path, weights_only=True)
    else:
        labels = _switch_labels(ctx, ds)
        if ctx.env.is_main:
            labels_path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(labels_path) as tmp:
                torch.save(labels, tmp)
        barrier(ctx.env)
    _seed(ctx, "init:switch:switch")
    net = _net(ctx, "audio_switch")

    def step(model, batch):
        frames = batch["frames"]
        out = model(frames[:, frames.shape[1] // 2], batch["audio"])
        return switch_loss(out.logit, batch["switch_label"])

    summary = _fit(ctx, net, _Labelled(ds, list(range(len(ds))), labels), step, ctx.cfg.switch,
                   "switch", "audio_switch")  # fmt: skip
    result: dict[str, Any] = {
        "positive_labels": round(float(labels.mean()), 4),
        "final_loss": summary["loss"][-1],
    }
    truth = _audio_matches(ctx, ds)
    if truth is not None:
        result["label_agreement_with_truth"] = round(float((labels == truth).float().mean()), 4)
    return result


def _ground_truth(ctx: Context, row: int) -> dict[str, np.ndarray] | None:
    """The built-in set's sidecar for ``row`` (``None`` on real data)."""
    path = ctx.path("data", "AVE_Dataset", "ground_truth", f"{row:05d}.npz")
    if not ctx.cfg.data.builtin or not path.is_file():
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _audio_matches(ctx: Context, ds) -> Tensor | None:
    truth = torch.zeros(len(ds))
    for row, indices in _rows(ds).items():
        gt = _ground_truth(ctx, row)
        if gt is None:
            return None
        truth[indices] = float(bool(gt["audio_matches"]))
    return truth


# ---- stage 5: multi-granularity nets and SCAM+ --------------------------------------------
def _mg_parts(source: str) -> tuple[str, str]:
    net, kind = source.split("_")
    return net, kind


def _mg_dataset(ctx: Context, source: str, seed_offset: int = 0) -> MultiGranularity:
    net, kind = _mg_parts(source)
    base = training_set(ctx, ctx.cfg.mg.image_size)
    return MultiGranularity(
        base, kind=kind, net=net.rstrip("+"), n=ctx.cfg.n_mg, seed=ctx.cfg.seed + seed_offset
    )


def _switch(ctx: Context) -> nn.Module:
    return ctx.shared("switch_net", lambda: _trained(ctx, "switch", "audio_switch"))


def _run_train_mg(ctx: Context) -> dict:
    losses = {}
    for source in MG_SOURCES:
        net_name, _kind = _mg_parts(source)
        _seed(ctx, f"init:mg:{source}")
        net = _net(ctx, net_name)
        branch = net_name.rstrip("+")
        state, _ = load_checkpoint(_ckpt(ctx, "coarse", branch))
        net.branch.load_state_dict(state)
        switch = _switch(ctx) if net_name == "sa+" else None

        def step(model, batch, name=net_name, switch=switch):
            return msm_loss(classify(name, model, batch, switch)[0], batch["tag"])

        summary = _fit(ctx, net, _mg_dataset(ctx, source), step, ctx.cfg.mg, "mg", source)
        losses[source] = summary["loss"][-1]
    return {"final_loss": losses}


def _run_scam_plus(ctx: Context) -> dict:
    cfg = ctx.cfg
    size = (cfg.mg.image_size,) * 2
    for source in MG_SOURCES:
        net_name, _kind = _mg_parts(source)
        net = _trained(ctx, "mg", source, model=net_name)
        switch = _switch(ctx) if net_name == "sa+" else None
        ds = _mg_dataset(ctx, source, seed_offset=1)

        def batch_fn(batch, net=net, name=net_name, switch=switch):
            logits, maps = classify(name, net, batch, switch)
            return {
                "cams": Fn.cam(maps.float(), batch["tag"], size=size),
                "conf": _soft_confidences(logits),
            }

        def row_fn(row, indices, out, source=source):
            _frame, grid = _row_geometry(ctx, indices[0])
            cams = resize_maps(out["cams"], grid, normalize=True)
            save_row(ctx, f"mg/{source}", row, {"cams": cams.half(), "conf": out["conf"]})

        for_each_row(
            ctx, ds, _rows(ds.base), f"mg/{source}", batch_fn, row_fn,
            batch_size=cfg.mg.batch_size, desc=f"cams {source}",
        )  # fmt: skip
    barrier(ctx.env)
    counts = [0, 0]
    rows = _rows(training_set(ctx, None))
    for row in shard(sorted(rows), ctx.env):
        if _work_exists(ctx, "scam_plus", row):
            continue
        indices = rows[row]
        frame, _grid = _row_geometry(ctx, indices[0])
        ks = _frame_indices(ctx, indices)
        fine = load_row(ctx, "fine", row)
        mg = [load_row(ctx, f"mg/{s}", row) for s in MG_SOURCES]
        result = Fn.scam_plus(
            fine["cams"].float(),
            fine["conf"],
            torch.stack([m["cams"].float() for m in mg], 1),
            torch.stack([m["conf"] for m in mg], 1),
            fine["tag"],
            lam=cfg.lam,
        )
        keep = result.valid.nonzero().flatten().tolist()
        write_maps(ctx.out, "scam_plus", row, [ks[i] for i in keep], result.map[keep], frame)
        counts[0] += len(keep)
        counts[1] += len(ks)
        save_row(ctx, "scam_plus", row, {"map": result.map.half(), "valid": result.valid})
    return {"valid_frames": counts[0], "frames": counts[1]}


def _work_exists(ctx: Context, stage: str, row: int) -> bool:
    return work_file(ctx, stage, row).is_file()


# ---- stage 6: pseudo-ground truth ------------------------------------------------------------
def _run_pgt(ctx: Context) -> dict:
    cfg = ctx.cfg
    rows = _rows(training_set(ctx, None))
    counts = [0, 0]
    for row in shard(sorted(rows), ctx.env):
        if _work_exists(ctx, "pgt", row):
            continue
        indices = rows[row]
        frame, _grid = _row_geometry(ctx, indices[0])
        ks = _frame_indices(ctx, indices)
        saved = load_row(ctx, "scam_plus", row)
        maps, valid = saved["map"].float(), saved["valid"]
        if cfg.smooth:
            maps = Fn.sparsify(
                Fn.temporal_smooth(maps, cfg.smooth_window, valid=valid), cfg.sparsify_factor
            )
            maps = Fn.minmax(maps)
        keep = valid.nonzero().flatten().tolist()
        write_maps(ctx.out, "pgt", row, [ks[i] for i in keep], maps[keep], frame)
        counts[0] += len(keep)
        counts[1] += len(ks)
        save_row(ctx, "pgt", row, {"valid": valid})
    return {"frames": counts[0], "left_out": counts[1] - counts[0]}


# ---- pseudo-fixation quality against the ground truth ----------------------------------------
PSEUDO_QUALITY_STAGES = ("cam_s", "scam_coarse", "avg_fine", "scam_fine", "scam_plus", "pgt")


class _GroundTruthFrames:
    """The training frames with a ground truth, in the :class:`FixationDataset` interface.

    ``density`` is the sidecar's density; ``fixations`` its pixels at or above
    ``0.5 * max`` (the head region observers look at, SPEC synthetic set).
    """

    def __init__(self, ctx: Context, frames: list[tuple[int, int]]) -> None:
        self.ctx = ctx
        self.frames = frames
        self._gt: dict[int, dict[str, np.ndarray]] = {}
        self._union: dict[str, Tensor] = {}

    def _density(self, row: int, k: int) -> Tensor:
        if row not in self._gt:
            self._gt[row] = _ground_truth(self.ctx, row) or {}
        gt = self._gt[row]
        pos = int(np.flatnonzero(gt["frame_index"] == k)[0])
        return torch.from_numpy(gt["density"][pos]).double()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict:
        row, k = self.frames[i]
        density = self._density(row, k)
        return {
            "density": density,
            "fixations": density >= 0.5 * density.max(),
            "video": str(row),
            "frame_index": k,
            "row": row,
        }

    def fixation_union(self, video: str) -> Tensor:
        if video not in self._union:
            items = [self[i] for i, (r, _) in enumerate(self.frames) if str(r) == video]
            self._union[video] = torch.stack([it["fixations"] for it in items]).any(0)
        return self._union[video]


def _run_pseudo_quality(ctx: Context) -> dict:
    if not ctx.env.is_main:
        return {}
    ds = training_set(ctx, None)
    rows = _rows(ds)
    if _ground_truth(ctx, min(rows)) is None:
        return {"skipped": "the training set has no ground truth"}
    frames = [
        (row, ds.frame_index(i))
        for row in sorted(rows)
        for i in rows[row]
        if all(
            pseudo_path(ctx.out, s, row, ds.frame_index(i)).is_file() for s in PSEUDO_QUALITY_STAGES
        )
    ]
    frames = frames[:: max(1, ctx.cfg.quality_stride)]
    gt = _GroundTruthFrames(ctx, frames)
    result: dict[str, Any] = {"frames": len(frames), "of": len(ds)}
    for stage in PSEUDO_QUALITY_STAGES:
        scores = protocol.evaluate(
            lambda item, stage=stage: read_map_png(
                pseudo_path(ctx.out, stage, item["row"], item["frame_index"])
            ),
            gt,
            seed=ctx.cfg.seed,
            n_splits=ctx.cfg.eval_splits,
        )
        result[stage] = {m: _round(v) for m, v in scores.summary.items()}
    return result


def _round(v: float) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 4)


# ---- stage 7: students -----------------------------------------------------------------------
def _students_dir(ctx: Context) -> Path:
    return ctx.path("checkpoints", "students")


def _run_students(ctx: Context) -> dict:
    from scamlib.inference import save_student

    cfg = ctx.cfg
    base = training_set(ctx, cfg.student.image_size)
    have = [
        i
        for i in range(len(base))
        if pseudo_path(ctx.out, "pgt", base.row_of(i), base.frame_index(i)).is_file()
    ]
    if not have:
        raise RunError("no training frame has a pseudo-ground truth: nothing to train students on")
    result: dict[str, Any] = {"frames": len(have)}
    sta_state = None
    for variant, (name, kind) in STUDENT_VARIANTS.items():
        _seed(ctx, f"init:student:{variant}")
        net = _net(ctx, name)
        if kind is None:
            data = TargetDataset(base, ctx.out, "pgt", have)

            def step(model, batch):
                return bce_kl_loss(model(batch["frames"], batch["audio"]), batch["target"])

        else:
            net.branch.load_state_dict(sta_state, strict=False)
            mg = MultiGranularity(base, kind=kind, net="sta", n=cfg.n_mg, seed=cfg.seed)
            data = TargetDataset(mg, ctx.out, "pgt", have)

            def step(model, batch):
                pred = model(batch["frames"], batch["audio"], batch["mg_frames"], batch["mg_audio"])
                return sta_plus_loss(pred, batch["targets"], valid=batch["valid"])

        tcfg = cfg.student if kind is None else cfg.student_plus
        if tcfg.image_size != cfg.student.image_size:
            raise RunError("student_plus.image_size must equal student.image_size")
        summary = _fit(ctx, net, data, step, tcfg, "train", variant)
        if kind is None:
            sta_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        if ctx.env.is_main:
            save_student(
                _students_dir(ctx) / f"{variant}.safetensors",
                net,
                name=name,
                preset=cfg.preset,
                image_size=cfg.student.image_size,
                kind=kind,
                n_mg=cfg.n_mg,
                cgcn_steps=cfg.cgcn_steps,
                num_classes=_num_classes(ctx),
                clip_len=cfg.clip_frames,
                extra={"seed": cfg.seed, "profile": cfg.profile},
            )
        result[variant] = {"final_loss": summary["loss"][-1]}
    barrier(ctx.env)
    return result


# ---- stage 8: prediction and evaluation --------------------------------------------------------
def _test_root(ctx: Context) -> Path:
    root = avsal_root(ctx)
    if root is None:
        raise RunError("no STAViS-layout root (--avsal-root) to predict and evaluate on")
    return root


def _datasets(ctx: Context) -> list[str]:
    if ctx.cfg.data.builtin:
        return list(SyntheticConfig(**ctx.cfg.data.synthetic).test_datasets)
    return list(ctx.cfg.data.datasets)


def _prediction_path(ctx: Context, variant: str, db: str, video: str, k: int) -> Path:
    return ctx.path("predictions", variant, db, video, f"img_{k:05d}.png")


def _run_predict(ctx: Context) -> dict:
    from scamlib.inference import Predictor, load_students

    cfg = ctx.cfg
    root = _test_root(ctx)
    students = load_students(_students_dir(ctx), device=ctx.env.device)
    predictor = Predictor(
        students, n_mg=cfg.n_mg, seed=cfg.seed, batch_size=cfg.student.batch_size,
        device=ctx.env.device,
    )  # fmt: skip
    written = 0
    for db in _datasets(ctx):
        sets = {
            split: predictor.open_dataset(root, db, split) for split in available_splits(root, db)
        }
        jobs = [(split, v) for split, ds in sets.items() for v in ds.videos]
        seen: set[str] = set()
        unique = [(s, v) for s, v in jobs if not (v in seen or seen.add(v))]
        for split, video in shard(unique, ctx.env):
            ds = sets[split]
            ks = [ds.frame_index(i) for i in ds.frames_of(video)]
            variants = list(predictor.variants)
            last = _prediction_path(ctx, variants[-1], db, video, ks[-1])
            if last.is_file():
                continue
            maps = predictor.predict_video(ds, video)
            for variant in variants:  # the last variant's last frame is the video's marker
                for k, m in zip(ks, maps[variant], strict=True):
                    write_map_png(_prediction_path(ctx, variant, db, video, k), m)
            written += 1
    return {"videos": written}


def _run_evaluate(ctx: Context) -> dict:
    if not ctx.env.is_main:
        return {}
    root = _test_root(ctx)
    cfg = ctx.cfg
    from .report import VARIANTS

    test: dict[str, dict[str, dict[str, float | None]]] = {}
    for db in _datasets(ctx):
        sets = test_sets(root, db, None)
        test[db] = {}
        for variant in VARIANTS:
            pred_root = ctx.path("predictions", variant, db)
            if not pred_root.is_dir():
                continue
            per_split = {
                str(split): protocol.evaluate(
                    pred_root, ds.ground_truth(), seed=cfg.seed, n_splits=cfg.eval_splits, readers=2
                )
                for split, ds in sets.items()
            }
            combined = protocol.combine_splits(per_split)
            test[db][variant] = {m: _round(v) for m, v in combined.summary.items()}
    return {"test": test}


# ---- the stage list ----------------------------------------------------------------------------
def _settings(*fields: str):
    def settings(cfg) -> dict[str, Any]:
        from .config import config_to_dict

        whole = config_to_dict(cfg)
        return {f: whole[f] for f in fields}

    return settings


def _data_settings(cfg) -> dict[str, Any]:
    from .config import config_to_dict

    data = config_to_dict(cfg.data)
    data.pop("datasets")
    if not cfg.data.builtin:
        data.pop("synthetic")
    seed = cfg.seed if cfg.data.builtin else None
    return {"data": data, "clip_frames": cfg.clip_frames, "seed": seed}


_MODEL = ("preset", "pretrained", "seed", "amp")


def build_stages(cfg=None) -> list[Stage]:
    """The pipeline's stages in order (each keyed by the settings its outputs depend on)."""
    pseudo = lambda *names: tuple(f"pseudo/{n}" for n in names)  # noqa: E731
    return [
        Stage("data", _data_settings, (), ("cache",), _run_data),
        Stage("train_coarse", _settings(*_MODEL, "coarse"), ("data",), ("checkpoints/coarse",),
              _run_train_coarse),
        Stage("scam_coarse", _settings("lam", "box_factor", "map_side", "num_workers"),
              ("train_coarse",), ("work/coarse", *pseudo("cam_s", "scam_coarse")),
              _run_scam_coarse),
        Stage("train_fine", _settings(*_MODEL, "fine"), ("scam_coarse",), ("checkpoints/fine",),
              _run_train_fine),
        Stage("scam_fine", _settings("lam", "map_side"), ("train_fine",),
              ("work/fine", *pseudo("scam_fine", "avg_fine")), _run_scam_fine),
        Stage("switch", _settings(*_MODEL, "switch"), ("data",),
              ("checkpoints/switch", "work/switch_labels.pt"), _run_switch),
        Stage("train_mg", _settings(*_MODEL, "mg", "n_mg", "cgcn_steps", "t_d", "t_r"),
              ("train_coarse", "switch"), ("checkpoints/mg",), _run_train_mg),
        Stage("scam_plus", _settings("lam", "map_side"), ("train_mg", "scam_fine"),
              ("work/mg", "work/scam_plus", *pseudo("scam_plus")), _run_scam_plus),
        Stage("pgt", _settings("smooth", "smooth_window", "sparsify_factor"), ("scam_plus",),
              ("work/pgt", *pseudo("pgt")), _run_pgt),
        Stage("pseudo_quality", _settings("eval_splits", "quality_stride"), ("pgt",), (),
              _run_pseudo_quality),
        Stage("students", _settings(*_MODEL, "student", "student_plus", "n_mg", "cgcn_steps",
                                    "t_d", "t_r"),
              ("pgt",), ("checkpoints/train", "checkpoints/students"), _run_students),
        Stage("predict", _test_settings, ("students",), ("predictions",), _run_predict),
        Stage("evaluate", _settings("eval_splits"), ("predict",), (), _run_evaluate),
    ]  # fmt: skip


def _test_settings(cfg) -> dict[str, Any]:
    return {
        "avsal_root": cfg.data.avsal_root,
        "datasets": list(cfg.data.datasets),
        "seed": cfg.seed,
        "n_mg": cfg.n_mg,
    }


def finalize(ctx: Context, results: dict[str, Any]) -> dict[str, Any]:
    """Lift the test metrics and the pseudo-fixation quality to the top of ``results.json``."""
    stages = results.get("stages", {})
    quality = stages.get("pseudo_quality", {}).get("summary", {})
    if quality and "skipped" not in quality:
        results["pseudo_quality"] = {s: quality[s] for s in PSEUDO_QUALITY_STAGES if s in quality}
        results["pseudo_quality_frames"] = {"frames": quality["frames"], "of": quality["of"]}
    results["test"] = stages.get("evaluate", {}).get("summary", {}).get("test", {})
    results["wall_time_s"] = {k: v.get("wall_time_s", 0.0) for k, v in stages.items()}
    return json.loads(json.dumps(results, default=str))
