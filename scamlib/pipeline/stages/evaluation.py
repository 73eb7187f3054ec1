"""Prediction and evaluation of the test sets (STANet+ Sec. 6): the students without tags,
PF_final (Eq. 21) and PF_agg (Eq. 23), scored with the STAViS protocol; beside them the
centre prior, the unsupervised reference of STANet+ Table 7."""

from __future__ import annotations

from pathlib import Path

from scamlib.baselines import centre_prior
from scamlib.data import available_splits
from scamlib.data.synthetic import SyntheticConfig
from scamlib.inference import Predictor, load_students
from scamlib.metrics import protocol
from scamlib.models import VARIANTS

from ..datasets import avsal_root, test_sets
from ..distributed import shard
from ..io import write_map_png
from ..runner import Context, RunError
from .common import round_metric
from .students import students_dir

__all__ = ["predict_test_sets", "run_evaluate", "run_predict", "score_test_sets",
           "test_datasets"]  # fmt: skip


def prediction_precision(cfg) -> str:
    """The Predictor's precision for a run: its fast path (bf16 on CUDA) only with ``amp``."""
    return "auto" if cfg.amp else "fp32"


def _test_root(ctx: Context) -> Path:
    root = avsal_root(ctx)
    if root is None:
        raise RunError("no STAViS-layout root (--avsal-root) to predict and evaluate on")
    return root


def test_datasets(ctx: Context) -> list[str]:
    """The STAViS-layout test sets of the run (those of the built-in set, or ``datasets``)."""
    if ctx.cfg.data.builtin:
        return list(SyntheticConfig(**ctx.cfg.data.synthetic).test_datasets)
    return list(ctx.cfg.data.datasets)


def _prediction_path(ctx: Context, variant: str, db: str, video: str, k: int) -> Path:
    return ctx.path("predictions", variant, db, video, f"img_{k:05d}.png")


def run_predict(ctx: Context) -> dict:
    """Every test video through the students; one PNG per frame and variant."""
    return {"videos": predict_test_sets(ctx, students_dir(ctx))}


def predict_test_sets(ctx: Context, students: Path, names: dict[str, str] | None = None) -> int:
    """Every test video (of this rank) through the students saved in ``students``.

    Writes ``predictions/<names[variant]>/<DB>/<video>/img_<k:05d>.png`` for each variant the
    :class:`~scamlib.inference.Predictor` gives (``names`` default: the variant's own name).
    A video whose last map of the last variant exists is skipped (that file is written last).

    Returns:
        The number of videos predicted.
    """
    cfg = ctx.cfg
    root = _test_root(ctx)
    students = load_students(students, device=ctx.env.device)
    predictor = Predictor(
        students, n_mg=cfg.n_mg, seed=cfg.seed, batch_size=cfg.student.batch_size,
        device=ctx.env.device, precision=prediction_precision(cfg),
    )  # fmt: skip
    written = 0
    for db in test_datasets(ctx):
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
            folder = {v: (names or {}).get(v, v) for v in variants}
            last = _prediction_path(ctx, folder[variants[-1]], db, video, ks[-1])
            if last.is_file():
                continue
            maps = predictor.predict_video(ds, video)
            for variant in variants:  # the last variant's last frame is the video's marker
                for k, m in zip(ks, maps[variant], strict=True):
                    write_map_png(_prediction_path(ctx, folder[variant], db, video, k), m)
            written += 1
    return written


def run_evaluate(ctx: Context) -> dict:
    """The STAViS protocol on every test set and variant, folds combined."""
    if not ctx.env.is_main:
        return {}
    test = score_test_sets(ctx, VARIANTS)
    for db, scores in score_test_sets(ctx, ["centre_prior"], centre=True).items():
        test[db].update(scores)
    return {"test": test}


def score_test_sets(
    ctx: Context, folders, *, centre: bool = False
) -> dict[str, dict[str, dict[str, float | None]]]:
    """The STAViS protocol, folds combined, on ``predictions/<folder>/<DB>`` for each folder
    that exists: ``{DB: {folder: {metric: score}}}``.

    With ``centre=True`` each folder name is scored with the centre prior
    (:func:`scamlib.baselines.centre_prior`, at each frame's size) in place of predictions:
    the unsupervised reference of STANet+ Table 7.
    """
    root = _test_root(ctx)
    cfg = ctx.cfg
    test: dict[str, dict[str, dict[str, float | None]]] = {}
    for db in test_datasets(ctx):
        sets = test_sets(root, db, None)
        test[db] = {}
        for folder in folders:
            pred_root = ctx.path("predictions", folder, db)
            if centre:
                pred = lambda item: centre_prior(tuple(item["density"].shape[-2:]))  # noqa: E731
            elif pred_root.is_dir():
                pred = pred_root
            else:
                continue
            per_split = {
                str(split): protocol.evaluate(
                    pred, ds.ground_truth(), seed=cfg.seed, n_splits=cfg.eval_splits, readers=2
                )
                for split, ds in sets.items()
            }
            combined = protocol.combine_splits(per_split)
            test[db][folder] = {m: round_metric(v) for m, v in combined.summary.items()}
    return test
