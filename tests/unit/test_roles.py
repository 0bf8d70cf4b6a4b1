"""Which service plays which role, where the files hold several databases."""

from __future__ import annotations

from dashenv.facts import ComposeService
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
