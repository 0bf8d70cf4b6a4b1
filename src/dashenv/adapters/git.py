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


def main_worktree(root: Path) -> Path | None:
    """The main working tree of the repository ``root`` is a linked worktree of (None where
    ``root`` is itself the main one, or not in git)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "worktree", "list", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = next((ln for ln in done.stdout.splitlines() if ln.startswith("worktree ")), None)
    if done.returncode != 0 or first is None:
        return None
    main = Path(first.removeprefix("worktree ")).resolve()
    return None if main == root.resolve() else main
