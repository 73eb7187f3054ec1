"""Fixtures of the data tests: a tiny synthetic world written once per session."""

from __future__ import annotations

import pytest

from scamlib.data.synthetic import SyntheticConfig, generate

TINY = SyntheticConfig(
    num_categories=3,
    num_train=6,
    num_val=1,
    num_test=1,
    seconds=2,
    fps=8,
    height=64,
    width=80,
    max_distractors=1,
    num_test_videos=2,
    test_seconds=1,
    observers=6,
    style="drawn",  # its heads are single colours: the AVE tests find the head by colour
)


@pytest.fixture(scope="session")
def synth(tmp_path_factory):
    """Paths of a tiny synthetic set (3 classes, 8 AVE clips of 2 s, 2 test sets of 2 videos)."""
    return generate(tmp_path_factory.mktemp("synth"), TINY, seed=3)
