"""The package's structure: no module reaches into another's private names.

A name starting with one underscore is private to its module (PEP 8); another module that
imports it or reads it as an attribute ties itself to that module's insides, hiding a
dependency (and, with lazy imports, a cycle).  Each module of ``podcast`` is parsed with
:mod:`ast` and every ``from X import _name`` of a podcast module, and every ``m._name`` on a
podcast module ``m`` imported by name, is reported.  Dunder names (``__version__``) are
public.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "podcast"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name ``from ... import`` refers to, in ``module`` (file ``path``)."""
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]  # a module's level 1 is its package
    base = package[:len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _is_module(name: str, package: Path) -> bool:
    parts = name.split(".")
    if parts[0] != "podcast":
        return False
    path = package.parent.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def crossings(path: Path, package: Path = PACKAGE) -> list[str]:
    """The private names of other podcast modules the module at ``path`` (in the package
    folder ``package``) uses."""
    module = _module_name(path, package)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found, modules = [], {}  # modules: a local name -> the podcast module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, path, node)
            if not source.startswith("podcast"):
                continue
            for alias in node.names:
                if _private(alias.name) and source != module:
                    found.append(f"{path.name}:{node.lineno}: from {source} import {alias.name}")
                elif _is_module(f"{source}.{alias.name}", package):
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("podcast"):
                    local = alias.asname or alias.name.split(".")[0]
                    modules[local] = alias.name if alias.asname else "podcast"
    for node in ast.walk(tree):
        name = _dotted(node) if isinstance(node, ast.Attribute) else None
        if name is None:
            continue
        head, *attrs = name.split(".")
        if head in modules and any(_private(attr) for attr in attrs):
            found.append(f"{path.name}:{node.lineno}: {name}")
    return sorted(set(found))


def _dotted(node: ast.Attribute) -> str | None:
    """``a.b.c`` for a chain of attributes on a plain name, else None."""
    parts = []
    value: ast.expr = node
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    return ".".join([value.id, *reversed(parts)]) if isinstance(value, ast.Name) else None


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_uses_another_modules_private_names(path: Path):
    assert crossings(path) == []


def test_the_check_finds_each_kind_of_crossing(tmp_path: Path):
    # Modules written here, laid out like the package: the check must catch each form.
    package = tmp_path / "podcast"
    (package / "audio").mkdir(parents=True)
    for name in ("__init__.py", "binaries.py", "audio/__init__.py", "audio/single.py"):
        (package / name).write_text("")
    (package / "audio" / "mix.py").write_text(
        "from . import single\n"
        "from .single import _scratch, master, __doc__\n"
        "from .. import binaries\n"
        "from ..binaries import _probe\n"
        "import podcast.audio.single as s\n"
        "import podcast\n"
        "def _own():\n"
        "    return single._Plan, binaries.run, s._finish, podcast.audio._x, _own, x._y\n")
    assert crossings(package / "audio" / "mix.py", package) == sorted([
        "mix.py:2: from podcast.audio.single import _scratch",
        "mix.py:4: from podcast.binaries import _probe",
        "mix.py:8: single._Plan",
        "mix.py:8: s._finish",
        "mix.py:8: podcast.audio._x",
    ])
