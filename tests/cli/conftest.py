from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dashenv.cli import app
from dashenv.commands import hoist

Result = Any
Run = Callable[..., Result]


@pytest.fixture
def run(project: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Invoke dashenv in the throwaway project, 160 columns, no colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "160")
    for key in [
        k for k in __import__("os").environ if k.startswith("DASHENV_") and k != "DASHENV_STATE_DIR"
    ]:
        monkeypatch.delenv(key)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        argv = hoist(["-C", str(project), *args])  # as dashenv.cli.main reads its arguments
        return runner.invoke(app, argv, env=env, prog_name="dashenv")

    return invoke


def assert_usage_error(result, first_line: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {first_line}"
    assert lines[-1].startswith("Hint: ")
    assert "Traceback" not in result.stderr + result.stdout
