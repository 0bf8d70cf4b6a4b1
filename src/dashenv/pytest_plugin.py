"""pytest plugin: ``pytest --dashenv`` runs an application's test suite against dashenv's
test environment.

The session starts with ``dashenv test setup`` (up, guarded reset) once, and once in total
under pytest-xdist: the first worker does it under a file lock and the others read its
result. Fixtures hand tests the host-side database URL and a Redis client on the test
index. Anything but a test environment is refused by the same guards as ``db reset``.

This module is imported by every pytest run where dashenv is installed, so it imports
nothing heavy until ``--dashenv`` is given.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.steps.workers import WorkerSet

if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("DASHENV_WORKER_SETTINGS"):
    # a worker of a run whose controller prepared a database per worker: the app's own
    # variables point at this worker's before any conftest reads them
    import dashenv.xdist_worker  # noqa: F401

RESULT_FILE = "dashenv-setup.json"
# what a run keeps on its pytest config: the setup's result (plain data, handed to xdist
# workers), and the controller's worker databases with their lock
SETUP = pytest.StashKey[dict[str, Any]]()
WORKERS = pytest.StashKey[Any]()  # dashenv.steps.workers.WorkerRun


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dashenv", "dashenv test environment")
    group.addoption(
        "--dashenv",
        action="store_true",
        help="run 'dashenv test setup' once and "
        "give tests the test environment's database and Redis",
    )
    group.addoption("--dashenv-env", default="test", help="the test environment (default: test)")
    group.addoption(
        "--dashenv-project-dir",
        default=None,
        metavar="DIR",
        help="the dashenv project (default: found upward from the rootdir)",
    )
    group.addoption(
        "--dashenv-no-wait",
        action="store_true",
        help="fail at once, instead of waiting, when another run holds the test "
        "environment's reset or worker databases",
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("--dashenv"))


def _context(config: pytest.Config) -> Any:
    from dashenv.context import RunContext

    project_dir = config.getoption("--dashenv-project-dir")
    if project_dir is None:
        from dashenv.settings.project import find_project_dir

        project_dir = str(find_project_dir(Path(str(config.rootpath))))
    return RunContext(project_dir=project_dir)


def _exit_on(exc: Any) -> None:
    """An expected failure ends the run with one line and dashenv's exit code."""
    hint = f" ({exc.hint})" if exc.hint else ""
    pytest.exit(f"dashenv: {exc.message}{hint}", returncode=int(exc.exit_code))


def _setup(config: pytest.Config, workers: int = 0) -> dict[str, Any]:
    """Run the test setup through every guard, and with ``workers`` a database and a Redis
    index per pytest-xdist worker; what the fixtures need, as plain data."""
    from dashenv.errors import DashenvError
    from dashenv.steps.isolation import check_host
    from dashenv.steps.targets import host_environment
    from dashenv.workflows.testing import setup

    name = config.getoption("--dashenv-env")
    wait = not config.getoption("--dashenv-no-wait")
    st = _context(config)
    try:
        run = None
        if workers:  # the run's lock first: two runs never share worker databases
            from dashenv.steps.workers import WorkerRun

            run = config.stash[WORKERS] = WorkerRun(
                st.environment(name), workers, wait=wait, say=_say
            )
            run.take_lock()
        result = setup(st.environment(name), wait=wait)
        e = result.environment  # as the setup left it (its leases)
        env = host_environment(e)
        check_host(e, dict(os.environ), "pytest --dashenv")
        prepared = run.prepare(e) if run is not None else None
    except DashenvError as exc:
        _exit_on(exc)
        raise  # not reached: pytest.exit raises
    data: dict[str, Any] = {
        "environment": name,
        "template": result.reset.template,
        "test_database": result.reset.database,  # the environment's own, under xdist too
        "database": result.reset.database,
        "database_url": env.get("DATABASE_URL"),
        "redis_url": env.get("REDIS_URL"),
        "guards_passed": [v.guard for v in result.reset.verdicts if v.passed],
        "clones": result.reset.copied_by == "clone",  # the server's data directory clones
        "setup_pid": os.getpid(),
    }
    if prepared is not None:
        data["workers"] = prepared.as_dict()
        _tell_workers(e, env, prepared)
    return data


def _tell_workers(e: Environment, env: dict[str, str], prepared: WorkerSet) -> None:
    """The controller, before xdist starts its workers (they inherit its environment): which
    of the app's variables each worker points at its own database (dashenv.xdist_worker
    applies it in the worker before any conftest reads them)."""
    from dashenv.plan.derive import worker_settings
    from dashenv.xdist_worker import VARIABLE

    resolved = e.env
    db = resolved.app.database()
    if db is None:
        return
    hosts = {resolved.settings.host, "localhost", "127.0.0.1"}
    workers = [(w.id, w.database, w.redis_index) for w in prepared.workers]
    spec = worker_settings(env, db.database, hosts, workers)
    os.environ[VARIABLE] = json.dumps(spec, separators=(",", ":"))


