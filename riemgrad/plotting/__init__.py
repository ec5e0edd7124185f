"""Plots of flows, metrics and checks (matplotlib, imported lazily).

Each function draws on the Axes it is given (or a new one) and returns it.
"""

from ._plots import plot_invariance, plot_loss, plot_metric_ellipses, plot_trajectories

__all__ = ["plot_trajectories", "plot_metric_ellipses", "plot_loss", "plot_invariance"]
