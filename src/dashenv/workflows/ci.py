"""dashenv ci run: the ci environment up, the test command in its app container, and the
environment always taken down with its volumes, after a failure or Ctrl-C too."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from dashenv.steps.test_command import require_test_role, run_tests
from dashenv.workflows import lifecycle, reset

if TYPE_CHECKING:
    from dashenv.context import RunContext
    from dashenv.steps.targets import Reporter


def ci_run(
    ctx: RunContext,
    name: str,
    args: list[str],
    *,
    build: bool = False,
    reporter: Reporter | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> int:
    require_test_role(ctx, name, "ci run")
    try:
        lifecycle.up(ctx, name, [], build=build, reporter=reporter)
        if reporter is not None:
            reporter.close()  # the test command's output follows
        if ctx.env(name, read_env=False).settings.test_runner == "host":
            # the app on the host (an infrastructure-only project): no app container migrates
            # the database, so the guarded reset does (on the host, by the project's
            # command), and the tests run there on the ports leased to the environment
            reset.reset(ctx, name, say=say)
        return run_tests(ctx, name, args)
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # teardown must finish
        try:
            say(f"Taking {name} down with its volumes")
            lifecycle.down(ctx, name, volumes=True, yes=True, ask=None)
        finally:
            signal.signal(signal.SIGINT, previous)
