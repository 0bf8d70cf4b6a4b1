"""The file locks that keep two runs apart (a reset, a parallel test run): taken at once, or
waited for while saying so, or refused at once with --no-wait."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import OperationFailed

if TYPE_CHECKING:
    from filelock import BaseFileLock


def acquire(
    path: Path,
    root: Path,
    *,
    wait: bool,
    busy: str | Callable[[], str],
    hint: str,
    waiting: str | Callable[[], str],
    say: Callable[[str], None],
) -> tuple[BaseFileLock, bool]:
    """The lock at ``path``, and whether another holder had to be waited for. Held by
    another: with ``wait``, say ``waiting`` and wait; without, raise ``busy`` (exit 1).
    Either message may be a function, asked only when the lock is held (who holds it)."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
        return lock, False
    except Timeout:
        if not wait:
            said = busy() if callable(busy) else busy
            raise OperationFailed(f"{said} (lock {path.relative_to(root)})", hint=hint) from None
    say(waiting() if callable(waiting) else waiting)
    lock.acquire()
    return lock, True


def is_held(path: Path) -> bool:
    """Whether another process holds the lock at ``path`` now."""
    from filelock import FileLock, Timeout

    if not path.exists():
        return False
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
