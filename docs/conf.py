"""Sphinx configuration: MyST Markdown pages plus autodoc of the public API.

Sphinx rather than MkDocs: autodoc with napoleon reads the Google-style docstrings the
code already carries, and MyST keeps every page Markdown, so README-style text and the
generated catalogue need no second format.
"""

from __future__ import annotations

import pytest_offload

project = "pytest-offload"
author = "pytest-offload developers"
release = pytest_offload.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "alabaster"
nitpicky = False
suppress_warnings = ["myst.xref_missing"]
