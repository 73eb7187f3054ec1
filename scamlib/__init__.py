"""scamlib: weakly supervised audio-visual saliency (STANet / STANet+).

Video category tags become pseudo-fixation maps through selective class activation mapping
(SCAM, SCAM+); student networks (STA, STA+) learn from them and predict fixations for any video
with sound. See the README and the API docs for a tour.
"""

from . import functional

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "functional"]
