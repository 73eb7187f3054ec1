"""``results.md``: the run's numbers laid out like STANet+ Tables 1, 6 and 7."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scamlib.models import VARIANT_LABELS

__all__ = ["METRICS", "PSEUDO_STAGES", "VARIANTS", "results_markdown"]

#: Metric columns in the papers' order.
METRICS: tuple[str, ...] = ("AUC_J", "SIM", "sAUC", "CC", "NSS")
#: Pseudo-fixation stages, as the rows of Table 1 they correspond to.
PSEUDO_STAGES: dict[str, str] = {
    "cam_s": "CAM, S net, coarse (Table 1 line 1)",
    "scam_coarse": "SCAM, coarse (line 5)",
    "avg_fine": "AC, fine (Eq. 22, line 10)",
    "scam_fine": "SCAM, fine (line 11)",
    "scam_plus": "SCAM+ (Eq. 8, line 25)",
}
#: Student predictions, as the rows of Table 6 (:data:`scamlib.models.VARIANT_LABELS`).
VARIANTS: dict[str, str] = VARIANT_LABELS
_HEADERS = {"AUC_J": "AUC-J", "SIM": "SIM", "sAUC": "s-AUC", "CC": "CC", "NSS": "NSS"}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def results_markdown(results: Mapping[str, Any]) -> str:
    """Render ``results.json`` content as Markdown tables (Tables 1, 6, 7 of STANet+)."""
    out = ["# STANet+ reproduction with scamlib", ""]
    cfg = results.get("config", {})
    out += [
        f"Profile `{cfg.get('profile', '?')}`, seed {cfg.get('seed', '?')}, "
        f"device `{results.get('device', '?')}`.",
        "",
    ]

    quality = results.get("pseudo_quality") or {}
    if quality:
        out += ["## Pseudo-fixations against the training ground truth (cf. Table 1)", ""]
        rows = [
            [label, *(_fmt(quality[stage].get(m)) for m in METRICS)]
            for stage, label in PSEUDO_STAGES.items()
            if stage in quality
        ]
        out += _table(["Pseudo-fixation", *(_HEADERS[m] for m in METRICS)], rows) + [""]

    test = results.get("test") or {}
    if test:
        out += ["## Fusion schemes on the test sets (cf. Table 6)", ""]
        header = ["Variant"]
        for name in test:
            header += [f"{name} {_HEADERS[m]}" for m in ("AUC_J", "CC", "NSS")]
        rows = []
        for variant, label in VARIANTS.items():
            row = [label]
            for name in test:
                scores = test[name].get(variant, {})
                row += [_fmt(scores.get(m)) for m in ("AUC_J", "CC", "NSS")]
            rows.append(row)
        out += _table(header, rows) + [""]

        out += ["## PF_final per test set (cf. Table 7)", ""]
        rows = [
            [name, *(_fmt(test[name].get("pf_final", {}).get(m)) for m in METRICS)] for name in test
        ]
        out += _table(["Dataset", *(_HEADERS[m] for m in METRICS)], rows) + [""]

    stages = results.get("stages") or {}
    if stages:
        out += ["## Stages", ""]
        rows = [
            [name, f"{rec.get('wall_time_s', 0):.1f}", "reused" if rec.get("reused") else "ran"]
            for name, rec in stages.items()
        ]
        out += _table(["Stage", "Wall time (s)", ""], rows) + [""]
    return "\n".join(out)
