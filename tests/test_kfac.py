"""K-FAC (Martens & Grosse 2015) for the MLPs of riemgrad.models: factors, blocks, steps, runs, errors.

Expected values never come from the code under test: the factors, Jacobians,
Fisher matrices and steps are written here in dense NumPy from the network's
formulas (forward pass, hand-written backward pass), the exact Fisher also
comes from riemgrad's dense data metrics (a different code path: the symbolic
per-example metric compiled over the rows), and the recursion of the running
averages and periodic refactoring is replayed here step by step.
"""

from __future__ import annotations

import numpy as np
import pytest

import riemgrad as rg
from riemgrad import models
from riemgrad.errors import ArgumentTypeError, MethodNotApplicableError, ShapeError, SolverSettingsError
from riemgrad.kernels.kfac import kfac_factors, model_of_field
from riemgrad.preconditioners import kfac


# ---------------------------------------------------------------- NumPy twins of a one-hidden-layer MLP
def _unpack(theta, n_in, h, k):
    """Chart order of models.mlp: W0 (h, n_in) row-major, b0 (h,), W1 (k, h) row-major, b1 (k,)."""
    i = 0
    W0 = theta[i:i + h * n_in].reshape(h, n_in)
    i += h * n_in
    b0 = theta[i:i + h]
    i += h
    W1 = theta[i:i + k * h].reshape(k, h)
    i += k * h
    return W0, b0, W1, theta[i:i + k]


def _forward(theta, X, h, k, act=np.tanh, dact=lambda s: 1 - np.tanh(s) ** 2):
    W0, b0, W1, b1 = _unpack(theta, X.shape[1], h, k)
    s0 = X @ W0.T + b0
    a1 = act(s0)
    z = a1 @ W1.T + b1
    return s0, a1, z, dact(s0), W1


def _numpy_factors(theta, X, h, Hout, dl=None, act=np.tanh, dact=lambda s: 1 - np.tanh(s) ** 2):
    """A_0, A_1, G_0, G_1 by dense NumPy: true Fisher from the per-row output Fisher Hout (n, k, k), or
    empirical from the per-row loss gradients dl (n, k) in the outputs."""
    n = X.shape[0]
    k = Hout.shape[1]
    s0, a1, z, ds, W1 = _forward(theta, X, h, k, act, dact)
    ab0 = np.c_[X, np.ones(n)]
    ab1 = np.c_[a1, np.ones(n)]
    J0 = W1[None, :, :] * ds[:, None, :]  # dz/ds0, (n, k, h)
    if dl is None:
        G1 = Hout.mean(0)
        G0 = np.einsum("nkh,nkj,njg->hg", J0, Hout, J0) / n
    else:
        g0 = np.einsum("nk,nkh->nh", dl, J0)
        G1, G0 = dl.T @ dl / n, g0.T @ g0 / n
    return [ab0.T @ ab0 / n, ab1.T @ ab1 / n], [G0, G1]


def _numpy_jacobian(theta, X, h, act=np.tanh, dact=lambda s: 1 - np.tanh(s) ** 2):
    """Per-row Jacobian dz/dtheta of a one-output MLP, shape (n, dim), in the chart's order."""
    s0, a1, z, ds, W1 = _forward(theta, X, h, 1, act, dact)
    dW0 = (W1[0] * ds)[:, :, None] * X[:, None, :]
    db0 = W1[0] * ds
    return np.c_[dW0.reshape(len(X), -1), db0, a1, np.ones(len(X))]


def _vec_indices(n_in, h, k):
    """Chart indices of vec([W | b]) (column by column, bias last) for both layers, written from the layout."""
    out, off = [], 0
    for a, b in ((n_in, h), (h, k)):
        out.append([off + o * a + i if i < a else off + a * b + o for i in range(a + 1) for o in range(b)])
        off += a * b + b
    return out


def _damped_step(A, G, g_layer, lam):
    """-(A + pi sqrt(lam) I (x) G + sqrt(lam)/pi I)^{-1} g by a dense solve of the assembled Kronecker block."""
    pi = np.sqrt((np.trace(A) / len(A)) / (np.trace(G) / len(G)))
    M = np.kron(A + pi * np.sqrt(lam) * np.eye(len(A)), G + np.sqrt(lam) / pi * np.eye(len(G)))
    return -np.linalg.solve(M, g_layer)


@pytest.fixture(scope="module")
def wave():
    """The 1-H-1 tanh MLP on sin(3x) + noise."""
    rng = np.random.default_rng(7)
    X = rng.uniform(-2, 2, 200)
    Y = np.sin(3 * X) + 0.1 * rng.normal(size=200)
    return X, Y


