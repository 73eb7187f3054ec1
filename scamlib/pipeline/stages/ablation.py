"""Students for every pseudo-fixation source (STANet+ Tables 1 and 7).

STANet+ Table 1 judges each pseudo-fixation variant by the student it trains, and Table 7 sets
the weakly supervised CAM methods beside STANet+ the same way. The ``ablation`` stage (on with
``ablation_students``) trains the STA student once per source,

* each CAM-family baseline of the run, ``pseudo/baseline_<name>``, predicted to
  ``predictions/baseline_<name>/<DB>/<video>/img_<k:05d>.png``;
* CAM_S, SCAM coarse, SCAM fine and SCAM+ (``pseudo/cam_s`` ...), predicted to
  ``predictions/ablation_<stage>/<DB>/...``,

with the weak STA's settings, initial weights and training code
(:func:`~scamlib.pipeline.stages.students.fit_sta`), and scores them with the STAViS
protocol. So that only the source differs, every source goes through the step that turns
SCAM+ into the method's pseudo-ground truth (Sec. 5): smoothed over time over its valid
frames (those with a map), sparsified and min-max normalised
(:func:`~scamlib.pipeline.stages.mg.pseudo_ground_truth`), written to
``pseudo/pgt_<source>``; SCAM+ itself uses the method's ``pseudo/pgt``, so
``ablation_scam_plus`` is the weak STA trained again with its own data order. The source
maps are read back from their PNGs at the row's map grid (the method's pseudo-ground truth
is computed from the unquantised SCAM+ maps: a difference of at most half a grey level).

Each student is saved once, as ``checkpoints/ablation/<folder>/sta.safetensors`` (a student
file, which ``scamlib predict`` runs), and ``done.json`` beside it marks the source finished
once its test sets are predicted; with ``keep_weights`` off the weights are then deleted.
A source whose every map is blank after the sparsification (a centre prior is flat enough)
trains no student: the stage records why under ``skipped`` and the tables leave it out.
"""

from __future__ import annotations

from typing import Any

import torch

from scamlib.baselines import BASELINES

from ..config import config_to_dict
from ..datasets import pseudo_path, read_map_png, training_set
from ..distributed import barrier
from ..extract import save_row
from ..io import read_json, write_json
from ..runner import Context, RunError
from .baselines import baseline_stage
from .common import final_loss, row_geometry, rows
from .evaluation import predict_test_sets, score_test_sets
from .mg import pending_rows, pseudo_ground_truth, write_valid
from .students import fit_sta, target_items

__all__ = ["ABLATION_OUTPUTS", "ABLATION_STAGES", "ablation_settings", "ablation_sources",
           "run_ablation"]  # fmt: skip

#: The method's own pseudo-fixation stages that get a student (Table 1's lines 1, 5, 11, 25).
ABLATION_STAGES: tuple[str, ...] = ("cam_s", "scam_coarse", "scam_fine", "scam_plus")


def ablation_sources(cfg) -> dict[str, str]:
    """``{pseudo stage: prediction folder}`` of the ablation students of a run's config.

    Example:
        >>> from scamlib.pipeline.config import profile
        >>> ablation_sources(profile("quick", baselines=["centre"]))
        {'baseline_centre': 'baseline_centre', 'cam_s': 'ablation_cam_s', \
'scam_coarse': 'ablation_scam_coarse', 'scam_fine': 'ablation_scam_fine', \
'scam_plus': 'ablation_scam_plus'}
    """
    out = {baseline_stage(n): baseline_stage(n) for n in cfg.baselines}
    return out | {s: f"ablation_{s}" for s in ABLATION_STAGES}


_ALL = [baseline_stage(n) for n in BASELINES] + [f"ablation_{s}" for s in ABLATION_STAGES]
#: Every folder the stage may write (removed when its settings change).
ABLATION_OUTPUTS: tuple[str, ...] = (
    "work/ablation",
    "checkpoints/ablation",
    *(f"pseudo/pgt_{s}" for s in [baseline_stage(n) for n in BASELINES] + list(ABLATION_STAGES)),
    *(f"predictions/{folder}" for folder in _ALL),
)


def ablation_settings(cfg) -> dict[str, Any]:
    """The settings the stage is keyed by: only ``ablation_students`` while it is off, so
    that a run without it is not re-keyed by settings it does not use."""
    if not cfg.ablation_students:
        return {"ablation_students": False}
    keys = ("ablation_students", "baselines", "preset", "pretrained", "seed", "amp", "student",
            "smooth", "smooth_window", "sparsify_factor", "map_side", "n_mg",
            "eval_splits")  # fmt: skip
    whole = config_to_dict(cfg)
    return {k: whole[k] for k in keys}


def _source_pgt(ctx: Context, source: str) -> str:
    """Write ``pseudo/pgt_<source>`` (this rank's rows) and return the stage the student
    trains on."""
    if source == "scam_plus":
        return "pgt"
    target = f"pgt_{source}"
    by_row = rows(training_set(ctx, None))
    for row, frame, ks in pending_rows(ctx, f"ablation/{target}"):
        _frame, grid = row_geometry(ctx, by_row[row][0])
        paths = [pseudo_path(ctx.out, source, row, k) for k in ks]
        valid = torch.tensor([p.is_file() for p in paths])
        maps = torch.stack(
            [read_map_png(p, grid) if ok else torch.zeros(grid) for p, ok in zip(paths, valid)]
        )
        maps, valid = pseudo_ground_truth(ctx, maps, valid)
        write_valid(ctx, target, row, ks, maps, valid, frame)
        save_row(ctx, f"ablation/{target}", row, {"valid": valid})
    return target


def run_ablation(ctx: Context) -> dict:
    """One STA student per pseudo-fixation source: trained, predicted and scored."""
    if not ctx.cfg.ablation_students:
        return {"skipped": "ablation_students is off"}
    sources = ablation_sources(ctx.cfg)
    losses: dict[str, float | None] = {}
    skipped: dict[str, str] = {}
    for source, folder in sources.items():
        student = ctx.path("checkpoints", "ablation", folder, "sta.safetensors")
        done = student.with_name("done.json")  # written once the test sets are predicted
        if done.is_file():
            record = read_json(done)
            losses[folder] = record["final_loss"]
            if "skipped" in record:
                skipped[folder] = record["skipped"]
            continue
        target = _source_pgt(ctx, source)
        barrier(ctx.env)
        try:
            target_items(ctx, target)
        except RunError as exc:  # every map of the source is blank after sparsification
            losses[folder] = None
            skipped[folder] = f"no student: {exc}"
            if ctx.env.is_main:
                write_json(done, {"final_loss": None, "skipped": skipped[folder]})
            barrier(ctx.env)
            continue
        _model, summary = fit_sta(ctx, target, "ablation", folder, student)
        barrier(ctx.env)
        predict_test_sets(ctx, student.parent, {"sta": folder})
        losses[folder] = final_loss(summary)
        barrier(ctx.env)
        if ctx.env.is_main:
            write_json(done, {"final_loss": losses[folder]})
            if not ctx.cfg.keep_weights:
                student.unlink(missing_ok=True)
    barrier(ctx.env)
    if not ctx.env.is_main:
        return {}
    result = {"final_loss": losses, "test": score_test_sets(ctx, list(sources.values()))}
    return result | ({"skipped": skipped} if skipped else {})
