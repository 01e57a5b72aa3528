import subprocess
import sys

import numpy as np
import pytest

import streamrough as sr
from streamrough._validation import as_batch_of_paths, as_p_values, as_path


def test_import_compiles_nothing_and_is_fast():
    code = (
        "import sys, time; t = time.perf_counter(); import streamrough; "
        "dt = time.perf_counter() - t; "
        "print(dt, 'numba' in sys.modules, 'dask' in sys.modules, 'zarr' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, numba_loaded, dask_loaded, zarr_loaded = out.stdout.split()
    assert numba_loaded == "False" and dask_loaded == "False" and zarr_loaded == "False"
    # generous bound: the measured figure is a few ms; this only catches an eager heavy import
    assert float(seconds) < 1.0


def test_public_names_resolve():
    for name in sr.__all__:
        assert getattr(sr, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sr.nope  # noqa: B018


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        ([], ValueError, "x is empty"),
        (np.zeros((0, 3)), ValueError, "x is empty"),
        (3.0, ValueError, "scalar"),
        ([[1.0, 2.0], [3.0]], ValueError, "ragged"),
        ([1.0, np.nan], ValueError, "NaN or inf"),
        ([1.0, np.inf], ValueError, "NaN or inf"),
        (np.array([1 + 2j]), TypeError, "complex"),
        (np.array(["a"]), TypeError, "numeric"),
        (np.zeros((3, 0)), ValueError, "dimension 0"),
    ],
)
def test_as_path_rejects_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        as_path(bad)


def test_as_path_shapes_and_dtypes():
    assert as_path([1, 2, 3]).shape == (3, 1)
    m = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    out = as_path(m)
    assert out.shape == (2, 12) and out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out[1], np.arange(12, 24))
    x = np.ones((4, 2))
    assert as_path(x) is x or np.shares_memory(as_path(x), x)  # no silent copy of float64 input


def test_as_batch_of_paths():
    shape, paths = as_batch_of_paths(np.zeros((2, 3, 5, 4)))
    assert shape == (2, 3) and paths.shape == (6, 5, 4)
    with pytest.raises(ValueError, match="at least 2 axes"):
        as_batch_of_paths(np.zeros(3))


@pytest.mark.parametrize(
    "bad, match", [(0.5, ">= 1"), (np.nan, "finite"), (np.inf, "finite"), ([], "non-empty"), ([2, 0.9], ">= 1")]
)
def test_p_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        as_p_values(bad)


def test_p_scalar_flag():
    assert as_p_values(2)[1] and as_p_values(np.float64(2.5))[1]
    values, scalar = as_p_values([1, 2.5])
    assert not scalar and values.tolist() == [1.0, 2.5]
    with pytest.raises(TypeError):
        as_p_values("two")
