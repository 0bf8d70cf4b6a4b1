"""Alembic's revision graph, read from the files without importing them: linear, branched,
merged and broken graphs, and where a database stands against them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashenv.errors import ConfigError
from dashenv.plan.migrations import (
    Revision,
    build_graph,
    database_state,
    parse_revision,
    read_config,
    read_graph,
)
from tests.conftest import REPO


def graph(*edges: tuple[str, tuple[str, ...]]):
    return build_graph(Revision(r, down, f"{r}.py") for r, down in edges)


LINEAR = graph(("a", ()), ("b", ("a",)), ("c", ("b",)))
BRANCHED = graph(("a", ()), ("b", ("a",)), ("c", ("a",)))
MERGED = graph(("a", ()), ("b", ("a",)), ("c", ("a",)), ("m", ("b", "c")), ("d", ("m",)))


def test_parses_the_shipped_revisions_without_importing_them() -> None:
    project = read_config(REPO / "compose" / "app" / "alembic.ini", "alembic.ini")
    assert project.script_location == (REPO / "compose" / "app" / "alembic").resolve()
    shipped = read_graph(project)
    assert list(shipped.revisions) == ["0001", "0002", "0003"]
    assert shipped.heads == ("0003",)


def test_both_assignment_styles_and_tuples() -> None:
    text = 'import app.models  # not imported\nrevision: str = "x1"\ndown_revision = ("a", "b")\n'
    assert parse_revision(text, "x1.py") == Revision("x1", ("a", "b"), "x1.py")
    assert parse_revision('revision = "r"\ndown_revision = None\n', "r.py") == Revision(
        "r", (), "r.py"
    )
    assert parse_revision("def upgrade():\n    pass\n", "helpers.py") is None


def test_linear() -> None:
    assert LINEAR.heads == ("c",)
    assert database_state(LINEAR, ("c",)).state == "latest"
    behind = database_state(LINEAR, ("a",))
    assert behind.state == "behind" and behind.pending == ("b", "c")
    assert (behind.applied, behind.available) == (1, 3)
    never = database_state(LINEAR, None)  # no alembic_version: at base
    assert never.state == "behind" and never.pending == ("a", "b", "c")


def test_branched_has_multiple_heads() -> None:
    assert set(BRANCHED.heads) == {"b", "c"}
    assert database_state(BRANCHED, ("b",)).state == "multiple_heads"


def test_merged_graph_orders_pending_oldest_first() -> None:
    assert MERGED.heads == ("d",)
    state = database_state(MERGED, ("b",))
    assert state.state == "behind"
    assert state.pending.index("c") < state.pending.index("m") < state.pending.index("d")
    assert set(state.pending) == {"c", "m", "d"}
    assert database_state(MERGED, ("d",)).state == "latest"


def test_ahead_is_a_revision_this_checkout_lacks() -> None:
    state = database_state(LINEAR, ("zz9",))
    assert state.state == "ahead" and state.unknown_revisions == ("zz9",)
    assert state.as_dict()["applied"] is None


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ((("a", ()), ("b", ("gone",))), "b.py: down_revision gone is no revision of this checkout"),
        ((("a", ()), ("a", ())), "revision a is declared twice: a.py and a.py"),
    ],
)
def test_broken_graphs_are_clear_errors(edges, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        graph(*edges)
    assert err.value.message == message and err.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("revision = 'a'\ndown_revision = 3\n", "bad.py: down_revision must be a string"),
        ("revision = make()\n", "bad.py: revision is not a literal"),
        ("revision = (\n", "bad.py:1: not valid Python"),
    ],
)
def test_broken_files_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_revision(text, "bad.py")
    assert err.value.message.startswith(message)


def test_alembic_ini_with_version_locations(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "v1").mkdir(parents=True)
    (tmp_path / "migrations" / "v1" / "r1.py").write_text("revision = 'r1'\ndown_revision = None\n")
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = migrations\nversion_locations = %(here)s/migrations/v1\n"
    )
    project = read_config(tmp_path / "alembic.ini", "alembic.ini")
    assert read_graph(project).heads == ("r1",)
    (tmp_path / "alembic.ini").write_text("[other]\n")
    with pytest.raises(ConfigError):
        read_config(tmp_path / "alembic.ini", "alembic.ini")
