"""The test workflow: setup (up + guarded reset), run (the test command), clean (down)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dashenv.steps.resetting import precheck
from dashenv.steps.test_command import require_test_role
from dashenv.steps.test_command import run_tests as run_tests
from dashenv.workflows import lifecycle, reset

if TYPE_CHECKING:
    from dashenv.context import RunContext
    from dashenv.steps.targets import Reporter
    from dashenv.workflows.lifecycle import UpResult
    from dashenv.workflows.reset import ResetResult


@dataclass
class SetupResult:
    up: UpResult
    reset: ResetResult


def setup(
    ctx: RunContext, name: str, reporter: Reporter | None = None, *, wait: bool = True
) -> SetupResult:
    """Start the test environment beside dev (dev untouched), wait, reset its database."""
    from dashenv.steps.environment_lock import environment_lock

    say = reporter.say if reporter else (lambda _m: None)
    lifecycle.ensure_env_file(ctx, name, say)
    precheck(ctx, name)  # role, TESTING, database name: refused before anything starts
    with environment_lock(ctx, name, f"test setup {name}", wait=wait, say=say):
        up = lifecycle.up(ctx, name, [], reporter=reporter)
        result = reset.reset(ctx, name, wait=wait, say=say)
    return SetupResult(up, result)


def clean(ctx: RunContext, name: str) -> list[str]:
    """Take the test environment down with its (tmpfs) data; dev is not touched."""
    require_test_role(ctx, name, "test clean")
    return lifecycle.down(ctx, name, volumes=True, yes=True, ask=None)
