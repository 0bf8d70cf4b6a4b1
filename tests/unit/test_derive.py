"""A test environment derived from dev's one stack (pure): the override and the env file."""

from __future__ import annotations

from dashenv.facts import ComposeModel, ComposeService
from dashenv.plan.derive import (
    DeriveSpec,
    account_of,
    connection_keys,
    derive,
    derived_database_name,
    env_text,
    postgres_data_path,
)
from dashenv.plan.override import Override, Reset, load
from dashenv.settings.envfile import parse_env_text

DB_ENV = {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "app"}


def model() -> ComposeModel:
    return ComposeModel(
        {
            "db": ComposeService(
                "db",
                "myapp-postgres",
                [("127.0.0.1", 5432, 5432)],
                image="postgres:18",
                environment={**DB_ENV, "PGDATA": "/var/lib/postgresql/18/docker"},
                mounts=[
                    ("volume", "db-data", "/var/lib/postgresql", False),
                    ("bind", "/srv/init.sql", "/docker-entrypoint-initdb.d/init.sql", True),
                ],
            ),
            "cache": ComposeService(
                "cache", None, image="valkey/valkey:8", mounts=[("bind", "/srv/r", "/data", False)]
            ),
            "api": ComposeService(
                "api",
                None,
                [("0.0.0.0", 8000, 8000)],
                image="myapp-api",
                has_build=True,
                depends_on=["db", "cache"],
                environment={
                    "DATABASE_URL": "postgresql+asyncpg://app:app@myapp-postgres:5432/app",
                    "ENVIRONMENT": "local",
                },
                networks=["default", "proxy"],
            ),
            "worker": ComposeService(
                "worker",
                None,
                image="myapp-api",
                command=["celery", "-A", "app", "worker"],
                environment={
                    "POSTGRES_SERVER": "db",
                    "POSTGRES_DB": "app",
                    "POSTGRES_PORT": "5432",
                },
            ),
            "adminer": ComposeService(
                "adminer", None, [("0.0.0.0", 8080, 8080)], image="adminer", depends_on=["db"]
            ),
            "proxy": ComposeService("proxy", "traefik", image="traefik:3"),
        },
        external_network_keys=["proxy"],
        fixed_volumes={"db-data": "myapp-db-data"},
    )


SPEC = DeriveSpec(
    environment="test", source="dev", project="myapp-test", source_project="myapp",
    postgres_service="db", redis_service="cache", app_service="api",
    ports={"db:5432": 20000, "cache:6379": 20001}, stamp_script="/p/.dashenv/derived/s.sh",
)  # fmt: skip


def test_only_what_tests_need_runs() -> None:
    d = derive(model(), SPEC)
    assert d.running == ["db", "cache", "api", "worker"]
    assert d.off == ["adminer", "proxy"]
    assert load(d.override)["services"]["adminer"] == {"profiles": ["dashenv-off"]}
    # tests on the host use the servers only: the app and its worker stay off
    on_host = derive(model(), DeriveSpec(**{**SPEC.__dict__, "host_runner": True}))
    assert on_host.running == ["db", "cache"]
    assert on_host.off == ["api", "worker", "adminer", "proxy"]


def test_names_ports_and_networks_are_the_test_projects_own() -> None:
    doc = load(derive(model(), SPEC).override)
    db, cache, api = (doc["services"][n] for n in ("db", "cache", "api"))
    assert db["container_name"] == "myapp-test-postgres"
    assert api["image"] == "myapp-api:myapp-test"  # a test build never overwrites dev's
    assert db["ports"] == Override(["127.0.0.1:20000:5432"])
    assert cache["ports"] == Override(["127.0.0.1:20001:6379"])
    assert api["ports"] == Reset([])  # the app publishes nothing
    assert api["networks"] == Override({"default": {}})  # off the external proxy network
    assert doc["volumes"] == {"db-data": {"name": "myapp-test-db-data"}}


