"""The shape the layers contract (pyproject.toml, lint-imports) cannot see: no module imports
another module's private name, and no test imports another test module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def _imports(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) for every ``from MODULE import NAME`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return found


def test_no_module_imports_another_modules_private_name() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{line}: from {module} import {name}"
        for path in sorted((REPO / "src" / "dashenv").rglob("*.py"))
        for module, name, line in _imports(path)
        if module.startswith("dashenv") and name.startswith("_") and not name.startswith("__")
    ]
    assert offenders == []


def test_no_test_imports_a_test_module() -> None:
    """Shared helpers live in conftest.py files or a layer's helpers module."""
    offenders = [
        f"{path.relative_to(REPO)}:{line}: from {module} import {name}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        for module, name, line in _imports(path)
        if module.startswith("tests.") and module.rpartition(".")[2].startswith("test_")
    ]
    assert offenders == []


def test_the_package_is_typed_and_carries_its_schemas_and_classifiers() -> None:
    """What the wheel holds beyond the code (read from pyproject, as hatch builds it)."""
    import tomllib

    assert (REPO / "src" / "dashenv" / "py.typed").is_file()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    classifiers = project["project"]["classifiers"]
    assert {"Framework :: Pytest", "Operating System :: POSIX", "Typing :: Typed"} <= set(
        classifiers
    )
    assert "Programming Language :: Python :: 3.11" in classifiers
    included = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    schemas = sorted(p.name for p in (REPO / "docs").glob("*.schema.json"))
    assert sorted(Path(k).name for k in included if k.endswith(".schema.json")) == schemas
    assert all(v.startswith("dashenv/schemas/") for v in included.values())
