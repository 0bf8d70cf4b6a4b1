"""The compose files as the truth: reconciling settings with the resolved model (pure)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashenv.errors import ConfigError
from dashenv.facts import ComposeModel, ComposeService, Container
from dashenv.plan.compose_files import (
    cache_key,
    declared_name,
    detect_roles,
    image_name,
    model_from_json,
    model_to_json,
    proxy_url,
    reconcile,
    routes_through_proxy,
)
from dashenv.settings.model import EnvironmentSettings
from dashenv.settings.project import BUILTIN_ENVIRONMENTS

TRAEFIK = {
    "traefik.enable": "true",
    "traefik.http.routers.api.rule": "Host(`api-test.dashtam.local`)",
    "traefik.http.routers.api.entrypoints": "websecure",
}


def settings_of_test() -> EnvironmentSettings:
    return EnvironmentSettings(**BUILTIN_ENVIRONMENTS["test"])


def adopted() -> ComposeModel:
    """The adopted project's test file: its own name, hard-coded ports, an app behind Traefik
    named api, no callback."""
    return ComposeModel(
        {
            "postgres": ComposeService(
                "postgres", "dashtam-api-test-postgres", [("127.0.0.1", 15433, 5432)], "postgres:17"
            ),
            "redis": ComposeService(
                "redis", "dashtam-api-test-redis", [("127.0.0.1", 16380, 6379)], "redis:8"
            ),
            "api": ComposeService(
                "api", "dashtam-api-test-api", [], None, has_build=True, labels=TRAEFIK
            ),
        },
        ["traefik-public"],
        name="dashtam-api-test",
    )


def test_the_files_decide_name_ports_and_services_over_defaults() -> None:
    got = reconcile(settings_of_test(), {}, adopted(), "test.yml", files_name_project=True)
    assert got.updates == {
        "project_name": "dashtam-api-test",
        "app_service": "api",
        "app_port": None,
        "callback_port": None,
        "postgres_port": 15433,
        "redis_port": 16380,
    }
    assert got.reasons["postgres_port"] == "test.yml: postgres publishes 15433"
    assert got.reasons["callback_port"] == "test.yml: no callback service"
    assert got.services == ["postgres", "redis", "api"]
    assert got.proxy_url == "https://api-test.dashtam.local"


def test_an_explicit_port_the_files_hard_code_differently_is_exit_2_naming_both() -> None:
    explicit = {"postgres_port": "dashenv.toml:7 (environments.test.postgres_port)"}
    settings = settings_of_test().model_copy(update={"postgres_port": 5555})
    with pytest.raises(ConfigError) as err:
        reconcile(settings, explicit, adopted(), "test.yml", files_name_project=True)
    assert err.value.message == (
        "postgres_port is 5555 (dashenv.toml:7 (environments.test.postgres_port)), but "
        "test.yml publishes postgres on 15433: dashenv cannot change a port the files hard-code"
    )
    assert "${DASHENV_POSTGRES_PORT:-15433}" in (err.value.hint or "")


def test_an_explicit_port_for_a_service_that_publishes_none_has_nothing_to_apply_to() -> None:
    explicit = {"app_port": "--set app_port"}
    got = reconcile(settings_of_test(), explicit, adopted(), "t.yml", files_name_project=True)
    assert got.updates["app_port"] is None
    assert got.reasons["app_port"].endswith("--set app_port has nothing to apply to")


def test_agreeing_files_change_nothing_and_an_explicit_name_is_kept() -> None:
    shipped = ComposeModel(
        {
            "app": ComposeService("app", None, [("127.0.0.1", 8001, 8000)], has_build=True),
            "callback": ComposeService("callback", None, [("127.0.0.1", 8183, 8182)]),
            "postgres": ComposeService(
                "postgres", None, [("127.0.0.1", 5433, 5432)], "postgres:17"
            ),
            "redis": ComposeService("redis", None, [("127.0.0.1", 6380, 6379)], "redis:8"),
        },
        name="other",
    )
    got = reconcile(settings_of_test(), {}, shipped, "t.yml", files_name_project=False)
    assert got.updates == {} and got.proxy_url is None


def test_roles_by_image_and_build() -> None:
    services = {
        "db": ComposeService("db", None, image="docker.io/library/postgres:17-alpine"),
        "cache": ComposeService("cache", None, image="valkey/valkey:8"),
        "backend": ComposeService("backend", None, has_build=True),
        "worker": ComposeService("worker", None, has_build=False, image="busybox"),
    }
    defaults = {"app_service": "app", "callback_service": "callback",
                "postgres_service": "postgres", "redis_service": "redis"}  # fmt: skip
    assert detect_roles(services, defaults) == {
        "postgres_service": "db",
        "redis_service": "cache",
        "app_service": "backend",
    }
    # two built services, neither named like an app: no guess
    services["other"] = ComposeService("other", None, has_build=True)
    services["backend2"] = ComposeService("backend2", None, has_build=True)
    assert "app_service" not in detect_roles(services, defaults)
    assert image_name("ghcr.io/x/redis-stack-server:7@sha256:ab") == "redis-stack-server"


def test_proxy_routes() -> None:
    plain = {"traefik.http.routers.web.rule": 'Host("app.localhost") && PathPrefix(`/`)'}
    assert proxy_url(ComposeService("web", None, labels=plain)) == "http://app.localhost"
    tls = {**plain, "traefik.http.routers.web.tls.certresolver": "le"}
    assert proxy_url(ComposeService("web", None, labels=tls)) == "https://app.localhost"
    assert proxy_url(ComposeService("web", None)) is None
    assert routes_through_proxy(adopted()) == ["api"]


def test_declared_name_and_the_cache_key() -> None:
    assert declared_name(["services: {}\n", 'name: "dashtam-api-test"  # ours\n']) == (
        "dashtam-api-test"
    )
    assert declared_name(["services:\n  name: x\n"]) is None  # only a top-level name:
    texts = ["ports: ['${PG_PORT:-5433}:5432']\n"]
    base = cache_key(texts, "A=1\n", {"DASHENV_X": "1"}, {"PG_PORT": "1"}, True, [])
    assert base == cache_key(texts, "A=1\n", {"DASHENV_X": "1"}, {"PG_PORT": "1", "PWD": "/"},
                             True, [])  # fmt: skip
    assert base != cache_key(texts, "A=1\n", {"DASHENV_X": "1"}, {"PG_PORT": "2"}, True, [])
    assert base != cache_key(texts, "A=2\n", {"DASHENV_X": "1"}, {"PG_PORT": "1"}, True, [])
    assert base != cache_key(texts, "A=1\n", {"DASHENV_X": "1"}, {"PG_PORT": "1"}, False, [])


def test_the_cached_model_round_trips() -> None:
    model = adopted()
    assert model_from_json(model_to_json(model)) == model


def test_running_proxies() -> None:
    from dashenv.plan.compose_files import running_proxies

    proxy = Container("1", "edge", None, None, "running", None, image="traefik:v3")
    stopped = Container("2", "traefik", None, None, "exited", None)
    assert running_proxies([proxy, stopped]) == ["edge"]


def test_what_a_compose_file_pulls_in() -> None:
    from dashenv.plan.compose_files import referenced_files

    text = """
