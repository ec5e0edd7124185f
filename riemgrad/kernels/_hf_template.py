"""The fixed part of a generated Hessian-free kernel: the damped product, truncated CG and the descent loop.

The generated part (:mod:`riemgrad.kernels.hvp`) defines, above this text, the
constant ``DIM`` and three functions that loop over the rows of the data matrix
``Z`` with the coordinates loaded once:

- ``_rows_loss(th, Z)``: the sum of the per-example losses;
- ``_rows_grad(th, Z, g)``: g = the sum of the per-example gradients;
- ``_rows_prod(th, Z, v, out)``: out = the sum over the rows of B_row v, where
  B_row is the per-example Hessian (the R-operator, Pearlmutter 1994) or the
  per-example Gauss-Newton matrix sum_a w_a u_a u_a^T applied as
  sum_a u_a (w_a (u_a . v)). No d x d matrix is ever formed;
- ``_rows_grad_fill(th, Z, g, C)`` and ``_rows_prod_cached(th, Z, C, v, out)``:
  the same product split in two: the part that does not depend on v (the
  factors u_a and weights w_a; for the Hessian, every subexpression free of v
  that the rest reads) stored per row in ``C`` (n, NC) once per outer step, in
  the same pass as the gradient (they share their subexpressions), and the part
  linear in v, which reads it. During CG the point is fixed, so each further
  product costs O(NC) per row and no transcendental function.

CG stop codes (one per outer step, recorded by the runs): 1 the relative
residual ``|r| <= tol |g|``; 2 Martens' relative progress rule on the quadratic
model; 3 ``max_cg`` iterations; 4 non-positive curvature ``p^T (B + lam I) p <= 0``
(the last iterate is kept, or ``-g`` if it came on the first iteration); 5 a
non-finite product (the step fails with the NONFINITE status).
"""

from ._data_template import CHECK, START, step_loop

