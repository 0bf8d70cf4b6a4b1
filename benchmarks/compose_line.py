"""What the benchmarks share: the exact docker compose line dashenv runs for an environment
('dashenv config compose ENV -- ARGS'), split into its argv and its environment."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys


def compose_line(project: str, env: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The compose command for ENV with ARGS: argv (relative to the project) and the process
    environment with dashenv's interpolation variables set."""
    line = subprocess.run(
        [sys.executable, "-m", "dashenv", "-C", str(project), "config", "compose", env, "--",
         *args],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    words = shlex.split(line)
    environ = dict(os.environ)
    while words and "=" in words[0]:
        key, value = words.pop(0).split("=", 1)
        environ[key] = value
    return words, environ