# ---------------------------------------------------------------- exactness where theory says so
def test_single_linear_layer_is_exact():
    m = models.mlp((3, 2), activation="identity")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    data = m.dataset(X)
    theta = rng.normal(size=m.chart.dim)
    f = kfac_factors(m, data, theta)
    # the exact Fisher by a NumPy Jacobian product: f_o = W[o] . x + b_o, J (n, 2, 8), F = E[J^T J] (variance 1)
    n = len(X)
    J = np.zeros((n, 2, 8))
    for o in range(2):
        J[:, o, 3 * o:3 * o + 3] = X
        J[:, o, 6 + o] = 1.0
    F_np = np.einsum("nki,nkj->ij", J, J) / n
    F_rg = rg.fisher_metric(m.family, data=data).evaluate(theta)
    assert np.allclose(F_rg, F_np, atol=1e-12)  # the two references agree
    assert np.abs(f.matrix() - F_np).max() < 1e-10
    assert np.abs(f.matrix() - F_rg).max() < 1e-10
    # the block itself is A (x) G in vec order, G = I (the output Fisher of N(f, 1))
    idx = np.array(_vec_indices(3, 2, 0)[0])
    assert f.indices[0].tolist() == idx.tolist()
    assert np.abs(f.block(0) - F_np[np.ix_(idx, idx)]).max() < 1e-10
    assert np.allclose(f.G[0], np.eye(2), atol=1e-14)


# ---------------------------------------------------------------- a tanh MLP: factors and the approximation error
def test_factors_of_a_tanh_mlp_match_numpy(wave):
    X, Y = wave
    m = models.mlp((1, 8, 1))
    data = m.dataset(X, Y)
    theta = np.random.default_rng(1).normal(0, 0.8, m.chart.dim)
    A_np, G_np = _numpy_factors(theta, X[:, None], 8, np.ones((len(X), 1, 1)))
    f = kfac_factors(m, data, theta)
    for l in range(2):
        assert np.abs(f.A[l] - A_np[l]).max() < 1e-12
        assert np.abs(f.G[l] - G_np[l]).max() < 1e-12
    # empirical: g = dl/dz = z - y at the data's labels
    z = _forward(theta, X[:, None], 8, 1)[2]
    Ae, Ge = _numpy_factors(theta, X[:, None], 8, np.ones((len(X), 1, 1)), dl=z - Y[:, None])
    fe = kfac_factors(m, data, theta, fisher="empirical")
    for l in range(2):
        assert np.abs(fe.A[l] - Ae[l]).max() < 1e-12
        assert np.abs(fe.G[l] - Ge[l]).max() < 1e-12


def test_block_diagonal_kfac_against_exact_fisher(wave):
    X, Y = wave
    m = models.mlp((1, 8, 1))
    data = m.dataset(X, Y)
    theta = np.random.default_rng(2).normal(0, 0.8, m.chart.dim)
    J = _numpy_jacobian(theta, X[:, None], 8)
    F_np = J.T @ J / len(X)
    F_rg = rg.generalized_gauss_newton_metric(m, data).evaluate(theta)
    assert np.allclose(F_rg, F_np, atol=1e-12)
    f = kfac_factors(m, data, theta)
    K = f.matrix()
    errs = []
    for l, idx in enumerate(_vec_indices(1, 8, 1)):
        exact = F_np[np.ix_(idx, idx)]
        errs.append(np.linalg.norm(f.block(l) - exact) / np.linalg.norm(exact))
    print("relative Frobenius error per block (hidden, output):", errs)
    # the hidden layer's block is an approximation (E[a a^T (x) g g^T] != E[a a^T] (x) E[g g^T]) ...
    assert errs[0] > 1e-3
    # ... the output layer's is exact: g = 1 for a normal output with variance 1, so the block is E[a a^T] (x) 1
    assert errs[1] < 1e-12
    # structure: zero between layers, symmetric, positive semi-definite, and each block a Kronecker product
    i0, i1 = _vec_indices(1, 8, 1)
    assert np.all(K[np.ix_(i0, i1)] == 0.0)
    assert np.allclose(K, K.T, atol=0)
    assert np.linalg.eigvalsh(K).min() > -1e-12
    B = f.block(0)
    R = B.reshape(2, 8, 2, 8).transpose(0, 2, 1, 3).reshape(4, 64)  # Van Loan: rank 1 for a Kronecker product
    sv = np.linalg.svd(R, compute_uv=False)
    assert sv[1] < 1e-12 * sv[0]
    # the same rearrangement of the exact block is not rank 1
    E = F_np[np.ix_(i0, i0)].reshape(2, 8, 2, 8).transpose(0, 2, 1, 3).reshape(4, 64)
    sv = np.linalg.svd(E, compute_uv=False)
    assert sv[1] > 1e-4 * sv[0]


