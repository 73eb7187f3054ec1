"""``results.md``: the run's numbers laid out like STANet+ Tables 1, 6 and 7, and the papers'
claims checked on the run.

The claims (:func:`paper_claims`) are judged on CC, the metric the papers discuss first; the
other metrics are in the tables beside them. Which scores each claim compares:

* SCAM fine > CAM_S and SCAM+ >= SCAM (Table 1): the pseudo-fixations against the training
  ground truth (the built-in set has one; real AVE data has none, so they are not measured);
* PF_final >= the best single student (Table 6): each test set;
* STANet+ > every CAM baseline (Table 7): SCAM+ against each CAM baseline's pseudo-fixations,
  and, when the ablation students ran, PF_final against each baseline's student on each test
  set. The centre prior is not a CAM method and is not part of this claim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from scamlib.models import VARIANT_LABELS

__all__ = [
    "BASELINE_LABELS",
    "METRICS",
    "PSEUDO_STAGES",
    "VARIANTS",
    "Claim",
    "paper_claims",
    "results_markdown",
]

#: Metric columns in the papers' order.
METRICS: tuple[str, ...] = ("AUC_J", "SIM", "sAUC", "CC", "NSS")
#: Pseudo-fixation stages, as the rows of Table 1 they correspond to.
PSEUDO_STAGES: dict[str, str] = {
    "cam_s": "CAM, S net, coarse (Table 1 line 1)",
    "scam_coarse": "SCAM, coarse (line 5)",
    "avg_fine": "AC, fine (Eq. 22, line 10)",
    "scam_fine": "SCAM, fine (line 11)",
    "scam_plus": "SCAM+ (Eq. 8, line 25)",
    "pgt": "SCAM+ smoothed + sparsified: the pseudo-ground truth (Sec. 5)",
}
#: The CAM-family baselines (:data:`scamlib.baselines.BASELINES`) as the rows of Table 7.
BASELINE_LABELS: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcampp": "Grad-CAM++",
    "xgradcam": "XGrad-CAM",
    "layercam": "LayerCAM",
    "scorecam": "Score-CAM",
    "centre": "Centre prior",
}
#: Student predictions, as the rows of Table 6 (:data:`scamlib.models.VARIANT_LABELS`).
VARIANTS: dict[str, str] = VARIANT_LABELS
_HEADERS = {"AUC_J": "AUC-J", "SIM": "SIM", "sAUC": "s-AUC", "CC": "CC", "NSS": "NSS"}
_SHORT = ("AUC_J", "CC", "NSS")
_STUDENTS = ("sta", "sta_short", "sta_long")
_CLAIM_METRIC = "CC"


class Claim(NamedTuple):
    """One claim of the papers judged on a run: ``holds`` is None when the run does not
    measure it (``detail`` says why), else whether it holds; ``detail`` gives the scores."""

    claim: str
    holds: bool | None
    detail: str


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _source_label(source: str) -> str:
    """Row label of a pseudo-fixation source or of the student trained on it."""
    for prefix in ("ablation_", "baseline_"):
        if source.startswith(prefix):
            name = source[len(prefix) :]
            if prefix == "baseline_":
                label = BASELINE_LABELS.get(name, name)
                return label if name == "centre" else f"{label} (S net)"
            return PSEUDO_STAGES.get(name, name)
    return PSEUDO_STAGES.get(source, source)


def _score(scores: Mapping[str, Any] | None, metric: str = _CLAIM_METRIC) -> float | None:
    value = (scores or {}).get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _compare(claim: str, left: tuple[str, Any], rights: Sequence[tuple[str, Any]], strict: bool,
             where: str) -> Claim:  # fmt: skip
    """``left`` against every one of ``rights`` on CC (``>`` when ``strict``, else ``>=``)."""
    a = _score(left[1])
    pairs = [(name, _score(s)) for name, s in rights]
    if a is None or not pairs or any(b is None for _n, b in pairs):
        return Claim(claim, None, f"not measured on this run ({where}: a score is missing)")
    holds = all(a > b if strict else a >= b for _n, b in pairs)
    against = ", ".join(f"{name} {b:.3f}" for name, b in pairs)
    return Claim(claim, holds, f"{where}, {_CLAIM_METRIC}: {left[0]} {a:.3f} vs {against}")


def paper_claims(results: Mapping[str, Any]) -> list[Claim]:
    """The papers' claims, each judged on CC on this run's ``results.json`` content.

    * SCAM fine > CAM_S (STANet+ Table 1) and SCAM+ >= SCAM fine (Table 1, Eq. 8): on
      ``pseudo_quality`` (the pseudo-fixations against the training ground truth);
    * PF_final (Eq. 21) >= the best of STA, STA+ short, STA+ long (Table 6): on every test
      set of ``test``;
    * STANet+ > every CAM baseline (Table 7): SCAM+ against each CAM baseline of
      ``pseudo_quality``, and PF_final against each baseline student of
      ``ablation_students`` on every test set (when that ran).

    Returns:
        One :class:`Claim` per line, in that order; a claim without the scores it needs has
        ``holds=None``. The "every CAM baseline" lines are left out when the run has no CAM
        baseline.

    Example:
        >>> q = {"cam_s": {"CC": 0.5}, "scam_fine": {"CC": 0.6}, "scam_plus": {"CC": 0.6}}
        >>> [c.holds for c in paper_claims({"pseudo_quality": q})]
        [True, True, None]
        >>> paper_claims({})[0].detail.startswith("not measured on this run")
        True
    """
    quality = results.get("pseudo_quality") or {}
    test = results.get("test") or {}
    where = "pseudo-fixations against the training ground truth"
    claims = [
        _compare("SCAM fine > CAM_S", ("SCAM fine", quality.get("scam_fine")),
                 [("CAM_S", quality.get("cam_s"))], True, where),
        _compare("SCAM+ >= SCAM", ("SCAM+", quality.get("scam_plus")),
                 [("SCAM fine", quality.get("scam_fine"))], False, where),
    ]  # fmt: skip
    per_db = [
        _compare("", ("PF_final", scores.get("pf_final")),
                 [(VARIANTS[v], scores.get(v)) for v in _STUDENTS], False, db)
        for db, scores in test.items()
    ]  # fmt: skip
    claims.append(_joined("PF_final >= best single student", per_db, "the test sets"))
    cams = [s for s in quality if s.startswith("baseline_") and s != "baseline_centre"]
    if cams:
        claims.append(
            _compare("STANet+ > every CAM baseline (pseudo-fixations)",
                     ("SCAM+", quality.get("scam_plus")),
                     [(BASELINE_LABELS.get(s[9:], s), quality[s]) for s in cams], True, where)
        )  # fmt: skip
    ablation = results.get("ablation_students") or {}
    per_db = []
    for db, scores in ablation.items():
        students = [s for s in scores if s.startswith("baseline_") and s != "baseline_centre"]
        if students:
            rights = [(f"{BASELINE_LABELS.get(s[9:], s)} student", scores[s]) for s in students]
            pf = (test.get(db) or {}).get("pf_final")
            per_db.append(_compare("", ("PF_final", pf), rights, True, db))
    if per_db:
        claims.append(_joined("STANet+ > every CAM baseline (students)", per_db, "test sets"))
    return claims


def _joined(claim: str, parts: Sequence[Claim], where: str) -> Claim:
    """One claim that holds when it holds on every part (e.g. every test set)."""
    if not parts:
        return Claim(claim, None, f"not measured on this run (no {where})")
    measured = [p for p in parts if p.holds is not None]
    holds = None if len(measured) < len(parts) else all(p.holds for p in parts)
    return Claim(claim, holds, "; ".join(p.detail for p in parts))


def _claim_line(c: Claim) -> str:
    verdict = {True: "**holds**", False: "**fails**", None: "not measured"}[c.holds]
    return f"- {c.claim}: {verdict} ({c.detail})"


def _metric_rows(entries: Sequence[tuple[str, Mapping[str, Any] | None]]) -> list[list[str]]:
    return [[label, *(_fmt((s or {}).get(m)) for m in METRICS)] for label, s in entries if s]


def _nested_rows(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[str, Mapping[str, Any]]]:
    """Leaves of a nested dict whose values are metric scores, labelled by their path."""
    if not isinstance(tree, Mapping):
        return []
    if tree and set(tree) <= set(METRICS):
        return [(" / ".join(path), tree)]
    rows = []
    for key, sub in tree.items():
        rows += _nested_rows(sub, (*path, str(key)))
    return rows


def results_markdown(results: Mapping[str, Any]) -> str:
    """Render ``results.json`` content as Markdown: Tables 1, 6 and 7 of STANet+ and the
    papers' claims on this run (:func:`paper_claims`).

    Every table appears when the run holds its scores: pseudo-fixation quality per source
    (Table 1 style, with the CAM baselines), the students trained on each source (when the
    ablation students ran), the fusion schemes (Table 6), and per test set the centre prior,
    the baselines' students, the weak students, PF_final and the fully supervised models
    (Table 7, with the weak / full ratios when present).

    Example:
        >>> md = results_markdown({"pseudo_quality": {"cam_s": {"CC": 0.5}}})
        >>> "| CAM, S net, coarse (Table 1 line 1) | – | – | – | 0.500 | – |" in md
        True
    """
    out = ["# STANet+ reproduction with scamlib", ""]
    cfg = results.get("config", {})
    out += [
        f"Profile `{cfg.get('profile', '?')}`, seed {cfg.get('seed', '?')}, "
        f"device `{results.get('device', '?')}`.",
        "",
    ]
    headers = [_HEADERS[m] for m in METRICS]

    quality = results.get("pseudo_quality") or {}
    if quality:
        out += ["## Pseudo-fixations against the training ground truth (cf. Table 1)", ""]
        order = [s for s in PSEUDO_STAGES if s in quality]
        order += [s for s in quality if s not in PSEUDO_STAGES]
        rows = _metric_rows([(_source_label(s), quality[s]) for s in order])
        out += _table(["Pseudo-fixation", *headers], rows) + [""]

    ablation = results.get("ablation_students") or {}
    if ablation:
        out += ["## The STA student trained on each pseudo-fixation source (cf. Tables 1, 7)", ""]
        dbs = list(ablation)
        sources = list(dict.fromkeys(s for db in dbs for s in ablation[db]))
        header = ["Student trained on"]
        header += [f"{db} {_HEADERS[m]}" for db in dbs for m in _SHORT]
        rows = [
            [_source_label(s), *(_fmt((ablation[db].get(s) or {}).get(m)) for db in dbs
                                 for m in _SHORT)]
            for s in sources
        ]  # fmt: skip
        out += _table(header, rows) + [""]

    test = results.get("test") or {}
    if test:
        out += ["## Fusion schemes on the test sets (cf. Table 6)", ""]
        header = ["Variant"]
        for name in test:
            header += [f"{name} {_HEADERS[m]}" for m in _SHORT]
        rows = []
        for variant, label in VARIANTS.items():
            row = [label]
            for name in test:
                scores = test[name].get(variant, {})
                row += [_fmt(scores.get(m)) for m in _SHORT]
            rows.append(row)
        out += _table(header, rows) + [""]

    full = results.get("full_supervision") or {}
    dbs = list(dict.fromkeys([*test, *(db for per in full.values() for db in per)]))
    for db in dbs:
        scores = test.get(db) or {}
        entries = [("Centre prior (unsupervised)", scores.get("centre_prior"))]
        entries += [
            (f"STA on {_source_label(s)}", per)
            for s, per in (ablation.get(db) or {}).items()
            if s.startswith("baseline_")
        ]
        entries += [(f"{VARIANTS[v]} (weak)", scores.get(v)) for v in (*_STUDENTS, "pf_agg")]
        entries += [("STANet+ PF_final (weak)", scores.get("pf_final"))]
        entries += [(f"{name} (fully supervised)", per.get(db)) for name, per in full.items()]
        out += [f"## {db}: against the baselines and full supervision (cf. Table 7)", ""]
        out += _table(["Method", *headers], _metric_rows(entries)) + [""]

    ratios = _nested_rows(results.get("weak_over_full") or {})
    if ratios:
        out += ["## Weak over fully supervised scores", ""]
        out += _table(["Weak / full", *headers], _metric_rows(ratios)) + [""]

    out += [f"## The papers' claims on this run ({_CLAIM_METRIC})", ""]
    out += [_claim_line(c) for c in paper_claims(results)] + [""]

    stages = results.get("stages") or {}
    if stages:
        out += ["## Stages", ""]
        rows = [
            [name, f"{rec.get('wall_time_s', 0):.1f}", "reused" if rec.get("reused") else "ran"]
            for name, rec in stages.items()
        ]
        out += _table(["Stage", "Wall time (s)", ""], rows) + [""]
    return "\n".join(out)
