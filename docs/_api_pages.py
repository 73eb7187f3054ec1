"""Which API pages can be built: shared by ``conf.py`` and ``tests/test_docs.py``.

Each page ``api/<name>.rst`` documents one or more modules with ``.. automodule::``. A page is
built only when every module it documents exists as a regular module or package; a package
folder without ``__init__.py`` counts as not written yet. A module that exists but fails to
import is *not* skipped: the build reports it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

API_DIR = Path(__file__).resolve().parent / "api"

_DIRECTIVE = re.compile(r"^\.\. (?P<kind>auto\w+|py:\w+):: +(?P<target>\S+)\s*$")
_OPTION = re.compile(r"^ +:(?P<name>[\w-]+):(?P<value>.*)$")


def directives(page: Path) -> list[tuple[str, str, dict[str, str]]]:
    """``(directive, target, options)`` of every top-level autodoc / py directive of a page."""
    found: list[tuple[str, str, dict[str, str]]] = []
    for line in page.read_text(encoding="utf-8").splitlines():
        match = _DIRECTIVE.match(line)
        if match:
            found.append((match["kind"], match["target"], {}))
            continue
        option = _OPTION.match(line)
        if option and found:
            found[-1][2][option["name"]] = option["value"].strip()
    return found


def module_exists(name: str) -> bool:
    """True when ``name`` is a regular module or package (not a bare folder, not absent)."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return False
    return spec is not None and spec.origin is not None and spec.has_location


def pages() -> dict[str, list[str]]:
    """``{page name: [modules it documents with automodule]}`` for every ``api/*.rst``."""
    return {
        page.stem: [t for kind, t, _ in directives(page) if kind == "automodule"]
        for page in sorted(API_DIR.glob("*.rst"))
    }


def missing_pages() -> dict[str, list[str]]:
    """``{page name: [its modules that do not exist yet]}`` for pages to leave out."""
    result = {}
    for name, modules in pages().items():
        absent = [m for m in modules if not module_exists(m)]
        if absent:
            result[name] = absent
    return result
