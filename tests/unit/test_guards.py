"""Every guard: the facts that pass it, and each way it refuses; and a property test that no
combination of facts lets a reset reach another project's server, or a protected
environment's without declared sharing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from dashenv.guards import (
    Endpoint,
    Intent,
    ProtectedTarget,
    ResetFacts,
    Stamp,
    check_reset,
    check_static,
    foreign_server,
    guard_database_name,
    guard_distinct_target,
    guard_redis_index,
    guard_role,
    guard_stamp,
    guard_testing_flag,
)
from dashenv.settings.app import DatabaseURL
from tests.unit.helpers import DEV, GOOD, INTENT

# the overlay layout: one compose project, one PostgreSQL and one Redis, sharing declared
SHARED_PG = Endpoint("127.0.0.1", 5432, "pg-id", "dashtam")
SHARED_REDIS = Endpoint("127.0.0.1", 6379, "r-id", "dashtam")
OVERLAY = replace(
    GOOD,
    intent=replace(INTENT, project_name="dashtam"),
    postgres=SHARED_PG,
    redis=SHARED_REDIS,
    protected_targets=(
        replace(
            DEV,
            project="dashtam",
            sharing_declared=True,
            postgres=SHARED_PG,
            redis=SHARED_REDIS,
            redis_indexes=(0,),
        ),
    ),
)


def intent(**changes: Any) -> Intent:
    return replace(INTENT, **changes)


def test_all_pass_for_the_test_environment_and_the_overlay_layout() -> None:
    assert all(v.passed for v in check_reset(GOOD))
    assert all(v.passed for v in check_reset(OVERLAY))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"role": "development"}, "role must be testing or ci"),
        ({"protected": True}, "the environment is protected"),
        ({"app_environment": "development"}, "ENVIRONMENT must be 'testing'"),
        ({"app_environment": "production"}, "ENVIRONMENT must be 'testing'"),
    ],
)
def test_role_guard_refuses(changes: dict[str, Any], reason: str) -> None:
    verdict = guard_role(intent(**changes))
    assert not verdict.passed and verdict.reason == reason


def test_ci_role_passes() -> None:
    assert guard_role(intent(role="ci")).passed


def test_testing_flag() -> None:
    verdict = guard_testing_flag(intent(testing=False))
    assert not verdict.passed and verdict.saw == "TESTING=false"


def test_database_name_counts_only_the_name() -> None:
    # the seed's check ("test" in DATABASE_URL) passes this URL; ours must not
    url = "postgresql://u:test_password@postgres:5432/dashtam"
    assert "test" in url
    name = DatabaseURL.parse(url).database
    verdict = guard_database_name(intent(database=name))
    assert not verdict.passed and verdict.saw == "database=dashtam"
    for url in ("postgresql://test_user:pw@test-host:5432/dashtam", "postgresql://u@h/prod"):
        assert not guard_database_name(intent(database=DatabaseURL.parse(url).database)).passed
    assert not guard_database_name(intent(database=None)).passed
    assert guard_database_name(intent(database="Dashtam_TEST")).passed


def test_static_guards_need_only_the_intent() -> None:
    assert [v.guard for v in check_static(INTENT)] == [
        "environment role",
        "TESTING flag",
        "database name",
    ]


def test_distinct_target_refuses_a_port_served_by_another_project() -> None:
    facts = replace(GOOD, postgres=Endpoint("127.0.0.1", 5432, "dev-pg-id", "dashtam-dev"))
    verdict = guard_distinct_target(facts)
    assert not verdict.passed
    assert "another project's container" in verdict.reason


def test_distinct_target_refuses_a_port_no_container_publishes() -> None:
    verdict = guard_distinct_target(replace(GOOD, postgres=Endpoint("127.0.0.1", 5433)))
    assert not verdict.passed and "cannot be confirmed" in verdict.reason


def test_distinct_target_refuses_the_protected_database_on_a_shared_server() -> None:
    facts = replace(
        OVERLAY,
        intent=replace(OVERLAY.intent, database="dashtam_test_data"),
        protected_targets=(replace(OVERLAY.protected_targets[0], database="dashtam_test_data"),),
    )
    verdict = guard_distinct_target(facts)
    assert not verdict.passed
    assert verdict.reason == "that is protected environment dev's database"


def test_a_project_shared_with_dev_without_declaration_is_refused() -> None:
    # test given dev's project name, nothing declared: never inferred from the names
    undeclared = replace(OVERLAY.protected_targets[0], sharing_declared=False)
    facts = replace(OVERLAY, protected_targets=(undeclared,))
    for verdict in (guard_distinct_target(facts), guard_redis_index(facts)):
        assert not verdict.passed
        assert "sharing it is not declared" in verdict.reason


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
def test_stamp_guard(changes: dict[str, Any], passed: bool, fragment: str) -> None:
    verdict = guard_stamp(replace(GOOD, **changes))
    assert verdict.passed is passed and fragment in verdict.reason


def test_redis_guard_refuses_devs_server_whatever_the_index() -> None:
    # the reported hole: test pointed at dev's Redis, index 1 (a second index of dev's)
    for indexes in ((1,), (0,), (5, 6)):
        facts = replace(
            GOOD,
            redis=Endpoint("127.0.0.1", 6379, "dev-redis-id", "dashtam-dev"),
            redis_indexes=indexes,
        )
        verdict = guard_redis_index(facts)
        assert not verdict.passed
        assert "another project's container" in verdict.reason


def test_redis_guard_refuses_a_port_no_container_publishes() -> None:
    verdict = guard_redis_index(replace(GOOD, redis=Endpoint("127.0.0.1", 6380)))
    assert not verdict.passed and "cannot be confirmed" in verdict.reason


def test_redis_guard_on_a_declared_shared_server_checks_every_index() -> None:
    assert guard_redis_index(replace(OVERLAY, redis_indexes=(1, 3))).passed
    dev = replace(OVERLAY.protected_targets[0], redis_indexes=(0, 3))
    verdict = guard_redis_index(replace(OVERLAY, redis_indexes=(1, 3), protected_targets=(dev,)))
    assert (
        not verdict.passed
        and verdict.reason == "protected environment dev uses index 3 on that server"
    )


def test_every_guard_reports_what_it_saw() -> None:
    bad = replace(
        GOOD,
        intent=intent(role="development", testing=False, database="dashtam"),
        stamp=Stamp("dev"),
    )
    verdicts = check_reset(bad)
    assert [v.guard for v in verdicts if not v.passed] == [
        "environment role",
        "TESTING flag",
        "database name",
        "stamp",
    ]
    assert all(v.saw for v in verdicts)
    assert verdicts[0].line().startswith("FAIL  environment role (saw role=development")


# --- property: no other fact lets a reset reach a server that is not its own ---------------

names = st.sampled_from(["dashtam", "dashtam-dev", "dashtam-test", "other", "x-test"])
ids = st.sampled_from(["pg-1", "pg-2", "r-1", "r-2", "c-9"])
ports = st.integers(min_value=1, max_value=65535)
maybe_ids = st.one_of(st.none(), ids)
endpoints = st.builds(
    Endpoint,
    st.sampled_from(["127.0.0.1", "localhost"]),
    ports,
    maybe_ids,
    st.one_of(st.none(), names),
)
index_sets = st.lists(st.integers(0, 15), min_size=1, max_size=3, unique=True).map(tuple)
intents = st.builds(
    Intent,
    environment=st.sampled_from(["test", "ci", "dev"]),
    role=st.sampled_from(["testing", "ci", "development"]),
    protected=st.booleans(),
    app_environment=st.sampled_from(["testing", "development"]),
    testing=st.booleans(),
    database=st.sampled_from(["dashtam_test", "dashtam", "x_test", None]),
    project_name=names,
)
protected = st.builds(
    ProtectedTarget,
    environment=st.just("dev"),
    project=names,
    sharing_declared=st.booleans(),
    postgres=st.one_of(st.none(), endpoints),
    database=st.sampled_from(["dashtam", "dashtam_test", None]),
    redis=st.one_of(st.none(), endpoints),
    redis_indexes=index_sets,
)
facts = st.builds(
    ResetFacts,
    intent=intents,
    postgres=endpoints,
    database_exists=st.booleans(),
    stamp=st.one_of(st.none(), st.builds(Stamp, st.sampled_from(["test", "dev", "ci"]))),
    user_tables=st.sampled_from([(), ("public.users",)]),
    redis=st.one_of(st.none(), endpoints),
    redis_indexes=index_sets,
    protected_targets=st.lists(protected, max_size=2).map(tuple),
    adopt=st.booleans(),
    inspect_error=st.sampled_from([None, "boom"]),
)


def _not_own(f: ResetFacts, server: Endpoint) -> bool:
    """Independently of the guards: the server is not certainly this project's own."""
    return (
        server.container is None
        or server.project != f.intent.project_name
        or any(
            p.project == f.intent.project_name and not p.sharing_declared
            for p in f.protected_targets
        )
    )


