"""scamlib's metrics against the MIT saliency benchmark's own MATLAB code, run by GNU Octave.

Optional: runs only when ``octave`` (with the ``image`` package) is on the PATH and
``SCAMLIB_MIT_METRICS`` names a folder holding the MIT benchmark's ``code_forMetrics`` files
(``AUC_Judd.m``, ``AUC_shuffled.m``, ``AUC_Borji.m``, ``CC.m``, ``NSS.m``, ``similarity.m``,
``KLdiv.m``; https://github.com/cvzoya/saliency). The MIT files are not part of scamlib.

The maps are already at the fixation map's size, so the MIT functions' ``imresize`` calls are
the identity and Octave computes exactly what MATLAB does. Deterministic metrics (AUC-Judd
without jitter, CC, NSS, SIM, KLD) must agree to 1e-6, and the protocol's scaling
and blur (Octave's ``fspecial`` / ``imfilter``) and the enlarging ``imresize`` to 1e-12; the
randomised ones (AUC-Judd with its jitter on maps with ties, s-AUC, AUC-Borji) must agree in
distribution: the means of ``REPEATS`` runs on each side within five standard errors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import io

from scamlib.metrics import (
    auc_borji,
    auc_judd,
    auc_shuffled,
    cc,
    imresize,
    kld,
    nss,
    postprocess,
    sim,
)

MIT = os.environ.get("SCAMLIB_MIT_METRICS")
FILES = ("AUC_Judd.m", "AUC_shuffled.m", "AUC_Borji.m", "CC.m", "NSS.m", "similarity.m")
REPEATS = 24

pytestmark = pytest.mark.skipif(
    shutil.which("octave") is None
    or not MIT
    or not all((Path(MIT) / f).is_file() for f in (*FILES, "KLdiv.m")),
    reason="needs GNU Octave and SCAMLIB_MIT_METRICS (the MIT benchmark's code_forMetrics)",
)

SCRIPT = r"""
function run_cases(inp, out, repeats)
  pkg load image;
  rand('seed', 1); randn('seed', 1);
  d = load(inp);
  n = numel(d.maps);
  det = zeros(n, 5); rnd = zeros(n, 3, repeats); blurred = cell(n, 1);
  upscaled = cell(n, 1);
  for k = 1:n
    s = d.maps{k}; f = d.fix{k}; g = d.dens{k}; o = d.other{k};
    det(k, :) = [AUC_Judd(s, f, 0), CC(s, g), NSS(s, f), similarity(s, g), KLdiv(s, g)];
    x = min(max(255 * (1.1 * s - 0.05), 0), 255); x = x / max(x(:)) * 255;
    x = (x - min(x(:))) / (max(x(:)) - min(x(:)));
    blurred{k} = imfilter(x, fspecial('gaussian', 13, 2), 'symmetric');
    upscaled{k} = imresize(s, [2 * size(s, 1) + 3, 3 * size(s, 2) - 1]);
    for r = 1:repeats
      rnd(k, 1, r) = AUC_Judd(s, f, 1);
      rnd(k, 2, r) = AUC_shuffled(s, f, o, 100, 0.1);
      rnd(k, 3, r) = AUC_Borji(s, f, 100, 0.1);
    end
  end
  save('-mat', out, 'det', 'rnd', 'blurred', 'upscaled');
