"""Every guard: the facts that pass it, and each way it refuses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashenv.guards import (
    Endpoint,
    ProtectedTarget,
    ResetFacts,
    Stamp,
    check_reset,
    guard_database_name,
    guard_distinct_target,
    guard_redis_index,
    guard_role,
    guard_stamp,
    guard_testing_flag,
)
from dashenv.settings.app import DatabaseURL

DEV = ProtectedTarget(
    "dev",
    Endpoint("127.0.0.1", 5432, "dev-pg-id", "dashtam-dev"),
    "dashtam",
    Endpoint("127.0.0.1", 6379, "dev-redis-id", "dashtam-dev"),
    0,
)
GOOD = ResetFacts(
    environment="test",
    role="testing",
    protected=False,
    app_environment="testing",
    testing=True,
    database="dashtam_test",
    postgres=Endpoint("127.0.0.1", 5433, "test-pg-id", "dashtam-test"),
    project_name="dashtam-test",
    database_exists=True,
    stamp=Stamp("test"),
    user_tables=("public.users",),
    redis=Endpoint("127.0.0.1", 6380, "test-redis-id", "dashtam-test"),
    redis_index=1,
    protected_targets=(DEV,),
)


def test_all_pass_for_the_test_environment() -> None:
    assert all(v.passed for v in check_reset(GOOD))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"role": "development"}, "role must be testing or ci"),
        ({"protected": True}, "the environment is protected"),
        ({"app_environment": "development"}, "ENVIRONMENT must be 'testing'"),
        ({"app_environment": "production"}, "ENVIRONMENT must be 'testing'"),
    ],
)
def test_role_guard_refuses(changes: dict, reason: str) -> None:
    verdict = guard_role(replace(GOOD, **changes))
    assert not verdict.passed and verdict.reason == reason


def test_ci_role_passes() -> None:
    assert guard_role(replace(GOOD, role="ci")).passed


def test_testing_flag() -> None:
    verdict = guard_testing_flag(replace(GOOD, testing=False))
    assert not verdict.passed and verdict.saw == "TESTING=false"


def test_database_name_counts_only_the_name() -> None:
    # the seed's check ("test" in DATABASE_URL) passes this URL; ours must not
    url = "postgresql://u:test_password@postgres:5432/dashtam"
    assert "test" in url
    name = DatabaseURL.parse(url).database
    verdict = guard_database_name(replace(GOOD, database=name))
    assert not verdict.passed and verdict.saw == "database=dashtam"
    for url in ("postgresql://test_user:pw@test-host:5432/dashtam", "postgresql://u@h/prod"):
        assert not guard_database_name(
            replace(GOOD, database=DatabaseURL.parse(url).database)
        ).passed
    assert not guard_database_name(replace(GOOD, database=None)).passed
    assert guard_database_name(replace(GOOD, database="Dashtam_TEST")).passed


def test_distinct_target_refuses_a_port_served_by_another_project() -> None:
    facts = replace(GOOD, postgres=Endpoint("127.0.0.1", 5432, "dev-pg-id", "dashtam-dev"))
    verdict = guard_distinct_target(facts)
    assert not verdict.passed
    assert "another project's container" in verdict.reason


def test_distinct_target_refuses_the_protected_database_on_the_same_server() -> None:
    shared = Endpoint("127.0.0.1", 5432, "pg-id", "dashtam")
    dev = replace(DEV, postgres=shared, database="dashtam_test_data")
    facts = replace(
        GOOD,
        postgres=shared,
        project_name="dashtam",
        database="dashtam_test_data",
        protected_targets=(dev,),
    )
    verdict = guard_distinct_target(facts)
    assert not verdict.passed
    assert verdict.reason == "that is protected environment dev's database"


def test_distinct_target_passes_another_database_on_a_shared_server() -> None:
    # the overlay layout: one PostgreSQL hosts dashtam (dev) and dashtam_test
    shared = Endpoint("127.0.0.1", 5432, "pg-id", "dashtam")
    facts = replace(
        GOOD,
        postgres=shared,
        project_name="dashtam",
        protected_targets=(replace(DEV, postgres=shared),),
    )
    assert guard_distinct_target(facts).passed


def test_distinct_target_without_docker_compares_host_and_port() -> None:
    dev = replace(DEV, postgres=Endpoint("127.0.0.1", 5432), database="dashtam_test")
    facts = replace(GOOD, postgres=Endpoint("127.0.0.1", 5432), protected_targets=(dev,))
    assert not guard_distinct_target(facts).passed
    facts = replace(facts, postgres=Endpoint("127.0.0.1", 5433))
    assert guard_distinct_target(facts).passed


@pytest.mark.parametrize(
    ("changes", "passed", "fragment"),
    [
        ({"stamp": Stamp("dev")}, False, "belongs to environment dev"),
        ({"stamp": None}, False, "pass --adopt"),
        ({"stamp": None, "adopt": True}, True, "adopted"),
        ({"stamp": None, "user_tables": ()}, True, "will be stamped"),
        ({"database_exists": False, "stamp": None, "user_tables": ()}, True, "created"),
    ],
)
def test_stamp_guard(changes: dict, passed: bool, fragment: str) -> None:
    verdict = guard_stamp(replace(GOOD, **changes))
    assert verdict.passed is passed and fragment in verdict.reason


def test_redis_guard_refuses_a_protected_index_on_the_same_server() -> None:
    facts = replace(
        GOOD, redis=Endpoint("127.0.0.1", 6379, "dev-redis-id", "dashtam-dev"), redis_index=0
    )
    verdict = guard_redis_index(facts)
    assert not verdict.passed and "protected environment dev" in verdict.reason


def test_redis_guard_allows_another_index_on_a_shared_server() -> None:
    shared = Endpoint("127.0.0.1", 6379, "r-id", "dashtam")
    facts = replace(
        GOOD, redis=shared, redis_index=1, protected_targets=(replace(DEV, redis=shared),)
    )
    assert guard_redis_index(facts).passed


def test_every_guard_reports_what_it_saw() -> None:
    bad = replace(GOOD, role="development", testing=False, database="dashtam", stamp=Stamp("dev"))
    verdicts = check_reset(bad)
    assert [v.guard for v in verdicts if not v.passed] == [
        "environment role",
        "TESTING flag",
        "database name",
        "stamp",
    ]
    assert all(v.saw for v in verdicts)
    assert verdicts[0].line().startswith("FAIL  environment role (saw role=development")
