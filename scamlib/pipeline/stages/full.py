"""Fully supervised references: networks trained on the ground truth of the STAViS train lists.

STANet+ Table 7 sets the weakly supervised method beside fully supervised ones. The harness
trains each network named in ``full_models`` (the STA student, DAVE, STAViS) the way STAViS
does (STAViS Sec. 3.6): for each fold ``k``, one model on the ground-truth density maps of the
videos of ``<DB>_list_train_<k>_fps.txt`` of every requested dataset together (a dataset with
a single fixed split, like DIEM, adds its one ``<DB>_list_train_fps.txt`` to every fold). Each
model predicts the test fold of the same number; a test list without folds is predicted by the
first fold's model. Predictions go to ``predictions/<name>_full/<DB>/<video>/img_<k:05d>.png``
and are scored by the ``evaluate`` stage with the protocol of the weak students
(:func:`evaluate_full`).

Losses, each the one its paper trains with:

* ``sta``: BCE + KL, STANet+ Eq. 17 (:func:`scamlib.losses.bce_kl_loss`), the students' loss;
* ``dave``: the KL divergence of the normalised maps, DAVE Eq. 2 (:func:`scamlib.losses.kl_loss`);
* ``stavis``: CE + CC + NSS with the fixations, STAViS Eqs. 7-11
  (:func:`scamlib.losses.stavis_loss`), the audio-visual stage.

Clip length, input size and audio front end of DAVE and STAViS come from their own config
(``net.arch``); the checkpoints (``checkpoints/full/<name>/<name>_<fold>.safetensors``) are
student checkpoints, so ``scamlib predict`` runs them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset, Dataset

from scamlib.data import AVSaliency, available_splits
from scamlib.data.annotations import fold_list_path
from scamlib.inference import Predictor
from scamlib.losses import bce_kl_loss, kl_loss, stavis_loss
from scamlib.metrics import protocol
from scamlib.models import create, load_student, run_batch, save_student
from scamlib.models.supervised import full_settings

from ..config import config_to_dict
from ..datasets import avsal_root
from ..datasets import test_sets as _test_sets
from ..distributed import barrier, shard
from ..io import read_json, write_json, write_map_png
from ..runner import Context, Stage
from .common import final_loss, fit_net, net, num_classes, round_metric, seed
from .evaluation import prediction_precision
from .evaluation import test_datasets as _test_datasets

__all__ = [
    "GroundTruthTargets",
    "evaluate_full",
    "fold_plan",
    "full_results",
    "full_stages",
    "full_variant",
]

Fold = int | None

_LOSSES = {
    "sta": lambda out, batch: bce_kl_loss(out, batch["target"]),
    "dave": lambda out, batch: kl_loss(out, batch["target"]),
    "stavis": lambda out, batch: stavis_loss(out, batch["target"], batch["fixations"]),
}


def full_variant(name: str) -> str:
    """The prediction folder and results key of full model ``name``: ``<name>_full``.

    Example:
        >>> full_variant("sta")
        'sta_full'
    """
    return f"{name}_full"


class GroundTruthTargets(Dataset):
    """Items of a STAViS-layout set with their ground truth at the network input size.

    ``target`` ``(H, W)``: the density map resized bilinearly to the frames' size, in
    ``[0, 1]``; ``fixations`` ``(H, W)``: the binary fixations max-pooled to that size (a
    fixation is never lost by the resize). ``frames`` and ``audio`` as the set gives them.

    Args:
        dataset: an :class:`~scamlib.data.AVSaliency` with annotations.

    Raises:
        ValueError: a dataset built without annotations.

    Example:
        >>> from types import SimpleNamespace
        >>> GroundTruthTargets(SimpleNamespace(annotations=False))
        Traceback (most recent call last):
        ...
        ValueError: GroundTruthTargets needs a dataset built with annotations=True
    """

    def __init__(self, dataset: AVSaliency) -> None:
        if not dataset.annotations:
            raise ValueError("GroundTruthTargets needs a dataset built with annotations=True")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.dataset[index]
        size = tuple(item["frames"].shape[-2:])
        density = item["density"].float()[None, None]
        fix = item["fixations"].float()[None, None]
        return {
            "frames": item["frames"],
            "audio": item["audio"],
            "target": F.interpolate(density, size=size, mode="bilinear", align_corners=False)[
                0, 0
            ].clamp_(0.0, 1.0),
            "fixations": F.adaptive_max_pool2d(fix, size)[0, 0],
        }


def fold_plan(
    root: str | Path, datasets: Sequence[str]
) -> tuple[dict[Fold, list[tuple[str, Fold]]], dict[str, dict[Fold, Fold]]]:
    """Which train lists each fold's model learns from, and which model predicts each test list.

    The folds are the numbered test folds of any dataset (``None`` when no dataset has any).
    Fold ``k`` trains on ``(DB, k)`` where ``<DB>_list_train_<k>_fps.txt`` exists, else on
    ``(DB, None)`` where the single ``<DB>_list_train_fps.txt`` does; a fold without any train
    list is left out. A test list without folds is predicted by the first fold's model.

    Returns:
        ``(train, use)``: ``{fold: [(DB, list split)]}`` and ``{DB: {test split: fold}}``.

    Raises:
        scamlib.data.DataError: a dataset without test fold lists.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "fold_lists").mkdir()
        >>> for n in ("A_list_test_1", "A_list_train_1", "D_list_test", "D_list_train"):
        ...     _ = (root / "fold_lists" / f"{n}_fps.txt").write_text("v 8 8\\n")
        >>> fold_plan(root, ["A", "D"])
        ({1: [('A', 1), ('D', None)]}, {'A': {1: 1}, 'D': {None: 1}})
    """
    lists = Path(root) / "fold_lists"
    tests = {db: available_splits(root, db) for db in datasets}
    folds: list[Fold] = sorted({s for ss in tests.values() for s in ss if s is not None})
    folds = folds or [None]
    train: dict[Fold, list[tuple[str, Fold]]] = {}
    for k in folds:
        parts = []
        for db in datasets:
            candidates = dict.fromkeys((k, None))  # the fold's own list, else the single one
            have = [s for s in candidates if fold_list_path(lists, db, "train", s).is_file()]
            if have:
                parts.append((db, have[0]))
        if parts:
            train[k] = parts
    use = {db: {s: s if s is not None else folds[0] for s in ss} for db, ss in tests.items()}
    return train, use


def _fold_name(k: Fold) -> str:
    return "all" if k is None else f"split{k}"


def _checkpoint(ctx: Context, name: str, k: Fold) -> Path:
    return ctx.path("checkpoints", "full", name, f"{name}_{_fold_name(k)}.safetensors")


def _build(ctx: Context, name: str) -> torch.nn.Module:
    if name == "sta":
        return net(ctx, "sta")
    # DAVE / STAViS start from scratch here: their pretrained weights (Kinetics-400, SoundNet)
    # are local files given through scamlib.models.create, not the run's image backbones.
    return create(name, preset=ctx.cfg.preset, num_classes=num_classes(ctx))


def _input_kwargs(ctx: Context, name: str, model: torch.nn.Module) -> dict[str, Any]:
    """The dataset settings ``model`` takes: the run's for STA, the network's config otherwise."""
    if name == "sta":
        return {"size": ctx.cfg.full.image_size, "clip_len": ctx.cfg.clip_frames}
    s = full_settings(model, name)
    return {
        "size": tuple(s["arch"]["input_size"]),
        "clip_len": s["clip_len"],
        "audio_seconds": s["audio_seconds"],
        "sample_rate": s["sample_rate"],
        "spectrogram": s["spectrogram"],
    }


def _done(ctx: Context, name: str, k: Fold) -> Path:
    """The fold's marker: its training summary, written once its test folds are predicted."""
    return _checkpoint(ctx, name, k).with_suffix(".done.json")