@settings(max_examples=600, deadline=None)
@given(facts)
def test_no_facts_let_a_reset_pass_on_a_server_not_its_own(f: ResetFacts) -> None:
    passed = all(v.passed for v in check_reset(f))
    servers = [f.postgres] + ([f.redis] if f.redis is not None else [])
    if any(_not_own(f, s) for s in servers):
        assert not passed
        assert foreign_server(f, servers[0]) is not None or foreign_server(f, servers[-1])


# --- property: on a server shared with a protected environment (declared, as the overlay
# layout does), never its database or one of its Redis indexes -----------------------------
# The random facts above almost never pass every other guard while sharing a server with a
# protected environment, so this strategy builds exactly that case on purpose: facts that
# pass every guard but the two under test, and a protected environment on the same
# PostgreSQL and Redis (by container, or by host and port alone) whose database and indexes
# are sometimes the reset's own.


@st.composite
def shared_server_facts(draw: Any) -> ResetFacts:
    project = draw(names)
    host = draw(st.sampled_from(["127.0.0.1", "localhost"]))
    pg = Endpoint(host, draw(ports), draw(ids), project)
    redis = Endpoint(host, draw(ports), draw(ids), project)
    database = draw(st.sampled_from(["dashtam_test", "x_test"]))
    indexes = draw(index_sets)

    def same(server: Endpoint) -> Endpoint:  # the same server, seen by container or by port
        return server if draw(st.booleans()) else replace(server, container=None)

    dev = ProtectedTarget(
        environment="dev",
        project=project,
        sharing_declared=True,
        postgres=same(pg),
        database=draw(st.sampled_from([database, "dashtam", None])),
        redis=same(redis),
        redis_indexes=draw(st.one_of(st.just(indexes), index_sets)),
    )
    intent = Intent(
        environment="test",
        role=draw(st.sampled_from(["testing", "ci"])),
        protected=False,
        app_environment="testing",
        testing=True,
        database=database,
        project_name=project,
    )
    return ResetFacts(
        intent=intent,
        postgres=pg,
        database_exists=draw(st.booleans()),
        stamp=draw(st.sampled_from([None, Stamp("test")])),
        user_tables=(),
        redis=redis,
        redis_indexes=indexes,
        protected_targets=(dev,),
        adopt=False,
        inspect_error=None,
    )


