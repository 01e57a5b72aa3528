"""Streams survive errors, threads, pickling and copies (issue 12, items 4-6)."""

import copy
import pickle
import threading
import warnings

import numpy as np
import pytest

import streamrough as sr


def _path(n=24, d=2, seed=0):
    return np.cumsum(np.random.default_rng(seed).standard_normal((n, d)), axis=0)


def _streams():
    """(make a stream, push one row, the value to compare, the offline value of points[:m])."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "pvar": (lambda: sr.PVarStream([2.0, 2.5]), lambda s: s.level1, lambda x: sr.pvar(x, [2.0, 2.5])),
            "sig": (lambda: sr.SigStream(2, 3), lambda s: s.value, lambda x: sr.signature(x, 3)),
            "rough": (
                lambda: sr.RoughStream(2.5, convention="values"),
                lambda s: np.array([s.level1, s.level2]),
                lambda x: (lambda r: np.array([r.level1, r.level2]))(sr.rough_pvar(x, 2.5, convention="values", route="direct")),
            ),
            "rough_gram": (
                lambda: sr.RoughStream(2.5, convention="values", route="gram", capacity=4),
                lambda s: np.array([s.level1, s.level2]),
                lambda x: (lambda r: np.array([r.level1, r.level2]))(sr.rough_pvar(x, 2.5, convention="values", route="gram")),
            ),
        }


@pytest.mark.parametrize("kind", ["pvar", "sig", "rough", "rough_gram"])
def test_pickle_deepcopy_copy_then_continue(kind):
    make, read, offline = _streams()[kind]
    x = _path()
    s = make()
    for row in x[:10]:
        s.push(row)
    clones = [pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s)]
    before = read(s)
    for c in clones:
        for row in x[10:]:
            c.push(row)
        np.testing.assert_allclose(read(c), offline(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(read(s), before)  # the original did not move
    for row in x[10:]:
        s.push(row)
    np.testing.assert_allclose(read(s), offline(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["pvar", "sig", "rough", "rough_gram"])
def test_threads_hammering_one_stream(kind):
    make, read, offline = _streams()[kind]
    x = _path(n=200, seed=1)
    s = make()
    s.push(x[0])  # fixes the dimension (and, for "values", the origin)
    rest = x[1:]
    # four threads push their chunks at once (the kernels release the GIL)
    barrier = threading.Barrier(4)

    def work(rows):
        barrier.wait()
        for row in rows:
            s.push(row)
            read(s)

    chunks = np.array_split(np.arange(len(rest)), 4)
    threads = [threading.Thread(target=work, args=(rest[c],)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (s.n_points if hasattr(s, "n_points") else None) == len(x)
    # the stream holds some interleaving of the chunks: recompute offline from that order
    order = np.concatenate([x[:1], _pushed(s, kind)])
    np.testing.assert_allclose(read(s), offline(order), rtol=1e-10, atol=1e-12)


def _pushed(s, kind):
    """The points the stream holds after its first, in the order they were pushed."""
    if kind == "pvar":
        return s._X[1 : s.n_points] * 2.0 ** s._istate[1] + s._x0
    if kind == "sig":
        return s._pts[1 : s.n_points].copy()
    if kind == "rough_gram":
        return s._gram.rows[1 : s.n_points].copy()
    return s._sig._pts[1 : s.n_points].copy()


def test_pvar_stream_rejects_like_pvar_and_keeps_its_dimension_free():
    s = sr.PVarStream(2)
    with pytest.raises(TypeError, match="complex"):
        s.push([1j, 0])
    with pytest.raises(TypeError, match="numeric"):
        s.push("ab")
    with pytest.raises(ValueError, match="NaN"):
        s.push([np.nan, 0.0, 0.0])
    s.push([0.0])  # the rejected points did not fix the dimension
    s.push([2.0])
    assert s.level1_power == 4.0


def test_rough_stream_usable_after_memory_error_on_first_push():
    s = sr.RoughStream(2.5, memory_budget=8 * 1024 * 4)
    with pytest.raises(MemoryError):
        s.push(np.zeros((3, 3)))
    w = sr.brownian_weights(5, 1, seed=0).reshape(5, 1)
    s.extend(w)  # D = 1 fits
    assert s.level1 == pytest.approx(sr.rough_pvar(w, 2.5, convention="increments", route="direct").level1, rel=1e-13)