def _finished(ctx: Context, name: str, k: Fold) -> bool:
    """Whether fold ``k``'s test lists are predicted: its marker (or, in a run folder written
    before markers existed, its weights)."""
    return _done(ctx, name, k).is_file() or _checkpoint(ctx, name, k).is_file()


def _train(ctx: Context, name: str, k: Fold, parts, root: Path) -> dict[str, Any]:
    """Train fold ``k``'s model once, saved as a student file (a finished file is loaded)."""
    cfg = ctx.cfg
    seed(ctx, f"init:full:{name}:{_fold_name(k)}")
    model = _build(ctx, name)
    kwargs = _input_kwargs(ctx, name, model)
    data = ConcatDataset(
        [GroundTruthTargets(AVSaliency(root, db, s, "train", **kwargs)) for db, s in parts]
    )
    loss = _LOSSES[name]

    def step(m, batch):
        return loss(run_batch(m, batch), batch)

    def save(path: Path, trained: torch.nn.Module, summary: dict[str, Any]) -> None:
        save_student(
            path, trained, name=name, preset=cfg.preset, image_size=cfg.full.image_size,
            num_classes=num_classes(ctx), clip_len=cfg.clip_frames,
            extra={"seed": cfg.seed, "profile": cfg.profile, "supervision": "full",
                   "fold": _fold_name(k), "summary": json.dumps(summary)},
        )  # fmt: skip

    summary = fit_net(ctx, model, data, step, cfg.full, f"full/{name}", f"train_{_fold_name(k)}",
                      checkpoint=_checkpoint(ctx, name, k), save=save)  # fmt: skip
    return {
        "frames": len(data),
        "lists": [f"{db}:{_fold_name(s)}" for db, s in parts],
        "final_loss": final_loss(summary),
    }