TEMPLATE = r'''

# ---------------------------------------------------------------- fixed part
STOP_RESIDUAL = 1
STOP_PROGRESS = 2
STOP_MAX_CG = 3
STOP_NEGATIVE = 4
STOP_NONFINITE = 5


''' + CHECK + r'''


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _prod(th, Z, C, cached, v, lam, out):
    # out = (B + lam I) v with B the average over the rows; from the per-row cache C (filled at th) if cached.
    if cached:
        _rows_prod_cached(th, Z, C, v, out)
    else:
        _rows_prod(th, Z, v, out)
    inv = 1.0 / Z.shape[0]
    for k in range(DIM):
        out[k] = out[k] * inv + lam * v[k]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _dot(a, b):
    t = 0.0
    for k in range(DIM):
        t += a[k] * b[k]
    return t


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _cg(th, Z, C, cached, g, lam, max_cg, tol, ptol, d, r, p, Ap, phis):
    # Truncated CG on (B + lam I) d = -g from the start in d; r = -g - (B + lam I) d is kept.
    # Returns (iterations, stop code).
    nz = False
    for k in range(DIM):
        if d[k] != 0.0:
            nz = True
    if nz:
        _prod(th, Z, C, cached, d, lam, Ap)
        for k in range(DIM):
            r[k] = -g[k] - Ap[k]
    else:
        for k in range(DIM):
            r[k] = -g[k]
    bnorm = math.sqrt(_dot(g, g))
    if bnorm == 0.0:  # a stationary point: no step
        for k in range(DIM):
            d[k] = 0.0
            r[k] = 0.0
        return 0, STOP_RESIDUAL
    rr = _dot(r, r)
    if not math.isfinite(rr):
        return 0, STOP_NONFINITE
    if math.sqrt(rr) <= tol * bnorm:
        return 0, STOP_RESIDUAL
    for k in range(DIM):
        p[k] = r[k]
    phi = 0.0  # the quadratic model phi(d) = 1/2 d.(A d) + g.d = -1/2 d.(r - g)
    for k in range(DIM):
        phi -= 0.5 * d[k] * (r[k] - g[k])
    phis[0] = phi
    for i in range(1, max_cg + 1):
        _prod(th, Z, C, cached, p, lam, Ap)
        kappa = _dot(p, Ap)
        if not math.isfinite(kappa):
            return i - 1, STOP_NONFINITE
        if kappa <= 0.0:
            return i - 1, STOP_NEGATIVE
        alpha = rr / kappa
        for k in range(DIM):
            d[k] += alpha * p[k]
            r[k] -= alpha * Ap[k]
        rr_new = _dot(r, r)
        phi = 0.0
        for k in range(DIM):
            phi -= 0.5 * d[k] * (r[k] - g[k])
        phis[i] = phi
        if math.sqrt(rr_new) <= tol * bnorm:
            return i, STOP_RESIDUAL
        # Martens (2010), sec. 4.4: stop when the model's progress over the last k iterations,
        # relative to its value, is below k * ptol, with k = max(10, 0.1 i).
        kk = max(10, int(0.1 * i))
        if ptol > 0.0 and i > kk and phi < 0.0 and (phi - phis[i - kk]) / phi < kk * ptol:
            return i, STOP_PROGRESS
        beta = rr_new / rr
        rr = rr_new
        for k in range(DIM):
            p[k] = r[k] + beta * p[k]
    return max_cg, STOP_MAX_CG


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _products(X, V, Z, C, cached, lam, OUT):
    # OUT[b] = (B(X[b]) + lam I) V[b], averaged over the rows.
    out = np.zeros(DIM)
    g = np.zeros(DIM)
    for b in range(X.shape[0]):
        if cached:
            _rows_grad_fill(X[b], Z, g, C)
        _prod(X[b], Z, C, cached, V[b], lam, out)
        for k in range(DIM):
            OUT[b, k] = out[k]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _descend_hf(X, Z, C, cached, lr, steps, lam0, adapt, max_cg, tol, ptol, warm, dom, save_idx, XS, STATUS,
                KF, CGIT, CGSTOP, LAMS, CTL):
    # Hessian-free descent: theta <- theta + lr d, d from truncated CG on (B + lam I) d = -g.
    # With adapt: lam follows the reduction ratio rho (Martens 2010, sec. 4.1) and a step that does not
    # lower the loss is rejected (the point stays, lam grows).
    g = np.zeros(DIM)
    d = np.zeros(DIM)
    dprev = np.zeros(DIM)
    r = np.zeros(DIM)
    p = np.zeros(DIM)
    Ap = np.zeros(DIM)
    phis = np.zeros(max_cg + 1)
    th = np.zeros(DIM)
    tn = np.zeros(DIM)
    ns = save_idx.shape[0]
    inv = 1.0 / Z.shape[0]
    for b in range(X.shape[0]):
        for k in range(DIM):
            th[k] = X[b, k]
            dprev[k] = 0.0
        lam = lam0
''' + START + step_loop("steps") + r'''
            if cached:  # the gradient and the v-free part of the products at th, in one pass
                _rows_grad_fill(th, Z, g, C)
            else:
                _rows_grad(th, Z, g)
            for k in range(DIM):
                g[k] *= inv
                if not math.isfinite(g[k]):
                    st = 2
            if st != 0:
                break
            for k in range(DIM):
                d[k] = warm * dprev[k]
            its, stop = _cg(th, Z, C, cached, g, lam, max_cg, tol, ptol, d, r, p, Ap, phis)
            CGIT[step - 1, b] = its
            CGSTOP[step - 1, b] = stop
            LAMS[step - 1, b] = lam
            if stop == STOP_NONFINITE:
                st = 2
                break
            steepest = stop == STOP_NEGATIVE and its == 0
            if steepest:
                for k in range(DIM):
                    d[k] = -g[k]
            for k in range(DIM):
                tn[k] = th[k] + lr * d[k]
            stn = _check(tn, dom)
            if adapt:
                # rho = (L(theta + lr d) - L(theta)) / (q(lr d) - q(0)), q the undamped quadratic model
                if steepest:
                    _prod(th, Z, C, cached, d, 0.0, Ap)
                    dbd = _dot(d, Ap)
                else:
                    dbd = 0.0  # d.(B d) = d.(A d) - lam |d|^2 with A d = -g - r
                    for k in range(DIM):
                        dbd += d[k] * (-g[k] - r[k]) - lam * d[k] * d[k]
                q = lr * _dot(g, d) + 0.5 * lr * lr * dbd
                l0 = _rows_loss(th, Z) * inv
                l1 = _rows_loss(tn, Z) * inv if stn == 0 else np.inf
                rho = (l1 - l0) / q if q < 0.0 else -np.inf
                if not rho >= 0.25:
                    lam *= 1.5
                elif rho > 0.75:
                    lam *= 2.0 / 3.0
                if stn == 0 and l1 < l0:
                    for k in range(DIM):
                        th[k] = tn[k]
                        dprev[k] = d[k]
                else:
                    for k in range(DIM):
                        dprev[k] = 0.0
            else:
                st = stn
                if st != 0:
                    break
                for k in range(DIM):
                    th[k] = tn[k]
                    dprev[k] = d[k]
            KF[b] = step
            while si < ns and save_idx[si] == step:
                for k in range(DIM):
                    XS[si, b, k] = th[k]
                si += 1
        STATUS[b] = st
'''
