"""SCAM and SCAM+ as modules over named classifier outputs: STANet+ Eqs. 1-3 and 8.

Thin wrappers over :func:`scamlib.functional.scam` and :func:`~scamlib.functional.scam_plus`:
they hold the configuration (``lam``, source names, common size); the mapping
``source name -> (logits, class_maps)`` becomes the stacked tensors the ops take through
:func:`scamlib.functional.stack_sources`, the same function the pipeline uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from .. import functional as SF
from .._validation import as_size
from ..functional.cam import SCAMResult

__all__ = ["BASE_SOURCES", "MG_SOURCES", "SCAM", "SCAMOutput", "SCAMPlus"]

#: The three SCAM sources of STANet (Eq. 2).
BASE_SOURCES: tuple[str, ...] = ("s", "st", "sa")
#: The eight multi-granularity sources of SCAM+ (Eq. 8): {S+, ST+} x {short, long, cross} and
#: SA+ x {long, cross}.
MG_SOURCES: tuple[str, ...] = (
    "s+_short",
    "s+_long",
    "s+_cross",
    "st+_short",
    "st+_long",
    "st+_cross",
    "sa+_long",
    "sa+_cross",
)

Outputs = Mapping[str, tuple[Tensor, Tensor]]


#: The result type of :class:`SCAM` and :class:`SCAMPlus`: the same type as
#: :class:`scamlib.functional.SCAMResult` (``map``, ``valid``, ``confidences``, ``cams``,
#: ``sources``), kept under this name so existing code keeps working.
SCAMOutput = SCAMResult


def _check_names(outputs: Outputs, expected: Sequence[str], what: str) -> None:
    if not isinstance(outputs, Mapping):
        raise TypeError(f"outputs must map source names to (logits, class_maps), got {outputs!r}")
    missing = [k for k in expected if k not in outputs]
    extra = [k for k in outputs if k not in expected]
    if missing or extra:
        raise ValueError(
            f"outputs must hold exactly the {what} sources {list(expected)}; "
            f"missing {missing}, unexpected {extra}"
        )


class SCAM(nn.Module):
    """Selective class activation mapping over named sources, STANet+ Eq. 2.

    Args:
        sources: source names, in the order of the stacked outputs (default ``("s","st","sa")``).
        lam: ``lambda`` of Eq. 2.
        size: resize every CAM to this ``(h, w)`` before fusion (needed when sources differ).

    Forward: ``outputs`` maps each name to ``(logits (b, C), class_maps (b, C, h, w))`` of any
    classifier ending in :class:`~scamlib.nn.CAMHead`; ``tags (b,)`` ->
    :class:`~scamlib.functional.SCAMResult` (alias ``SCAMOutput``) with the source names.

    Raises:
        ValueError: a missing or unexpected source name, or CAMs of different sizes without
            ``size``; the ops' errors for bad shapes/tags/NaN.

    Example:
        >>> scam = SCAM(size=4)
        >>> outs = {k: (torch.randn(2, 5), torch.randn(2, 5, 3, 3)) for k in ("s", "st", "sa")}
        >>> r = scam(outs, torch.tensor([0, 3]))
        >>> r.map.shape, r.confidences.shape, r.sources
        (torch.Size([2, 4, 4]), torch.Size([2, 3]), ('s', 'st', 'sa'))
    """

    def __init__(
        self,
        sources: Sequence[str] = BASE_SOURCES,
        lam: float = 1e-4,
        size: int | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.sources = tuple(sources)
        if not self.sources or len(set(self.sources)) != len(self.sources):
            raise ValueError(f"sources must be non-empty and unique, got {self.sources}")
        self.lam = float(lam)
        self.size = None if size is None else as_size(size)

    def forward(self, outputs: Outputs, tags: Tensor) -> SCAMResult:
        _check_names(outputs, self.sources, "SCAM")
        cams, confs = SF.stack_sources(outputs, tags, self.size, self.sources)
        return SF.scam(cams, confs, tags, lam=self.lam)._replace(sources=self.sources)

    def extra_repr(self) -> str:
        return f"sources={self.sources}, lam={self.lam}, size={self.size}"


class SCAMPlus(nn.Module):
    """SCAM+ over the SCAM sources and the multi-granularity sources, STANet+ Eq. 8.

    Args:
        base_sources: the SCAM sources (default :data:`BASE_SOURCES`).
        mg_sources: the multi-granularity sources (default the eight :data:`MG_SOURCES`).
        lam: ``lambda`` of Eq. 8.
        size: common CAM size ``(h, w)`` (resizes every CAM before fusion).

    Forward: ``outputs`` maps every base and MG name to ``(logits, class_maps)``; ``tags (b,)``
    -> :class:`~scamlib.functional.SCAMResult` with the sources in ``base_sources + mg_sources``
    order.

    Raises:
        ValueError: a missing or unexpected source name (the message lists both).

    Example:
        >>> names = BASE_SOURCES + MG_SOURCES
        >>> outs = {k: (torch.randn(2, 5), torch.randn(2, 5, 3, 3)) for k in names}
        >>> r = SCAMPlus()(outs, torch.tensor([0, 3]))
        >>> r.cams.shape
        torch.Size([2, 11, 3, 3])
    """

    def __init__(
        self,
        base_sources: Sequence[str] = BASE_SOURCES,
        mg_sources: Sequence[str] = MG_SOURCES,
        lam: float = 1e-4,
        size: int | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.base_sources = tuple(base_sources)
        self.mg_sources = tuple(mg_sources)
        names = self.base_sources + self.mg_sources
        if not self.base_sources or not self.mg_sources or len(set(names)) != len(names):
            raise ValueError(
                "base_sources and mg_sources must be non-empty with unique names, got "
                f"{self.base_sources} and {self.mg_sources}"
            )
        self.lam = float(lam)
        self.size = None if size is None else as_size(size)

    def forward(self, outputs: Outputs, tags: Tensor) -> SCAMResult:
        names = self.base_sources + self.mg_sources
        _check_names(outputs, names, "SCAM+")
        cams, confs = SF.stack_sources(outputs, tags, self.size, names)
        k1 = len(self.base_sources)
        result = SF.scam_plus(
            cams[:, :k1], confs[:, :k1], cams[:, k1:], confs[:, k1:], tags, self.lam
        )
        return result._replace(sources=names)

    def extra_repr(self) -> str:
        return (
            f"base_sources={self.base_sources}, mg_sources={self.mg_sources}, "
            f"lam={self.lam}, size={self.size}"
        )
