"""The stages of STANet+ (Secs. 3-6), in the order :func:`build_stages` runs them.

========================  =====================================================================
stage                     does
========================  =====================================================================
``data``                  generates the built-in set (or checks the user's AVE root), decodes
                          every training video once into ``cache/``
``train_coarse``          S, ST, SA classifiers on tags, multi-label soft margin (Eq. 7)
``scam_coarse``           their CAMs and confidences, SCAM (Eq. 2), coarse boxes (Sec. 3.2);
                          writes ``pseudo/cam_s`` and ``pseudo/scam_coarse``
``baselines``             the CAM-family baselines (Grad-CAM, ..., Score-CAM, centre prior)
                          on the coarse S net; ``pseudo/baseline_<name>``
``train_fine``            S, ST, SA on the crops
``scam_fine``             fine CAMs pasted back, SCAM (fine) and AC (Eq. 22); writes
                          ``pseudo/scam_fine`` and ``pseudo/avg_fine``
``switch``                audio-switch labels (Sec. 4) and the switch
``train_mg``              S+ / ST+ / SA+ on short-, long- and cross-term inputs (Sec. 4)
``scam_plus``             their CAMs, SCAM+ over the 11 sources (Eq. 8); ``pseudo/scam_plus``
``pgt``                   pseudo-ground truth: SCAM+ smoothed over time and sparsified (Sec. 5)
                          on valid frames; ``pseudo/pgt``
``pseudo_quality``        every pseudo stage (and baseline) against the ground truth, when the
                          set has one
``students``              STA, STA+ short, STA+ long on the pseudo-ground truth (Eqs. 17, 20)
``predict``               the test sets without tags: students, PF_final (Eq. 21), PF_agg (Eq. 23)
``full_<name>``           per name of ``full_models``: the network trained on the ground truth
                          of the STAViS train lists, one model per fold; predicts its test
                          folds into ``predictions/<name>_full`` (STANet+ Table 7)
``evaluate``              the STAViS protocol on every test set (and the centre prior, and
                          the full models' predictions)
``ablation``              with ``ablation_students``: the STA student once per pseudo-fixation
                          source (baselines, CAM_S, SCAM coarse / fine, SCAM+), predicted to
                          ``predictions/baseline_<name>`` and ``predictions/ablation_<stage>``
                          and scored
========================  =====================================================================

The work of each group of stages lives in one module: :mod:`~scamlib.pipeline.stages.scam`
(data, coarse and fine), :mod:`~scamlib.pipeline.stages.switch`,
:mod:`~scamlib.pipeline.stages.mg` (multi-granularity, SCAM+, pseudo-ground truth),
:mod:`~scamlib.pipeline.stages.quality`, :mod:`~scamlib.pipeline.stages.students` and
:mod:`~scamlib.pipeline.stages.evaluation`; this module holds the table of stages and the
settings each one is keyed by.

Where the papers leave the order open, scamlib decides (documented in ``docs/equations.rst``):
the coarse and fine SA nets use no switch (``g = 1``: the switch is trained after them); the
SA+ nets are trained and read with the switch's gate; the S+ / ST+ / SA+ branches start from
the coarse nets' weights and see whole frames; the students take no gate.
"""

from __future__ import annotations

import json
from typing import Any

from scamlib.models import VARIANTS

from ..config import check_config, config_to_dict
from ..runner import Context, Stage
from .ablation import ABLATION_OUTPUTS, ablation_settings, run_ablation
from .baselines import BASELINE_OUTPUTS, run_baselines
from .evaluation import run_evaluate, run_predict
from .full import evaluate_full, full_results, full_stages
from .mg import run_pgt, run_scam_plus, run_train_mg
from .quality import PSEUDO_QUALITY_STAGES, run_pseudo_quality
from .scam import run_data, run_scam_coarse, run_scam_fine, run_train_coarse, run_train_fine
from .students import STUDENT_VARIANTS, run_students
from .switch import AUDIO_EPOCHS_FACTOR, AudioTagNet, run_switch

__all__ = [
    "AUDIO_EPOCHS_FACTOR",
    "PSEUDO_QUALITY_STAGES",
    "STUDENT_VARIANTS",
    "AudioTagNet",
    "build_stages",
    "finalize",
]


def _settings(*fields: str):
    def settings(cfg) -> dict[str, Any]:
        whole = config_to_dict(cfg)
        return {f: whole[f] for f in fields}

    return settings


def _data_settings(cfg) -> dict[str, Any]:
    data = config_to_dict(cfg.data)
    data.pop("datasets")
    if not cfg.data.builtin:
        data.pop("synthetic")
    seed = cfg.seed if cfg.data.builtin else None
    return {"data": data, "clip_frames": cfg.clip_frames, "seed": seed}


