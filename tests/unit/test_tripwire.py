"""The tripwire's verdict: two readings of a protected environment in, findings out."""

from __future__ import annotations

from dataclasses import replace

from dashenv.plan.tripwire import Finding, PostgresReading, Reading, compare

PG = PostgresReading(("app", "postgres"), ("public.users",), "abc", 100, 0)
BEFORE = Reading("dev", "app", PG, {0: 5})


def after(**changes: object) -> Reading:
    pg = replace(PG, **{k: v for k, v in changes.items() if k != "redis_keys"})
    keys = changes.get("redis_keys", {0: 5})
    return Reading("dev", "app", pg, keys)  # type: ignore[arg-type]


def test_nothing_changed_is_nothing_to_say() -> None:
    assert compare(BEFORE, after()) == []


def test_a_new_database_a_schema_change_and_a_revision_are_leaks() -> None:
    found = compare(
        BEFORE,
        after(
            databases=("app", "app_scratch", "postgres"),
            tables=("public.leaked", "public.users"),
            revision="def",
        ),
    )
    assert found == [
        Finding("dev", "database app_scratch was created on its server", True),
        Finding("dev", "tables of app changed (+public.leaked)", True),
        Finding("dev", "the Alembic revision of app moved (abc -> def)", True),
    ]


def test_rows_and_keys_are_leaks_when_nothing_else_could_write_them() -> None:
    found = compare(BEFORE, after(rows_written=103, redis_keys={0: 7}))
    assert found == [
        Finding("dev", "3 rows of app were written", True),
        Finding("dev", "Redis index 0 gained 2 keys", True),
    ]
    assert compare(BEFORE, after(redis_keys={0: 0})) == [
        Finding("dev", "Redis index 0 was emptied (5 keys)", True)
    ]


def test_keys_expiring_is_no_leak() -> None:
    assert compare(BEFORE, after(redis_keys={0: 3})) == []


def test_with_dev_s_app_running_or_a_client_connected_rows_are_a_warning() -> None:
    busy = replace(BEFORE, others_running=("app", "worker"))
    [finding] = compare(busy, after(rows_written=101))
    assert not finding.leak
    assert (
        finding.what
        == "1 rows of app were written (possibly by its app, worker running, not the tests)"
    )
    connected = replace(BEFORE, postgres=replace(PG, other_clients=2))
    [finding] = compare(connected, after(redis_keys={0: 9}))
    assert not finding.leak and "2 other clients connected" in finding.what
    # a schema change stays a leak whoever is running
    [finding] = compare(busy, after(tables=()))
    assert finding.leak


def test_on_a_shared_server_the_test_s_own_databases_are_not_dev_s() -> None:
    shared = replace(BEFORE, shared_postgres=True)
    assert compare(shared, after(databases=("app", "app_test", "postgres"))) == []


def test_a_server_not_running_is_not_compared() -> None:
    stopped = replace(BEFORE, postgres=None, redis_keys={})
    assert compare(stopped, after(tables=())) == []
