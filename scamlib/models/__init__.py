"""Assembled networks of STANet / STANet+ (SPEC §7, §8, §10): S, ST, SA and their multi-
granularity versions S+, ST+, SA+ (classification nets whose CAMs feed SCAM / SCAM+), the STA
and STA+ student fixation nets, backbones and audio encoders. Build them with :func:`create`.
"""

from .audio import SoundNet8, SpectrogramEncoder, find_soundnet8, read_soundnet8_npy
from .backbones import (
    Backbone,
    LoadReport,
    find_cached_weights,
    load_state_dict_file,
    load_weights,
    torchvision_mobilenet_v2_file,
)
from .classifiers import SANet, SAPlusNet, SNet, SPlusNet, STNet, STPlusNet, TemporalConv
from .factory import MODEL_NAMES, PRESETS, Preset, create
from .saliency import STAFeatures, STANet, STAPlusNet

__all__ = [
    "MODEL_NAMES",
    "PRESETS",
    "Backbone",
    "LoadReport",
    "Preset",
    "SANet",
    "SAPlusNet",
    "SNet",
    "SPlusNet",
    "STAFeatures",
    "STANet",
    "STAPlusNet",
    "STNet",
    "STPlusNet",
    "SoundNet8",
    "SpectrogramEncoder",
    "TemporalConv",
    "create",
    "find_cached_weights",
    "find_soundnet8",
    "load_state_dict_file",
    "load_weights",
    "read_soundnet8_npy",
    "torchvision_mobilenet_v2_file",
]