@pytest.mark.parametrize(
    "output, sizes, act", [("bernoulli", (2, 3, 1), "tanh"), ("categorical", (2, 3, 3), "sigmoid")]
)
def test_true_fisher_factor_uses_the_output_fisher(output, sizes, act):
    sig = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    fns = {"tanh": (np.tanh, lambda s: 1 - np.tanh(s) ** 2), "sigmoid": (sig, lambda s: sig(s) * (1 - sig(s)))}
    m = models.mlp(sizes, act, output=output)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    y = rng.integers(0, sizes[-1] if output == "categorical" else 2, 30)
    data = m.dataset(X, y)
    theta = rng.normal(0, 0.7, m.chart.dim)
    z = _forward(theta, X, sizes[1], sizes[-1], *fns[act])[2]
    if output == "bernoulli":
        q = sig(z[:, 0])
        H = (q * (1 - q))[:, None, None]
        dl = (q - y)[:, None]
    else:
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        H = np.einsum("nk,kj->nkj", p, np.eye(3)) - p[:, :, None] * p[:, None, :]
        dl = p - np.eye(3)[y]
    A_np, G_np = _numpy_factors(theta, X, sizes[1], H, None, *fns[act])
    f = kfac_factors(m, data, theta)
    Ae, Ge = _numpy_factors(theta, X, sizes[1], H, dl, *fns[act])
    fe = kfac_factors(m, data, theta, fisher="empirical")
    for l in range(2):
        assert np.abs(f.A[l] - A_np[l]).max() < 1e-12
        assert np.abs(f.G[l] - G_np[l]).max() < 1e-12
        assert np.abs(fe.G[l] - Ge[l]).max() < 1e-12


# ---------------------------------------------------------------- the step and the run
@pytest.fixture(scope="module")
def small(wave):
    X, Y = wave
    m = models.mlp((1, 8, 1))
    data = m.dataset(X, Y)
    field = rg.compile_data_flow(rg.generalized_gauss_newton_metric(m, data), m.family)
    return m, data, field, X, Y


def _numpy_grad(theta, X, Y, h):
    J = _numpy_jacobian(theta, X[:, None], h)
    z = _forward(theta, X[:, None], h, 1)[2][:, 0]
    return J.T @ (z - Y) / len(X)


@pytest.mark.parametrize("lam", [1e-3, 0.3])
def test_step_equals_dense_solve_of_damped_kronecker_blocks(small, lam):
    m, data, field, X, Y = small
    theta = np.random.default_rng(4).normal(0, 0.8, m.chart.dim)
    A, G = _numpy_factors(theta, X[:, None], 8, np.ones((len(X), 1, 1)))
    g = _numpy_grad(theta, X, Y, 8)
    d = np.zeros_like(theta)
    for l, idx in enumerate(_vec_indices(1, 8, 1)):
        d[idx] = _damped_step(A[l], G[l], g[idx], lam)
    res = rg.descend(field, theta, lr=0.7, steps=1, preconditioner=kfac(damping=lam))
    assert res.status == 0
    assert np.abs(res.xs[-1] - (theta + 0.7 * d)).max() < 1e-10 * (1 + np.abs(d).max())


def test_running_average_and_inverse_every_replay(small):
    m, data, field, X, Y = small
    theta = np.random.default_rng(5).normal(0, 0.8, m.chart.dim)
    lam, decay, every, lr = 1e-2, 0.8, 2, 0.3
    res = rg.descend(field, theta, lr=lr, steps=5, saveat=range(6),
                     preconditioner=kfac(damping=lam, decay=decay, inverse_every=every))
    idx = _vec_indices(1, 8, 1)
    th = theta.copy()
    avg = None
    frozen = None
    for k in range(5):
        A, G = _numpy_factors(th, X[:, None], 8, np.ones((len(X), 1, 1)))
        avg = [A, G] if k == 0 else [[decay * a + (1 - decay) * b for a, b in zip(avg[i], (A, G)[i])]
                                     for i in range(2)]
        if k % every == 0:
            frozen = [[a.copy() for a in avg[0]], [gg.copy() for gg in avg[1]]]
        g = _numpy_grad(th, X, Y, 8)
        d = np.zeros_like(th)
        for l in range(2):
            d[idx[l]] = _damped_step(frozen[0][l], frozen[1][l], g[idx[l]], lam)
        th = th + lr * d
        assert np.abs(res.xs[k + 1] - th).max() < 1e-10, k
    # the replay is sensitive to the schedule: refactoring every step gives other iterates
    other = rg.descend(field, theta, lr=lr, steps=5, preconditioner=kfac(damping=lam, decay=decay, inverse_every=1))
    assert np.abs(other.xs[-1] - res.xs[-1]).max() > 1e-6


