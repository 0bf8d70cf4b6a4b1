"""git: the checkout's branch and commit, recorded with a snapshot."""

from __future__ import annotations

import subprocess
from pathlib import Path


def head(root: Path) -> tuple[str | None, str | None]:
    """(branch, commit) of the checkout at ``root``; None for each that git cannot say."""

    def ask(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() or None if done.returncode == 0 else None

    branch = ask("rev-parse", "--abbrev-ref", "HEAD")
    return (None if branch == "HEAD" else branch), ask("rev-parse", "--short", "HEAD")
