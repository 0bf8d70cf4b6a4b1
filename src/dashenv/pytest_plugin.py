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
from typing import Any

import pytest

RESULT_FILE = "dashenv-setup.json"


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


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("--dashenv"))


def _setup(config: pytest.Config) -> dict[str, Any]:
    """Run the test setup through every guard; what the fixtures need, as plain data."""
    from dashenv.context import RunContext
    from dashenv.errors import DashenvError
    from dashenv.workflows.testing import host_environment, setup

    project_dir = config.getoption("--dashenv-project-dir")
    if project_dir is None:
        from dashenv.settings.project import find_project_dir

        project_dir = str(find_project_dir(Path(str(config.rootpath))))
    name = config.getoption("--dashenv-env")
    st = RunContext(project_dir=project_dir)
    try:
        result = setup(st, name)
        env = host_environment(st, name)
    except DashenvError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        pytest.exit(f"dashenv: {exc.message}{hint}", returncode=int(exc.exit_code))
    return {
        "environment": name,
        "database": result.reset.database,
        "database_url": env.get("DATABASE_URL"),
        "redis_url": env.get("REDIS_URL"),
        "guards_passed": [v.guard for v in result.reset.verdicts if v.passed],
        "setup_pid": os.getpid(),
    }


@pytest.fixture(scope="session")
def dashenv_environment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The test environment, set up once per run (once in total under pytest-xdist)."""
    config = request.config
    workerinput = getattr(config, "workerinput", None)
    if not _enabled(config):
        pytest.skip("needs the dashenv test environment: run pytest with --dashenv")
    cached = getattr(config, "_dashenv_setup", None)
    if cached is not None:
        return dict(cached)
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
    config._dashenv_setup = data  # type: ignore[attr-defined]
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
    import redis

    if not dashenv_environment["redis_url"]:
        pytest.skip("the test environment publishes no Redis port")
    client = redis.Redis.from_url(dashenv_environment["redis_url"])
    try:
        yield client
    finally:
        client.close()
