"""Sphinx configuration for the skexpreg documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html``. The build
fetches nothing: intersphinx reads the small inventories in ``_inventories``
(written by ``_inventories/make_inventories.py``) instead of downloading
numpy's, scipy's and scikit-learn's, and the gallery uses bundled or
synthetic data only.
"""

import os
import sys
from pathlib import Path

import skexpreg

sys.path.insert(0, os.fspath(Path(__file__).resolve().parent))

project = "skexpreg"
author = "the skexpreg developers"
copyright = "2026, the skexpreg developers"
release = skexpreg.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_inventories", "**.ipynb_checkpoints"]
html_theme = "pydata_sphinx_theme"
html_title = f"skexpreg {release}"
html_theme_options = {"navigation_with_keys": False}

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

_inventories = Path(__file__).resolve().parent / "_inventories"
intersphinx_mapping = {
    name: (url, (os.fspath(_inventories / f"{name}.inv"),))
    for name, url in {
        "numpy": "https://numpy.org/doc/stable/",
        "scipy": "https://docs.scipy.org/doc/scipy/",
        "sklearn": "https://scikit-learn.org/stable/",
        "joblib": "https://joblib.readthedocs.io/en/stable/",
    }.items()
}

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skexpreg",),
    "reference_url": {"skexpreg": None},
    "matplotlib_animations": False,
}
