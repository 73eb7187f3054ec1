"""The names of the student predictions (STANet+ Sec. 5, Table 6), defined once.

==============  ==========================================================  ============
variant         network                                                      equation
==============  ==========================================================  ============
``sta``         :class:`~scamlib.models.STANet`                              Eqs. 15-16
``sta_short``   :class:`~scamlib.models.STAPlusNet`, short-term MG frames    Eqs. 18-19
``sta_long``    :class:`~scamlib.models.STAPlusNet`, long-term MG frames     Eqs. 18-19
``pf_final``    ``½ Z(Z(a)·Z(b)·Z(c)) + ½ Z(a + b + c)`` of the three        Eq. 21
``pf_agg``      ``¼ Z(Z(a)·Z(b)·Z(c)) · Z(a + b + c)`` (ablation)            Eq. 23
==============  ==========================================================  ============

Checkpoints are named ``<variant>.safetensors`` and prediction folders ``<variant>/``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "FUSED_VARIANTS",
    "STUDENT_NETWORKS",
    "STUDENT_VARIANTS",
    "VARIANTS",
    "VARIANT_LABELS",
    "best_variant",
]

#: The three student networks, in the order PF_final takes them (Eq. 21: a, b, c).
STUDENT_VARIANTS: tuple[str, ...] = ("sta", "sta_short", "sta_long")
#: Each student variant's network: ``variant -> (create name, multi-granularity kind)``.
STUDENT_NETWORKS: dict[str, tuple[str, str | None]] = {
    "sta": ("sta", None),
    "sta_short": ("sta+", "short"),
    "sta_long": ("sta+", "long"),
}
#: The fusions of the three students' maps: PF_final (Eq. 21) and PF_agg (Eq. 23).
FUSED_VARIANTS: tuple[str, ...] = ("pf_final", "pf_agg")
#: Every variant a :class:`~scamlib.inference.Predictor` can return, in this order.
VARIANTS: tuple[str, ...] = STUDENT_VARIANTS + FUSED_VARIANTS
#: Every variant's label in result tables, as the rows of STANet+ Table 6 (table order).
VARIANT_LABELS: dict[str, str] = {
    "sta": "PF_sta",
    "sta_short": "PF_sta+ short",
    "sta_long": "PF_sta+ long",
    "pf_agg": "PF_agg (Eq. 23)",
    "pf_final": "PF_final (Eq. 21)",
}


def best_variant(variants: Sequence[str]) -> str:
    """The variant to show when only one is wanted: ``pf_final`` when present, else the first
    student in the order ``sta_long``, ``sta_short``, ``sta``, else ``pf_agg``, else a fully
    supervised network (``dave``, ``stavis``: a checkpoint of :mod:`scamlib.models.supervised`).

    Raises:
        ValueError: no known variant in ``variants``.

    Example:
        >>> best_variant(["sta", "sta_short", "sta_long", "pf_final", "pf_agg"])
        'pf_final'
        >>> best_variant(["sta"])
        'sta'
    """
    for v in ("pf_final", "sta_long", "sta_short", "sta", "pf_agg", "dave", "stavis"):
        if v in variants:
            return v
    raise ValueError(f"no known variant in {list(variants)}; expected names from {VARIANTS}")
