"""The test command, run in the app container or on the host; with pytest-xdist workers, a
database and a Redis index of their own each (``test run``, ``ci run``)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from dashenv.errors import ExitCode
from dashenv.guards import RESET_ROLES
from dashenv.steps.targets import host_dir, host_environment, target

if TYPE_CHECKING:
    from dashenv.context import RunContext
    from dashenv.steps.targets import Target


def run_tests(
    ctx: RunContext, name: str, args: list[str], runner: str | None = None, *, wait: bool = True
) -> int:
    """Run the configured test command, in the app container or on the host; its exit code.
    ``wait`` false: fail at once when another parallel run holds the worker databases."""
    import subprocess

    t = target(ctx, name)
    command = t.settings.test_command + ("" if not args else " " + shlex.join(args))
    if (runner or t.settings.test_runner) == "container":
        return _in_container(ctx, t, command, wait=wait)
    env = {**os.environ, **host_environment(ctx, name)}
    try:
        return subprocess.call(command, shell=True, env=env, cwd=host_dir(t.env))
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)


# Run in the app container when the worker count is not explicit on the command line: what
# pytest would read there (its configuration files from the working directory up, with
# PYTEST_ADDOPTS) and how many CPUs pytest-xdist's "auto" would count.
PYTEST_PROBE = """
import json, os, pathlib
names = ["pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"]
here = pathlib.Path.cwd()
dirs = [[(n, (p / n).read_text(errors="replace")) for n in names if (p / n).is_file()]
        for p in [here, *here.parents]]
try:
    cpus = len(os.sched_getaffinity(0))
except Exception:
    cpus = os.cpu_count() or 1
cpus = int(os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or cpus)
print(json.dumps({"cpus": cpus, "addopts": os.environ.get("PYTEST_ADDOPTS", ""), "dirs": dirs}))
"""


def worker_count(t: Target, command: str, say: Callable[[str], None]) -> int:
    """The pytest-xdist workers the test command starts in the app container, counted as
    pytest-xdist does: addopts of the project's pytest configuration, then PYTEST_ADDOPTS,
    then the command line (the last -n wins); auto and logical are the container's CPUs."""
    import json

    from dashenv.plan.reset import numprocesses, pytest_addopts, xdist_workers

    words = shlex.split(command)
    value = numprocesses(words)
    if value is not None and value.isdigit():
        return int(value)  # a number on the command line decides; nothing to ask
    code, out = t.docker.exec_capture(t.settings.app_service, ["python", "-c", PYTEST_PROBE])
    try:
        found = json.loads(out.strip().splitlines()[-1]) if code == 0 else None
    except (ValueError, IndexError):
        found = None
    if not isinstance(found, dict):
        say(
            f"note: could not read pytest's configuration in {t.settings.app_service} "
            "(no python there?); counting xdist workers from the command line only"
        )
        return xdist_workers(words, 1)
    dirs = [[(n, text) for n, text in d] for d in found["dirs"]]
    args = [*pytest_addopts(dirs), *shlex.split(found["addopts"]), *words]
    return xdist_workers(args, int(found["cpus"]))


def _in_container(ctx: RunContext, t: Target, command: str, *, wait: bool = True) -> int:
    """The test command in the app container. With pytest-xdist workers (-n N, from the
    command line or the pytest configuration), each gets a database and a Redis index of its
    own first, and the container is told (the contract, for the app's tests/conftest.py):
    DASHENV_WORKERS is the worker count, a worker's database is DATABASE_URL's with
    _<worker> appended (dashtam_test_gw0), and DASHENV_WORKER_REDIS_INDEXES maps each worker
    to its index (gw0:1,gw1:2). An environment that publishes no PostgreSQL port (ci) gets
    them made inside its network."""

    def say(message: str) -> None:
        sys.stderr.write(message + "\n")

    service = t.settings.app_service
    count = worker_count(t, command, say)
    if count == 0:
        return t.docker.run_attached(
            t.docker.compose_argv("exec", "-T", service, "sh", "-c", command)
        )
    from dashenv.steps.workers import WorkerRun

    with WorkerRun(ctx, t.name, count, wait=wait, say=say) as run:
        workers = run.prepare()
        indexes = ",".join(
            f"{w.id}:{w.redis_index}" for w in workers.workers if w.redis_index is not None
        )
        contract = ["-e", f"DASHENV_WORKERS={count}", "-e",
                    f"DASHENV_WORKER_REDIS_INDEXES={indexes}"]  # fmt: skip
        argv = t.docker.compose_argv("exec", "-T", *contract, service, "sh", "-c", command)
        return t.docker.run_attached(argv)


def require_test_role(ctx: RunContext, name: str, what: str) -> None:
    """Commands that delete an environment's volumes without asking take test roles only."""
    from dashenv.errors import GuardRefused

    settings = ctx.env(name, read_env=False).settings
    if settings.protected or settings.role not in RESET_ROLES:
        raise GuardRefused(
            f"'{what}' deletes {name}'s volumes, and {name} is not a test environment "
            f"(role {settings.role}{', protected' if settings.protected else ''})",
            hint=f"use 'dashenv down {name}' to stop it and keep its data",
        )
