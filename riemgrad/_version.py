"""The version of riemgrad, in one place: read by the package root, the packaging metadata
(``setup.cfg``: ``version = attr: riemgrad._version.__version__``) and the code generator,
which prints it into the header of every generated kernel without importing the package root."""

__version__ = "0.1.0"
