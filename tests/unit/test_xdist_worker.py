"""A parallel run's workers pointed at their own databases: what dashenv tells them (pure)
and what its worker plugin changes in each worker's environment."""

from __future__ import annotations

import json

from dashenv.plan.derive import worker_settings
from dashenv.xdist_worker import VARIABLE, worker_environment

APP = {
    "POSTGRES_SERVER": "db",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DB": "app_test",
    "POSTGRES_USER": "app_test",  # user and database may share one value
    "DATABASE_URL": "postgresql+psycopg://app_test:app_test@db:5432/app_test",
    "REDIS_URL": "redis://redis:6379/0",
    "PROJECT_NAME": "app_test",
}
WORKERS = [("gw0", "app_test_gw0", 1), ("gw1", "app_test_gw1", 2)]


def spec() -> dict[str, object]:
    return worker_settings(APP, "app_test", {"db", "localhost"}, WORKERS)


def test_the_settings_name_the_variables_the_app_reads_its_database_from() -> None:
    s = spec()
    assert s["name"] == ["POSTGRES_DB"]  # not POSTGRES_USER or PROJECT_NAME, by their names
    assert s["url"] == ["DATABASE_URL"]
    assert s["redis_url"] == ["REDIS_URL"]
    assert s["workers"] == {
        "gw0": {"database": "app_test_gw0", "redis_index": 1},
        "gw1": {"database": "app_test_gw1", "redis_index": 2},
    }


def test_a_worker_gets_its_database_in_each_variable_and_its_redis_index() -> None:
    environ = {**APP, VARIABLE: json.dumps(spec())}
    assert worker_environment(environ, "gw1") == {
        "DASHENV_WORKER_DATABASE": "app_test_gw1",
        "POSTGRES_DB": "app_test_gw1",
        "DATABASE_URL": "postgresql+psycopg://app_test:app_test@db:5432/app_test_gw1",
        "REDIS_URL": "redis://redis:6379/2",
    }


def test_applied_twice_it_changes_nothing_more() -> None:
    environ = {**APP, VARIABLE: json.dumps(spec())}
    once = {**environ, **(worker_environment(environ, "gw0") or {})}
    assert {**once, **(worker_environment(once, "gw0") or {})} == once


def test_outside_a_prepared_run_nothing_changes() -> None:
    assert worker_environment(APP, "gw0") == {}


def test_a_worker_the_run_did_not_prepare_is_told_apart() -> None:
    environ = {**APP, VARIABLE: json.dumps(spec())}
    assert worker_environment(environ, "gw5") is None


def test_a_variable_the_worker_does_not_have_is_not_made_up() -> None:
    environ = {"DATABASE_URL": APP["DATABASE_URL"], VARIABLE: json.dumps(spec())}
    assert set(worker_environment(environ, "gw0") or {}) == {
        "DASHENV_WORKER_DATABASE", "DATABASE_URL",
    }  # fmt: skip
