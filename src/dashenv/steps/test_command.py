"""The test command, run in the app container or on the host; with pytest-xdist workers, a
database and a Redis index of their own each (``test run``, ``ci run``)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.adapters.host import say_on_stderr
from dashenv.errors import ExitCode
from dashenv.guards import RESET_ROLES
from dashenv.steps.targets import host_dir, host_environment

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.facts import Running
    from dashenv.steps.workers import WorkerSet


def run_tests(
    e: Environment, args: list[str], runner: str | None = None, *, wait: bool = True
) -> int:
    """Run the configured test command, in the app container or on the host; its exit code.
    ``wait`` false: fail at once when another parallel run holds the worker databases."""
    command = e.settings.test_command + ("" if not args else " " + shlex.join(args))
    if (runner or e.settings.test_runner) == "container":
        return _in_container(e, command, wait=wait)
    return _on_host(e, command, wait=wait)


def _on_host(t: Environment, command: str, *, wait: bool) -> int:
    """The test command on the host, with the environment's connection settings under the
    app's own names; with pytest-xdist workers (-n N on the command line, or in the pytest
    configuration of the app's directory), each pointed at a database of its own."""
    import subprocess

    from dashenv.steps.isolation import check_host
    from dashenv.steps.workers import WorkerRun

    env = {**os.environ, **host_environment(t)}
    check_host(t, env, "the tests")
    cwd = host_dir(t.env)
    count = _host_worker_count(command, cwd)
    run = WorkerRun(t, count, wait=wait, say=say_on_stderr) if count else None
    try:
        db = t.env.app.database()
        if run is not None:
            run.take_lock()
            workers = run.prepare()
            env["DASHENV_WORKERS"] = str(count)
            if db is not None:
                plugin_dir = t.ctx.project().root / ".dashenv" / "cache" / "xdist"
                plugin_dir.mkdir(parents=True, exist_ok=True)
                (plugin_dir / f"{WORKER_PLUGIN}.py").write_text(_plugin_source())
                hosts = {t.settings.host, "localhost", "127.0.0.1"}
                env.update(_contract(env, db.database, hosts, workers))
                env["PYTHONPATH"] = os.pathsep.join(
                    p for p in (str(plugin_dir), env.get("PYTHONPATH")) if p
                )
                env["PYTEST_PLUGINS"] = ",".join(
                    p for p in (WORKER_PLUGIN, env.get("PYTEST_PLUGINS")) if p
                )
        return subprocess.call(command, shell=True, env=env, cwd=cwd)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    finally:
        if run is not None:
            run.finish()


# the plugin module's name where dashenv copies dashenv/xdist_worker.py for a parallel run
WORKER_PLUGIN = "dashenv_xdist_worker"
CONTAINER_PLUGIN_DIR = "/tmp/dashenv-xdist"


def _plugin_source() -> str:
    from pathlib import Path

    import dashenv.xdist_worker

    return Path(dashenv.xdist_worker.__file__).read_text()


def _contract(
    environment: dict[str, str], database: str, hosts: set[str], workers: WorkerSet
) -> dict[str, str]:
    """The variables that tell a parallel run's workers where their databases are: the
    count and Redis indexes (the 0.2 conftest contract) and DASHENV_WORKER_SETTINGS, which
    dashenv's worker plugin applies to the app's own variables."""
    import json

    from dashenv.plan.derive import worker_settings
    from dashenv.xdist_worker import VARIABLE

    spec = worker_settings(
        environment, database, hosts,
        [(w.id, w.database, w.redis_index) for w in workers.workers],
    )  # fmt: skip
    indexes = ",".join(
        f"{w.id}:{w.redis_index}" for w in workers.workers if w.redis_index is not None
    )
    return {
        "DASHENV_WORKERS": str(len(workers.workers)),
        "DASHENV_WORKER_REDIS_INDEXES": indexes,
        VARIABLE: json.dumps(spec, separators=(",", ":")),
    }


