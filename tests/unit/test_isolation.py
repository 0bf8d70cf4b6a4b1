"""The rewrite by value and the guard on a test-side process's variables: real variable
conventions, each with its exact result."""

from __future__ import annotations

import pytest

from dashenv.plan.isolation import (
    Destination,
    Endpoint,
    Leak,
    Servers,
    leaks,
    part_of,
    reach_from_container,
    reach_from_host,
    rewrite,
)

# dev publishes PostgreSQL on 5432 and Redis on 6379 (index 0); the derived test stack's are
# leased at 54321 and 63791, its database is app_test
DEV_HOST = Servers(
    postgres=reach_from_host({"127.0.0.1"}, 5432),
    database="app",
    redis=reach_from_host({"127.0.0.1"}, 6379),
    redis_indexes=(0,),
)
TEST_HOST = Destination(
    postgres=Endpoint("127.0.0.1", 54321),
    database="app_test",
    redis=Endpoint("127.0.0.1", 63791),
    redis_index=0,
    aliases_postgres=frozenset({Endpoint("postgres", 5432), Endpoint("db", 5432)}),
    aliases_redis=frozenset({Endpoint("redis", 6379)}),
)
DEV_CONTAINER = Servers(
    postgres=reach_from_container({"app-postgres"}, 5432, 5432),
    database="app",
    redis=reach_from_container(set(), 6379, 6379),
    redis_indexes=(0,),
)
TEST_CONTAINER = Destination(
    postgres=Endpoint("postgres", 5432),
    database="app_test",
    redis=Endpoint("redis", 6379),
    aliases_postgres=frozenset({Endpoint("postgres", 5432)}),
    aliases_redis=frozenset({Endpoint("redis", 6379)}),
)
# the overlay: one server for both, dev's database and index 0 are dev's
SHARED = Servers(
    postgres=reach_from_host(set(), 5432),
    database="dashtam",
    redis=reach_from_host(set(), 6379),
    redis_indexes=(0,),
)
SHARED_TEST = Destination(
    postgres=Endpoint("127.0.0.1", 5432),
    database="dashtam_test",
    redis=Endpoint("127.0.0.1", 6379),
    redis_index=1,
    shared_postgres=True,
    shared_redis=True,
)

