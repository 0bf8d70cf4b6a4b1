"""The preload server for benchmarks: start it and wait until it listens, and its pid."""

from __future__ import annotations

import subprocess
import sys
import time


def _status(environ: dict[str, str]) -> str:
    """``python -m dashenv.preload status``: '... (listening; pid N, served M)'."""
    return subprocess.run(
        [sys.executable, "-m", "dashenv.preload", "status"],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def server_pid(environ: dict[str, str]) -> int:
    return int(_status(environ).split("pid ", 1)[1].split(",", 1)[0])


def start_server(argv: list[str], environ: dict[str, str], project: str) -> None:
    """DASHENV_PRELOAD=1: the first command starts the server; wait until it listens."""
    subprocess.run(argv, env=environ, cwd=project, check=False, capture_output=True)  # starts it
    for _ in range(100):
        if "(listening" in _status(environ):
            return
        time.sleep(0.1)
    sys.exit("the preload server did not start")
