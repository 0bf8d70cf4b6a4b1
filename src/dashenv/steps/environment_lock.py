"""One command per environment at a time: ``up``, ``down``, ``restart``, ``build``, ``test
setup``, ``test run`` (for the whole run, so its database is never reset under its running
tests), ``ci run`` and the reset hold their environment's lock, so commands started together
wait their turn and then see the state the first one left. Read-only commands (``status``,
``ps``, ``logs``, ``url``) never take it.

The lock is per compose project and engine, machine-wide (in dashenv's state directory,
beside the instance registry), so two checkouts driving one project wait for each other too.
Locks are always taken in one order: the environment's before its database's
(``steps.database_lock``). A lock is a kernel file lock: one held by a process that died is
free again. Waiting says so on stderr, naming what holds it and its pid, and Ctrl-C ends the
wait (exit 130).

It is reentrant within a process (``test setup`` holds it and starts ``up``, which asks for it
again), and a process started under a holder (the test command of a ``test run``, a pytest
with ``--dashenv`` among its options) is let through: the holder's lock paths are handed down
in ``DASHENV_HELD_LOCKS``."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashenv.context import Environment

HOLDER_WRITES = 0.1  # seconds a new holder takes, at most, to write down what it is
HELD = "DASHENV_HELD_LOCKS"  # the lock paths this process's ancestors hold, os.pathsep apart
_DEPTH: dict[str, int] = {}  # lock file -> how deep this process holds it


def lock_file(project: str, engine: str | None) -> Path:
    """The lock of compose project ``project`` on ``engine`` (a Docker context or
    ``DOCKER_HOST``; None: the default one)."""
    from dashenv.adapters.registry import state_dir

    where = hashlib.sha256((engine or "default").encode()).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", project)
    return state_dir() / "locks" / f"{safe}-{where}.lock"


def _inherited(path: Path) -> bool:
    return str(path) in os.environ.get(HELD, "").split(os.pathsep)


@contextmanager
def environment_lock(
    t: Environment,
    operation: str,
    *,
    wait: bool = True,
    say: Callable[[str], None] = lambda _m: None,
) -> Iterator[None]:
    """Hold ``t``'s environment (its compose project on its engine) for ``operation``
    (``up``, ``test run``...): at once, or after waiting for the holder (saying so), or, with
    ``wait`` false, refused at once (exit 1)."""
    from dashenv.adapters.locks import acquire

    name = t.name
    engine = t.context or os.environ.get("DOCKER_HOST") or None
    path = lock_file(t.bare.settings.project_name, engine)
    key = str(path)
    if _DEPTH.get(key) or _inherited(path):
        _DEPTH[key] = _DEPTH.get(key, 0) + 1
        try:
            yield
        finally:
            _DEPTH[key] -= 1
        return
    holder_file = path.with_suffix(".holder")

    def holder() -> str:
        """What holds the lock, as it wrote down right after taking it."""
        time.sleep(HOLDER_WRITES)
        try:
            return holder_file.read_text().strip() or "dashenv command"
        except OSError:
            return "dashenv command"

    lock, _waited = acquire(
        path,
        path.parent,
        wait=wait,
        busy=lambda: f"another {holder()} is running on {name}",
        hint="wait for it, or run without --no-wait to queue behind it",
        waiting=lambda: f"waiting for another {holder()} on {name}...",
        say=say,
    )
    _DEPTH[key] = 1
    before = os.environ.get(HELD)
    os.environ[HELD] = os.pathsep.join(p for p in (before, key) if p)
    try:
        with contextlib.suppress(OSError):
            holder_file.write_text(f"dashenv {operation} (pid {os.getpid()})")
        yield
    finally:
        _DEPTH.pop(key, None)
        if before is None:
            os.environ.pop(HELD, None)
        else:
            os.environ[HELD] = before
        lock.release()