end
"""


def _cases():
    """Maps nobody tuned: smooth, with ties (quantised), with flat zero regions, and sparse."""
    rng = np.random.default_rng(11)
    cases = []
    for k in range(8):
        h, w = (int(x) for x in rng.integers(12, 40, 2))
        smooth = np.kron(rng.random((h // 4 + 1, w // 4 + 1)), np.ones((4, 4)))[:h, :w]
        s = smooth + 0.2 * rng.random((h, w))
        if k % 4 == 1:
            s = np.round(s * 6) / 6  # many ties
        if k % 4 == 2:
            s[: h // 2] = 0.0  # a flat zero region
        if k % 4 == 3:
            s = s**6  # most values near zero
        fix = np.zeros((h, w), dtype=bool)
        fix.flat[rng.choice(h * w, int(rng.integers(2, 30)), replace=False)] = True
        other = np.zeros((h, w), dtype=bool)
        other.flat[rng.choice(h * w, int(rng.integers(5, 80)), replace=False)] = True
        other &= ~fix
        dens = np.kron(rng.random((h // 2 + 1, w // 2 + 1)), np.ones((2, 2)))[:h, :w] ** 3
        cases.append((s.astype(np.float64), fix, dens, other))
    return cases


@pytest.fixture(scope="module")
def octave_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mit")
    cases = _cases()
    cells = {name: np.empty(len(cases), dtype=object) for name in ("maps", "fix", "dens", "other")}
    for k, (s, f, d, o) in enumerate(cases):
        cells["maps"][k], cells["dens"][k] = s, d
        cells["fix"][k], cells["other"][k] = f.astype(np.float64), o.astype(np.float64)
    io.savemat(tmp / "in.mat", cells)
    (tmp / "run_cases.m").write_text(SCRIPT)
    command = (
        f"addpath('{MIT}'); addpath('{tmp}'); "
        f"run_cases('{tmp / 'in.mat'}', '{tmp / 'out.mat'}', {REPEATS});"
    )
    subprocess.run(
        ["octave", "--no-gui", "--quiet", "--eval", command],
        check=True,
        capture_output=True,
        timeout=600,
    )
    out = io.loadmat(tmp / "out.mat")
    images = {key: [out[key][k, 0] for k in range(len(cases))] for key in ("blurred", "upscaled")}
    return cases, out["det"], out["rnd"], images


def test_deterministic_metrics_match_the_mit_code(octave_results):
    cases, det, _, _ = octave_results
    for k, (s, f, d, _o) in enumerate(cases):
        s_, f_, d_ = torch.tensor(s), torch.tensor(f), torch.tensor(d)
        ours = [
            auc_judd(s_, f_, jitter=False),
            cc(s_, d_),
            nss(s_, f_),
            sim(s_, d_),
            kld(s_, d_),
        ]
        np.testing.assert_allclose(
            [float(x) for x in ours], det[k], rtol=0, atol=1e-6, err_msg=f"case {k}"
        )


def test_randomised_metrics_match_the_mit_code_in_distribution(octave_results):
    cases, _, rnd, _ = octave_results
    for k, (s, f, _d, o) in enumerate(cases):
        s_, f_, o_ = torch.tensor(s), torch.tensor(f), torch.tensor(o)
        gens = [torch.Generator().manual_seed(100 * k + r) for r in range(REPEATS)]
        ours = np.array(
            [
                [
                    float(auc_judd(s_, f_, generator=g)),
                    float(auc_shuffled(s_, f_, o_, generator=g)),
                    float(auc_borji(s_, f_, generator=g)),
                ]
                for g in gens
            ]
        )
        theirs = rnd[k].T  # (repeats, 3)
        for j, name in enumerate(("AUC_J (jitter)", "sAUC", "AUC_B")):
            a, b = ours[:, j], theirs[:, j]
            spread = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
            assert abs(a.mean() - b.mean()) <= 5 * spread + 1e-9, (k, name, a.mean(), b.mean())


def test_postprocessing_blur_matches_fspecial_and_imfilter(octave_results):
    # the STAViS steps before the resize: 255-scaling with clipping, max-normalising, min-max,
    # then imfilter(x, fspecial('gaussian', 13, 2), 'symmetric')
    cases, _, _, images = octave_results
    for k, (s, *_rest) in enumerate(cases):
        ours = postprocess(torch.tensor(1.1 * s - 0.05))  # values below 0 and above 1
        theirs = images["blurred"][k]
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-12, err_msg=str(k))


def test_upscaling_matches_imresize(octave_results):
    # Octave's bicubic imresize follows MATLAB's when enlarging (same kernel, coordinates and
    # edge rule); when shrinking MATLAB antialiases and Octave does not, so only enlarging
    # is compared here
    cases, _, _, images = octave_results
    for k, (s, *_rest) in enumerate(cases):
        h, w = s.shape
        ours = imresize(torch.tensor(s), (2 * h + 3, 3 * w - 1))
        theirs = images["upscaled"][k]
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-12, err_msg=str(k))
