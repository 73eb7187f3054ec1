"""Assembled networks of STANet / STANet+: S, ST, SA and their multi-granularity versions S+,
ST+, SA+ (classification nets whose CAMs feed SCAM / SCAM+, Sec. 3-4), the STA and STA+
student fixation nets (Sec. 5), backbones and audio encoders.

Build them with :func:`create`, which stamps the complete :class:`ModelConfig` on the network;
call any of them on a batch dict with :func:`run_batch`; save and restore students (weights and
config) with :func:`save_student` / :func:`load_student`.
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
from .batch import register_batch_adapter, run_batch, unwrap
from .checkpoint import (
    STUDENT_FORMAT,
    StudentInfo,
    load_student,
    load_students,
    save_student,
    student_info_dict,
)
from .classifiers import SANet, SAPlusNet, SNet, SPlusNet, STNet, STPlusNet, TemporalConv
from .factory import (
    MODEL_NAMES,
    PRESETS,
    ModelConfig,
    Preset,
    create,
    create_from_config,
    model_names,
    register_model,
)
from .saliency import STAFeatures, STANet, STAPlusNet
from .variants import (
    FUSED_VARIANTS,
    STUDENT_NETWORKS,
    STUDENT_VARIANTS,
    VARIANT_LABELS,
    VARIANTS,
    best_variant,
)

__all__ = [
    "FUSED_VARIANTS",
    "MODEL_NAMES",
    "PRESETS",
    "STUDENT_FORMAT",
    "STUDENT_NETWORKS",
    "STUDENT_VARIANTS",
    "VARIANTS",
    "VARIANT_LABELS",
    "Backbone",
    "LoadReport",
    "ModelConfig",
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
    "StudentInfo",
    "TemporalConv",
    "best_variant",
    "create",
    "create_from_config",
    "find_cached_weights",
    "find_soundnet8",
    "load_state_dict_file",
    "load_student",
    "load_students",
    "load_weights",
    "model_names",
    "read_soundnet8_npy",
    "register_batch_adapter",
    "register_model",
    "run_batch",
    "save_student",
    "student_info_dict",
    "torchvision_mobilenet_v2_file",
    "unwrap",
]
