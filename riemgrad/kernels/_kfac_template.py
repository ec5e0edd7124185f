"""The fixed part of a generated K-FAC kernel: the forward and backward pass over the rows, the factors, the run.

The generated part (:mod:`riemgrad.kernels.kfac`) defines, above this text, the
layer layout as constant int64 arrays and two scalar functions printed from SymPy:

- ``NL`` layers; ``SIZES`` (NL + 1,) the widths; ``ACT`` (NL,) an activation
  code per layer (the last layer's is the identity); ``WOFF`` (NL,) the offset
  of layer l's parameters in theta (its weights W[o, i] row-major at
  ``WOFF[l] + o * n_in + i``, then its biases at ``WOFF[l] + n_out * n_in + o``:
  the chart order of :func:`riemgrad.models.mlp`); ``SOFF`` (NL,) and ``AIN``
  (NL,) the offsets of layer l's pre-activations and inputs in the per-row
  buffers; ``AOFF``, ``GOFF`` (NL,) the offsets of the factors A_l
  ((n_in + 1)^2, row-major) and G_l (n_out^2) in the flat factor arrays;
  ``K`` the number of outputs, ``NY`` the number of label columns;
- ``_act_rows(k, t, a, da, m)``: a[r], da[r] = the activation with code k and its
  derivative at t[r] for the m rows of a chunk (one loop per activation, with the
  vectorizable ``vtanh``, ``vexp``, ... of :mod:`riemgrad.kernels.elementary`);
- ``_out(z, y, dz, H, m)``: the sum over the m rows of a chunk of the per-example
  loss l(y, z) (the negative log-likelihood of the output family at the outputs
  z, shape (K, CH)), filling ``dz[k, r] = dl/dz_k`` and
  ``H[k, j, r] = d^2 l / dz_k dz_j`` (for the catalogue's canonical links H is
  free of y and is the output family's Fisher); ``CH`` the chunk of rows.

``mode`` 0 is the true Fisher (G_l = E_x[J_l^T H J_l], J_l = dz/ds_l, the
expectation over y ~ model taken analytically), 1 the empirical Fisher
(G_l = E_data[g g^T], g = dl/ds_l at the data's labels).

Statuses of a run: 0 success, 2 non-finite loss, gradient or point, 3 a damped
factor not numerically positive definite, 6 diverged (the rule of
:data:`riemgrad.kernels.abi.DIVERGENCE_LOSS_FACTOR`).
"""