HOST_CASES = [
    # split parts with __ nesting (pydantic-settings' env_nested_delimiter)
    (
        {"DATABASE__HOSTNAME": "localhost", "DATABASE__PORT": "5432", "DATABASE__DB": "app"},
        {"DATABASE__HOSTNAME": "localhost", "DATABASE__PORT": "54321", "DATABASE__DB": "app_test"},
    ),
    # prefixed parts, a Redis port beside them
    (
        {"SHOP_POSTGRES_PORT": "5432", "SHOP_POSTGRES_DATABASE": "app", "SHOP_REDIS_PORT": "6379"},
        {
            "SHOP_POSTGRES_PORT": "54321",
            "SHOP_POSTGRES_DATABASE": "app_test",
            "SHOP_REDIS_PORT": "63791",
        },
    ),
    # plain parts; a port with no host beside it is localhost on the host
    (
        {"DATABASE_PORT": "5432", "REDIS_PORT": "6379"},
        {"DATABASE_PORT": "54321", "REDIS_PORT": "63791"},
    ),
    # libpq's own
    (
        {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGDATABASE": "app"},
        {"PGHOST": "127.0.0.1", "PGPORT": "54321", "PGDATABASE": "app_test"},
    ),
    # the in-network form of the test's own server, translated for the host
    (
        {"POSTGRES_SERVER": "db", "POSTGRES_PORT": "5432", "POSTGRES_DB": "app"},
        {"POSTGRES_SERVER": "127.0.0.1", "POSTGRES_PORT": "54321", "POSTGRES_DB": "app_test"},
    ),
    # URLs keep their scheme, driver suffix, credentials and query
    (
        {"DATABASE_URL": "postgresql+asyncpg://u:p%40ss@localhost:5432/app?ssl=disable"},
        {"DATABASE_URL": "postgresql+asyncpg://u:p%40ss@localhost:54321/app_test?ssl=disable"},
    ),
    (
        {"DB_URL": "postgres://u:p@127.0.0.1/app"},
        {"DB_URL": "postgres://u:p@127.0.0.1:54321/app_test"},
    ),
    ({"CACHE": "redis://localhost:6379/0"}, {"CACHE": "redis://localhost:63791/0"}),
    ({"BROKER": "redis://:secret@localhost"}, {"BROKER": "redis://:secret@localhost:63791"}),
    # values that merely look alike pass through untouched
    ({"PAGE_SIZE": "5432"}, {"PAGE_SIZE": "5432"}),
    (
        {"CORS_ORIGINS": '["http://localhost:5432", "http://localhost:3000"]'},
        {"CORS_ORIGINS": '["http://localhost:5432", "http://localhost:3000"]'},
    ),
    ({"PROJECT_NAME": "app"}, {"PROJECT_NAME": "app"}),
    ({"APP_PORT": "8000"}, {"APP_PORT": "8000"}),
    (
        {"MULTI": "postgresql://u@h1:5432,h2:5432/app"},
        {"MULTI": "postgresql://u@h1:5432,h2:5432/app"},
    ),
    # another server entirely: not dev's, left alone
    (
        {"ANALYTICS_URL": "postgresql://u@warehouse:5432/app"},
        {"ANALYTICS_URL": "postgresql://u@warehouse:5432/app"},
    ),
]


@pytest.mark.parametrize(("given", "expected"), HOST_CASES)
def test_the_host_side_rewrite(given: dict[str, str], expected: dict[str, str]) -> None:
    out, changed = rewrite(given, DEV_HOST, TEST_HOST, "host")
    assert out == expected
    assert {c.key for c in changed} == {k for k in given if given[k] != expected[k]}
    assert leaks(out, DEV_HOST, TEST_HOST, "host") == []


CONTAINER_CASES = [
    # the service name already reaches the test's own server: only the database changes
    (
        {"DATABASE__HOSTNAME": "postgres", "DATABASE__PORT": "5432", "DATABASE__DB": "app"},
        {"DATABASE__HOSTNAME": "postgres", "DATABASE__PORT": "5432", "DATABASE__DB": "app_test"},
    ),
    (
        {"DATABASE_URL": "postgres://u:p@postgres:5432/app"},
        {"DATABASE_URL": "postgres://u:p@postgres:5432/app_test"},
    ),
    # dev's fixed container name, and the machine's gateway at dev's published port
    (
        {"DATABASE_URL": "postgresql://u:p@app-postgres:5432/app"},
        {"DATABASE_URL": "postgresql://u:p@postgres:5432/app_test"},
    ),
    (
        {"DATABASE_URL": "postgresql://u:p@host.docker.internal:5432/app"},
        {"DATABASE_URL": "postgresql://u:p@postgres:5432/app_test"},
    ),
    (
        {"REDIS_URL": "redis://host.docker.internal:6379/2"},
        {"REDIS_URL": "redis://redis:6379/2"},
    ),
    ({"REDIS_URL": "redis://redis:6379/0"}, {"REDIS_URL": "redis://redis:6379/0"}),
]


@pytest.mark.parametrize(("given", "expected"), CONTAINER_CASES)
def test_the_container_side_rewrite(given: dict[str, str], expected: dict[str, str]) -> None:
    out, _ = rewrite(given, DEV_CONTAINER, TEST_CONTAINER, "container")
    assert out == expected
    assert leaks(out, DEV_CONTAINER, TEST_CONTAINER, "container") == []


def test_a_shared_server_changes_only_the_database_and_the_index() -> None:
    given = {
        "DATABASE_URL": "postgresql://u:p@localhost:5432/dashtam",
        "REDIS_URL": "redis://localhost:6379/0",
        "OTHER_URL": "postgresql://u:p@localhost:5432/dashtam_test",
    }
    out, _ = rewrite(given, SHARED, SHARED_TEST, "host")
    assert out == {
        "DATABASE_URL": "postgresql://u:p@localhost:5432/dashtam_test",
        "REDIS_URL": "redis://localhost:6379/1",
        "OTHER_URL": "postgresql://u:p@localhost:5432/dashtam_test",
    }
    assert leaks(out, SHARED, SHARED_TEST, "host") == []
    assert leaks(given, SHARED, SHARED_TEST, "host") == [
        Leak("DATABASE_URL", given["DATABASE_URL"], "the protected database dashtam"),
        Leak("REDIS_URL", given["REDIS_URL"], "the protected Redis index 0"),
    ]


def test_the_guard_names_what_still_reaches_dev() -> None:
    found = leaks(
        {
            "DATABASE__HOSTNAME": "localhost",
            "DATABASE__PORT": "5432",
            "DATABASE__DB": "app_test",
            "REDIS_URL": "redis://127.0.0.1:6379/1",
            "PGPORT": "5432",
            "HARMLESS": "postgresql://u@localhost:54321/app_test",
        },
        DEV_HOST,
        TEST_HOST,
        "host",
    )
    assert [(f.key, f.reaches) for f in found] == [
        ("REDIS_URL", "the protected Redis at 127.0.0.1:6379"),
        ("DATABASE__PORT", "the protected PostgreSQL at localhost:5432"),
        ("PGPORT", "the protected PostgreSQL at localhost:5432"),
    ]


def test_a_port_not_leased_yet_is_left_for_the_guard() -> None:
    unleased = Destination(database="app_test")
    given = {"DATABASE_PORT": "5432", "DATABASE_URL": "postgresql://u@localhost:5432/app"}
    out, _ = rewrite(given, DEV_HOST, unleased, "host")
    assert out["DATABASE_PORT"] == "5432"
    assert {f.key for f in leaks(out, DEV_HOST, unleased, "host")} == {
        "DATABASE_URL",
        "DATABASE_PORT",
    }


def test_inside_a_container_a_port_alone_is_the_container_itself() -> None:
    assert leaks({"DATABASE_PORT": "5432"}, DEV_CONTAINER, TEST_CONTAINER, "container") == []


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("DATABASE__PORT", ("DATABASE", "port")),
        ("SHOP_POSTGRES_HOSTNAME", ("SHOP_POSTGRES", "host")),
        ("POSTGRES_SERVER", ("POSTGRES", "host")),
        ("DB_NAME", ("DB", "name")),
        ("PGDATABASE", ("PG", "name")),
        ("REDIS_DB", ("REDIS", "name")),
        ("PORT", None),
        ("PAGE_SIZE", None),
        ("DATABASE_URL", None),
    ],
)
def test_parts_are_told_by_their_names_shape(key: str, expected: object) -> None:
    assert part_of(key) == expected


def test_nothing_raises_on_odd_values() -> None:
    odd = {
        "A_PORT": "not-a-port",
        "B_PORT": "99999",
        "C_URL": "postgresql://u@[::1",
        "D_HOST": "",
        "E_URL": "redis://h:notaport/0",
        "F_DB": "",
    }
    out, changed = rewrite(odd, DEV_HOST, TEST_HOST, "host")
    assert out == odd and changed == []
    assert leaks(odd, DEV_HOST, TEST_HOST, "host") == []