def _predict_fold(ctx: Context, name: str, k: Fold, use, root: Path) -> int:
    """The test lists ``use`` assigns to fold ``k``, through its model; videos written."""
    cfg = ctx.cfg
    model, info = load_student(_checkpoint(ctx, name, k), ctx.env.device)
    predictor = Predictor(
        {info.variant: (model, info)}, seed=cfg.seed, batch_size=cfg.full.batch_size,
        device=ctx.env.device, precision=prediction_precision(cfg),
    )  # fmt: skip
    written = 0
    for db, splits in use.items():
        for split in (s for s, fold in splits.items() if fold == k):
            ds = predictor.open_dataset(root, db, split)
            for video in shard(ds.videos, ctx.env):
                ks = [ds.frame_index(i) for i in ds.frames_of(video)]
                folder = ctx.path("predictions", full_variant(name), db, video)
                if (folder / f"img_{ks[-1]:05d}.png").is_file():  # the video's marker
                    continue
                maps = predictor.predict_video(ds, video)[info.variant]
                for frame, m in zip(ks, maps, strict=True):
                    write_map_png(folder / f"img_{frame:05d}.png", m)
                written += 1
    return written


def run_full(ctx: Context, name: str) -> dict[str, Any]:
    """Train ``name`` per fold on the ground truth and predict its test folds.

    Fold by fold: train (or load the finished weights), predict the fold's test lists, write
    the fold's marker, and with ``keep_weights`` off delete the weights; a fold with a marker
    is done.
    """
    root = avsal_root(ctx)
    if root is None:
        return {"skipped": "no STAViS-layout root (--avsal-root)"}
    train, use = fold_plan(root, _test_datasets(ctx))
    if not train:
        return {"skipped": f"no train fold lists (<DB>_list_train_<k>_fps.txt) in {root}"}
    result: dict[str, Any] = {"variant": full_variant(name), "folds": {}, "videos": 0}
    for k, parts in train.items():
        done = _done(ctx, name, k)
        if not done.is_file():
            summary = _train(ctx, name, k, parts, root)
            barrier(ctx.env)
            result["videos"] += _predict_fold(ctx, name, k, use, root)
            barrier(ctx.env)
            if ctx.env.is_main:
                write_json(done, summary)
                if not ctx.cfg.keep_weights:
                    _checkpoint(ctx, name, k).unlink(missing_ok=True)
            barrier(ctx.env)
        result["folds"][_fold_name(k)] = read_json(done)
    return result


