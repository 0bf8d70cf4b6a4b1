"""A call started in a thread of its own, its result asked for later: what overlaps with
waiting on a server (reading files while a connection is made, a connection made while the
engine is asked)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def started(fn: Callable[[], R]) -> Callable[[], R]:
    """``fn()`` started in a daemon thread; the returned call waits for its result (or
    raises its error). Never asked for, it is left to end on its own: the process does not
    wait for it at exit."""
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # raised where the result is asked for
            out["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def result() -> R:
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["value"]  # type: ignore[no-any-return]

    return result
