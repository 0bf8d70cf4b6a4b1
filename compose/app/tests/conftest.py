"""The in-container contract of 'dashenv test run -- -n N', as a team's conftest follows it.

dashenv prepares a database and a Redis index per pytest-xdist worker before pytest starts
and says so in the environment: DASHENV_WORKERS (how many), each worker's database is
DATABASE_URL's with _<worker> appended, DASHENV_WORKER_REDIS_INDEXES maps workers to indexes.
Since 0.3 dashenv also points each worker's own variables at them itself, through a pytest
plugin of its own loaded before this file (DASHENV_WORKER_DATABASE then says so); this
conftest does the same where that plugin could not be copied into the container.
"""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return  # no xdist: the test database itself
    if os.environ.get("DASHENV_WORKER_DATABASE"):
        return  # dashenv's worker plugin has pointed DATABASE_URL and REDIS_URL at this worker's
    prepared = int(os.environ.get("DASHENV_WORKERS") or 0)
    if int(worker.removeprefix("gw")) >= prepared:
        pytest.exit(
            f"worker {worker} has no prepared database (DASHENV_WORKERS={prepared}): run the "
            "tests through 'dashenv test run -- -n N'",
            returncode=3,
        )
    url = urlsplit(os.environ["DATABASE_URL"])
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path}_{worker}"))
    indexes = dict(
        pair.split(":")
        for pair in os.environ.get("DASHENV_WORKER_REDIS_INDEXES", "").split(",")
        if pair
    )
    if worker in indexes and os.environ.get("REDIS_URL"):
        redis = urlsplit(os.environ["REDIS_URL"])
        os.environ["REDIS_URL"] = urlunsplit(redis._replace(path=f"/{indexes[worker]}"))