def _host_worker_count(command: str, cwd: object) -> int:
    """The pytest-xdist workers a test command on the host starts: -n on the command line,
    else what pytest's configuration in the app's directory (and PYTEST_ADDOPTS) says."""

    from dashenv.plan.reset import numprocesses, pytest_addopts, xdist_workers

    words = shlex.split(command)
    value = numprocesses(words)
    if value is not None and value.isdigit():
        return int(value)
    from dashenv.pytest_facts import pytest_facts

    try:  # in this process: the host is where it runs (no interpreter started to ask)
        found = pytest_facts(Path(str(cwd)))
    except OSError:
        return xdist_workers(words, os.cpu_count() or 1)
    dirs = [[(n, text) for n, text in d] for d in found["dirs"]]
    args = [*pytest_addopts(dirs), *shlex.split(found["addopts"]), *words]
    return xdist_workers(args, int(found["cpus"]))


def pytest_probe() -> str:
    """Run in the app container when the worker count is not explicit on the command line:
    ``dashenv.pytest_facts`` as it is, which the host calls in this process."""
    from dashenv import pytest_facts

    return Path(pytest_facts.__file__).read_text()


def _build_context(t: Environment) -> Path | None:
    """The app's build context on the host, where the app is built from the project's files."""
    app = t.compose_model().services.get(t.settings.app_service)
    context = Path(app.build_context) if app is not None and app.build_context else None
    return context if context is not None and context.is_dir() else None


def _config_on_host(t: Environment) -> tuple[list[tuple[str, str]], str] | None:
    """pytest's configuration files as the app container has them, read on the host: those
    of the app's build context (the image's working directory is its copy; pytest starts
    there and the image holds nothing above it), with the PYTEST_ADDOPTS the container gets;
    None where the app is not built from the project's files (the probe asks the container)."""
    from dashenv.plan.reset import PYTEST_CONFIG_FILES

    context = _build_context(t)
    if context is None:
        return None
    app = t.compose_model().services[t.settings.app_service]
    found = []
    for name, _ in PYTEST_CONFIG_FILES:
        path = context / name
        if path.is_file():
            found.append((name, path.read_text(errors="replace")))
    if not found:  # pytest is configured elsewhere in the image, if at all: ask there
        return None
    return found, app.environment.get("PYTEST_ADDOPTS", "")


def _probe(t: Environment, app: Running | None) -> dict[str, Any] | None:
    """What ``pytest_probe`` finds in the app container, kept for that very container (its id and
    creation) and the configuration files under its build context as they are now: a container
    is asked once, not on every run."""
    import json

    from dashenv.plan.reset import PYTEST_CONFIG_FILES

    service = t.settings.app_service
    context = _build_context(t)
    stamps = sorted(
        f"{p}:{p.stat().st_mtime_ns}"
        for name, _ in PYTEST_CONFIG_FILES
        for pattern in (name, f"*/{name}")
        for p in (context.glob(pattern) if context is not None else [])
    )
    key = json.dumps([app.id if app else None, app.created if app else None, stamps])
    cache = t.env.path(f".dashenv/cache/pytest-{t.name}.json")
    try:
        kept = json.loads(cache.read_text())
        if app is not None and kept.get("key") == key:
            return dict(kept["found"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    code, out = t.docker.exec_capture(service, ["python", "-c", pytest_probe()])
    try:
        found = json.loads(out.strip().splitlines()[-1]) if code == 0 else None
    except (ValueError, IndexError):
        return None
    if isinstance(found, dict) and app is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"key": key, "found": found}))
        except OSError:
            pass  # a read-only checkout: asked each time
    return found if isinstance(found, dict) else None


