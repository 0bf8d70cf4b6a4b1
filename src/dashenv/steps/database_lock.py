"""One lock per environment's database, for everything that creates, swaps or drops copies of
it: the reset, a restore, taking or deleting a snapshot; gc leaves a database alone while it
is held. Two such operations on one database never undo each other: the second waits for the
first (saying so), or with ``--no-wait`` fails at once with one line.

The lock is reentrant within a process (a restore takes an automatic snapshot under its own
lock), and it is the file the reset has always taken (``.dashenv/locks/reset-ENV.lock``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dashenv.plan.reset import lock_path

if TYPE_CHECKING:
    from dashenv.context import Environment

_HELD: dict[str, int] = {}  # lock file -> how deep this process holds it


@contextmanager
def database_lock(
    e: Environment,
    *,
    operation: str,
    wait: bool = True,
    say: Callable[[str], None] = lambda _m: None,
) -> Iterator[bool]:
    """Hold ``name``'s database lock for ``operation`` (reset, restore, snapshot); yields
    whether another holder had to be waited for, whom the messages name."""
    ctx, name = e.ctx, e.name
    from dashenv.adapters.locks import acquire

    root = ctx.project().root
    path = lock_path(root, name)
    key = str(path)
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield False
        finally:
            _HELD[key] -= 1
        return
    holder_file = path.with_suffix(".holder")  # what the current holder does, for the messages
    try:
        holder = holder_file.read_text().strip() or "operation"
    except OSError:
        holder = "operation"
    lock, waited = acquire(
        path,
        root,
        wait=wait,
        busy=f"another {holder} of {name} is running",
        hint="wait for it, or run without --no-wait to queue behind it",
        waiting=f"Waiting for another {holder} of {name} to finish...",
        say=say,
    )
    _HELD[key] = 1
    try:
        with contextlib.suppress(OSError):
            holder_file.write_text(operation)
        yield waited
    finally:
        _HELD.pop(key, None)
        lock.release()


def is_database_locked(e: Environment) -> bool:
    """Whether another process holds ``name``'s database lock now (gc leaves it alone)."""
    ctx, name = e.ctx, e.name
    from dashenv.adapters.locks import is_held

    return is_held(lock_path(ctx.project().root, name))
