"""Each pytest-xdist worker pointed at its own database and Redis index before the app's
conftest reads its settings: the pytest plugin dashenv gives a parallel test command.

dashenv copies this file where the test command runs (the app container, or a directory
of its own on the host), puts it on PYTHONPATH and names it in PYTEST_PLUGINS; pytest imports
it before any conftest. It imports nothing of dashenv (the app's own Python runs it), and does
nothing but in a worker of a run dashenv prepared: ``DASHENV_WORKER_SETTINGS`` holds which of
the app's variables name the database (as a URL, or the name alone) and Redis (as a URL), and
each worker's database and Redis index. The app reads its settings as it always does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

VARIABLE = "DASHENV_WORKER_SETTINGS"


def worker_environment(environ: Mapping[str, str], worker: str) -> dict[str, str] | None:
    """The variables to change for ``worker``: {} outside a prepared run, None for a worker
    the run prepared nothing for."""
    text = environ.get(VARIABLE)
    if not text:
        return {}
    spec: dict[str, Any] = json.loads(text)
    mine = spec.get("workers", {}).get(worker)
    if mine is None:
        return None
    changed = {"DASHENV_WORKER_DATABASE": mine["database"]}  # says it was done
    for key in spec.get("name", []):
        if key in environ:
            changed[key] = mine["database"]
    for key in spec.get("url", []):
        if environ.get(key):
            parts = urlsplit(environ[key])
            changed[key] = urlunsplit(parts._replace(path="/" + mine["database"]))
    if mine.get("redis_index") is not None:
        for key in spec.get("redis_url", []):
            if environ.get(key):
                parts = urlsplit(environ[key])
                changed[key] = urlunsplit(parts._replace(path=f"/{mine['redis_index']}"))
    return changed


_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_CHANGED = worker_environment(os.environ, _WORKER) if _WORKER else {}
if _CHANGED:
    os.environ.update(_CHANGED)


def pytest_configure(config: Any) -> None:
    if _CHANGED is None:
        import pytest

        pytest.exit(
            f"worker {_WORKER} has no database of its own: dashenv prepared fewer workers "
            "than pytest started (give -n on the command line: dashenv test run ENV -- -n N)",
            returncode=3,
        )
