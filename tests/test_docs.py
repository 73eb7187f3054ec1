"""The documentation: every public name is in the API reference, and every example runs.

Cheap on purpose: the API check reads the ``.rst`` sources and the modules' docstrings the way
autodoc selects members (no Sphinx build inside pytest); the examples run with :mod:`doctest`.
The Sphinx build itself (``python -m sphinx -W --keep-going -b html docs docs/_build/html``)
is a separate CI step.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import pkgutil
import re
import sys
import types
from pathlib import Path

import pytest
import torch

import scamlib

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
from _api_pages import directives, module_exists, pages  # noqa: E402

sys.path.remove(str(DOCS))

RST_WITH_EXAMPLES = sorted(
    p
    for p in DOCS.rglob("*.rst")
    if "_build" not in p.parts and ">>> " in p.read_text(encoding="utf-8")
)


def _api_directives() -> list[tuple[str, str, dict[str, str]]]:
    return [d for page in sorted((DOCS / "api").glob("*.rst")) for d in directives(page)]


def _public_subpackages() -> list[str]:
    """``scamlib.<name>`` for every public, existing module or package directly under scamlib."""
    names = []
    for info in pkgutil.iter_modules(scamlib.__path__):
        full = f"scamlib.{info.name}"
        if not info.name.startswith("_") and info.name != "cli" and module_exists(full):
            names.append(full)
    return sorted(names)


def _has_own_doc(obj: object) -> bool:
    """What autodoc (without ``:undoc-members:``) needs to list a class or function."""
    if isinstance(obj, type):
        doc = obj.__dict__.get("__doc__")
    else:
        doc = getattr(obj, "__doc__", None)
    return bool(doc and doc.strip())


def _attr_doc_names(module_name: str) -> set[str]:
    """Module-level names with a ``#:`` doc comment (or docstring) in that module's source."""
    ModuleAnalyzer = pytest.importorskip("sphinx.pycode").ModuleAnalyzer  # the docs extra

    analyzer = ModuleAnalyzer.for_module(module_name)
    return {name for (scope, name) in analyzer.find_attr_docs() if scope == ""}


def _resolve(target: str) -> object:
    """The object a directive target such as ``scamlib.pipeline.config.NAME`` names, or None."""
    module_name, _, attr = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr, None)
    except ImportError:
        return None


def _undocumented(module_name: str) -> list[str]:
    """Names of ``module.__all__`` the API reference would not show."""
    module = importlib.import_module(module_name)
    found = _api_directives()
    automodules = {t: opts for kind, t, opts in found if kind == "automodule"}
    explicit = {t for kind, t, _ in found if kind != "automodule"}
    members_listed = module_name in automodules and "members" in automodules[module_name]
    attr_docs = _attr_doc_names(module_name) if members_listed else set()
    missing = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if any(t.endswith(f".{name}") and _resolve(t) is obj for t in explicit):
            continue
        if isinstance(obj, types.ModuleType):
            ok = obj.__name__ in automodules
        elif inspect.isclass(obj) or callable(obj):
            ok = members_listed and _has_own_doc(obj)
        else:
            ok = members_listed and name in attr_docs
        if not ok:
            missing.append(name)
    return missing


def test_every_api_page_lists_members():
    for page, modules in pages().items():
        for kind, target, options in directives(DOCS / "api" / f"{page}.rst"):
            if kind == "automodule" and target != "scamlib" and module_exists(target):
                assert "members" in options, f"api/{page}.rst: automodule {target} lacks :members:"
        assert modules, f"api/{page}.rst documents no module"


def test_every_subpackage_has_a_page():
    documented = {t for _, modules in pages().items() for t in modules}
    missing = [m for m in _public_subpackages() if m not in documented]
    assert not missing, f"no API page (automodule) for {missing}"


@pytest.mark.parametrize("module_name", _public_subpackages())
def test_subpackage_all_is_documented(module_name):
    missing = _undocumented(module_name)
    assert not missing, f"{module_name}.__all__ names missing from the API reference: {missing}"


def test_top_level_all_is_documented():
    """A top-level name is documented directly, or is a re-export of a documented name."""
    documented_objects = []
    for sub in _public_subpackages():
        module = importlib.import_module(sub)
        documented_objects += [
            getattr(module, n)
            for n in getattr(module, "__all__", [])
            if n not in _undocumented(sub)
        ]
    missing = [
        name
        for name in _undocumented("scamlib")
        if not any(getattr(scamlib, name) is obj for obj in documented_objects)
    ]
    assert not missing, f"scamlib.__all__ names missing from the API reference: {missing}"


def test_equation_map_covers_every_equation():
    text = (DOCS / "equations.rst").read_text(encoding="utf-8")
    start = text.index("STANet+ equations")
    rows = re.findall(r"^   \* - ([0-9, ]+)$", text[start : text.index("Steps the papers")], re.M)
    numbers = {int(n) for row in rows for n in row.split(",")}
    assert numbers == set(range(1, 24))


def test_static_figures_are_small():
    figures = list((DOCS / "_static").glob("*.png"))
    assert figures
    for figure in figures:
        assert figure.stat().st_size < 100 * 1024, f"{figure.name} is over 100 KB"


@pytest.mark.parametrize("path", RST_WITH_EXAMPLES, ids=lambda p: str(p.relative_to(DOCS)))
def test_rst_examples_run(path):
    """Every ``>>>`` example of the pages gives the output written under it."""
    text = path.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {"torch": torch}, path.name, str(path), 0)
    torch.manual_seed(0)
    report = io.StringIO()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    result = runner.run(test, out=report.write)
    assert result.failed == 0, report.getvalue()