include:
  - infra/db.yml
  - path: [extra/a.yml, extra/b.yml]
    env_file: extra/.env
services:
  api:
    extends: {file: common.yml, service: base}
    env_file: [backend/.env, {path: backend/.env.local, required: false}]
  worker:
    extends: api
"""
    assert referenced_files(text) == [
        "infra/db.yml", "extra/a.yml", "extra/b.yml", "extra/.env", "common.yml",
        "backend/.env", "backend/.env.local",
    ]  # fmt: skip
    assert referenced_files("services:\n  db:\n    image: postgres:17\n") == []
    assert referenced_files("include: [unclosed\n") == []  # Compose says what is wrong


def test_the_cache_key_follows_what_the_files_pull_in(tmp_path: Path) -> None:
    from dashenv.observe.compose import _pulled_in

    main = tmp_path / "compose.yml"
    main.write_text("include:\n  - infra/db.yml\n")
    (tmp_path / "infra").mkdir()
    db = tmp_path / "infra" / "db.yml"
    db.write_text("services:\n  db:\n    image: postgres:17\n    env_file: db.env\n")

    def key() -> str:
        texts = [main.read_text()]
        return cache_key(texts + _pulled_in([main], texts), None, {}, {}, True, [])

    first = key()
    (tmp_path / "infra" / "db.env").write_text("POSTGRES_DB=app\n")  # was missing
    second = key()
    db.write_text(db.read_text().replace("17", "18"))  # the included file itself
    assert len({first, second, key()}) == 3
    assert key() == key()


def test_every_env_file_a_service_names_is_read_as_compose_reads_it() -> None:
    """One path, an inline list (every item, not the first), a block list of paths and of
    {path:, required:} items; a file that is not YAML names none."""
    from dashenv.plan.compose_files import env_files_named

    text = (
        "services:\n"
        '  api:\n    env_file: [.env, "config/.env.extra"]\n'
        "  worker:\n    env_file:\n      - path: ./worker.env\n        required: false\n"
        "      - shared.env\n"
        "  db:\n    env_file: .env\n"
    )
    assert env_files_named(text) == [".env", "config/.env.extra", "./worker.env", "shared.env"]
    assert env_files_named("services: {db: {image: postgres:17}}") == []
    assert env_files_named("env_file: [") == []


def test_the_kept_model_is_found_without_parsing_until_a_file_pulled_in_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct path: the compose files' texts, and the stamps of what they pulled in,
    find the kept model; a changed included file, a missing one appearing, or a new value
    of a variable the files name each send it back to the full key."""
    from dashenv.facts import ComposeModel
    from dashenv.observe import compose

    main = tmp_path / "compose.yml"
    main.write_text("include:\n  - db.yml\nservices:\n  app:\n    image: app:${APP_TAG}\n")
    db = tmp_path / "db.yml"
    db.write_text("services:\n  db:\n    image: postgres:17\n    env_file: db.env\n")
    settled = 1_700_000_000  # long ago: a file changed just now is not trusted by its stamp
    for f in (main, db):
        os.utime(f, (settled, settled))
    texts = [main.read_text()]
    pulled = compose._pulled_in([main], texts)
    direct = cache_key(texts, None, {}, {}, True, [], direct=True)
    monkeypatch.setenv("APP_TAG", "1")
    model = ComposeModel({}, name="kept")
    paths = [p.split("\0", 1)[0] for p in pulled]

    def store() -> None:
        entries = compose._entries(tmp_path, "dev")
        compose._store(tmp_path, "dev", entries, "full-key", model, direct, paths, ["APP_TAG"])

    store()

    def found() -> bool:
        hit = compose._cached_direct(compose._entries(tmp_path, "dev"), direct)
        return hit is not None and hit[0] == "full-key" and hit[1].name == "kept"

    assert found()
    assert compose._cached_direct(compose._entries(tmp_path, "dev"), "other texts") is None
    monkeypatch.setenv("APP_TAG", "2")  # a variable the files name
    assert not found()
    monkeypatch.setenv("APP_TAG", "1")
    assert found()
    (tmp_path / "db.env").write_text("POSTGRES_DB=app\n")  # was missing
    assert not found()
    store()
    assert not found()  # db.env changed just now: its stamp is not trusted yet
    os.utime(tmp_path / "db.env", (settled, settled))
    store()
    assert found()
    db.write_text(db.read_text().replace("17", "18"))  # the included file itself
    assert not found()


def test_an_environments_views_keep_their_models_side_by_side(tmp_path: Path) -> None:
    """As owned and as this checkout's instance (an override file more), with and without
    its env file: each view's model is kept beside the others', not in place of them."""
    from dashenv.facts import ComposeModel
    from dashenv.observe import compose

    for i in range(compose.KEPT):
        compose._store(
            tmp_path,
            "test",
            compose._entries(tmp_path, "test"),
            f"key{i}",
            ComposeModel({}, name=f"m{i}"),
            f"d{i}",
        )
    for i in range(compose.KEPT):
        hit = compose._cached_direct(compose._entries(tmp_path, "test"), f"d{i}")
        assert hit is not None and hit[1].name == f"m{i}"
        model = compose._cached(compose._entries(tmp_path, "test"), f"key{i}")
        assert model is not None and model.name == f"m{i}"
    compose._store(
        tmp_path,
        "test",
        compose._entries(tmp_path, "test"),
        "key-new",
        ComposeModel({}, name="new"),
        "d-new",
    )
    assert (
        compose._cached(compose._entries(tmp_path, "test"), "key0") is None
    )  # the oldest gave way
    assert compose._cached_direct(compose._entries(tmp_path, "test"), "d-new") is not None
