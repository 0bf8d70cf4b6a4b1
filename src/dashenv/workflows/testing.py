"""The test workflow: setup (up + guarded reset), run (the test command), clean (down)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dashenv.steps.resetting import precheck
from dashenv.steps.test_command import require_test_role
from dashenv.steps.test_command import run_tests as run_tests
from dashenv.workflows import lifecycle, reset

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.steps.targets import Reporter
    from dashenv.workflows.lifecycle import UpResult
    from dashenv.workflows.reset import ResetResult


@dataclass
class SetupResult:
    up: UpResult
    reset: ResetResult
    environment: Environment = field(repr=False, compare=False)  # as the setup left it


def setup(e: Environment, reporter: Reporter | None = None, *, wait: bool = True) -> SetupResult:
    """Start the test environment beside dev (dev untouched), wait, reset its database."""
    from dashenv.steps.environment_lock import environment_lock

    say = reporter.say if reporter else (lambda _m: None)
    e = lifecycle.ensure_env_file(e, say)
    precheck(e)  # role, TESTING, database name: refused before anything starts
    with environment_lock(e, f"test setup {e.name}", wait=wait, say=say):
        up = lifecycle.up(e, [], reporter=reporter)
        e = up.environment or e  # with the ports its start leased
        result = reset.reset(e, wait=wait, say=say)
    return SetupResult(up, result, e)


def clean(e: Environment) -> list[str]:
    """Take the test environment down with its (tmpfs) data; dev is not touched."""
    require_test_role(e, "test clean")
    return lifecycle.down(e.leniently(), volumes=True, yes=True, ask=None)
