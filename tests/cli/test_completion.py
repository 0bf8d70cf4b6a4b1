"""Shell completion (Typer's), with environment and service names from the configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def complete(project: Path, words: str) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {
        **os.environ,
        "_DASHENV_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    result = subprocess.run(
        [sys.executable, "-m", "dashenv"], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_environment_names(project: Path) -> None:
    (project / "dashenv.toml").write_text(
        "[environments.staging]\ncompose_files = ['a.yml']\nenv_file = 'x'\nproject_name = 's'\n"
    )
    assert complete(project, "dashenv up ") == ["dev", "test", "ci", "staging"]
    assert complete(project, "dashenv status st") == ["staging"]
    assert complete(project, "dashenv test setup --env t") == ["test"]


def test_service_names(project: Path) -> None:
    # the services the compose files declare, whatever the role settings say
    (project / "dashenv.toml").write_text("[environments.test]\napp_service = 'web'\n")
    assert complete(project, "dashenv exec test ") == ["app", "callback", "postgres", "redis"]
    assert complete(project, "dashenv logs dev p") == ["postgres"]


def test_outside_a_project_completes_nothing(tmp_path: Path) -> None:
    assert complete(tmp_path, "dashenv up ") == []
