"""scamlib: weakly supervised audio-visual saliency (STANet / STANet+).

Video category tags become pseudo-fixation maps through selective class activation mapping
(SCAM, SCAM+); student networks (STA, STA+) learn from them and predict fixations for any video
with sound. See the README and the API docs for a tour.

The building blocks of :mod:`scamlib.nn` are re-exported here, so
``from scamlib import SCAMPlus`` works; the subpackages hold the rest.
"""

from . import baselines, data, functional, inference, losses, metrics, models, nn, pipeline, viz
from ._version import __version__
from .nn import (
    SCAM,
    AudioSwitch,
    CAMHead,
    ConservativeGCN,
    FixationRefineLayer,
    SAFuse,
    SCAMPlus,
    STAFuse,
    STFuse,
)

__all__ = [
    "SCAM",
    "AudioSwitch",
    "CAMHead",
    "ConservativeGCN",
    "FixationRefineLayer",
    "SAFuse",
    "SCAMPlus",
    "STAFuse",
    "STFuse",
    "__version__",
    "baselines",
    "data",
    "functional",
    "inference",
    "losses",
    "metrics",
    "models",
    "nn",
    "pipeline",
    "viz",
]