TEMPLATE = r'''

_RED = {"reassoc", "contract", "arcp", "nsz"}  # the sums over rows vectorize; no elementary function in them


@njit(cache=True, fastmath=_RED, error_model="numpy", nogil=True)
def _accumulate(act, dlt, jb, hj, mode, m, A, G, g):
    """Add the sums over the m rows of a chunk: the gradient, the lower triangles of A and G."""
    for l in range(NL):
        nin = SIZES[l]
        nout = SIZES[l + 1]
        w0 = WOFF[l]
        b0 = w0 + nin * nout
        ai = AIN[l]
        s0 = SOFF[l]
        for o in range(nout):
            for q in range(nin):
                acc = 0.0
                for r in range(m):
                    acc += dlt[s0 + o, r] * act[ai + q, r]
                g[w0 + o * nin + q] += acc
            acc = 0.0
            for r in range(m):
                acc += dlt[s0 + o, r]
            g[b0 + o] += acc
        ma = nin + 1
        base = AOFF[l]
        for p in range(nin):
            for q in range(p + 1):
                acc = 0.0
                for r in range(m):
                    acc += act[ai + p, r] * act[ai + q, r]
                A[base + p * ma + q] += acc
        for q in range(nin):
            acc = 0.0
            for r in range(m):
                acc += act[ai + q, r]
            A[base + nin * ma + q] += acc
        A[base + nin * ma + nin] += m
        base = GOFF[l]
        for o in range(nout):
            for p in range(o + 1):
                acc = 0.0
                if mode == 0:
                    for k in range(K):
                        for r in range(m):
                            acc += jb[k, s0 + o, r] * hj[k, s0 + p, r]
                else:
                    for r in range(m):
                        acc += dlt[s0 + o, r] * dlt[s0 + p, r]
                G[base + o * nout + p] += acc


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _backprop(th, dph, v, m):
    """v[layer l-1] = phi'(s_{l-1}) * W_l^T v[layer l] for l = NL-1, ..., 1, over the m rows of a chunk."""
    tmp = np.empty(CH)
    for l in range(NL - 1, 0, -1):
        nin = SIZES[l]
        nout = SIZES[l + 1]
        w0 = WOFF[l]
        for q in range(nin):
            for r in range(m):
                tmp[r] = 0.0
            for o in range(nout):
                w = th[w0 + o * nin + q]
                so = SOFF[l] + o
                for r in range(m):
                    tmp[r] += w * v[so, r]
            sq = SOFF[l - 1] + q
            for r in range(m):
                v[sq, r] = tmp[r] * dph[sq, r]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _stats(th, Z, XC, YC, mode, A, G, g):
    """Sums over the rows (not averages): loss (returned), gradient g, factors A and G (both full).

    Rows are taken in chunks of CH, each quantity stored layer-major with the rows inner
    (``act[unit, row]``), so the loops over a chunk's rows vectorize.
    """
    n = Z.shape[0]
    L = NL
    act = np.empty((max(NA, 1), CH))
    dph = np.zeros((NS, CH))
    dlt = np.empty((NS, CH))
    jb = np.empty((K, NS, CH))
    hj = np.empty((K, NS, CH))
    z = np.empty((K, CH))
    yv = np.zeros((max(NY, 1), CH))
    dz = np.empty((K, CH))
    H = np.empty((K, K, CH))
    tmp = np.empty(CH)
    A[:] = 0.0
    G[:] = 0.0
    g[:] = 0.0
    tot = 0.0
    for c0 in range(0, n, CH):
        m = min(CH, n - c0)
        for j in range(SIZES[0]):
            for r in range(m):
                act[j, r] = Z[c0 + r, XC[j]]
        for j in range(NY):
            if YC[j] >= 0:
                for r in range(m):
                    yv[j, r] = Z[c0 + r, YC[j]]
        for l in range(L):
            nin = SIZES[l]
            nout = SIZES[l + 1]
            w0 = WOFF[l]
            b0 = w0 + nin * nout
            for o in range(nout):
                b = th[b0 + o]
                for r in range(m):
                    tmp[r] = b
                for q in range(nin):
                    w = th[w0 + o * nin + q]
                    aq = AIN[l] + q
                    for r in range(m):
                        tmp[r] += w * act[aq, r]
                if l < L - 1:
                    _act_rows(ACT[l], tmp, act[AIN[l + 1] + o], dph[SOFF[l] + o], m)
                else:
                    for r in range(m):
                        z[o, r] = tmp[r]
        tot += _out(z, yv, dz, H, m)
        for k in range(K):
            for r in range(m):
                dlt[SOFF[L - 1] + k, r] = dz[k, r]
        _backprop(th, dph, dlt, m)
        if mode == 0:
            for k in range(K):
                jk = jb[k]
                for c in range(K):
                    for r in range(m):
                        jk[SOFF[L - 1] + c, r] = 1.0 if c == k else 0.0
                _backprop(th, dph, jk, m)
            for k in range(K):
                for c in range(NS):
                    for r in range(m):
                        tmp[r] = 0.0
                    for j in range(K):
                        for r in range(m):
                            tmp[r] += H[k, j, r] * jb[j, c, r]
                    for r in range(m):
                        hj[k, c, r] = tmp[r]
        _accumulate(act, dlt, jb, hj, mode, m, A, G, g)
    for l in range(L):
        ma = SIZES[l] + 1
        for p in range(ma):
            for q in range(p):
                A[AOFF[l] + q * ma + p] = A[AOFF[l] + p * ma + q]
        mg = SIZES[l + 1]
        for p in range(mg):
            for q in range(p):
                G[GOFF[l] + q * mg + p] = G[GOFF[l] + p * mg + q]
    return tot


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _chol(M, off, n, lam, out):
    """out[off:...] = the lower Cholesky factor of M[off:...] (n x n row-major) + lam I; False if not PD."""
    for i in range(n):
        for j in range(i + 1):
            acc = M[off + i * n + j] + (lam if i == j else 0.0)
            for k in range(j):
                acc -= out[off + i * n + k] * out[off + j * n + k]
            if i == j:
                if not (acc > 0.0) or not np.isfinite(acc):
                    return False
                out[off + i * n + i] = math.sqrt(acc)
            else:
                out[off + i * n + j] = acc / out[off + j * n + j]
        for j in range(i + 1, n):
            out[off + i * n + j] = 0.0
    return True


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _cho_solve(C, off, n, v):
    """v <- (C C^T)^{-1} v in place, C the lower factor at C[off:] (n x n row-major)."""
    for i in range(n):
        acc = v[i]
        for k in range(i):
            acc -= C[off + i * n + k] * v[k]
        v[i] = acc / C[off + i * n + i]
    for i in range(n - 1, -1, -1):
        acc = v[i]
        for k in range(i + 1, n):
            acc -= C[off + k * n + i] * v[k]
        v[i] = acc / C[off + i * n + i]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _invert(A, G, lam, CA, CG):
    """Damped Cholesky factors of every layer, with the pi-correction; False if one is not PD."""
    r = math.sqrt(lam)
    for l in range(NL):
        ma = SIZES[l] + 1
        mg = SIZES[l + 1]
        ta = 0.0
        for p in range(ma):
            ta += A[AOFF[l] + p * ma + p]
        tg = 0.0
        for p in range(mg):
            tg += G[GOFF[l] + p * mg + p]
        pi = 1.0
        if ta > 0.0 and tg > 0.0:
            pi = math.sqrt((ta / ma) / (tg / mg))
        if not _chol(A, AOFF[l], ma, pi * r, CA):
            return False
        if not _chol(G, GOFF[l], mg, r / pi, CG):
            return False
    return True


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _direction(g, CA, CG, out):
    """out = -(blockdiag (A_l + pi sqrt(lam) I) (x) (G_l + sqrt(lam)/pi I))^{-1} g, by two small solves a layer."""
    for l in range(NL):
        nin = SIZES[l]
        nout = SIZES[l + 1]
        m = nin + 1
        w0 = WOFF[l]
        b0 = w0 + nin * nout
        V = np.empty((nout, m))
        for o in range(nout):
            for q in range(nin):
                V[o, q] = g[w0 + o * nin + q]
            V[o, nin] = g[b0 + o]
        col = np.empty(nout)
        for q in range(m):
            for o in range(nout):
                col[o] = V[o, q]
            _cho_solve(CG, GOFF[l], nout, col)
            for o in range(nout):
                V[o, q] = col[o]
        row = np.empty(m)
        for o in range(nout):
            for q in range(m):
                row[q] = V[o, q]
            _cho_solve(CA, AOFF[l], m, row)
            for q in range(nin):
                out[w0 + o * nin + q] = -row[q]
            out[b0 + o] = -row[nin]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _descend_kfac(X, Z, XC, YC, mode, lr, steps, lam, decay, every, idx, lfac, nfac, XS, st, kf, CTL):
    """K-FAC descent of every starting point X[b] (see the module notes); records XS[j, b] at steps idx[j]."""
    n = Z.shape[0]
    d = X.shape[1]
    A = np.empty(NAF)
    G = np.empty(NGF)
    Aa = np.empty(NAF)
    Ga = np.empty(NGF)
    CA = np.empty(NAF)
    CG = np.empty(NGF)
    g = np.empty(d)
    D = np.empty(d)
    for b in range(X.shape[0]):
        th = X[b].copy()
        x0max = 0.0
        for c in range(d):
            x0max = max(x0max, abs(th[c]))
        j = 0
        if idx[0] == 0:
            XS[0, b] = th
            j = 1
        status = 0
        last = 0
        L0 = 0.0
        for k in range(steps + 1):
            if CTL[0] != 0:  # the stop flag (abi.CONTROL_STOP), set by Ctrl-C
                break
            CTL[1] += 1  # steps done (abi.CONTROL_DONE)
            loss = _stats(th, Z, XC, YC, mode, A, G, g) / n
            ok = np.isfinite(loss)
            for c in range(d):
                g[c] /= n
                ok = ok and np.isfinite(g[c])
            if not ok:
                status = 2
                break
            if k == 0:
                L0 = loss
            elif loss - L0 > lfac * (abs(L0) + 1.0):
                status = 6
                break
            if k == steps:
                break
            for c in range(NAF):
                A[c] /= n
                Aa[c] = A[c] if k == 0 else decay * Aa[c] + (1.0 - decay) * A[c]
            for c in range(NGF):
                G[c] /= n
                Ga[c] = G[c] if k == 0 else decay * Ga[c] + (1.0 - decay) * G[c]
            if k % every == 0:
                if not _invert(Aa, Ga, lam, CA, CG):
                    status = 3
                    break
            _direction(g, CA, CG, D)
            big = 0.0
            fin = True
            for c in range(d):
                th[c] += lr * D[c]
                fin = fin and np.isfinite(th[c])
                big = max(big, abs(th[c]))
            if not fin:
                status = 2
                break
            last = k + 1
            if j < idx.shape[0] and idx[j] == k + 1:
                XS[j, b] = th
                j += 1
            if big > nfac * (1.0 + x0max):
                status = 6
                break
        st[b] = status
        kf[b] = last
'''
