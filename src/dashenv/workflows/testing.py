"""The test workflow: setup (up + guarded reset), run (the test command), clean (down)."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dashenv.errors import ExitCode
from dashenv.workflows import lifecycle, reset
from dashenv.workflows.targets import target

if TYPE_CHECKING:
    from dashenv.context import RunContext
    from dashenv.workflows.lifecycle import UpResult
    from dashenv.workflows.reset import ResetResult
    from dashenv.workflows.targets import Reporter, Target


@dataclass
class SetupResult:
    up: UpResult
    reset: ResetResult


def setup(
    ctx: RunContext, name: str, reporter: Reporter | None = None, *, wait: bool = True
) -> SetupResult:
    """Start the test environment beside dev (dev untouched), wait, reset its database."""
    say = reporter.say if reporter else (lambda _m: None)
    lifecycle.ensure_env_file(ctx, name, say)
    reset.precheck(ctx, name)  # role, TESTING, database name: refused before anything starts
    up = lifecycle.up(ctx, name, [], reporter=reporter)
    result = reset.reset(ctx, name, wait=wait, say=say)
    return SetupResult(up, result)


def host_environment(ctx: RunContext, name: str) -> dict[str, str]:
    """What a test command run on the host needs: the URLs as seen from the host."""
    from urllib.parse import urlsplit, urlunsplit

    env = ctx.env(name)
    s = env.settings
    app = env.app
    values = {k: e.value for k, e in app.entries.items() if not k.startswith("DASHENV_")}
    if app.settings.DATABASE_URL and s.postgres_port:
        parts = urlsplit(app.settings.DATABASE_URL)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@{s.host}:{s.postgres_port}" if auth else f"{s.host}:{s.postgres_port}"
        values["DATABASE_URL"] = urlunsplit(parts._replace(netloc=netloc))
    if s.redis_port:
        values["REDIS_URL"] = f"redis://{s.host}:{s.redis_port}/{env.redis_index}"
    return values


def run_tests(ctx: RunContext, name: str, args: list[str], runner: str | None = None) -> int:
    """Run the configured test command, in the app container or on the host; its exit code."""
    import subprocess

    t = target(ctx, name)
    command = t.settings.test_command + ("" if not args else " " + shlex.join(args))
    if (runner or t.settings.test_runner) == "container":
        return _in_container(ctx, t, command, args)
    env = {**os.environ, **host_environment(ctx, name)}
    try:
        return subprocess.call(command, shell=True, env=env, cwd=t.env.project.root)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)


def _in_container(ctx: RunContext, t: Target, command: str, args: list[str]) -> int:
    """The test command in the app container. With pytest-xdist workers asked for (-n N),
    each gets a database and a Redis index of its own first, and the container is told
    (the contract, for the app's tests/conftest.py): DASHENV_WORKERS is the worker count,
    a worker's database is DATABASE_URL's with _<worker> appended (dashtam_test_gw0), and
    DASHENV_WORKER_REDIS_INDEXES maps each worker to its index (gw0:1,gw1:2)."""
    from dashenv.reset_plan import xdist_workers

    service = t.settings.app_service
    cpus = 0
    if any(a in ("auto", "logical") or a.endswith(("=auto", "=logical")) for a in args):
        code, out = t.docker.exec_capture(service, ["nproc"])
        cpus = int(out.strip()) if code == 0 and out.strip().isdigit() else 1
    count = xdist_workers(args, cpus)
    if count == 0:
        return t.docker.run_attached(
            t.docker.compose_argv("exec", "-T", service, "sh", "-c", command)
        )
    from dashenv.workflows.workers import finish, prepare, take_lock

    def say(message: str) -> None:
        sys.stderr.write(message + "\n")

    lock = take_lock(ctx, t.name, wait=True, say=say)
    try:
        workers = prepare(ctx, t.name, count, say)
        try:
            indexes = ",".join(
                f"{w.id}:{w.redis_index}" for w in workers.workers if w.redis_index is not None
            )
            contract = ["-e", f"DASHENV_WORKERS={count}", "-e",
                        f"DASHENV_WORKER_REDIS_INDEXES={indexes}"]  # fmt: skip
            argv = t.docker.compose_argv("exec", "-T", *contract, service, "sh", "-c", command)
            return t.docker.run_attached(argv)
        finally:
            finish(ctx, workers)
    finally:
        lock.release()


def clean(ctx: RunContext, name: str) -> list[str]:
    """Take the test environment down with its (tmpfs) data; dev is not touched."""
    require_test_role(ctx, name, "test clean")
    return lifecycle.down(ctx, name, volumes=True, yes=True, confirm=None)


def require_test_role(ctx: RunContext, name: str, what: str) -> None:
    """Commands that delete an environment's volumes without asking take test roles only."""
    from dashenv.errors import GuardRefused

    settings = ctx.env(name, read_env=False).settings
    if settings.protected or settings.role not in ("testing", "ci"):
        raise GuardRefused(
            f"'{what}' deletes {name}'s volumes, and {name} is not a test environment "
            f"(role {settings.role}{', protected' if settings.protected else ''})",
            hint=f"use 'dashenv down {name}' to stop it and keep its data",
        )
