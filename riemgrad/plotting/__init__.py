"""Plots of flows, metrics and checks (matplotlib, imported lazily).

Each function draws on the Axes it is given (or a new one) and returns it.
Axes are labelled with the chart's coordinates in LaTeX (mathtext), e.g.
``$\\mu$`` and ``$\\log\\sigma$``; see :func:`coordinate_labels`.
"""

from ._plots import axes_or_new, coordinate_labels, plot_invariance, plot_loss, plot_metric_ellipses, plot_trajectories

__all__ = ["plot_trajectories", "plot_metric_ellipses", "plot_loss", "plot_invariance", "coordinate_labels"]
__all__ += ["axes_or_new"]