def test_pinned_subnets_and_addresses_are_dropped() -> None:
    """A subnet the files fix (and the addresses in it) would clash with dev's stack ("Pool
    overlaps with other one"): the derived stack gets a pool of Compose's choosing."""
    from dataclasses import replace

    m = model()
    m.services["worker"] = replace(
        m.services["worker"],
        networks=["backend"],
        pinned_addresses={"backend": {"aliases": ["jobs"]}},
    )
    m = replace(m, pinned_subnets=["backend"], fixed_networks={"backend": "myapp-backend"})
    doc = load(derive(m, SPEC).override)
    assert doc["networks"] == {"backend": {"name": "myapp-test-backend", "ipam": Reset({})}}
    assert doc["services"]["worker"]["networks"] == Override({"backend": {"aliases": ["jobs"]}})
    text = derive(m, SPEC).override
    assert "ipam: !reset {}" in text


def test_dashenv_s_init_files_never_go_inside_the_project_s_init_directory() -> None:
    """A project that mounts its own directory at /docker-entrypoint-initdb.d (read-only, as
    many do) keeps it, moved aside: dashenv's directory takes its place, and runs the
    project's scripts after its stamp."""
    from dataclasses import replace

    m = model()
    m.services["db"] = replace(
        m.services["db"],
        mounts=[
            ("volume", "db-data", "/var/lib/postgresql", False),
            ("bind", "/srv/sql", "/docker-entrypoint-initdb.d", True),
        ],
    )
    spec = replace(SPEC, stamp_dir="/p/.dashenv/derived/initdb")
    volumes = load(derive(m, spec).override)["services"]["db"]["volumes"]
    assert volumes == Override(
        [
            "/srv/sql:/dashenv-project-initdb:ro",
            "/p/.dashenv/derived/initdb:/docker-entrypoint-initdb.d:ro",
        ]
    )
    # a single file mounted there is no directory of the project's: the stamp goes beside it
    single = load(derive(model(), spec).override)["services"]["db"]["volumes"]
    assert "/p/.dashenv/derived/s.sh:/docker-entrypoint-initdb.d/00-dashenv-stamp.sh:ro" in (
        single.value
    )


def test_data_paths_go_to_tmpfs_and_postgres_runs_without_durability() -> None:
    d = derive(model(), SPEC)
    assert ("db", "/var/lib/postgresql") in d.replaced_mounts
    assert ("cache", "/data") in d.replaced_mounts  # a bind-mounted data directory too
    db = load(d.override)["services"]["db"]
    assert db["volumes"] == Override(
        [
            "/srv/init.sql:/docker-entrypoint-initdb.d/init.sql:ro",  # other mounts kept
            "/p/.dashenv/derived/s.sh:/docker-entrypoint-initdb.d/00-dashenv-stamp.sh:ro",
        ]
    )  # and not db-data:/var/lib/postgresql
    assert db["tmpfs"] == ["/var/lib/postgresql"]
    assert db["command"] == [
        "postgres", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"
    ]  # fmt: skip


def test_the_database_says_test_wherever_the_app_reads_it() -> None:
    d = derive(model(), SPEC)
    assert d.database == "app_test"
    services = load(d.override)["services"]
    assert services["db"]["environment"]["POSTGRES_DB"] == "app_test"
    # only the database part of the URL changes (user and database share "app"); the host that
    # was dev's container name becomes the service
    assert services["api"]["environment"]["DATABASE_URL"] == (
        "postgresql+asyncpg://app:app@db:5432/app_test"
    )
    assert services["worker"]["environment"]["POSTGRES_DB"] == "app_test"
    assert [(c.key, c.kind) for c in d.connections] == [("DATABASE_URL", "url")]


def test_markers_only_where_the_app_accepts_them() -> None:
    kept = load(derive(model(), SPEC).override)["services"]["api"]["environment"]
    assert kept["ENVIRONMENT"] == "local"
    spec = DeriveSpec(**{**SPEC.__dict__, "markers": ("ENVIRONMENT", "TESTING")})
    marked = load(derive(model(), spec).override)["services"]["api"]["environment"]
    assert marked["ENVIRONMENT"] == "testing" and marked["TESTING"] == "true"
    # the app reads TESTING as its test marker but asserts its own ENVIRONMENT
    spec = DeriveSpec(**{**SPEC.__dict__, "markers": ("TESTING",)})
    some = load(derive(model(), spec).override)["services"]["api"]["environment"]
    assert some["ENVIRONMENT"] == "local" and some["TESTING"] == "true"


