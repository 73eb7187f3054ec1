"""Shared test fixtures: devices, dtypes and the location of the shared reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One intra-op thread per xdist worker: with -n 2 on two cores, two workers each spinning
    # two OpenMP threads run the pipeline tests several times slower than one thread each.
    torch.set_num_threads(1)

REFERENCE_DATA = Path(__file__).resolve().parents[2] / "shared" / "reference-data"

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Run a test on the CPU and, when one is present, on CUDA."""
    return torch.device(request.param)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request) -> torch.dtype:
    return request.param


@pytest.fixture
def reference_data() -> Path:
    """``../shared/reference-data`` beside the checkout; tests using it skip when absent."""
    if not REFERENCE_DATA.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE_DATA}")
    return REFERENCE_DATA