def evaluate_full(ctx: Context) -> dict[str, dict[str, dict[str, float | None]]]:
    """The STAViS protocol on ``predictions/<name>_full/<DB>`` of every full model of the run,
    folds combined as for the students: ``{"<name>_full": {DB: {metric: score}}}``.

    Test folds whose model was not trained (no train list) are left out; a model without any
    prediction is absent.

    Example:
        >>> from types import SimpleNamespace
        >>> evaluate_full(SimpleNamespace(cfg=SimpleNamespace(full_models=())))
        {}
    """
    cfg = ctx.cfg
    if not cfg.full_models:
        return {}
    root = avsal_root(ctx)
    if root is None:
        return {}
    datasets = _test_datasets(ctx)
    train, use = fold_plan(root, datasets)
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for name in cfg.full_models:
        variant = full_variant(name)
        trained = {k for k in train if _finished(ctx, name, k)}
        for db in datasets:
            pred_root = ctx.path("predictions", variant, db)
            sets = {s: d for s, d in _test_sets(root, db, None).items() if use[db][s] in trained}
            if not sets or not pred_root.is_dir():
                continue
            per_split = {
                str(split): protocol.evaluate(
                    pred_root, d.ground_truth(), seed=cfg.seed, n_splits=cfg.eval_splits,
                    readers=2,
                )
                for split, d in sets.items()
            }  # fmt: skip
            combined = protocol.combine_splits(per_split)
            scores = {m: round_metric(v) for m, v in combined.summary.items()}
            out.setdefault(variant, {})[db] = scores
    return out


def _settings(name: str):
    def settings(cfg) -> dict[str, Any]:
        whole = config_to_dict(cfg)
        keys = ["preset", "seed", "amp", "full"]
        if name == "sta":
            keys += ["pretrained", "clip_frames"]
        return {
            "model": name,
            **{k: whole[k] for k in keys},
            "avsal_root": cfg.data.avsal_root,
            "datasets": list(cfg.data.datasets),
        }

    return settings


def full_stages(cfg=None) -> list[Stage]:
    """One stage ``full_<name>`` per name of ``cfg.full_models`` (without ``cfg``, the default
    ``("sta",)``): train and predict; the ``evaluate`` stage scores them.

    Each is keyed by its own settings, so adding a network to ``--full-models`` trains only
    that one on ``--resume``.

    Example:
        >>> from scamlib.pipeline.config import profile
        >>> [s.name for s in full_stages(profile("quick", full_models=("sta", "dave")))]
        ['full_sta', 'full_dave']
    """
    return [
        Stage(
            f"full_{name}",
            _settings(name),
            ("data",),
            (f"checkpoints/full/{name}", f"predictions/{full_variant(name)}"),
            partial(run_full, name=name),
        )
        for name in (cfg.full_models if cfg is not None else ("sta",))
    ]


def _ratio(weak: float | None, full: float | None) -> float | None:
    if weak is None or full is None or full == 0 or not math.isfinite(full):
        return None
    return round(weak / full, 4)


def full_results(results: dict[str, Any]) -> dict[str, Any]:
    """Add ``full_supervision`` and ``weak_over_full`` to ``results`` (STANet+ Table 7).

    * ``full_supervision``: ``{"<name>_full": {DB: {metric: score}}}``, each full model's
      test scores (the ``full`` part of the ``evaluate`` stage's summary);
    * ``weak_over_full``: ``{"<name>_full": {DB: {weak variant: {metric: weak / full}}}}``
      (the layout of ``results["test"]``), the score of every weak prediction of
      ``results["test"]`` (the students, PF_final, PF_agg; not the centre prior, which is
      unsupervised) over the full model's, from the
      rounded scores ``results.json`` holds, rounded to 4 digits (``None`` where the full
      score is 0 or missing).

    Both are left out when no full model ran. Returns ``results``.

    Example:
        >>> r = {"test": {"D": {"pf_final": {"CC": 0.3}}},
        ...      "stages": {"evaluate": {"summary": {"full": {"sta_full": {"D": {"CC": 0.6}}}}}}}
        >>> full_results(r)["weak_over_full"]
        {'sta_full': {'D': {'pf_final': {'CC': 0.5}}}}
    """
    stages = results.get("stages", {})
    full = stages.get("evaluate", {}).get("summary", {}).get("full") or {}
    if not full:
        return results
    weak = results.get("test", {})
    results["full_supervision"] = full
    results["weak_over_full"] = {
        variant: {
            db: {
                w: {metric: _ratio(s.get(metric), value) for metric, value in scores.items()}
                for w, s in weak.get(db, {}).items()
                if isinstance(s, Mapping) and w != "centre_prior"
            }
            for db, scores in per_db.items()
        }
        for variant, per_db in full.items()
    }
    return results