def _test_settings(cfg) -> dict[str, Any]:
    return {
        "avsal_root": cfg.data.avsal_root,
        "datasets": list(cfg.data.datasets),
        "seed": cfg.seed,
        "n_mg": cfg.n_mg,
        "amp": cfg.amp,  # the Predictor's precision (prediction_precision)
    }


#: Settings every trained network depends on.
_MODEL = ("preset", "pretrained", "seed", "amp")


def build_stages(cfg=None) -> list[Stage]:
    """The pipeline's stages in order, each keyed by the settings its outputs depend on.

    Given ``cfg``, its settings are first checked against each other
    (:func:`scamlib.pipeline.config.check_config`), so a run whose settings disagree fails
    before its first stage.

    Raises:
        ValueError: settings of ``cfg`` that disagree (the message names both).

    Example:
        >>> [s.name for s in build_stages()][:3]
        ['data', 'train_coarse', 'scam_coarse']
    """
    if cfg is not None:
        check_config(cfg)
    pseudo = lambda *names: tuple(f"pseudo/{n}" for n in names)  # noqa: E731
    full = full_stages(cfg)  # before evaluate, which scores them too
    return [
        Stage("data", _data_settings, (), ("cache",), run_data),
        Stage("train_coarse", _settings(*_MODEL, "coarse"), ("data",), ("checkpoints/coarse",),
              run_train_coarse),
        Stage("scam_coarse", _settings("lam", "box_factor", "map_side", "num_workers"),
              ("train_coarse",), ("work/coarse", *pseudo("cam_s", "scam_coarse")),
              run_scam_coarse),
        Stage("baselines", _settings("baselines", "map_side"), ("train_coarse",),
              BASELINE_OUTPUTS, run_baselines),
        Stage("train_fine", _settings(*_MODEL, "fine"), ("scam_coarse",), ("checkpoints/fine",),
              run_train_fine),
        Stage("scam_fine", _settings("lam", "map_side"), ("train_fine",),
              ("work/fine", *pseudo("scam_fine", "avg_fine")), run_scam_fine),
        Stage("switch", _settings(*_MODEL, "switch"), ("data",),
              ("checkpoints/switch", "work/switch_labels.pt"), run_switch),
        Stage("train_mg", _settings(*_MODEL, "mg", "n_mg", "cgcn_steps", "t_d", "t_r"),
              ("train_coarse", "switch"), ("checkpoints/mg",), run_train_mg),
        Stage("scam_plus", _settings("lam", "map_side"), ("train_mg", "scam_fine"),
              ("work/mg", "work/scam_plus", *pseudo("scam_plus")), run_scam_plus),
        Stage("pgt", _settings("smooth", "smooth_window", "sparsify_factor"), ("scam_plus",),
              ("work/pgt", *pseudo("pgt")), run_pgt),
        Stage("pseudo_quality", _settings("eval_splits", "quality_stride", "baselines"),
              ("pgt", "baselines"), (), run_pseudo_quality),
        Stage("students", _settings(*_MODEL, "student", "student_plus", "n_mg", "cgcn_steps",
                                    "t_d", "t_r"),
              ("pgt",), ("checkpoints/train", "checkpoints/students"), run_students),
        Stage("predict", _test_settings, ("students",),
              tuple(f"predictions/{v}" for v in VARIANTS), run_predict),
        *full,
        Stage("evaluate", _settings("eval_splits"), ("predict", *(s.name for s in full)), (),
              _run_evaluate),
        Stage("ablation", ablation_settings, ("baselines", "pgt", "predict"), ABLATION_OUTPUTS,
              run_ablation),
    ]  # fmt: skip


def _run_evaluate(ctx: Context) -> dict[str, Any]:
    """The ``evaluate`` stage: the weak predictions, then the full models (``full``)."""
    summary = run_evaluate(ctx)
    full = evaluate_full(ctx) if ctx.env.is_main else {}
    return {**summary, "full": full} if full else summary


def finalize(ctx: Context, results: dict[str, Any]) -> dict[str, Any]:
    """Lift the test metrics and the pseudo-fixation quality to the top of ``results.json``.

    Example:
        >>> finalize(None, {"stages": {}})["test"]
        {}
    """
    stages = results.get("stages", {})
    quality = stages.get("pseudo_quality", {}).get("summary", {})
    if quality and "skipped" not in quality:
        results["pseudo_quality"] = {
            s: v for s, v in quality.items() if s not in ("frames", "of") and isinstance(v, dict)
        }
        results["pseudo_quality_frames"] = {"frames": quality["frames"], "of": quality["of"]}
    results["test"] = stages.get("evaluate", {}).get("summary", {}).get("test", {})
    ablation = stages.get("ablation", {}).get("summary", {}).get("test")
    if ablation:
        results["ablation_students"] = ablation
    results["wall_time_s"] = {k: v.get("wall_time_s", 0.0) for k, v in stages.items()}
    full_results(results)  # full_supervision, weak_over_full
    return json.loads(json.dumps(results, default=str))