def test_the_env_file_dashenv_reads() -> None:
    d = derive(model(), SPEC)
    pg = model().services["db"]
    text = env_text({"POSTGRES_DB": "app", "SECRET_KEY": "x y"}, d, account_of(pg), "db", ".env")
    entries = {k: e.value for k, e in parse_env_text(text, "t").items()}
    assert entries == {
        "POSTGRES_DB": "app_test",
        "SECRET_KEY": "x y",
        # in the form the app writes its own (its driver suffix kept)
        "DATABASE_URL": "postgresql+asyncpg://app:s3cret@db:5432/app_test",
        "ENVIRONMENT": "testing",
        "TESTING": "true",
    }


def test_connection_keys_by_value() -> None:
    env = {"DB_HOST": "db", "DB_PORT": "5432", "DB_NAME": "shop", "APP_NAME": "shop",
           "URL": "postgres://u:p@db/shop", "OTHER": "postgres://u:p@db/other"}  # fmt: skip
    found = {(c.key, c.kind) for c in connection_keys(env, "shop", {"db"})}
    # APP_NAME holds the same word but is not the database's name: it stays as it is
    assert found == {("DB_HOST", "host"), ("DB_PORT", "port"), ("DB_NAME", "name"),
                     ("URL", "url")}  # fmt: skip


def test_names_and_paths() -> None:
    assert derived_database_name("app") == "app_test"
    assert derived_database_name("app_test") == "app_test"
    assert derived_database_name("app", "ci") == "app_ci_test"
    assert postgres_data_path(ComposeService("p", None, image="postgres:17")) == (
        "/var/lib/postgresql/data"
    )
    assert postgres_data_path(ComposeService("p", None, image="postgres:18-alpine")) == (
        "/var/lib/postgresql"
    )
    assert postgres_data_path(ComposeService("p", None, image="bitnami/postgresql:16")) == (
        "/bitnami/postgresql"
    )
    # the tag names no major: the local image's PG_MAJOR says which path
    own = ComposeService("p", None, image="acme/shop-postgres:1.2", pg_major=16)
    assert postgres_data_path(own) == "/var/lib/postgresql/data"
    assert postgres_data_path(ComposeService("p", None, image="postgres:latest", pg_major=17)) == (
        "/var/lib/postgresql/data"
    )
    assert account_of(
        ComposeService("p", None, environment={"POSTGRES_PASSWORD": "x"})
    ).database == ("postgres")


def test_isolating_a_test_stack_of_its_own() -> None:
    spec = DeriveSpec(**{**SPEC.__dict__, "project": "myapp-test", "source_project": "myapp-test",
                         "isolate": True, "clashing": frozenset({8000})})  # fmt: skip
    d = derive(model(), spec)
    assert d.off == []  # every service of its own files runs
    assert d.database == "app"  # its own database keeps its name
    services = load(d.override)["services"]
    assert services["db"]["container_name"] == "myapp-test-myapp-postgres"
    assert services["api"]["environment"]["DATABASE_URL"] == (
        "postgresql+asyncpg://app:app@db:5432/app"  # by service
    )
    assert services["api"]["ports"] == Reset([])  # 8000 clashes: not published
    assert "ports" not in services["adminer"]  # 8080 is its own: kept as the files say
    assert services["db"]["tmpfs"] == ["/var/lib/postgresql"]


def test_a_url_dashenv_writes_takes_the_app_s_own_form() -> None:
    from dashenv.plan.derive import in_form_of

    url = "postgresql://app:s3cret@db:5432/app_test"
    assert in_form_of(url, "postgres://u:p@h/x") == "postgres://app:s3cret@db:5432/app_test"
    assert in_form_of(url, "postgresql+asyncpg://u:p@h/x?ssl=disable") == (
        "postgresql+asyncpg://app:s3cret@db:5432/app_test?ssl=disable"
    )
    assert in_form_of(url, "redis://h/0") == url  # not a database URL: no form to take
