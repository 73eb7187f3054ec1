"""Fixation prediction with trained student networks: STA, STA+ and their fusion (STANet+ Sec. 5).

Once trained on pseudo-fixations, the students need no tags: frames and sound in, fixation
maps out. This package is the one path from a checkpoint to maps on disk, shared by
``scamlib predict``, the pipeline's prediction stage and your own scripts:

1. :func:`save_student` writes a student's weights as safetensors together with its complete
   network config and input settings; :func:`load_student` / :func:`load_students` rebuild it
   (these live in :mod:`scamlib.models.checkpoint`).
2. :class:`Predictor` (:mod:`~scamlib.inference.predictor`) runs the students on the frames of
   a video of a frame dataset (such as :class:`~scamlib.data.AVSaliency` built with
   ``annotations=False``) and fuses the three students' maps with PF_final (Eq. 21) and PF_agg
   (Eq. 23); :func:`write_maps` (:mod:`~scamlib.inference.maps`) writes them as PNGs.
3. :func:`video_dataset` (:mod:`scamlib.data.ingest`) turns your own video file (or a folder of
   frames with a WAV) into a one-video dataset in the STAViS layout, so your video goes down
   the same path as the test sets.

The student variants (``sta``, ``sta_short``, ``sta_long``, ``pf_final``, ``pf_agg``) are
defined in :mod:`scamlib.models.variants`.

Example:
    A folder holding the checkpoint of STA alone gives maps of that one variant:

    >>> import tempfile, pathlib
    >>> from scamlib.models import create
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = save_student(folder / "sta.safetensors", create("sta"), name="sta", image_size=32)
    >>> students = load_students(folder)
    >>> list(students), best_variant(list(students))
    (['sta'], 'sta')
"""

from .._device import resolve_device
from ..data.ingest import DEFAULT_FPS, video_dataset
from ..data.ingest import video_wav_path as _audio_path
from ..models.checkpoint import (
    STUDENT_FORMAT,
    StudentInfo,
    load_student,
    load_students,
    save_student,
)
from ..models.checkpoint import student_info_dict as _info_dict
from ..models.variants import FUSED_VARIANTS, STUDENT_VARIANTS, VARIANTS, best_variant
from .maps import write_maps
from .predictor import Predictor, _Memo

__all__ = [
    "DEFAULT_FPS",
    "FUSED_VARIANTS",
    "STUDENT_FORMAT",
    "STUDENT_VARIANTS",
    "VARIANTS",
    "Predictor",
    "StudentInfo",
    "best_variant",
    "load_student",
    "load_students",
    "resolve_device",
    "save_student",
    "video_dataset",
    "write_maps",
]

# private names the command line used before they got public homes
_PRIVATE_ALIASES = (_audio_path, _info_dict, _Memo)
