"""The direct MAT v5 reader against scipy.io on files scipy writes; everything it does not
read exactly falls back to scipy, and read_fixation_mat gives the same map either way."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch

from scamlib.data import DataError
from scamlib.data._io import read_fixation_mat
from scamlib.data._matv5 import read_mat_v5_matrix


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "dtype", ["uint8", "float64", "int16", "float32", "bool", "uint32", "int64"]
)
@pytest.mark.parametrize("shape", [(36, 64), (1, 1), (3, 5), (7, 1)])
def test_matches_scipy(tmp_path, compress, dtype, shape):
    rng = np.random.default_rng(0)
    arr = (rng.random(shape) < 0.3).astype(dtype)
    if dtype.startswith("float"):
        arr = arr * rng.random(shape).astype(dtype)
    path = tmp_path / "f.mat"
    variables = {"other": np.eye(3), "eyeMap": arr, "z": np.ones(2)}
    scipy.io.savemat(path, variables, do_compression=compress)
    ref = scipy.io.loadmat(path, variable_names=["eyeMap"])["eyeMap"]
    got = read_mat_v5_matrix(path, "eyeMap")
    assert got is not None and got.shape == ref.shape
    assert np.array_equal(got, ref)
    assert torch.equal(read_fixation_mat(path), torch.from_numpy(ref != 0))


@pytest.mark.parametrize(
    "value", [np.ones((2, 3, 4)), np.array([[1 + 2j]]), {"a": 1}, "text", np.zeros((0, 3))]
)
def test_other_kinds_fall_back_or_match(tmp_path, value):
    path = tmp_path / "f.mat"
    scipy.io.savemat(path, {"eyeMap": value})
    got = read_mat_v5_matrix(path, "eyeMap")
    if got is not None:  # only an exact match is allowed
        ref = scipy.io.loadmat(path)["eyeMap"]
        assert np.array_equal(got, ref) and got.shape == ref.shape


def test_missing_variable_corrupt_and_v4_are_left_to_scipy(tmp_path):
    path = tmp_path / "f.mat"
    scipy.io.savemat(path, {"x": np.ones((2, 2))})
    assert read_mat_v5_matrix(path, "eyeMap") is None
    with pytest.raises(DataError, match="expected a variable 'eyeMap'"):
        read_fixation_mat(path)
    scipy.io.savemat(path, {"eyeMap": np.ones((20, 20))}, do_compression=True)
    path.write_bytes(path.read_bytes()[:-10])
    assert read_mat_v5_matrix(path, "eyeMap") is None
    with pytest.raises(DataError, match="not a readable MAT file"):
        read_fixation_mat(path)
    path.write_bytes(b"not a mat file" * 20)
    assert read_mat_v5_matrix(path, "eyeMap") is None
    scipy.io.savemat(path, {"eyeMap": np.eye(2)}, format="4")
    assert read_mat_v5_matrix(path, "eyeMap") is None
    assert torch.equal(read_fixation_mat(path), torch.eye(2, dtype=torch.bool))


def test_big_endian_file(tmp_path):
    """A hand-built big-endian MAT v5 file (MATLAB on old big-endian machines wrote them):
    header 'MI', one uncompressed miMATRIX of class mxUINT8, 2 x 3."""
    import struct

    def element(kind: int, payload: bytes) -> bytes:
        pad = (-len(payload)) % 8
        return struct.pack(">II", kind, len(payload)) + payload + b"\0" * pad

    values = np.array([[1, 0, 2], [0, 3, 0]], np.uint8)
    body = (
        element(6, struct.pack(">II", 9, 0))  # array flags: mxUINT8_CLASS
        + element(5, struct.pack(">ii", 2, 3))  # dimensions
        + element(1, b"eyeMap")  # name
        + element(2, values.tobytes(order="F"))  # real part, column-major
    )
    header = b"MATLAB 5.0 MAT-file".ljust(116, b" ") + b"\0" * 8 + b"\x01\x00" + b"MI"
    path = tmp_path / "be.mat"
    path.write_bytes(header + element(14, body))
    np.testing.assert_array_equal(read_mat_v5_matrix(path, "eyeMap"), values)
    np.testing.assert_array_equal(scipy.io.loadmat(path)["eyeMap"], values)