def test_kfac_lowers_the_loss_faster_per_iteration_than_gradient_descent(wave):
    X, Y = wave
    m = models.mlp((1, 16, 1))
    data = m.dataset(X, Y)
    field = rg.compile_data_flow(rg.generalized_gauss_newton_metric(m, data), m.family)
    x0 = np.random.default_rng(6).normal(0, 0.5, m.chart.dim)
    steps = 100
    kf = rg.descend(field, x0, lr=0.2, steps=steps, preconditioner=kfac(damping=1e-2))
    gd = [rg.descend(field, x0, lr=lr, steps=steps, preconditioner="identity") for lr in (0.1, 0.3, 1.0, 3.0)]
    best_gd = min(r.losses[-1] for r in gd if r.status == 0)
    print("loss after", steps, "steps: K-FAC", kf.losses[-1], "best gradient descent", best_gd)
    assert kf.status == 0
    assert kf.losses[-1] < 0.5 * best_gd


def test_model_is_recovered_from_the_field(small):
    m, data, field, X, Y = small
    assert model_of_field(field).chart.coords == m.chart.coords
    # a field built from the residual's Gauss-Newton metric with the loss r^2/2 is recognised too
    gn = rg.compile_data_flow(rg.gauss_newton_metric(m.residual, m.chart, data=data), m.residual**2 / 2)
    x0 = np.random.default_rng(8).normal(0, 0.5, m.chart.dim)
    a = rg.descend(gn, x0, lr=0.3, steps=3, preconditioner=kfac(damping=1e-2))
    b = rg.descend(field, x0, lr=0.3, steps=3, preconditioner=kfac(damping=1e-2, model=m))
    assert np.abs(a.xs[-1] - b.xs[-1]).max() < 1e-12


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, match", [
    ({"damping": 0.0}, "`damping` must be a finite number > 0"),
    ({"damping": -1e-3}, "`damping`"),
    ({"damping": float("nan")}, "`damping`"),
    ({"decay": 1.0}, r"`decay` must be a number in \[0, 1\)"),
    ({"decay": -0.1}, "`decay`"),
    ({"inverse_every": 0}, "`inverse_every` must be an integer >= 1"),
    ({"inverse_every": 2.5}, "`inverse_every`"),
    ({"fisher": "sampled"}, "`fisher` must be 'true' or 'empirical'"),
])
def test_bad_settings(kw, match):
    with pytest.raises(SolverSettingsError, match=match):
        kfac(**kw)


def test_model_without_layers_is_refused(small):
    m, data, field, X, Y = small
    lin = models.linear_regression(1)
    with pytest.raises(MethodNotApplicableError, match="`model` must be a layered model"):
        kfac_factors(lin, lin.dataset([0.0, 1.0], [0.0, 1.0]), [0.0, 0.0])
    with pytest.raises(MethodNotApplicableError, match="`model`"):
        kfac(model=lin)
    lfield = rg.compile_data_flow(rg.fisher_metric(lin.family, data=lin.dataset(X, Y)), lin.family)
    with pytest.raises(MethodNotApplicableError, match="`preconditioner` kfac"):
        rg.descend(lfield, [0.0, 0.0], lr=0.1, steps=1, preconditioner=kfac())
    with pytest.raises(MethodNotApplicableError, match="`model` must be the model the field was compiled from"):
        rg.descend(field, np.zeros(m.chart.dim), lr=0.1, steps=1, preconditioner=kfac(model=models.mlp((1, 4, 1))))


def test_bad_data_and_points(small):
    m, data, field, X, Y = small
    with pytest.raises(ArgumentTypeError, match="`data`"):
        kfac_factors(m, {"x": X}, np.zeros(m.chart.dim))
    with pytest.raises(ShapeError, match="`x`"):
        kfac_factors(m, data, np.zeros(3))
    with pytest.raises(Exception, match="y"):  # the empirical Fisher needs the labels
        kfac_factors(m, m.dataset(X), np.zeros(m.chart.dim), fisher="empirical")
    with pytest.raises(SolverSettingsError, match="`fisher`"):
        kfac_factors(m, data, np.zeros(m.chart.dim), fisher="sampled")
    b = models.mlp((1, 2, 1), output="bernoulli")
    with pytest.raises(rg.errors.DataError, match="support"):
        kfac_factors(b, rg.data.Dataset({b.inputs[0]: [0.0, 1.0], b.label: [0.0, 2.0]}), np.zeros(7))


def test_on_a_flow_field_it_refuses():
    import sympy as sp

    x = sp.Symbol("x", real=True)
    field = rg.compile_flow(rg.euclidean_metric(rg.Chart("line", (x,))), x**2 / 2)
    with pytest.raises(SolverSettingsError, match="kfac"):
        rg.descend(field, [1.0], lr=0.1, steps=1, preconditioner=kfac())
