"""Class activation maps and their selective fusion: STANet+ Eqs. 1, 2, 3, 8 and 22."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import (
    as_size,
    check_finite,
    check_floating,
    check_ndim,
    check_probabilities,
    check_real,
    check_tags,
    check_tensor,
)
from .norm import minmax

__all__ = [
    "SCAMResult",
    "SourceStack",
    "average_cams",
    "cam",
    "scam",
    "scam_plus",
    "soft_filter",
    "stack_sources",
]


class SCAMResult(NamedTuple):
    """What :func:`scam`, :func:`scam_plus` and the :class:`scamlib.nn.SCAM` /
    :class:`scamlib.nn.SCAMPlus` modules return (``scamlib.nn.SCAMOutput`` is the same type).

    Attributes:
        map: ``(b, h, w)`` pseudo-fixation map in ``[0, 1]``; all zeros where ``valid`` is False.
        valid: ``(b,)`` bool; False where no source classifies the frame as its tag (every
            soft-filtered confidence is 0) or the fused map is constant. Pipelines leave such
            frames out of pseudo-ground-truth training, since Eq. 2 gives no map for them.
        confidences: ``(b, k)`` soft-filtered confidences ``UC_k`` (Eq. 3) of the ``k`` sources,
            in source order.
        cams: ``(b, k, h, w)`` the min-max normalised CAMs (Eq. 1) that were fused, same order.
        sources: the ``k`` source names when the sources were named (the modules), else ``()``.
    """

    map: Tensor
    valid: Tensor
    confidences: Tensor | None = None
    cams: Tensor | None = None
    sources: tuple[str, ...] = ()


class SourceStack(NamedTuple):
    """What :func:`stack_sources` returns: the inputs of :func:`scam` for named sources.

    Attributes:
        cams: ``(b, k, h, w)`` min-max normalised CAMs of the tag (Eq. 1).
        confidences: ``(b, k, C)`` softmax confidences of the ``k`` sources.
    """

    cams: Tensor
    confidences: Tensor


def cam(class_maps: Tensor, tags: Tensor, size: int | tuple[int, int] | None = None) -> Tensor:
    """Class activation map of the tagged class, STANet+ Eq. 1.

    The classifier ends in a 1x1 conv to ``C`` channels and global average pooling, so the
    weighted sum of Eq. 1 is already channel ``tag`` of the pre-pooling map. This op takes that
    channel, applies ReLU, optionally resizes it bilinearly (``align_corners=False``), and
    min-max normalises it (a constant map has no range and becomes zeros).

    Tags of any integer dtype are read as class indices, never as a mask: ``uint8`` tags whose
    length happens to equal the number of classes (``b == c``) select the same channels as their
    int64 values would.

    Args:
        class_maps: ``(b, c, h, w)`` pre-pooling class maps of a classifier, ``h, w >= 1``.
        tags: ``(b,)`` class indices in ``[0, c)``, any integer dtype.
        size: output size ``int`` or ``(H, W)``; ``None`` keeps ``(h, w)``.

    Returns:
        ``(b, h, w)`` or ``(b, H, W)`` maps in ``[0, 1]``. A map that is constant after ReLU
        (e.g. all negative responses) comes out all zeros. An empty batch (``b = 0``) gives an
        empty ``(0, h, w)`` result.

    Raises:
        TypeError: non-float maps or non-integer tags.
        ValueError: wrong shapes, an empty map (``h`` or ``w`` = 0), NaN/Inf in ``class_maps``,
            tags outside ``[0, c)``.

    Example:
        >>> maps = torch.zeros(1, 2, 2, 2)
        >>> maps[0, 1] = torch.tensor([[-1.0, 1.0], [2.0, 3.0]])
        >>> cam(maps, torch.tensor([1]))
        tensor([[[0.0000, 0.3333],
                 [0.6667, 1.0000]]])
    """
    check_floating(class_maps, "class_maps")
    check_ndim(class_maps, "class_maps", 4, "(b, c, h, w)")
    check_finite(class_maps, "class_maps")
    b, c, h, w = class_maps.shape
    if h == 0 or w == 0:
        raise ValueError(
            f"class_maps must have a non-empty map (h, w >= 1), got {tuple(class_maps.shape)}"
        )
    tags = check_tags(tags, b, c).to(class_maps.device)
    selected = class_maps[torch.arange(b, device=class_maps.device), tags]
    selected = F.relu(selected)
    if size is not None:
        size = as_size(size)
        selected = F.interpolate(
            selected[:, None], size=size, mode="bilinear", align_corners=False
        )[:, 0]
    return minmax(selected)


def stack_sources(
    outputs: Mapping[str, tuple[Tensor, Tensor]],
    tags: Tensor,
    size: int | tuple[int, int] | None = None,
    names: Sequence[str] | None = None,
) -> SourceStack:
    """CAMs (Eq. 1) and softmax confidences of named classifiers, stacked for Eqs. 2 and 8.

    For every source ``name -> (logits, class_maps)`` (the two outputs of a classifier ending in
    :class:`scamlib.nn.CAMHead`), takes :func:`cam` of the tagged class (resized to ``size``)
    and ``softmax(logits)``, and stacks them along a source axis in ``names`` order. This is the
    one place where classifier outputs become the inputs of :func:`scam` / :func:`scam_plus`; the
    :class:`scamlib.nn.SCAM` modules and the pipeline both use it. Half-precision outputs (e.g.
    under autocast) are computed in float32; float32 and float64 keep their dtype.

    Args:
        outputs: mapping ``name -> (logits (b, C), class_maps (b, C, h, w))``.
        tags: ``(b,)`` class indices in ``[0, C)``, any integer dtype.
        size: common CAM size ``int`` or ``(H, W)``; ``None`` keeps each source's own size
            (then every source must have the same one).
        names: the sources to stack, in order; ``None`` takes ``outputs`` in its own order.

    Returns:
        :class:`SourceStack` ``(cams (b, k, h, w), confidences (b, k, C))``.

    Raises:
        TypeError: ``outputs`` is not a mapping or a value is not a ``(logits, class_maps)`` pair.
        ValueError: a name missing from ``outputs``, no sources, bad shapes, CAMs of different
            sizes without ``size`` (the message lists each source's size), the ops' errors.

    Example:
        >>> outs = {"s": (torch.zeros(1, 3), torch.rand(1, 3, 4, 4)),
        ...         "st": (torch.zeros(1, 3), torch.rand(1, 3, 2, 2))}
        >>> cams, conf = stack_sources(outs, torch.tensor([2]), size=4)
        >>> tuple(cams.shape), conf[0, 0]
        ((1, 2, 4, 4), tensor([0.3333, 0.3333, 0.3333]))
    """
    if not isinstance(outputs, Mapping):
        raise TypeError(
            f"outputs must map source names to (logits, class_maps), got {type(outputs).__name__}"
        )
    names = tuple(outputs) if names is None else tuple(names)
    if not names:
        raise ValueError("stack_sources needs at least one source, got none")
    missing = [n for n in names if n not in outputs]
    if missing:
        raise ValueError(f"outputs has no source(s) {missing}; it holds {list(outputs)}")
    if size is not None:
        size = as_size(size)
    cams, confs, shapes = [], [], {}
    for name in names:
        pair = outputs[name]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"outputs[{name!r}] must be a pair (logits, class_maps), got {pair!r}")
        logits, maps = pair
        check_tensor(logits, f"outputs[{name!r}] logits")
        check_floating(logits, f"outputs[{name!r}] logits")
        check_ndim(logits, f"outputs[{name!r}] logits", 2, "(b, C)")
        check_finite(logits, f"outputs[{name!r}] logits")
        check_tensor(maps, f"outputs[{name!r}] class_maps")
        check_ndim(maps, f"outputs[{name!r}] class_maps", 4, "(b, C, h, w)")
        cams.append(cam(_at_least_float32(maps), tags, size))
        confs.append(_at_least_float32(logits).softmax(dim=-1))
        shapes[name] = tuple(cams[-1].shape)
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f"sources give CAMs of different shapes {shapes}; pass size=(h, w) to resize them"
        )
    widths = {n: tuple(c.shape) for n, c in zip(names, confs, strict=True)}
    if len(set(widths.values())) > 1:
        raise ValueError(f"sources give logits of different shapes {widths}; expected (b, C) each")
    return SourceStack(torch.stack(cams, dim=1), torch.stack(confs, dim=1))


def _at_least_float32(x: Tensor) -> Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32)) if x.is_floating_point() else x


def soft_filter(confidences: Tensor, tags: Tensor) -> Tensor:
    """Soft filter of a classifier's confidence, STANet+ Eq. 3.

    ``UC = conf[tag]`` if the tag class is the strict argmax of ``conf`` (greater than every
    other class), else 0. A tie with another class gives 0: the paper keeps a source only when it
    classifies the frame as its tag, and a tie is no such classification.

    Args:
        confidences: ``(b, c)`` class confidences in ``[0, 1]`` (softmax of the logits), or
            ``(b, k, c)`` for ``k`` sources at once.
        tags: ``(b,)`` class indices in ``[0, c)``, any integer dtype.

    Returns:
        ``(b,)`` (or ``(b, k)``) soft-filtered confidences, same dtype as ``confidences``; an
        empty batch gives an empty result.

    Raises:
        TypeError: non-float confidences or non-integer tags.
        ValueError: wrong shapes, NaN/Inf, values outside ``[0, 1]`` (logits instead of
            probabilities), tags outside ``[0, c)``.

    Example:
        >>> conf = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1]])
        >>> soft_filter(conf, torch.tensor([0, 0]))
        tensor([0.7000, 0.0000])
    """
    check_floating(confidences, "confidences")
    check_ndim(confidences, "confidences", (2, 3), "(b, c) or (b, k, c)")
    check_probabilities(confidences, "confidences")
    b, c = confidences.shape[0], confidences.shape[-1]
    tags = check_tags(tags, b, c).to(confidences.device)
    index = tags.view(b, *([1] * (confidences.ndim - 1))).expand(*confidences.shape[:-1], 1)
    tagged = confidences.gather(-1, index).squeeze(-1)
    is_tag = F.one_hot(tags, c).bool().view(b, *([1] * (confidences.ndim - 2)), c)
    others = confidences.masked_fill(is_tag, float("-inf")).amax(-1)
    return torch.where(tagged > others, tagged, torch.zeros_like(tagged))


def scam(cams: Tensor, confidences: Tensor, tags: Tensor, lam: float = 1e-4) -> SCAMResult:
    """Selective class activation mapping, STANet+ Eq. 2.

    ``SCAM = Z((sum_k UC_k * Phi_k + lam) / (sum_k UC_k + lam))`` with ``UC_k`` the
    soft-filtered confidence (Eq. 3) of source ``k`` and ``Phi_k`` its CAM. With the three
    sources S, ST, SA this is STANet's SCAM; any number of sources is accepted.

    ``confidences`` must be probabilities (the softmax of each classifier's logits): Eq. 2
    weights the CAMs by them, and logits would give negative or unbounded weights that still
    produce a plausible-looking map, so values outside ``[0, 1]`` are an error.

    Args:
        cams: ``(b, k, h, w)`` CAMs of the tagged class, already min-max normalised.
        confidences: ``(b, k, c)`` class confidences in ``[0, 1]`` of the ``k`` sources.
        tags: ``(b,)`` class indices in ``[0, c)``, any integer dtype.
        lam: the small constant ``lambda`` of Eq. 2 (default 1e-4), finite and ``>= 0``.

    Returns:
        :class:`SCAMResult`: ``map`` ``(b, h, w)`` in ``[0, 1]``; ``valid`` ``(b,)`` is False
        where every ``UC_k`` is 0 or the fused map is constant, and ``map`` is all zeros there;
        ``confidences`` the ``(b, k)`` weights ``UC_k``; ``cams`` the input; ``sources`` ``()``.
        An empty batch (``b = 0``) gives empty fields.

    Raises:
        TypeError: non-float inputs or non-integer tags.
        ValueError: shapes that disagree, NaN/Inf, confidences outside ``[0, 1]``, tags outside
            ``[0, c)``, ``lam`` negative or not finite.

    Example:
        >>> cams = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])  # b=1, k=2, h=1, w=2
        >>> conf = torch.tensor([[[0.9, 0.1], [0.2, 0.8]]])      # source 2 disagrees
        >>> out = scam(cams, conf, torch.tensor([0]))
        >>> out.map, out.valid
        (tensor([[[0., 1.]]]), tensor([True]))
    """
    check_floating(cams, "cams")
    check_ndim(cams, "cams", 4, "(b, k, h, w)")
    check_floating(confidences, "confidences")
    check_ndim(confidences, "confidences", 3, "(b, k, c)")
    if confidences.shape[:2] != cams.shape[:2]:
        raise ValueError(
            "cams (b, k, h, w) and confidences (b, k, c) must agree on (b, k), got "
            f"{tuple(cams.shape)} and {tuple(confidences.shape)}"
        )
    if cams.shape[1] == 0:
        raise ValueError(f"scam needs at least one source, got cams of shape {tuple(cams.shape)}")
    if cams.shape[2] == 0 or cams.shape[3] == 0:
        raise ValueError(f"cams must have a non-empty map (h, w >= 1), got {tuple(cams.shape)}")
    check_finite(cams, "cams")
    lam = check_real(lam, "lam", low=0.0)
    uc = soft_filter(confidences, tags)
    weights = uc.to(torch.result_type(cams, confidences))
    numerator = torch.einsum("bk,bkhw->bhw", weights, cams.to(weights.dtype)) + lam
    denominator = (weights.sum(1) + lam)[:, None, None]
    safe = denominator > 0
    fused = torch.where(safe, numerator / torch.where(safe, denominator, 1.0), 0.0)
    fused_map, has_range = minmax(fused, return_valid=True)
    valid = (weights > 0).any(1) & has_range
    return SCAMResult(torch.where(valid[:, None, None], fused_map, 0.0), valid, uc, cams)


def scam_plus(
    base_cams: Tensor,
    base_confidences: Tensor,
    mg_cams: Tensor,
    mg_confidences: Tensor,
    tags: Tensor,
    lam: float = 1e-4,
) -> SCAMResult:
    """SCAM+, STANet+ Eq. 8: SCAM over the base sources and the multi-granularity sources.

    The base sources are SCAM's S, ST, SA (``UC``/``UR`` of Eq. 8); the multi-granularity
    ones are S+, ST+ x {short, long, cross} and SA+ x {long, cross} (``SC/SR``, ``LC/LR``,
    ``CC/CR``). Eq. 8 sums every soft-filtered confidence and weighted CAM in one numerator and
    one denominator, so it equals :func:`scam` over the concatenated sources (the two groups
    only differ in where their CAMs come from); any ``k1``, ``k2`` are accepted.

    Args:
        base_cams: ``(b, k1, h, w)`` min-max normalised CAMs of the SCAM sources.
        base_confidences: ``(b, k1, c)`` their confidences in ``[0, 1]``.
        mg_cams: ``(b, k2, h, w)`` CAMs of the multi-granularity sources.
        mg_confidences: ``(b, k2, c)`` their confidences in ``[0, 1]``.
        tags: ``(b,)`` class indices, any integer dtype.
        lam: ``lambda`` of Eq. 8 (default 1e-4).

    Returns:
        :class:`SCAMResult` as :func:`scam`, over the ``k1 + k2`` sources (base first).

    Raises:
        ValueError: the two groups disagree on ``b``, ``h``, ``w`` or ``c``, plus :func:`scam`'s.

    Example:
        >>> base = torch.rand(2, 3, 4, 4); mg = torch.rand(2, 8, 4, 4)
        >>> cb = torch.rand(2, 3, 5).softmax(-1); cm = torch.rand(2, 8, 5).softmax(-1)
        >>> t = torch.tensor([1, 4])
        >>> joint = scam(torch.cat([base, mg], 1), torch.cat([cb, cm], 1), t)
        >>> torch.equal(scam_plus(base, cb, mg, cm, t).map, joint.map)
        True
    """
    for name, x, layout in (
        ("base_cams", base_cams, "(b, k1, h, w)"),
        ("mg_cams", mg_cams, "(b, k2, h, w)"),
    ):
        check_floating(x, name)
        check_ndim(x, name, 4, layout)
    for name, x, layout in (
        ("base_confidences", base_confidences, "(b, k1, c)"),
        ("mg_confidences", mg_confidences, "(b, k2, c)"),
    ):
        check_floating(x, name)
        check_ndim(x, name, 3, layout)
        check_probabilities(x, name)
    if base_cams.shape[0] != mg_cams.shape[0] or base_cams.shape[2:] != mg_cams.shape[2:]:
        raise ValueError(
            "base_cams and mg_cams must agree on (b, h, w), got "
            f"{tuple(base_cams.shape)} and {tuple(mg_cams.shape)}"
        )
    if base_confidences.shape[::2] != mg_confidences.shape[::2]:
        raise ValueError(
            "base_confidences and mg_confidences must agree on (b, c), got "
            f"{tuple(base_confidences.shape)} and {tuple(mg_confidences.shape)}"
        )
    return scam(
        torch.cat([base_cams, mg_cams], dim=1),
        torch.cat([base_confidences, mg_confidences], dim=1),
        tags,
        lam=lam,
    )


def average_cams(cams: Tensor) -> Tensor:
    """Plain average of the source CAMs, the "AC" ablation baseline, STANet+ Eq. 22.

    ``AC = (1/k) sum_k Phi_k``, no confidence weighting and no re-normalisation (with three
    sources this is exactly Eq. 22).

    Args:
        cams: ``(b, k, h, w)`` CAMs, ``k >= 1``.

    Returns:
        ``(b, h, w)`` mean over the ``k`` sources.

    Raises:
        TypeError: non-float ``cams``.
        ValueError: wrong shape, ``k = 0``, NaN/Inf.

    Example:
        >>> average_cams(torch.tensor([[[[0.0, 1.0]], [[1.0, 1.0]], [[0.5, 0.0]]]]))
        tensor([[[0.5000, 0.6667]]])
    """
    check_floating(cams, "cams")
    check_ndim(cams, "cams", 4, "(b, k, h, w)")
    if cams.shape[1] == 0:
        raise ValueError(f"average_cams needs at least one source, got {tuple(cams.shape)}")
    check_finite(cams, "cams")
    return cams.mean(dim=1)
