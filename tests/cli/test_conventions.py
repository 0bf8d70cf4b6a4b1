"""The CLI as people who live in docker compose, gh and uv expect it: help pages without
Python types, each ending with examples; a mistyped command answered with the nearest ones;
Compose's own option names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer

from dashenv.cli import app
from dashenv.commands import EXAMPLES
from tests.cli.conftest import Run, assert_usage_error

GROUPS = {"test", "db", "ci", "config", "preload", "env"}


def commands() -> Iterator[list[str]]:
    root = typer.main.get_command(app)

    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name in command.list_commands(None) if hasattr(command, "list_commands") else []:
            sub = command.get_command(None, name)
            if sub is not None:
                yield from walk(sub, [*path, name])

    return walk(root, [])


def test_no_help_page_shows_a_python_type_and_every_command_ends_with_examples(
    run: Run,
) -> None:
    seen = []
    for path in commands():
        out = run(*path, "--help").stdout
        assert not re.search(r"<(str|int|float|bool|list|path)[^>]*>", out), (path, out)
        assert not re.search(r"\{[A-Z]+\}", out), (path, out)  # {ENV}: braces, not ENV
        if path and not (len(path) == 1 and path[0] in GROUPS):
            seen.append(" ".join(path))
            examples = out.rstrip().split("Examples:\n", 1)
            assert len(examples) == 2, (path, out)
            assert all(ln.strip().startswith("dashenv ") or "dashenv " in ln
                       for ln in examples[1].splitlines())  # fmt: skip
    assert sorted(seen) == sorted(EXAMPLES)  # no table entry for a command that is gone


def test_help_shows_metavars_as_users_expect(run: Run) -> None:
    up = run("up", "--help").stdout
    assert up.startswith("Usage: dashenv up [OPTIONS] ENV [SERVICE]...\n")
    assert "--wait-timeout, --timeout SECONDS" in up
    assert re.search(r"^  SERVICE\.\.\.\s+Services", up, re.M)
    assert "--strategy template|migrate" in run("db", "reset", "--help").stdout


def test_a_mistyped_command_suggests_the_nearest(run: Run) -> None:
    result = run("dcotor")
    assert_usage_error(result, "No such command 'dcotor'. Did you mean 'doctor'?")
    assert result.stderr.splitlines()[-1] == "Hint: see 'dashenv -h'"
    assert_usage_error(run("db", "rest", "test"),
                       "No such command 'rest'. Did you mean 'reset', 'restore'?")  # fmt: skip
    assert_usage_error(run("xyzzy"), "No such command 'xyzzy'.")


def test_up_takes_composes_wait_timeout_and_keeps_timeout(run: Run) -> None:
    for option in ("--wait-timeout", "--timeout"):
        result = run("up", "dev", option, "0")
        assert_usage_error(
            result,
            "Invalid value for '--wait-timeout' / '--timeout': Input should be greater than or "
            "equal to 1",
        )


def test_quiet_prints_errors_only_before_or_after_the_command(run: Run) -> None:
    for argv in (("-q", "envs"), ("envs", "-q"), ("envs", "--quiet")):
        result = run(*argv)
        assert (result.exit_code, result.stdout, result.stderr) == (0, "", ""), argv
    failed = run("url", "test", "-q")
    assert failed.exit_code == 1 and failed.stdout == ""
    assert failed.stderr.startswith("Error: test has no app URL")


def test_verbose_after_the_command_and_downs_v_stays_an_error(run: Run) -> None:
    assert run("envs", "-v").exit_code == 0
    down = run("down", "test", "-v")
    assert_usage_error(down, "No such option: -v")
    assert "--volumes" in down.stderr.splitlines()[-1]


def test_hoisting_moves_root_flags_only_where_they_are_dashenvs() -> None:
    from dashenv.commands import hoist

    assert hoist(["status", "dev", "-q"]) == ["-q", "status", "dev"]
    assert hoist(["-C", "x", "db", "reset", "test", "-v", "--yes"]) == [
        "-C", "x", "-v", "db", "reset", "test", "--yes",
    ]  # fmt: skip
    assert hoist(["test", "run", "--", "-v", "-q"]) == ["test", "run", "--", "-v", "-q"]
    assert hoist(["psql", "dev", "-v", "ON_ERROR_STOP=1"]) == [
        "psql",
        "dev",
        "-v",
        "ON_ERROR_STOP=1",
    ]
    assert hoist(["exec", "dev", "app", "--", "ls", "-q"]) == [
        "exec",
        "dev",
        "app",
        "--",
        "ls",
        "-q",
    ]
    assert hoist(["down", "test", "-v"]) == ["down", "test", "-v"]  # an error naming --volumes
    assert hoist(["down", "test", "-q"]) == ["-q", "down", "test"]
    assert hoist([]) == [] and hoist(["--version"]) == ["--version"]


def test_ctrl_c_a_library_turned_into_its_own_error_is_still_an_interrupt() -> None:
    from pydantic_core import SchemaError

    from dashenv.cli import _interrupted

    swallowed = SchemaError(
        'Error building "model" validator:\n  SchemaError: Error building "literal" '
        "validator:\n  KeyboardInterrupt: "
    )
    assert _interrupted(swallowed)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as exc:
        assert _interrupted(exc)
    assert not _interrupted(SchemaError("Field 'x': invalid"))
    assert not _interrupted(ValueError("plain"))
