"""Data layer: AVE, STAViS-layout eye-tracking sets, audio front end, multi-granularity
sampling, and a synthetic audio-visual world with known fixations."""

from ._errors import DataError
from .annotations import (
    AVEEvent,
    FoldEntry,
    available_splits,
    ave_categories,
    fold_list_path,
    read_annotations,
    read_ave_split,
    read_fold_list,
)
from .audio import audio_window, load_waveform, log_mel_spectrogram, log_spectrogram
from .ave import AVE
from .sampling import MultiGranularity, mg_candidates, sample_mg
from .stavis import AVSaliency, GroundTruth

__all__ = [
    "AVE",
    "AVEEvent",
    "AVSaliency",
    "DataError",
    "FoldEntry",
    "GroundTruth",
    "MultiGranularity",
    "audio_window",
    "available_splits",
    "ave_categories",
    "fold_list_path",
    "load_waveform",
    "log_mel_spectrogram",
    "log_spectrogram",
    "mg_candidates",
    "read_annotations",
    "read_ave_split",
    "read_fold_list",
    "sample_mg",
]
