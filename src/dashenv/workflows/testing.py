"""The test workflow: setup (up + guarded reset), run (the test command), clean (down)."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dashenv.workflows import lifecycle, reset

if TYPE_CHECKING:
    from dashenv.cli.state import State
    from dashenv.workflows.lifecycle import Reporter, UpResult
    from dashenv.workflows.reset import ResetResult


@dataclass
class SetupResult:
    up: UpResult
    reset: ResetResult


def setup(
    st: State, name: str, reporter: Reporter | None = None, *, wait: bool = True
) -> SetupResult:
    """Start the test environment beside dev (dev untouched), wait, reset its database."""
    say = reporter.say if reporter else (lambda _m: None)
    lifecycle.ensure_env_file(st, name, say)
    reset.precheck(st, name)  # role, TESTING, database name: refused before anything starts
    up = lifecycle.up(st, name, [], reporter=reporter)
    result = reset.reset(st, name, wait=wait, say=say)
    return SetupResult(up, result)


def host_environment(st: State, name: str) -> dict[str, str]:
    """What a test command run on the host needs: the URLs as seen from the host."""
    from urllib.parse import urlsplit, urlunsplit

    from dashenv.settings.app import load_app_settings

    env = st.env(name)
    s = env.settings
    app = load_app_settings(env)
    values = {k: e.value for k, e in app.entries.items() if not k.startswith("DASHENV_")}
    if app.settings.DATABASE_URL and s.postgres_port:
        parts = urlsplit(app.settings.DATABASE_URL)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@{s.host}:{s.postgres_port}" if auth else f"{s.host}:{s.postgres_port}"
        values["DATABASE_URL"] = urlunsplit(parts._replace(netloc=netloc))
    if s.redis_port:
        index = app.redis_index()
        values["REDIS_URL"] = (
            f"redis://{s.host}:{s.redis_port}/{s.redis_index if index is None else index}"
        )
    return values


def run_tests(st: State, name: str, args: list[str], runner: str | None = None) -> int:
    """Run the configured test command, in the app container or on the host; its exit code."""
    import subprocess

    t = lifecycle.target(st, name)
    command = t.settings.test_command + ("" if not args else " " + shlex.join(args))
    if (runner or t.settings.test_runner) == "container":
        argv = t.docker.compose_command("exec", "-T", t.settings.app_service, "sh", "-c", command)
        return t.docker.run_attached(argv)
    env = {**os.environ, **host_environment(st, name)}
    try:
        return subprocess.call(command, shell=True, env=env, cwd=t.env.project.root)
    except KeyboardInterrupt:
        return 130


def clean(st: State, name: str) -> list[str]:
    """Take the test environment down with its (tmpfs) data; dev is not touched."""
    require_test_role(st, name, "test clean")
    return lifecycle.down(st, name, volumes=True, yes=True, confirm=None)


def require_test_role(st: State, name: str, what: str) -> None:
    """Commands that delete an environment's volumes without asking take test roles only."""
    from dashenv.errors import GuardRefused

    settings = lifecycle.settings_without_env_file(st, name)
    if settings.protected or settings.role not in ("testing", "ci"):
        raise GuardRefused(
            f"'{what}' deletes {name}'s volumes, and {name} is not a test environment "
            f"(role {settings.role}{', protected' if settings.protected else ''})",
            hint=f"use 'dashenv down {name}' to stop it and keep its data",
        )
