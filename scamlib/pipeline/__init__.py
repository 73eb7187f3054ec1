"""The STANet+ method as resumable stages (STANet+ Secs. 3-6).

Each stage is a function of (config, inputs on disk) -> outputs on disk, written atomically
under one output folder and keyed by the settings that produced them: a killed run resumes where
it stopped, and a changed setting re-runs only the stages it affects.
"""

from .config import DEFAULT_DATASETS, DataConfig, PipelineConfig, TrainConfig, load_config, profile
from .distributed import DistEnv, init_distributed, shard
from .reproduce import reproduce
from .runner import Context, RunError, Stage, run_stages
from .store import StageStore, stage_key

__all__ = [
    "DEFAULT_DATASETS",
    "Context",
    "DataConfig",
    "DistEnv",
    "PipelineConfig",
    "RunError",
    "Stage",
    "StageStore",
    "TrainConfig",
    "init_distributed",
    "load_config",
    "profile",
    "reproduce",
    "run_stages",
    "shard",
    "stage_key",
]
