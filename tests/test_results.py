"""The result family: one rule for every public function and class that takes p.

The rule (streamrough.results): numbers stay numbers; a result object has float fields for
a number p, and for a sequence of P exponents is ONE object of the same type whose numeric
per-p fields have shape (P,), whose partitions are tuples of int64 arrays, and which is
indexable (res[i] is the result for p[i]), iterable and has len() == P.
"""

import dataclasses
import inspect

import numpy as np
import pytest

import streamrough as sr
from streamrough.results import ResultFamily

P1, PS = 2.5, [2.2, 2.7]
W = sr.brownian_weights(12, 2, seed=3)  # (12, 2, 2): a weight sequence
V = sr.brownian_weights(12, 2, seed=4)
X = sr.brownian_path(20, 3, seed=5)
G = sr.layer_gram(W)


def _chunked(a):
    """A Dask array of `a` in chunks of 5 points: the out-of-core route of the same function."""
    import dask.array as da

    return da.from_array(a, chunks=5)


def _pvar_stream(p):
    st = sr.PVarStream(p)
    st.extend(X)
    return st.result()


def _rough_stream(p):
    st = sr.RoughStream(p)
    st.extend(W)
    return st.result()


# every public callable taking p -> the calls that exercise it (p is the only argument)
CALLS = {
    "pvar": [
        lambda p: sr.pvar(X, p),
        lambda p: sr.pvar(X, p, return_partition=True),
        lambda p: sr.pvar(W, p, return_partition=True),
        lambda p: sr.pvar(_chunked(X), p, client=None),
        lambda p: sr.pvar(_chunked(W), p, return_partition=True, client=None),
    ],
    "pvar_running": [lambda p: sr.pvar_running(X, p)],
    "pvar_batch": [lambda p: sr.pvar_batch(np.stack([X, 2 * X]), p)],
    "rough_pvar": [
        lambda p: sr.rough_pvar(W, p),
        lambda p: sr.rough_pvar(W, p, route="gram"),
        lambda p: sr.rough_pvar(W, p, route="projection", projection_dim=3, seed=1),
        lambda p: sr.rough_pvar(_chunked(W), p, client=None),
    ],
    "rough_distance": [
        lambda p: sr.rough_distance(W, V, p),
        lambda p: sr.rough_distance(W, V, p, route="gram"),
        lambda p: sr.rough_distance(_chunked(W), _chunked(V), p, client=None),
    ],
    "gram_rough_pvar": [lambda p: sr.gram_rough_pvar(G, p), lambda p: sr.gram_rough_pvar(G, p, return_partition=True)],
    "gram_rough_distance": [
        lambda p: sr.gram_rough_distance(G, sr.layer_gram(W, V), sr.layer_gram(V), p, return_partition=True)
    ],
    "PVarStream": [_pvar_stream],
    "RoughStream": [_rough_stream],
}

# public callables taking p that return tables or reports (DataFrame, report folders,
# StabilityResult, regime verdicts) rather than numbers or a result of the family
NUMBER_SHAPES = {  # where a sequence of P exponents puts its axis in a numeric return value
    "pvar": lambda out: out.shape == (2,),
    "pvar_running": lambda out: out.shape == (2, 20),
    "pvar_batch": lambda out: out.shape == (2, 2),
}


