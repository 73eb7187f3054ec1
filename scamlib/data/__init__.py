"""Data layer: AVE, STAViS-layout eye-tracking sets, audio front end, multi-granularity
sampling, a synthetic audio-visual world with known fixations, and your own video as a dataset."""

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
from .ingest import DEFAULT_FPS, video_dataset, video_wav_path
from .sampling import MultiGranularity, mg_candidates, sample_mg
from .stavis import AVSaliency, GroundTruth

__all__ = [
    "AVE",
    "DEFAULT_FPS",
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
    "video_dataset",
    "video_wav_path",
]
