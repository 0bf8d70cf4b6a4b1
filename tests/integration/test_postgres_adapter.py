"""The PostgreSQL adapter against a real server."""

from __future__ import annotations

from typing import Any

import pytest

from dashenv.adapters.postgres import Postgres
from dashenv.errors import Unreachable
from tests.integration.conftest import PG_PASSWORD, PG_PORT

pytestmark = pytest.mark.services


@pytest.fixture
def pg(postgresql: Any) -> Postgres:
    return Postgres("127.0.0.1", PG_PORT, "postgres", PG_PASSWORD)


def names(pg: Postgres) -> set[str]:
    return set(pg.database_names())


def test_state_of_missing_empty_and_used_databases(pg: Postgres) -> None:
    assert not pg.state("nope_test").exists
    pg.create_database("empty_test")
    try:
        state = pg.state("empty_test")
        assert state.exists and state.stamp is None and state.user_tables == ()
        pg.execute_script(
            "empty_test",
            "CREATE TABLE users (id int); CREATE SCHEMA app;CREATE TABLE app.things (id int);",
        )
        assert pg.state("empty_test").user_tables == ("app.things", "public.users")
        pg.stamp("empty_test", {"environment": "test"})
        state = pg.state("empty_test")
        assert state.stamp == {"environment": "test"}
        assert "dashenv.metadata" not in state.user_tables
    finally:
        pg.drop_database("empty_test")


def test_swap_is_atomic_and_ends_connections(pg: Postgres) -> None:
    import psycopg

    pg.create_database("cur_test")
    pg.execute_script("cur_test", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('old')")
    pg.create_database("new_test", template="cur_test")
    pg.execute_script("new_test", "UPDATE marker SET v = 'new'")
    holder = psycopg.connect(
        host="127.0.0.1", port=PG_PORT, user="postgres", password=PG_PASSWORD, dbname="cur_test"
    )
    try:
        assert pg.swap("cur_test", "new_test", "old_test") is True
        assert holder.closed or holder.broken or _is_terminated(holder)
    finally:
        holder.close()
    assert {"cur_test", "old_test"} <= names(pg) and "new_test" not in names(pg)
    with pg.connect("cur_test") as conn:
        assert conn.execute("SELECT v FROM marker").fetchone()[0] == "new"
    pg.drop_database("old_test")
    pg.drop_database("cur_test")


def _is_terminated(conn: Any) -> bool:
    import psycopg

    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_swap_into_a_missing_name(pg: Postgres) -> None:
    pg.create_database("fresh_test")
    assert pg.swap("target_test", "fresh_test", "unused_test") is False
    assert "target_test" in names(pg) and "fresh_test" not in names(pg)
    pg.drop_database("target_test")


def test_database_option_and_settings(pg: Postgres) -> None:
    pg.create_database("opts_test")
    try:
        pg.set_database_option("opts_test", "synchronous_commit", "off")
        settings = pg.server_settings("opts_test", ["fsync", "synchronous_commit"])
        assert settings == {"fsync": "off", "synchronous_commit": "off"}
    finally:
        pg.drop_database("opts_test")


def test_truncate_all_and_table_stats(pg: Postgres) -> None:
    pg.create_database("trunc_test")
    try:
        pg.execute_script(
            "trunc_test",
            "CREATE TABLE a (id serial primary key);"
            "CREATE TABLE b (a_id int references a(id));"
            "INSERT INTO a DEFAULT VALUES; INSERT INTO b VALUES (1);",
        )
        assert pg.truncate_all("trunc_test") == 2
        with pg.connect("trunc_test") as conn:
            assert conn.execute("SELECT count(*) FROM a").fetchone()[0] == 0
        assert {t.name for t in pg.tables("trunc_test")} == {"a", "b"}
        assert any(d.name == "trunc_test" for d in pg.databases())
    finally:
        pg.drop_database("trunc_test")


def test_unreachable_is_exit_4() -> None:
    with pytest.raises(Unreachable, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1"):
        Postgres("127.0.0.1", 1, "postgres", "x", timeout=1).version()


def test_copy_facts_and_the_method_the_server_copies_with(pg: Postgres) -> None:
    facts = pg.copy_facts()
    assert facts.version_num // 10000 == 17 and facts.fsync is False  # this server: fsync=off
    assert facts.data_directory == "/var/lib/postgresql/data" and facts.system_identifier
    assert pg.copy_method("postgres").name == "file copy"  # fsync off: checkpoints are cheap


def test_a_copys_progress_is_reported_from_its_own_connection(
    pg: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashenv.adapters import postgres as adapter
    from dashenv.plan.copying import CopyMethod

    pg.create_database("progress_src_test")
    pg.execute_script(
        "progress_src_test",
        "CREATE TABLE t AS SELECT g AS id, repeat(md5(g::text), 8) AS payload"
        " FROM generate_series(1, 200000) g",
    )
    monkeypatch.setattr(adapter._CopyWatch, "INTERVAL", 0.001)  # report as often as it can
    seen: list[int] = []
    slow = CopyMethod("WAL log", "the slower method, for a copy that takes a while", "WAL_LOG")
    try:
        pg.create_database(
            "progress_copy_test", "progress_src_test", method=slow, progress=seen.append
        )
        size = pg.database_size("progress_copy_test") or 0
        assert seen and seen == sorted(seen) and max(seen) <= size * 1.1
        # the watcher's connection is gone once the copy has answered
        with pg.connect() as conn:
            watching = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dashenv'"
                " AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert watching == 0
    finally:
        pg.drop_database("progress_copy_test")
        pg.drop_database("progress_src_test")
