"""A real PostgreSQL 17 and a real Redis 8 for adapter tests, in containers of the official
images, reached through pytest-postgresql's and pytest-redis's no-process fixtures (their
process fixtures start the servers as root, which PostgreSQL refuses)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from pytest_postgresql import factories as pg_factories
from pytest_redis import factories as redis_factories

from tests.conftest import docker_problem, free_ports

PG_PORT, REDIS_PORT = free_ports(2)
PG_PASSWORD = "integration_pw"
SUFFIX = uuid.uuid4().hex[:6]

postgresql_noproc = pg_factories.postgresql_noproc(
    host="127.0.0.1", port=PG_PORT, user="postgres", password=PG_PASSWORD, dbname="dashenv_it"
)
postgresql = pg_factories.postgresql("postgresql_noproc")
redis_noproc = redis_factories.redis_noproc(host="127.0.0.1", port=REDIS_PORT)
redis_index0 = redis_factories.redisdb("redis_noproc", dbnum=0)
redis_index1 = redis_factories.redisdb("redis_noproc", dbnum=1)


def _wait(check: list[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while subprocess.run(check, capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready")
        time.sleep(0.2)  # polling the server's own readiness probe


@pytest.fixture(scope="session", autouse=True)
def servers() -> Iterator[None]:
    problem = docker_problem()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"integration tests need Docker under CI: {problem}")
        pytest.skip(f"integration tests need Docker for PostgreSQL and Redis: {problem}")
    pg, rd = f"dashenv-it-pg-{SUFFIX}", f"dashenv-it-redis-{SUFFIX}"
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            pg,
            "-p",
            f"127.0.0.1:{PG_PORT}:5432",
            "-e",
            f"POSTGRES_PASSWORD={PG_PASSWORD}",
            "--tmpfs",
            "/var/lib/postgresql/data",
            "postgres:17",
            "-c",
            "fsync=off",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["docker", "run", "-d", "--name", rd, "-p", f"127.0.0.1:{REDIS_PORT}:6379", "redis:8"],
        check=True,
        capture_output=True,
    )
    try:
        _wait(
            ["docker", "exec", pg, "pg_isready", "-h", "127.0.0.1", "-U", "postgres"], "PostgreSQL"
        )
        _wait(["docker", "exec", rd, "redis-cli", "ping"], "Redis")
        yield
    finally:
        subprocess.run(["docker", "rm", "-f", pg, rd], capture_output=True)
