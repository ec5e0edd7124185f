"""The model catalogue: MLPs against an independent NumPy implementation and finite differences; GLM identities."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import riemgrad as rg
from riemgrad import models
from riemgrad.errors import MethodNotApplicableError, ShapeError

RNG = np.random.default_rng(7)

ACT = {
    "tanh": (np.tanh, lambda a, s: 1 - a**2),
    "sigmoid": (lambda s: 1 / (1 + np.exp(-s)), lambda a, s: a * (1 - a)),
    "softplus": (lambda s: np.log1p(np.exp(s)), lambda a, s: 1 / (1 + np.exp(-s))),
    "identity": (lambda s: s, lambda a, s: np.ones_like(s)),
}


def unpack(theta, sizes):
    """Parameters laid out layer by layer: W (row-major, out x in) then b."""
    out, k = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = theta[k : k + n_in * n_out].reshape(n_out, n_in)
        k += n_in * n_out
        b = theta[k : k + n_out]
        k += n_out
        out.append((W, b))
    return out


def forward(theta, X, sizes, act):
    phi = ACT[act][0]
    a = X
    for l, (W, b) in enumerate(unpack(theta, sizes)):
        s = a @ W.T + b
        a = s if l == len(sizes) - 2 else phi(s)
    return a[:, 0]


def jacobian(theta, X, sizes, act):
    """Per-example d f / d theta by backpropagation written by hand, shape (n, d)."""
    phi, dphi = ACT[act]
    layers = unpack(theta, sizes)
    acts, pre = [X], []
    a = X
    for l, (W, b) in enumerate(layers):
        s = a @ W.T + b
        pre.append(s)
        a = s if l == len(layers) - 1 else phi(s)
        acts.append(a)
    n = X.shape[0]
    delta = np.ones((n, 1))  # d f / d s of the last (linear) layer
    grads = []
    for l in range(len(layers) - 1, -1, -1):
        W, _ = layers[l]
        gW = delta[:, :, None] * acts[l][:, None, :]  # (n, out, in)
        grads.append(np.c_[gW.reshape(n, -1), delta])
        if l:
            delta = (delta @ W) * dphi(acts[l], pre[l - 1])
    return np.concatenate(grads[::-1], axis=1)


@pytest.mark.parametrize(
    "sizes, act", [((1, 16, 1), "tanh"), ((2, 3, 1), "sigmoid"), ((2, 3, 2, 1), "softplus")],
    ids=["1-16-1-tanh", "2-3-1-sigmoid", "2-3-2-1-softplus"],
)
def test_mlp_gradient_and_gauss_newton_against_numpy_and_finite_differences(sizes, act):
    m = models.mlp(sizes, act)
    d = m.chart.dim
    assert d == sum((i + 1) * o for i, o in zip(sizes[:-1], sizes[1:]))
    n = 60
    X = RNG.uniform(-2, 2, (n, sizes[0]))
    Y = np.sin(3 * X[:, 0]) + 0.1 * RNG.standard_normal(n)
    data = m.dataset(X, Y)
    G = rg.gauss_newton_metric(m.residual, m.chart, data=data)
    field = rg.compile_data_flow(G, m.loss)
    theta = RNG.standard_normal(d) * 0.7
    J = jacobian(theta, X, sizes, act)
    r = forward(theta, X, sizes, act) - Y
    np.testing.assert_allclose(field.loss(theta), np.mean(r**2) / 2, rtol=1e-13)
    np.testing.assert_allclose(field.gradient(theta), J.T @ r / n, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(field.metric(theta), J.T @ J / n, rtol=1e-10, atol=1e-13)
    # finite differences of the compiled loss, and of the NumPy forward pass for the Jacobian
    h = 1e-6
    E = np.eye(d) * h
    fd_grad = np.array([(field.loss(theta + e) - field.loss(theta - e)) / (2 * h) for e in E])
    np.testing.assert_allclose(fd_grad, field.gradient(theta), rtol=1e-6, atol=1e-8)
    fd_J = np.stack([(forward(theta + e, X, sizes, act) - forward(theta - e, X, sizes, act)) / (2 * h) for e in E], 1)
    np.testing.assert_allclose(field.metric(theta), fd_J.T @ fd_J / n, rtol=1e-6, atol=1e-8)


def test_mlp_layer_structure_matches_the_forward_pass():
    sizes = (2, 4, 3, 1)
    m = models.mlp(sizes, "tanh")
    theta = RNG.standard_normal(m.chart.dim)
    x = RNG.standard_normal(2)
    subs = dict(zip(m.chart.coords, theta)) | dict(zip(m.inputs, x))
    a = x
    for l, (W, b) in enumerate(unpack(theta, sizes)):
        layer = m.layers[l]
        assert np.array(layer.weights).shape == W.shape and len(layer.bias) == len(b)
        np.testing.assert_allclose([float(e.subs(subs)) for e in layer.inputs], a, rtol=1e-12)
        s = W @ a + b
        np.testing.assert_allclose([float(e.subs(subs)) for e in layer.preactivations], s, rtol=1e-12)
        a = s if l == len(sizes) - 2 else np.tanh(s)
    assert [ly.activation for ly in m.layers] == ["tanh", "tanh", "identity"]


def test_mlp_per_example_expression_does_not_depend_on_n():
    m = models.mlp((1, 16, 1), "tanh")
    ops = sp.count_ops(m.output)
    g_small = rg.gauss_newton_metric(m.residual, m.chart, data=m.dataset(RNG.standard_normal(5), np.zeros(5)))
    g_big = rg.gauss_newton_metric(m.residual, m.chart, data=m.dataset(RNG.standard_normal(5000), np.zeros(5000)))
    assert g_small.factors == g_big.factors and sp.count_ops(m.output) == ops


@pytest.mark.parametrize(
    "make, labels",
    [
        (lambda: models.logistic_regression(2), lambda n: RNG.integers(0, 2, n)),
        (lambda: models.poisson_regression(2), lambda n: RNG.poisson(1.5, n)),
        (lambda: models.softmax_regression(2, 3), lambda n: RNG.integers(0, 3, n)),
        (lambda: models.linear_regression(2), lambda n: RNG.standard_normal(n)),
        (lambda: models.polynomial_regression(3), lambda n: RNG.standard_normal(n)),
    ],
    ids=["logistic", "poisson", "softmax", "linear", "polynomial"],
)
def test_canonical_links_hessian_equals_fisher(make, labels):
    """For canonical-link GLMs the Hessian of the NLL does not depend on y and equals the Fisher (and the GGN)."""
    m = make()
    n = 80
    X = RNG.uniform(-1, 1, (n, len(m.inputs)))
    data = m.dataset(X if len(m.inputs) > 1 else X[:, 0], labels(n))
    H = rg.hessian_metric(m.loss, m.chart, data=data)
    F = rg.fisher_metric(m.family, data=data)
    for t in RNG.standard_normal((3, m.chart.dim)) * 0.5:
        h, f = H.evaluate(t), F.evaluate(t)
        np.testing.assert_allclose(h, f, rtol=1e-11, atol=1e-14)
        assert np.all(np.linalg.eigvalsh(f) > 0)


def test_catalogue_bad_input():
    with pytest.raises(MethodNotApplicableError, match="`activation`"):
        models.mlp((1, 2, 1), "relu6")
    with pytest.raises(ShapeError, match="`sizes`"):
        models.mlp((1,))
    with pytest.raises(ShapeError, match="must end in 1 for a bernoulli"):
        models.mlp((1, 3, 2), output="bernoulli")
    with pytest.raises(ShapeError, match="`degree`"):
        models.polynomial_regression(-1)
    with pytest.raises(ShapeError, match=r"`inputs` must have shape \(n, 2\)"):
        models.linear_regression(2).dataset(np.zeros(4), np.zeros(4))


def test_natural_gradient_flow_of_an_mlp_is_invariant_under_reparameterization():
    """theta = phi(theta'), phi acting coordinate-wise (cubic stretch or scaling): the function-space natural
    gradient flow in theta' mapped by phi equals the flow in theta (both metrics are the same pullback)."""
    m = models.mlp((1, 2, 1), "tanh")
    c = m.chart.coords
    cp = sp.symbols(f"u0:{len(c)}", real=True)
    phi = [u + u**3 / 3 if k % 2 else 2 * u - 1 for k, u in enumerate(cp)]
    to_theta = [sp.lambdify(cp, e) for e in phi]
    rng = np.random.default_rng(1)
    u_star = rng.standard_normal(len(c)) * 1.2
    u0 = u_star + 0.3 * rng.standard_normal((2, len(c)))
    th0 = np.array([[fn(*u) for fn in to_theta] for u in u0])
    n = 40
    x = np.linspace(-2, 2, n)
    target = sp.lambdify([m.inputs[0], *c], m.output)(x, *[fn(*u_star) for fn in to_theta])
    data = m.dataset(x, target)  # a reachable target: the flow stays away from singular metrics
    sub = dict(zip(c, phi))
    out_p, res_p = m.output.subs(sub), m.residual.subs(sub)
    chart_p = rg.Chart("stretched", cp)
    f = rg.compile_data_flow(rg.function_space_metric(m.output, m.chart, m.inputs, measure=data), m.loss, solver="qr")
    gp = rg.function_space_metric(out_p, chart_p, m.inputs, measure=data)
    fp = rg.compile_data_flow(gp, res_p**2 / 2, solver="qr")
    ts = np.linspace(0.0, 0.5, 6)
    a = f.solve_flow(th0, (0.0, 0.5), dt=1e-3, saveat=ts, damping=0.0)
    b = fp.solve_flow(u0, (0.0, 0.5), dt=1e-3, saveat=ts)
    assert (a.status == 0).all() and (b.status == 0).all()
    mapped = np.stack([[[fn(*u) for fn in to_theta] for u in row] for row in b.xs])
    np.testing.assert_allclose(mapped, a.xs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-10)
    assert np.abs(a.xs[-1] - a.xs[0]).max() > 1e-2  # the flow moved


def test_vector_output_mlp_fisher_is_the_gauss_newton_metric():
    m = models.mlp((1, 2, 2), "tanh")  # two normal outputs with unit variance: Fisher = E[J^T J] = GN
    x = np.linspace(-1, 1, 9)
    data = rg.Dataset({m.inputs[0]: x, m.label: np.c_[np.sin(x), np.cos(x)]})
    t = np.random.default_rng(3).standard_normal(m.chart.dim)
    F = rg.fisher_metric(m.family, data=data).evaluate(t)
    G = rg.gauss_newton_metric(m.residual, m.chart, data=data).evaluate(t)
    np.testing.assert_allclose(F, G, rtol=1e-13)
    with pytest.raises(rg.errors.ArgumentTypeError, match="`data` must be a riemgrad.data.Dataset"):
        rg.fisher_metric(m.family)
