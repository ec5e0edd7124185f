"""Sphinx configuration for the riemgrad documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import riemgrad  # noqa: E402

project = "riemgrad"
author = "the riemgrad developers"
release = riemgrad.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

# Notebooks in examples/ are stored without outputs; execute them during the build.
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
myst_enable_extensions = ["dollarmath", "amsmath"]

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_typehints = "none"
autosummary_generate = False

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_title = "riemgrad"
suppress_warnings = ["mystnb.unknown_mime_type"]

# The example notebooks live in ../examples (executed by the tests); copy them in as tutorials.
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

_here = Path(__file__).resolve().parent
_tutorials = _here / "tutorials"
_tutorials.mkdir(exist_ok=True)
for _nb in sorted((_here.parent / "examples").glob("*.ipynb")):
    shutil.copy2(_nb, _tutorials / _nb.name)
