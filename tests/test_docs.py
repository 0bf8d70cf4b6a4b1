"""Every command has help text and appears in the README; generated parts are current."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from dashenv.cli import app
from dashenv.docs import project_options_markdown, settings_markdown
from dashenv.errors import ExitCode
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    found = []

    def walk(group: Any, prefix: str) -> None:
        ctx = typer.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None, f"{prefix} {name} does not load"
            path = f"{prefix} {name}".strip()
            if hasattr(cmd, "list_commands"):
                walk(cmd, path)
            found.append((path, cmd))

    walk(root, "")
    return found


def test_lazy_index_summaries_are_the_docstrings() -> None:
    from dashenv.commands import COMMANDS

    for path, cmd in commands():
        if " " in path:
            continue
        first = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
        summary = COMMANDS[path].summary
        assert first.startswith(summary), f"{path}: {summary!r} vs {first!r}"


def test_the_root_value_options_are_the_tables() -> None:
    """The preload client skips the values of exactly the root options that take one."""
    from dashenv.commands import ROOT_VALUE_OPTIONS

    root = typer.main.get_command(app)
    taking = {p.name: tuple(p.opts) for p in root.params if not getattr(p, "is_flag", False)}
    assert taking == ROOT_VALUE_OPTIONS


def test_preloaded_commands_exist() -> None:
    """Every command the preload client may hand over is a command of the CLI."""
    from dashenv.commands import PRELOADED

    paths = {path for path, _ in commands()}
    for words in PRELOADED:
        assert " ".join(words) in paths, words


@pytest.mark.parametrize(("path", "cmd"), commands(), ids=[p for p, _ in commands()])
def test_command_has_help_and_is_in_readme(path: str, cmd: Any) -> None:
    assert (cmd.help or "").strip(), f"{path} has no help text"
    assert f"`dashenv {path}" in README, f"'dashenv {path}' is not in the README"


def test_settings_tables_are_generated() -> None:
    assert settings_markdown() in README, "regenerate with: python -m dashenv.docs"
    assert project_options_markdown() in README, "regenerate with: python -m dashenv.docs"


def test_ci_runs_the_readme_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    install, tests = blocks[0].strip(), blocks[1].strip()
    assert install.endswith("dashenv up dev")
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == tests


def test_exit_codes_documented() -> None:
    for code in ExitCode:
        if code is not ExitCode.INTERRUPTED:
            assert re.search(rf"^\| {int(code)} \| ", README, flags=re.M), code
