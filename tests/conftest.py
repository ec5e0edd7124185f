"""Shared fixtures: the compiled Gaussian fields used across the flow, kernel and check tests.

Compiling a field costs a SymPy derivation and, on first use of each kernel, a Numba compilation
(cached on disk); session-scoped fixtures compile each once per test run.
"""

import numpy as np
import pytest
import sympy as sp
from _gaussian import C_SIGMA, C_TAU, C_VAR, FISHER, a, b, kl_in, mu, sigma

from riemgrad import compile_flow, euclidean_metric


@pytest.fixture(scope="session")
def natural_fields():
    """The natural-gradient flow of KL(N(a, b) || N(mu, s^2)) in the sigma, variance and log-sigma charts
    (Fisher metric, call-time parameters a, b)."""
    return {c: compile_flow(FISHER[c], kl_in(c), params=(a, b)) for c in FISHER}


@pytest.fixture(scope="session")
def euclid_fields():
    """The same losses under the Euclidean metric of each chart (not invariant)."""
    charts = {"sigma": C_SIGMA, "variance": C_VAR, "log_sigma": C_TAU}
    return {c: compile_flow(euclidean_metric(charts[c]), kl_in(c), params=(a, b)) for c in charts}


@pytest.fixture(scope="session")
def gaussian_sigma_field():
    """The natural-gradient flow toward N(1, 4) in the sigma chart, with no parameters:
    velocity (1 - mu, ((1 - mu)^2 + 4 - sigma^2) / (2 sigma))."""
    kl = sp.log(sigma / 2) + (4 + (1 - mu) ** 2) / (2 * sigma**2) - sp.Rational(1, 2)
    return compile_flow(FISHER["sigma"], kl)


@pytest.fixture(scope="session")
def gaussian_starts():
    """40 starting points (mu, sigma), mu ~ U(-2, 3), sigma ~ U(0.4, 3), seed 0."""
    rng = np.random.default_rng(0)
    return np.column_stack([rng.uniform(-2, 3, 40), rng.uniform(0.4, 3.0, 40)])
