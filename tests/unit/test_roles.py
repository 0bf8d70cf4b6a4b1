"""Which service plays which role, where the files hold several databases."""

from __future__ import annotations

from dashenv.facts import ComposeModel, ComposeService
from dashenv.plan.compose_files import DEFAULT_ROLES, app_database, detect_roles


def svc(name: str, image: str | None = None, **kw: object) -> ComposeService:
    return ComposeService(name, None, image=image, **kw)  # type: ignore[arg-type]


def services() -> dict[str, ComposeService]:
    """The app's database, a workflow engine's and an analytics one, none named postgres."""
    return {
        "api": svc(
            "api",
            has_build=True,
            depends_on=["app-db", "temporal"],
            environment={"DATABASE_URL": "postgresql+asyncpg://app:s@app-db:5432/app"},
        ),
        "app-db": svc("app-db", "postgres:17"),
        "temporal": svc(
            "temporal",
            "temporalio/auto-setup:1.25",
            depends_on=["temporal-db"],
            environment={"POSTGRES_SEEDS": "temporal-db"},
        ),
        "temporal-db": svc("temporal-db", "postgres:16"),
        "analytics": svc("analytics", "timescale/timescaledb:latest-pg17"),
    }


def test_the_app_s_database_is_the_one_it_depends_on_and_names() -> None:
    chosen, why = app_database(services(), "api", ["app-db", "temporal-db", "analytics"])
    assert chosen == "app-db"
    assert why == (
        "the app's: api depends on it; api's DATABASE_URL names it "
        "(not the app's: temporal-db, analytics)"
    )
    roles = detect_roles(services(), DEFAULT_ROLES)
    assert roles["postgres_service"] == "app-db" and roles["app_service"] == "api"


def test_none_is_guessed_where_none_stands_out() -> None:
    found = services()
    found["api"] = svc("api", has_build=True)  # names no database, depends on none
    chosen, why = app_database(found, "api", ["app-db", "temporal-db"])
    assert chosen is None and "none is clearly the app's" in why
    assert "postgres_service" not in detect_roles(found, DEFAULT_ROLES)


def test_images_that_are_postgresql_with_the_official_contract() -> None:
    from dashenv.plan.compose_files import is_postgres_image

    for image in ("postgres", "postgres:17-alpine", "postgis/postgis:17-3.5",
                  "pgvector/pgvector:pg17", "timescale/timescaledb:latest-pg17",
                  "acme/shop-postgres:1.4", "ghcr.io/acme/app_postgresql"):  # fmt: skip
        assert is_postgres_image(image), image
    for image in ("prometheuscommunity/postgres-exporter", "dpage/pgadmin4", "redis:8",
                  "acme/postgres-backup", "edoburu/pgbouncer", None):  # fmt: skip
        assert not is_postgres_image(image), image
    # dashenv.toml's postgres_images, as written or without the tag
    assert is_postgres_image("registry.local/db:3", ("registry.local/db",))


def test_the_image_a_dockerfile_builds_from() -> None:
    from dashenv.plan.compose_files import dockerfile_base

    assert dockerfile_base(
        "ARG PG=16\nFROM postgres:${PG}-bookworm AS base\nRUN x\nFROM base\n"
    ) == ("postgres:16-bookworm")
    assert dockerfile_base("FROM --platform=linux/amd64 python:3.13 AS b\nFROM postgres:17\n") == (
        "postgres:17"
    )
    assert dockerfile_base("# nothing\n") is None


def test_a_database_built_from_postgres_is_postgresql_not_the_app() -> None:
    from dashenv.plan.compose_files import postgres_image
    from dashenv.plan.derive import DeriveSpec, derive
    from dashenv.plan.override import load

    found = {
        "api": svc("api", has_build=True, depends_on=["db"],
                   environment={"DATABASE_URL": "postgresql://u:p@db/app"}),
        "db": svc("db", "shop-db", has_build=True, base_image="postgres:16",
                  environment={"POSTGRES_DB": "app"}),
    }  # fmt: skip
    assert postgres_image(found["db"]) == "postgres:16"
    roles = detect_roles(found, DEFAULT_ROLES)
    assert roles == {"postgres_service": "db", "app_service": "api"}
    spec = DeriveSpec(
        environment="test", source="dev", project="shop-test", source_project="shop",
        postgres_service="db", redis_service="redis", app_service="api",
        stamp_script="/p/s.sh",
    )  # fmt: skip
    db = load(derive(ComposeModel(found), spec).override)["services"]["db"]
    assert "fsync=off" in db["command"]  # the speed flags, as on the official image
    assert db["tmpfs"] == ["/var/lib/postgresql/data"]  # 16's data path, from FROM's tag