def _shared_server_holds(f: ResetFacts) -> str:
    """The property on one case: a reset passes only off the protected database and indexes,
    and what is refused is refused for that reason only; the kind of case it was."""
    (p,) = f.protected_targets
    assert p.postgres is not None and p.postgres.same_server(f.postgres)
    assert p.redis is not None and f.redis is not None and p.redis.same_server(f.redis)
    same_database = p.database == f.intent.database
    shared_index = bool(set(p.redis_indexes) & set(f.redis_indexes))
    verdicts = check_reset(f)
    if all(v.passed for v in verdicts):  # never a protected database or index
        assert p.database != f.intent.database
        assert not set(p.redis_indexes) & set(f.redis_indexes)
    else:  # and what is refused is refused for that reason only
        assert same_database or shared_index
        assert {v.guard for v in verdicts if not v.passed} <= {"distinct target", "redis index"}
    if same_database and shared_index:
        return "protected database and index"
    return (
        "protected database" if same_database else "protected index" if shared_index else "neither"
    )


@settings(max_examples=400, deadline=None)
@given(shared_server_facts())
def test_a_shared_server_never_gives_up_a_protected_database_or_index(f: ResetFacts) -> None:
    event(_shared_server_holds(f))


def _shared_case(database: str | None, indexes: tuple[int, ...], by_port: bool) -> ResetFacts:
    pg = Endpoint("127.0.0.1", 5432, "pg-1", "dashtam")
    redis = Endpoint("127.0.0.1", 6379, "r-1", "dashtam")
    seen = (lambda e: replace(e, container=None)) if by_port else (lambda e: e)
    dev = ProtectedTarget("dev", "dashtam", True, seen(pg), database, seen(redis), indexes)
    intent = Intent("test", "testing", False, "testing", True, "dashtam_test", "dashtam")
    return ResetFacts(intent, pg, True, Stamp("test"), (), redis, (1,), (dev,))


@pytest.mark.parametrize("by_port", [False, True])
@pytest.mark.parametrize(
    ("database", "indexes", "kind", "passes"),
    [
        ("dashtam_test", (0,), "protected database", False),
        ("dashtam", (1,), "protected index", False),
        ("dashtam_test", (1, 2), "protected database and index", False),
        ("dashtam", (0,), "neither", True),
        (None, (0,), "neither", True),
    ],
)
def test_each_kind_of_shared_server_case(
    database: str | None, indexes: tuple[int, ...], kind: str, passes: bool, by_port: bool
) -> None:
    """Every kind the property covers, each stated once, whatever Hypothesis draws."""
    f = _shared_case(database, indexes, by_port)
    assert _shared_server_holds(f) == kind
    assert all(v.passed for v in check_reset(f)) is passes
