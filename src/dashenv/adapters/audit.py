"""The audit log: one JSON line per destructive action or refusal."""

from __future__ import annotations

import datetime
import getpass
import json
import os
from pathlib import Path
from typing import Any

from dashenv.settings.secrets import mask_url


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def record(
    path: Path,
    *,
    environment: str,
    action: str,
    target: str,
    guards: list[dict[str, Any]],
    outcome: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry = {
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "user": _user(),
        "environment": environment,
        "action": action,
        "target": mask_url(target),
        "guards": guards,
        "outcome": outcome,
        **(details or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return entry


def read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