def _say(message: str) -> None:
    import sys

    sys.stderr.write(f"dashenv: {message}\n")


def _xdist_workers(config: pytest.Config) -> int:
    """How many xdist workers this run starts (0 without distribution)."""
    if getattr(config, "workerinput", None) is not None:
        return 0
    try:
        dist, tx = config.getoption("dist"), config.getoption("tx")
    except ValueError:  # pytest-xdist is not installed
        return 0
    return len(tx or []) if dist != "no" else 0


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist the controller sets everything up before any worker starts (a
    refusal ends the run here, one line, no worker started)."""
    config = session.config
    count = _xdist_workers(config)
    if _enabled(config) and count:
        config.stash[SETUP] = _setup(config, count)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: each worker is handed the setup, its own database and Redis index."""
    data = node.config.stash.get(SETUP, None)
    if data is not None:
        node.workerinput["dashenv_setup"] = json.dumps(data)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller drops the run's worker databases, after a failure too."""
    run = session.config.stash.get(WORKERS, None)
    if run is None:  # no worker databases, or an xdist worker (the controller holds them)
        return
    from dashenv.errors import DashenvError

    try:
        run.finish()
    except DashenvError as exc:
        _say(f"could not drop the worker databases: {exc.message}")


@pytest.fixture(scope="session")
def dashenv_environment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The test environment, set up once per run (once in total under pytest-xdist)."""
    config = request.config
    workerinput = getattr(config, "workerinput", None)
    if not _enabled(config):
        pytest.skip("needs the dashenv test environment: run pytest with --dashenv")
    cached = config.stash.get(SETUP, None)
    if cached is not None:
        return dict(cached)
    if workerinput is not None and "dashenv_setup" in workerinput:
        # set up by the controller: this worker's own database and Redis index
        data = json.loads(workerinput["dashenv_setup"])
        mine = next(w for w in data["workers"]["workers"] if w["id"] == workerinput["workerid"])
        data.update(
            database=mine["database"],
            database_url=mine["database_url"],
            redis_url=mine["redis_url"],
            worker=mine["id"],
        )
        config.stash[SETUP] = data
        return dict(data)
    if workerinput is None:  # no pytest-xdist, or its controller
        data = _setup(config)
    else:
        from filelock import FileLock

        shared = tmp_path_factory.getbasetemp().parent / RESULT_FILE
        with FileLock(str(shared) + ".lock"):
            if shared.is_file():
                data = json.loads(shared.read_text())
            else:
                data = _setup(config)
                shared.write_text(json.dumps(data))
    config.stash[SETUP] = data
    return dict(data)


@pytest.fixture(scope="session")
def dashenv_database_url(dashenv_environment: dict[str, Any]) -> str:
    """The test database's URL as seen from the host (published port, 127.0.0.1)."""
    url = dashenv_environment["database_url"]
    if not url:
        pytest.skip("the test environment publishes no PostgreSQL port")
    return str(url)


@pytest.fixture
def dashenv_redis(dashenv_environment: dict[str, Any]) -> Any:
    """A redis-py client on the test environment's Redis index."""
    from dashenv.adapters.redis import library_client

    if not dashenv_environment["redis_url"]:
        pytest.skip("the test environment publishes no Redis port")
    client = library_client(dashenv_environment["redis_url"])
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def dashenv_fresh_database(dashenv_environment: dict[str, Any]) -> Any:
    """A database of its own for one test, cloned from the template of the migrated schema
    and dropped afterwards: for tests that commit and cannot run in a rolled-back
    transaction. Yields its URL as seen from the host."""
    import secrets

    from dashenv.plan.names import fresh_database
    from dashenv.plan.reset import url_with_database
    from dashenv.steps.clients import postgres_at

    url = dashenv_environment["database_url"]
    if not url:
        pytest.skip("the test environment publishes no PostgreSQL port")
    # named after the test database, so it carries its "test" like every clone dashenv makes,
    # and a killed run's are found and dropped by the next run
    name = fresh_database(dashenv_environment["test_database"], secrets.token_hex(4))
    pg = postgres_at(url)
    pg.clones = bool(dashenv_environment.get("clones"))  # what the reset's probe found
    try:
        pg.create_database(name, template=dashenv_environment["template"])
        yield url_with_database(url, name)
    finally:
        pg.drop_database(name)
        pg.close()