def _takes_p(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        return "p" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def test_every_public_name_taking_p_is_checked():
    taking_p = {
        name
        for name in sr._PUBLIC
        if callable(getattr(sr, name))
        and not (inspect.isclass(getattr(sr, name)) and dataclasses.is_dataclass(getattr(sr, name)))  # result types
        and _takes_p(getattr(sr, name))
    }
    assert taking_p == set(CALLS) | set(OTHER_FORMS), "add the new function to CALLS (and make it follow the rule)"


# public names taking p whose answer is not a result of the family: a table (one row per path
# and p) or a report built from family results; each check says what the answer is instead
OTHER_FORMS = {
    "analyze": lambda: sr.analyze(W, p=PS)["p"].tolist() == PS,
    "stability": lambda: np.shape(sr.stability(W, p=PS).norm) == (2,),
    "depth_scaling": lambda: isinstance(sr.depth_scaling({8: W[:8], 12: W}, p=PS).to_dict(), dict),
    "regime": lambda: isinstance(sr.regime(W, p=PS).verdict, str),
    "report": lambda: True,  # writes an HTML page from the above (tests/test_report.py renders it)
}


@pytest.mark.parametrize("name", sorted(OTHER_FORMS))
def test_names_answering_in_other_forms(name):
    assert OTHER_FORMS[name]()


def _check_scalar(res, cls):
    assert type(res) is cls and not res.is_sequence
    for name, kind in cls._per_p_fields():
        value = getattr(res, name)
        if kind == "number":
            assert type(value) is float, name
        elif kind == "partition" and value is not None:
            assert isinstance(value, np.ndarray) and value.dtype == np.int64 and value.ndim == 1, name
    with pytest.raises(TypeError):
        len(res)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_rule(name):
    for call in CALLS[name]:
        one = call(P1)
        many = call(PS)
        if not isinstance(one, ResultFamily):  # numbers stay numbers
            assert isinstance(one, (float, np.ndarray)) and not isinstance(one, ResultFamily)
            if name != "pvar_running":
                assert isinstance(one, float) or one.shape == (2,)  # pvar_batch of 2 paths
            assert isinstance(many, np.ndarray) and NUMBER_SHAPES[name](many)
            continue
        cls = type(one)
        _check_scalar(one, cls)
        assert type(many) is cls and many.is_sequence and len(many) == 2
        for field, kind in cls._per_p_fields():
            value = getattr(many, field)
            if kind == "number":
                assert isinstance(value, np.ndarray) and value.shape == (2,) and value.dtype == np.float64, field
            elif kind == "partition" and value is not None:
                assert isinstance(value, tuple) and len(value) == 2
                assert all(v.dtype == np.int64 for v in value)
            elif kind == "label":
                assert isinstance(value, tuple) and len(value) == 2
        items = list(many)
        assert [r.p for r in items] == PS and many[-1].p == PS[-1]
        for p, item in zip(PS, items):
            _check_scalar(item, cls)
            single = call(p)
            for field, kind in cls._per_p_fields():
                if kind == "number":
                    assert getattr(item, field) == pytest.approx(getattr(single, field), rel=1e-12, abs=1e-300)
        with pytest.raises(IndexError):
            many[2]
        # to_dict and to_pandas: one row per p, one column per field
        assert list(one.to_dict()) == [f.name for f in dataclasses.fields(cls)]
        table = many.to_pandas()
        assert len(table) == 2 and list(table.columns) == [f.name for f in dataclasses.fields(cls)]
        np.testing.assert_array_equal(table["p"].to_numpy(), PS)
        assert len(one.to_pandas()) == 1


def test_field_names_mean_the_same_everywhere():
    # level1/level2 are norms and level*_power their p-th-power forms, on every route
    results = [
        sr.pvar(W, PS, return_partition=True),
        sr.rough_pvar(W, PS),
        sr.rough_pvar(W, PS, route="gram"),
        sr.gram_rough_pvar(G, PS),
        _rough_stream(PS),
        sr.rough_distance(W, V, PS),
        sr.gram_rough_distance(G, sr.layer_gram(W, V), sr.layer_gram(V), PS),
    ]
    for res in results:
        np.testing.assert_allclose(res.level1, res.level1_power ** (1 / res.p), rtol=1e-12)
        if hasattr(res, "level2"):
            np.testing.assert_allclose(res.level2, res.level2_power ** (2 / res.p), rtol=1e-12)
            np.testing.assert_allclose(res.omega, res.level1_power + res.level2_power, rtol=1e-12)
        if isinstance(res, sr.RoughResult):
            np.testing.assert_allclose(res.norm, res.level1 + np.sqrt(res.level2), rtol=1e-12)
        if isinstance(res, sr.RoughDistanceResult):
            np.testing.assert_allclose(res.rho, res.level1 + res.level2, rtol=1e-12)
            assert not hasattr(res, "norm")
    # the Gram route and the direct route return the same type and the same values
    direct, gram = sr.rough_pvar(W, PS, route="direct"), sr.gram_rough_pvar(G, PS)
    assert type(direct) is type(gram)
    np.testing.assert_allclose(gram.norm, direct.norm, rtol=1e-10)
    dist = sr.rough_distance(W, V, PS, route="direct")
    gdist = sr.gram_rough_distance(G, sr.layer_gram(W, V), sr.layer_gram(V), PS)
    assert type(dist) is type(gdist)
    np.testing.assert_allclose(gdist.rho, dist.rho, rtol=1e-10)


def test_results_are_frozen_comparable_and_exported():
    res = sr.rough_pvar(W, PS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.p = 3.0
    assert res == sr.rough_pvar(W, PS) and res != sr.rough_pvar(W, [2.2, 2.8])
    assert res[0] == sr.rough_pvar(W, 2.2)
    for name in ("PVarResult", "RoughResult", "RoughDistanceResult", "RoughRegimeWarning"):
        assert name in sr.__all__
    assert issubclass(sr.RoughRegimeWarning, UserWarning)
    with pytest.raises(TypeError, match="integers"):
        res["a"]


def test_to_pandas_without_pandas(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="optional dependency"):
        sr.pvar(X, 2.0, return_partition=True).to_pandas()


@pytest.mark.parametrize(
    "call",
    [
        lambda v: sr.brownian_weights(v, 2),
        lambda v: sr.brownian_path(5, v),
        lambda v: sr.signature(X, v),
        lambda v: sr.sig_length(3, v),
        lambda v: sr.SigStream(3, v),
        lambda v: sr.RoughStream(2.5, depth=v),
        lambda v: sr.PVarStream(2.5, dim=v),
        lambda v: sr.layer_gram(W, chunk_size=v),
        lambda v: sr.random_projection(W, v, seed=0),
    ],
)
def test_one_integer_check(call):
    # depth=2.0 is a TypeError everywhere, depth=0 a ValueError everywhere
    with pytest.raises(TypeError, match="integer"):
        call(2.0)
    with pytest.raises(TypeError, match="integer"):
        call(True)
    with pytest.raises(ValueError, match=">= 1"):
        call(0)
