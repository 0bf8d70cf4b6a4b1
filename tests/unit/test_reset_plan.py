"""The reset's pure planning: names, leftovers, steps, the lock; the migrations' hash and
the configuration it needs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dashenv.errors import ConfigError
from dashenv.guards import Endpoint
from dashenv.plan.reset import (
    ResetNames,
    lock_path,
    plan_reset,
    target_without_password,
    url_with_database,
)
from dashenv.settings.project import load_project
from dashenv.settings.sources import resolve_environment
from dashenv.steps.resetting import migrations_hash, reset_names
from tests.unit.helpers import GOOD

NAMES = ResetNames("dashtam_test", "abcdef0123456789")


def test_migrations_hash_follows_files_and_command(tmp_path: Path) -> None:
    (tmp_path / "0001.sql").write_text("CREATE TABLE a ();")
    first = migrations_hash(tmp_path, "migrate")
    assert migrations_hash(tmp_path, "migrate") == first
    (tmp_path / "0002.sql").write_text("CREATE TABLE b ();")
    second = migrations_hash(tmp_path, "migrate")
    assert second != first
    (tmp_path / "0002.sql").write_text("CREATE TABLE c ();")
    assert migrations_hash(tmp_path, "migrate") != second
    assert migrations_hash(tmp_path, "alembic upgrade head") != migrations_hash(tmp_path, "x")


def test_a_missing_migrations_dir_is_a_configuration_error(project: Path) -> None:
    env = resolve_environment(
        load_project(project), "test", {"migrations_dir": "nowhere"}, read_env=False
    )
    with pytest.raises(ConfigError) as err:
        reset_names(env, "dashtam_test")
    assert err.value.exit_code == 2
    assert err.value.message == (
        "test: migrations_dir nowhere does not exist (from --set migrations_dir)"
    )
    ok = resolve_environment(load_project(project), "test", read_env=False)
    assert reset_names(ok, "dashtam_test").template.startswith("dashtam_test__tpl_")


def test_names_keep_the_test_database_prefix() -> None:
    assert NAMES.template == "dashtam_test__tpl_abcdef012345"
    new, old = NAMES.scratch("42_a1b2c3")
    every = [NAMES.template, NAMES.build, new, old]
    assert new == "dashtam_test__new_42_a1b2c3" and old == "dashtam_test__old_42_a1b2c3"
    assert all(n.startswith("dashtam_test__") and len(n) <= 63 for n in every)


def test_leftovers_are_only_ours() -> None:
    existing = [
        "dashtam",
        "dashtam_test",
        "postgres",
        "dashtam_test__tpl_abcdef012345",
        "dashtam_test__tpl_old",
        "dashtam_test__new_1",
        "dashtam_test__old_1",
        "dashtam_test__build_x",
        "dashtam__new_1",
    ]
    assert NAMES.leftovers(existing) == [
        "dashtam_test__tpl_old",
        "dashtam_test__new_1",
        "dashtam_test__old_1",
        "dashtam_test__build_x",
    ]


def test_plan_reuses_a_ready_template_and_flushes_every_index(tmp_path: Path) -> None:
    lock = lock_path(tmp_path, "test")
    assert lock == tmp_path / ".dashenv" / "locks" / "reset-test.lock"
    facts = replace(GOOD, redis_indexes=(1, 4))
    plan = plan_reset(
        facts,
        NAMES,
        "template",
        ["dashtam_test", NAMES.template, "dashtam_test__new_9"],
        lock=lock,
        migration_command="alembic upgrade head",
        app_service="app",
    )
    assert plan.template_ready and plan.leftovers == ("dashtam_test__new_9",)
    assert plan.steps[0] == f"take the reset lock {lock}"
    assert "reuse template dashtam_test__tpl_abcdef012345 (migrations unchanged)" in plan.steps
    assert plan.steps[-1] == "FLUSHDB Redis 127.0.0.1:6380 index 1, 4 (each alone)"


def test_plan_builds_a_missing_template_or_migrates(tmp_path: Path) -> None:
    common = {"lock": tmp_path / "l", "migration_command": "m", "app_service": "app"}
    built = plan_reset(GOOD, NAMES, "template", [], **common)  # type: ignore[arg-type]
    assert not built.template_ready and any(s.startswith("build template") for s in built.steps)
    migrated = plan_reset(
        replace(GOOD, redis=None),
        NAMES,
        "migrate",
        [],
        **common,  # type: ignore[arg-type]
    )
    assert "create an empty scratch database and run 'm' in app" in migrated.steps
    assert not any("FLUSHDB" in s for s in migrated.steps)


def test_urls() -> None:
    url = "postgresql+asyncpg://u:pw@postgres:5432/dashtam_test?ssl=off"
    assert url_with_database(url, "x") == "postgresql+asyncpg://u:pw@postgres:5432/x?ssl=off"
    assert target_without_password("u", "127.0.0.1", 5433, "t") == "postgresql://u@127.0.0.1:5433/t"
    assert Endpoint("127.0.0.1", 5433).describe() == "127.0.0.1:5433"


def test_worker_databases_and_indexes() -> None:
    from dashenv.plan.names import is_worker_database, worker_databases
    from dashenv.plan.reset import worker_indexes

    names = worker_databases("dashtam_test", 3)
    assert names == ["dashtam_test_gw0", "dashtam_test_gw1", "dashtam_test_gw2"]
    assert all(is_worker_database(n, "dashtam_test") for n in names)
    for other in ("dashtam_test", "dashtam_test_gwx", "dashtam_test__tpl_1", "dashtam_gw0"):
        assert not is_worker_database(other, "dashtam_test")
    # the environment's own index first, then indexes no environment declares
    assert worker_indexes((1,), {0, 1}, 16, 3, shared=False) == [1, 2, 3]
    assert worker_indexes((1, 5), {0, 2}, 16, 3, shared=False) == [1, 5, 3]
    # a server shared by declaration with a protected environment: only declared indexes
    assert worker_indexes((1, 4), {0}, 16, 2, shared=True) == [1, 4]
    with pytest.raises(ConfigError) as err:
        worker_indexes((1,), {0}, 16, 2, shared=True)
    assert "declare more in redis_indexes" in (err.value.hint or "")
    with pytest.raises(ConfigError) as err:
        worker_indexes((1,), {0, 1}, 4, 5, shared=False)
    assert err.value.message == "5 workers need 5 Redis indexes; only 3 can be used"
    assert "raise 'databases' in the Redis configuration (it has 4)" in (err.value.hint or "")


def test_xdist_worker_count_from_pytest_arguments() -> None:
    from dashenv.plan.reset import xdist_workers

    assert xdist_workers([], 4) == 0
    assert xdist_workers(["-q", "-n", "3"], 4) == 3
    assert xdist_workers(["-n3"], 4) == 3
    assert xdist_workers(["--numprocesses", "auto"], 4) == 4
    assert xdist_workers(["--numprocesses=logical"], 2) == 2
    assert xdist_workers(["-n", "0"], 4) == 0
    assert xdist_workers(["-k", "n"], 4) == 0


def test_numprocesses_is_the_last_one_given() -> None:
    from dashenv.plan.reset import numprocesses

    assert numprocesses(["-n", "2", "-q", "-n4"]) == "4"
    assert numprocesses(["--numprocesses=auto"]) == "auto"
    assert numprocesses(["-v"]) is None


def test_pytest_addopts_follows_pytests_choice_of_file() -> None:
    from dashenv.plan.reset import pytest_addopts

    toml = '[tool.pytest.ini_options]\naddopts = "-n 3 -q"\n'
    bare_toml = '[project]\nname = "x"\n'
    tox = "[pytest]\naddopts = -n 2\n"
    cfg = "[tool:pytest]\naddopts = -n auto\n"
    # nearest directory first; in one directory pytest.ini beats pyproject.toml beats tox.ini
    assert pytest_addopts([[("pyproject.toml", toml)]]) == ["-n", "3", "-q"]
    assert pytest_addopts([[("tox.ini", tox), ("pyproject.toml", toml)]]) == ["-n", "3", "-q"]
    assert pytest_addopts([[("pytest.ini", "[pytest]\n"), ("pyproject.toml", toml)]]) == []
    assert pytest_addopts([[("pytest.ini", "")], [("pyproject.toml", toml)]]) == []
    # a file without pytest's section does not count; the search goes on upward
    assert pytest_addopts([[("pyproject.toml", bare_toml)], [("setup.cfg", cfg)]]) == [
        "-n",
        "auto",
    ]
    assert pytest_addopts([[("tox.ini", "[tox]\n")], []]) == []
    # a list in pyproject.toml, as pytest allows
    listed = '[tool.pytest.ini_options]\naddopts = ["-n", "2"]\n'
    assert pytest_addopts([[("pyproject.toml", listed)]]) == ["-n", "2"]


def test_worker_clone_script_quotes_and_clones_each_worker() -> None:
    from dashenv.plan.reset import drop_script, worker_clone_script

    script = worker_clone_script(
        'db"test', ['db"test_gw0', 'db"test_gw1'], {"environment": "ci", "note": "it's"}
    )
    assert script.startswith("\\set ON_ERROR_STOP 1\n")
    assert script.count('CREATE DATABASE "db""test_gw0" TEMPLATE "db""test";') == 1
    assert script.count("CREATE DATABASE") == 2
    # sessions on the source are ended before each copy, a killed run's copy dropped first
    first = script.index('DROP DATABASE IF EXISTS "db""test_gw0"')
    create = script.index('CREATE DATABASE "db""test_gw0"')
    assert first < script.index("pg_terminate_backend") < create
    assert "('note', 'it''s')" in script
    assert '\\connect "db""test_gw1"' in script
    assert drop_script(["a_gw0"]) == 'DROP DATABASE IF EXISTS "a_gw0";\n'


def test_run_databases_are_workers_and_fresh_ones_of_that_database_only() -> None:
    from dashenv.plan.names import fresh_database, is_run_database

    assert is_run_database("dashtam_test_gw3", "dashtam_test")
    assert is_run_database(fresh_database("dashtam_test", "ab12"), "dashtam_test")
    assert not is_run_database("dashtam_test_gwx", "dashtam_test")
    assert not is_run_database("dashtam_test__tpl_abc", "dashtam_test")
    assert not is_run_database("other_gw0", "dashtam_test")


def test_only_a_server_not_answering_yet_is_waited_for() -> None:
    from dashenv.steps.resetting import not_answering_yet

    assert not_answering_yet(
        "cannot reach PostgreSQL at 127.0.0.1:5433 (database postgres): connection failed: "
        'connection to server at "127.0.0.1", port 5433 failed: Connection refused'
    )
    assert not_answering_yet("FATAL:  the database system is starting up")
    assert not not_answering_yet(
        'FATAL:  password authentication failed for user "dashtam_test_user"'
    )
    assert not not_answering_yet('FATAL:  database "dashtam_test" does not exist')


def test_the_line_of_a_connection_error_that_says_what_happened() -> None:
    """libpq indents its explanations under the line that says what failed; with several
    addresses tried, the last attempt's line."""
    from dashenv.adapters.postgres import failure_line
    from dashenv.steps.resetting import not_answering_yet

    closed = (
        'connection failed: connection to server at "127.0.0.1", port 5433 failed: server '
        "closed the connection unexpectedly\n\tThis probably means the server terminated "
        "abnormally\n\tbefore or while processing the request.\n"
    )
    assert failure_line(closed) == (
        'connection failed: connection to server at "127.0.0.1", port 5433 failed: server '
        "closed the connection unexpectedly"
    )
    assert not_answering_yet(failure_line(closed))
    tried = (
        'connection failed: connection to server at "::1", port 5433 failed: Connection '
        "refused\n\tIs the server running on that host and accepting TCP/IP connections?\n"
        'connection to server at "127.0.0.1", port 5433 failed: timeout expired\n'
    )
    assert (
        failure_line(tried)
        == 'connection to server at "127.0.0.1", port 5433 failed: timeout expired'
    )
    assert failure_line("") == "no answer" and failure_line("  \n") == "no answer"
