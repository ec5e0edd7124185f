"""The Gaussian test problem shared by the flow tests (see conftest.py for the compiled fields).

KL(N(a, b) || N(mu, s^2)) = log(s / sqrt(b)) + (b + (a - mu)^2) / (2 s^2) - 1/2 in three charts of
N(mu, sigma^2), with the Fisher metric of each, written by hand.
"""

import numpy as np
import sympy as sp

from riemgrad import Chart, Metric

mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
var = sp.Symbol("variance", positive=True)
tau = sp.Symbol("log_sigma", real=True)
a, b = sp.Symbol("a", real=True), sp.Symbol("b", positive=True)

C_SIGMA = Chart("sigma", (mu, sigma))
C_VAR = Chart("variance", (mu, var))
C_TAU = Chart("log_sigma", (mu, tau))
FISHER = {
    "sigma": Metric(C_SIGMA, sp.diag(1 / sigma**2, 2 / sigma**2)),
    "variance": Metric(C_VAR, sp.diag(1 / var, 1 / (2 * var**2))),
    "log_sigma": Metric(C_TAU, sp.diag(sp.exp(-2 * tau), 2)),
}
TO_SIGMA = {  # (mu, sigma) as expressions of each chart's coordinates
    "sigma": (mu, sigma),
    "variance": (mu, sp.sqrt(var)),
    "log_sigma": (mu, sp.exp(tau)),
}
FROM_SIGMA = {
    "sigma": lambda m, s: (m, s),
    "variance": lambda m, s: (m, s**2),
    "log_sigma": lambda m, s: (m, np.log(s)),
}
TARGET = {"a": 1.0, "b": 4.0}  # N(1, 4)


def kl_in(chart: str) -> sp.Expr:
    """KL(N(a, b) || N(mu, s^2)) = log(s / sqrt(b)) + (b + (a - mu)^2) / (2 s^2) - 1/2, in the chart."""
    m, s = TO_SIGMA[chart]
    return sp.log(s) - sp.log(b) / 2 + (b + (a - m) ** 2) / (2 * s**2) - sp.Rational(1, 2)
