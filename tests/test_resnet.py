import numpy as np
import pytest

import naive
import streamrough as sr
from streamrough import resnet

ACTS = ["tanh", "sigmoid", "softplus", "relu"]


def _net(rng, n_layers=7, d=3, scale=0.6):
    return rng.standard_normal((n_layers, d, d)) * scale / d


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("form", ["bft", "ccrx"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_forward_matches_definition(rng, activation, form, with_bias):
    w = _net(rng)
    bias = rng.standard_normal((7, 3)) * 0.3 if with_bias else None
    delta = rng.uniform(0.1, 0.5, 7) if form == "ccrx" else None
    x = rng.standard_normal((4, 3))
    out = sr.forward(w, x, form=form, activation=activation, bias=bias, delta=delta)
    ref = np.array([naive.resnet_forward(w, h, form, activation, bias, delta)[-1] for h in x])
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_chunking_does_not_change_results(rng, chunk):
    w = _net(rng, n_layers=10)
    x = rng.standard_normal((2, 3))
    out, jac = sr.input_jacobian(w, x, chunk_layers=chunk)
    out1, jac1 = sr.input_jacobian(w, x, chunk_layers=1000)
    np.testing.assert_array_equal(out, out1)
    np.testing.assert_array_equal(jac, jac1)


def test_inputs_not_modified_and_single_input_shape(rng):
    w = _net(rng)
    x = rng.standard_normal(3)
    x0 = x.copy()
    out = sr.forward(w, x)
    assert out.shape == (3,) and np.array_equal(x, x0)
    out2, jac = sr.input_jacobian(w, x)
    assert jac.shape == (3, 3) and np.array_equal(out2, out)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
@pytest.mark.parametrize("form", ["bft", "ccrx"])
def test_jacobian_matches_finite_differences(rng, activation, form):
    w = _net(rng, scale=1.5)
    bias = rng.standard_normal((7, 3)) * 0.3
    delta = 0.3 if form == "ccrx" else None
    x = rng.standard_normal((3, 3))
    _, jac = sr.input_jacobian(w, x, form=form, activation=activation, bias=bias, delta=delta)
    eps = 1e-6
    for b in range(3):
        fd = np.empty((3, 3))
        for c in range(3):
            e = np.zeros(3)
            e[c] = eps
            hi = sr.forward(w, x[b] + e, form=form, activation=activation, bias=bias, delta=delta)
            lo = sr.forward(w, x[b] - e, form=form, activation=activation, bias=bias, delta=delta)
            fd[:, c] = (hi - lo) / (2 * eps)
        np.testing.assert_allclose(jac[b], fd, rtol=1e-7, atol=1e-8)


def test_lipschitz_is_top_singular_value_and_profile(rng):
    w = _net(rng, n_layers=9)
    x = rng.standard_normal((2, 3))
    _, jac = sr.input_jacobian(w, x)
    lip = sr.lipschitz(w, x)
    np.testing.assert_allclose(lip, np.linalg.svd(jac, compute_uv=False)[:, 0], rtol=1e-12)
    prof = sr.lipschitz(w, x, at_layers=[9, 0, 4], chunk_layers=2)
    np.testing.assert_allclose(prof[0], lip, rtol=1e-12)
    np.testing.assert_allclose(prof[1], 1.0)
    np.testing.assert_allclose(prof[2], sr.lipschitz(w[:4], x), rtol=1e-12)


def test_output_change(rng):
    a, b = _net(rng), _net(rng)
    x = rng.standard_normal((3, 3))
    ch = sr.output_change(a, b, x)
    np.testing.assert_allclose(ch, np.linalg.norm(sr.forward(a, x) - sr.forward(b, x), axis=1))
    with pytest.raises(ValueError, match="other must have the shape"):
        sr.output_change(a, b[:3], x)


def test_lazy_array_source_is_read_by_chunks(rng):
    w = _net(rng, n_layers=10)
    reads = []

    class Lazy:
        shape, dtype, ndim = w.shape, w.dtype, 3

        def __getitem__(self, key):
            reads.append(key)
            return w[key]

    x = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(sr.forward(Lazy(), x, chunk_layers=4), sr.forward(w, x))
    assert [(k.start, k.stop) for k in reads] == [(0, 4), (4, 8), (8, 10)]


def test_errors_name_the_argument(rng):
    w = _net(rng)
    x = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match="form"):
        sr.forward(w, x, form="odd")
    with pytest.raises(ValueError, match="activation"):
        sr.forward(w, x, activation="gelu")
    with pytest.raises(ValueError, match="needs delta"):
        sr.forward(w, x, form="ccrx")
    with pytest.raises(ValueError, match="delta is a parameter"):
        sr.forward(w, x, delta=0.1)
    with pytest.raises(ValueError, match="inputs must have shape"):
        sr.forward(w, np.ones((2, 4)))
    with pytest.raises(ValueError, match="square"):
        sr.forward(np.ones((2, 3, 4)), x)
    with pytest.raises(ValueError, match="bias must have shape"):
        sr.forward(w, x, bias=np.ones((7, 2)))
    bad = w.copy()
    bad[5, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sr.forward(bad, x, chunk_layers=2)
    with pytest.raises(ValueError, match="at_layers"):
        sr.lipschitz(w, x, at_layers=[8])


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("form", ["bft", "ccrx"])
def test_matches_torch_blocks_float64(rng, activation, form):
    torch = pytest.importorskip("torch")
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus,
           "relu": torch.relu}[activation]
    n, d = 12, 5
    w = rng.standard_normal((n, d, d)) / d
    bias = rng.standard_normal((n, d)) * 0.2
    delta = np.full(n, 1.0 / n)
    x = rng.standard_normal((6, d)) * 2

    class Block(torch.nn.Module):
        def __init__(self, wk, bk, dk):
            super().__init__()
            self.lin = torch.nn.Linear(d, d, dtype=torch.float64)
            with torch.no_grad():
                self.lin.weight.copy_(torch.from_numpy(wk))
                self.lin.bias.copy_(torch.from_numpy(bk))
            self.dk = dk

        def forward(self, h):
            if form == "bft":
                return h + self.lin(act(h))
            return h + self.dk * act(self.lin(h))

    model = torch.nn.Sequential(*[Block(w[k], bias[k], delta[k]) for k in range(n)])
    xt = torch.from_numpy(x).requires_grad_(True)
    with torch.no_grad():
        ref = model(xt).numpy()
    kw = {"delta": delta} if form == "ccrx" else {}
    out, jac = sr.input_jacobian(w, x, form=form, activation=activation, bias=bias, **kw)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-10)
    ref_jac = np.stack([torch.autograd.functional.jacobian(model, xt[i:i + 1].detach())[0, :, 0, :].numpy()
                        for i in range(6)])
    np.testing.assert_allclose(jac, ref_jac, rtol=0, atol=1e-10)


def test_zarr_array_source(rng):
    zarr = pytest.importorskip("zarr")
    w = _net(rng, n_layers=9)
    z = zarr.create_array(store=zarr.storage.MemoryStore(), shape=w.shape, chunks=(2, 3, 3), dtype="f8")
    z[:] = w
    x = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(sr.forward(z, x, chunk_layers=2), sr.forward(w, x))
    np.testing.assert_array_equal(sr.lipschitz(z, x, chunk_layers=4), sr.lipschitz(w, x))
