"""Alembic's revision graph, read from the files: no import of the application, no running app.

A real project's revision files import its models and settings, which the host does not
have; so each file is parsed (``ast``) for its module-level ``revision`` and
``down_revision`` only. ``read_graph`` does the reading; ``Graph`` and ``database_state`` are
pure.
"""

from __future__ import annotations

import ast
import configparser
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dashenv.errors import ConfigError

State = Literal["latest", "behind", "ahead", "multiple_heads", "unknown"]


@dataclass(frozen=True)
class Revision:
    revision: str
    down: tuple[str, ...]  # down_revision(s); empty for a base
    path: str


@dataclass(frozen=True)
class Graph:
    revisions: dict[str, Revision]

    @property
    def heads(self) -> tuple[str, ...]:
        """Revisions no other revision builds on, in file order."""
        below = {d for r in self.revisions.values() for d in r.down}
        return tuple(r for r in self.revisions if r not in below)

    def ancestors(self, revisions: Iterable[str]) -> set[str]:
        """The revisions given and everything they build on."""
        seen: set[str] = set()
        stack = [r for r in revisions if r in self.revisions]
        while stack:
            rev = stack.pop()
            if rev in seen:
                continue
            seen.add(rev)
            stack.extend(self.revisions[rev].down)
        return seen

    def ordered(self, revisions: set[str]) -> list[str]:
        """``revisions`` oldest first (each after everything it builds on)."""
        done: list[str] = []
        placed: set[str] = set()

        def place(rev: str) -> None:
            if rev in placed or rev not in revisions:
                return
            placed.add(rev)
            for down in self.revisions[rev].down:
                place(down)
            done.append(rev)

        for rev in self.revisions:
            place(rev)
        return done


@dataclass(frozen=True)
class MigrationState:
    state: State
    current: tuple[str, ...] = ()  # the revision(s) in alembic_version
    heads: tuple[str, ...] = ()  # the code's head(s)
    pending: tuple[str, ...] = ()  # behind: what 'alembic upgrade head' would apply, oldest first
    unknown_revisions: tuple[str, ...] = ()  # ahead: revisions this checkout does not have
    reason: str = ""  # unknown: why
    applied: int | None = None  # revisions applied (the current ones and all below them)
    available: int = 0  # revisions in the checkout

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "applied": self.applied,
            "available": self.available,
            "current": list(self.current),
            "heads": list(self.heads),
            "pending": list(self.pending),
            "unknown_revisions": list(self.unknown_revisions),
            "reason": self.reason or None,
        }


def database_state(graph: Graph, current: tuple[str, ...] | None) -> MigrationState:
    """Where a database stands against the code. ``current`` is what ``alembic_version``
    holds, or None when the database has no such table (never migrated: at base)."""
    heads = graph.heads
    applied = tuple(current or ())
    counts: dict[str, Any] = {"available": len(graph.revisions)}
    missing = tuple(r for r in applied if r not in graph.revisions)
    if missing:
        return MigrationState("ahead", applied, heads, unknown_revisions=missing, **counts)
    counts["applied"] = len(graph.ancestors(applied))
    if len(heads) > 1:
        return MigrationState("multiple_heads", applied, heads, **counts)
    if set(applied) == set(heads):
        return MigrationState("latest", applied, heads, **counts)
    pending = graph.ancestors(heads) - graph.ancestors(applied)
    return MigrationState("behind", applied, heads, pending=tuple(graph.ordered(pending)), **counts)


# --- parsing ---------------------------------------------------------------------------


def _literal(node: ast.expr | None, where: str, name: str) -> Any:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        raise ConfigError(
            f"{where}: {name} is not a literal",
            hint="Alembic revision files set revision and down_revision to plain strings",
        ) from None


def parse_revision(text: str, where: str) -> Revision | None:
    """The revision a file declares, or None when it declares none (not a revision file)."""
    try:
        tree = ast.parse(text, filename=where)
    except SyntaxError as exc:
        raise ConfigError(
            f"{where}:{exc.lineno}: not valid Python ({exc.msg})",
            hint="fix the revision file; dashenv reads it without importing it",
        ) from None
    values: dict[str, Any] = {}
    for node in tree.body:
        target: ast.expr
        value: ast.expr | None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = _literal(value, where, target.id)
    if "revision" not in values:
        return None
    revision = values["revision"]
    if not isinstance(revision, str) or not revision:
        raise ConfigError(f"{where}: revision must be a string", hint="revision = 'abc123'")
    down = values.get("down_revision")
    if down is None:
        downs: tuple[str, ...] = ()
    elif isinstance(down, str):
        downs = (down,)
    elif isinstance(down, list | tuple) and all(isinstance(d, str) for d in down):
        downs = tuple(down)
    else:
        raise ConfigError(
            f"{where}: down_revision must be a string, a tuple of strings or None",
            hint="down_revision = 'abc123' (or a tuple for a merge)",
        )
    return Revision(revision, downs, where)


def build_graph(revisions: Iterable[Revision]) -> Graph:
    found: dict[str, Revision] = {}
    for rev in revisions:
        if rev.revision in found:
            raise ConfigError(
                f"revision {rev.revision} is declared twice: {found[rev.revision].path} "
                f"and {rev.path}",
                hint="give one of them another revision id",
            )
        found[rev.revision] = rev
    for rev in found.values():
        for down in rev.down:
            if down not in found:
                raise ConfigError(
                    f"{rev.path}: down_revision {down} is no revision of this checkout",
                    hint="the file it builds on is missing: check out the branch that has it",
                )
    return Graph(found)


@dataclass(frozen=True)
class AlembicProject:
    config: Path
    script_location: Path
    version_locations: tuple[Path, ...]


def read_config(path: Path, shown: str) -> AlembicProject:
    """alembic.ini's script_location and version_locations (``%(here)s`` understood)."""
    parser = configparser.ConfigParser(defaults={"here": str(path.parent)})
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=shown)
        section = parser["alembic"]
        location = section.get("script_location")
        versions = section.get("version_locations")
    except (OSError, KeyError, configparser.Error) as exc:
        raise ConfigError(
            f"{shown}: cannot read Alembic's [alembic] section: {exc}",
            hint="point alembic_config at the project's alembic.ini",
        ) from None
    if not location:
        raise ConfigError(f"{shown}: [alembic] has no script_location", hint="set it")
    script = (path.parent / location).resolve()
    if versions:
        locations = tuple(
            (path.parent / v).resolve() for v in versions.replace(",", " ").split() if v
        )
    else:
        locations = (script / "versions",)
    return AlembicProject(path, script, locations)


def read_graph(project: AlembicProject) -> Graph:
    revisions = []
    for directory in project.version_locations:
        if not directory.is_dir():
            raise ConfigError(
                f"Alembic's versions directory {directory} does not exist",
                hint="check script_location in alembic.ini",
            )
        for path in sorted(directory.glob("*.py")):
            rev = parse_revision(path.read_text(encoding="utf-8"), str(path))
            if rev is not None:
                revisions.append(rev)
    return build_graph(revisions)