def worker_count(
    t: Environment, command: str, say: Callable[[str], None], app: Running | None
) -> int:
    """The pytest-xdist workers the test command starts in the app container, counted as
    pytest-xdist does: addopts of the project's pytest configuration, then PYTEST_ADDOPTS,
    then the command line (the last -n wins); auto and logical are the container's CPUs."""
    from dashenv.plan.reset import numprocesses, pytest_addopts, xdist_workers

    words = shlex.split(command)
    value = numprocesses(words)
    if value is not None and value.isdigit():
        return int(value)  # a number on the command line decides; nothing to ask
    seen = _config_on_host(t)
    if seen is not None:  # the image's copy of the build context, read here: no exec
        args = [*pytest_addopts([seen[0]]), *shlex.split(seen[1]), *words]
        if numprocesses(args) not in ("auto", "logical"):
            return xdist_workers(args, 1)
    found = _probe(t, app)
    if not isinstance(found, dict):
        say(
            f"note: could not read pytest's configuration in {t.settings.app_service} "
            "(no python there?); counting xdist workers from the command line only"
        )
        return xdist_workers(words, 1)
    dirs = [[(n, text) for n, text in d] for d in found["dirs"]]
    args = [*pytest_addopts(dirs), *shlex.split(found["addopts"]), *words]
    return xdist_workers(args, int(found["cpus"]))


def _in_container(t: Environment, command: str, *, wait: bool = True) -> int:
    """The test command in the app container. With pytest-xdist workers (-n N, from the
    command line or the pytest configuration), each gets a database and a Redis index of its
    own first, and the container is told (the contract, for the app's tests/conftest.py):
    DASHENV_WORKERS is the worker count, a worker's database is DATABASE_URL's with
    _<worker> appended (dashtam_test_gw0), and DASHENV_WORKER_REDIS_INDEXES maps each worker
    to its index (gw0:1,gw1:2). An environment that publishes no PostgreSQL port (ci) gets
    them made inside its network."""

    from dashenv.steps.isolation import check_container

    service = t.settings.app_service
    check_container(t, service, {}, "the tests")
    # the app's running container, listed once: the key of what the probe found, and where
    # the tests run
    app = t.docker.running().get(service)
    count = worker_count(t, command, say_on_stderr, app)
    if count == 0:
        return t.docker.exec_attached(
            service, ["sh", "-c", command], container=app.id if app else None
        )
    from dashenv.steps.workers import WorkerRun

    with WorkerRun(t, count, wait=wait, say=say_on_stderr) as run:
        workers = run.prepare()
        s = t.settings
        values = {k: e.value for k, e in t.env.app.entries.items()}
        declared = t.compose_model().services.get(service)
        if declared is not None:
            values.update(declared.environment)
        db = t.env.app.database()
        contract: dict[str, str] = {}
        if db is not None:
            hosts = {s.postgres_service, "localhost", "127.0.0.1", db.host or ""}
            contract = _contract(values, db.database, hosts, workers)
        else:
            contract = {"DASHENV_WORKERS": str(count)}
        if db is not None and _copy_plugin(t, service):
            command = (
                f"export PYTHONPATH={CONTAINER_PLUGIN_DIR}${{PYTHONPATH:+:$PYTHONPATH}} "
                f"PYTEST_PLUGINS={WORKER_PLUGIN}${{PYTEST_PLUGINS:+,$PYTEST_PLUGINS}}; " + command
            )
        return t.docker.exec_attached(service, ["sh", "-c", command], contract)


def _copy_plugin(t: Environment, service: str) -> bool:
    """dashenv's worker plugin into the app container (through exec's stdin: the image needs
    nothing but sh); false, said, where the container does not take it."""
    script = f"mkdir -p {CONTAINER_PLUGIN_DIR} && cat > {CONTAINER_PLUGIN_DIR}/{WORKER_PLUGIN}.py"
    code, out = t.docker.exec_capture(service, ["sh", "-c", script], input=_plugin_source())
    if code != 0:
        say_on_stderr(
            f"note: could not copy dashenv's worker plugin into {service} ({out.strip()}); "
            "the workers are told their databases only through DASHENV_WORKERS"
        )
    return code == 0


def require_test_role(e: Environment, what: str) -> None:
    """Commands that delete an environment's volumes without asking take test roles only."""
    name = e.name
    from dashenv.errors import GuardRefused

    settings = e.bare.settings
    if settings.protected or settings.role not in RESET_ROLES:
        raise GuardRefused(
            f"'{what}' deletes {name}'s volumes, and {name} is not a test environment "
            f"(role {settings.role}{', protected' if settings.protected else ''})",
            hint=f"use 'dashenv down {name}' to stop it and keep its data",
        )
