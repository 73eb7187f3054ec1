"""Sphinx configuration of the scamlib documentation.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API reference has one page per subpackage (``docs/api/<name>.rst``). A page whose modules
do not exist yet is left out of the build instead of breaking it (the build logs which); a
module that exists but fails to import does break it, on purpose.
Nothing here reaches the network: intersphinx is not used.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document the checkout, installed or not

import scamlib  # noqa: E402

# -- Project ----------------------------------------------------------------------------------
project = "scamlib"
author = "scamlib developers"
copyright = "scamlib developers"
release = scamlib.__version__
version = ".".join(release.split(".")[:2])

# -- General ----------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # Google-style docstrings (Args/Returns/Raises/Example)
    "sphinx_autodoc_typehints",  # must come after napoleon
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",  # equations; MathJax is loaded by the reader's browser, not the build
    "sphinx.ext.viewcode",
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
nitpicky = False
# No suppress_warnings: the build is clean without silencing any Sphinx warning. The one Python
# warning filtered is sphinx-autodoc-typehints 3.6 calling an API that Sphinx 9 deprecates: it
# is about the extension, not these documents, and would repeat once per docstring.
warnings.filterwarnings("ignore", message=r".*set_application.* is deprecated", module=r"sphinx")

# -- API pages: a page whose modules do not exist yet is left out (see _api_pages.py) ---------
sys.path.insert(0, str(DOCS))
from _api_pages import missing_pages  # noqa: E402

API_PAGES_MISSING = missing_pages()
exclude_patterns += [f"api/{name}.rst" for name in API_PAGES_MISSING]

# -- autodoc / napoleon / typehints -----------------------------------------------------------
autodoc_default_options = {"show-inheritance": True}  # pages ask for :members: explicitly
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields, so NamedTuple fields are not doubled
napoleon_use_rtype = False
typehints_fully_qualified = False
typehints_document_rtype = True
always_document_param_types = False
typehints_use_signature = False
typehints_use_signature_return = False

# -- HTML -------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"scamlib {release}"
html_static_path = ["_static"]
html_show_sourcelink = False


def _inherited_torch_doc(name: str, obj) -> bool:
    """True for a member whose docstring is torch's own (an override that adds none)."""
    import torch

    base = getattr(torch.nn.Module, name, None)
    if base is None or not callable(base):
        return False
    doc = getattr(obj, "__doc__", None)
    return doc is None or doc == base.__doc__


def _skip_boilerplate(app, what, name, obj, skip, options):
    """Hide what carries no information of scamlib's own.

    - the "Alias for field number N" properties of NamedTuples (documented as fields);
    - ``extra_repr`` and ``forward`` (and any other ``nn.Module`` method) whose docstring is
      torch's inherited boilerplate: the class docstring documents the call.
    """
    doc = getattr(obj, "__doc__", None) or ""
    if what == "class" and doc.startswith("Alias for field number"):
        return True
    if what == "class" and (name == "extra_repr" or _inherited_torch_doc(name, obj)):
        return True
    return None


def _api_toctree(app, docname, source):
    """Drop the API index's toctree entries of subpackages that do not exist yet."""
    if docname != "api/index":
        return
    lines = source[0].splitlines()
    kept = [ln for ln in lines if not (ln.startswith("   ") and ln.strip() in API_PAGES_MISSING)]
    source[0] = "\n".join(kept) + "\n"


def setup(app):
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    for name, modules in API_PAGES_MISSING.items():
        log.info("API page api/%s left out: %s does not exist yet", name, ", ".join(modules))
    app.connect("autodoc-skip-member", _skip_boilerplate)
    app.connect("source-read", _api_toctree)
    return {"parallel_read_safe": True}
