"""Bad inputs to the metrics: each case raises the exact exception naming the culprit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scamlib.metrics import SaliencyMetrics, auc_shuffled, cc, imresize, nss, postprocess
from scamlib.metrics.protocol import evaluate


class _Toy:
    def __len__(self):
        return 1

    def __getitem__(self, i):
        fix = torch.zeros(6, 8, dtype=torch.bool)
        fix[2, 3] = True
        return {"density": fix.double(), "fixations": fix, "video": "v", "frame_index": 1}

    def fixation_union(self, video):
        return self[0]["fixations"]


def _evaluate(**options):
    return evaluate(lambda item: torch.rand(6, 8), _Toy(), **options)


MAP, FIX = torch.rand(6, 8), torch.zeros(6, 8, dtype=torch.bool)

CASES = [
    ("step=5", lambda: _evaluate(step=5), ValueError, "step"),
    ("step=0", lambda: _evaluate(step=0.0), ValueError, "step"),
    ("sigma=0", lambda: _evaluate(sigma=0), ValueError, "sigma"),
    ("sigma=nan", lambda: postprocess(MAP, sigma=float("nan")), ValueError, "sigma"),
    ("n_splits=0", lambda: _evaluate(n_splits=0), ValueError, "n_splits"),
    ("n_splits=1.5", lambda: _evaluate(n_splits=1.5), ValueError, "n_splits"),
    ("threads=0", lambda: _evaluate(threads=0), ValueError, "threads"),
    ("readers=-1", lambda: _evaluate(readers=-1), ValueError, "readers"),
    ("dtype=float16", lambda: _evaluate(dtype=torch.float16), TypeError, "dtype"),
    ("dtype=int", lambda: SaliencyMetrics(dtype=torch.int64), TypeError, "dtype"),
    ("jitter=1", lambda: _evaluate(jitter=1), TypeError, "jitter"),
    ("batch_size=0", lambda: _evaluate(batch_size=0), ValueError, "batch_size"),
    ("metrics=AUC", lambda: SaliencyMetrics(("AUC",)), ValueError, "unknown metric"),
    ("metrics=str", lambda: SaliencyMetrics("CC"), TypeError, "metrics"),
    ("0-pixel pred", lambda: nss(torch.rand(3, 0), FIX[:3, :0]), ValueError, "pred"),
    ("0-pixel map", lambda: postprocess(torch.rand(2, 0, 4)), ValueError, "pred"),
    ("0-pixel resize", lambda: imresize(torch.rand(0, 4), (2, 2)), ValueError, "x"),
    ("nan pred", lambda: cc(torch.full((6, 8), float("nan")), MAP), ValueError, "pred"),
    ("shape", lambda: cc(MAP, torch.rand(8, 6)), ValueError, "density"),
    ("object array", lambda: cc(np.array([[None]]), MAP), TypeError, "pred"),
    ("int pred", lambda: nss(np.zeros((6, 8), np.int64), FIX), TypeError, "pred"),
    ("other shape", lambda: auc_shuffled(MAP, FIX, FIX[:3]), ValueError, "other"),
]


@pytest.mark.parametrize(
    ("call", "error", "culprit"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_names_the_culprit(call, error, culprit):
    with pytest.raises(error, match=culprit):
        call()


def test_empty_batches_give_empty_results():
    assert nss(torch.rand(0, 6, 8), torch.zeros(0, 6, 8, dtype=torch.bool)).shape == (0,)
    assert cc(np.zeros((0, 6, 8)), np.zeros((0, 6, 8))).shape == (0,)
    assert postprocess(torch.rand(0, 6, 8), (3, 4)).shape == (0, 3, 4)
    assert imresize(torch.rand(0, 6, 8), (3, 4)).shape == (0, 3, 4)
