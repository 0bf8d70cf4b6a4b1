"""init --detect's guesses from a project's files (pure)."""

from __future__ import annotations

import pytest

from dashenv.facts import ComposeModel, ComposeService
from dashenv.plan.detect import alembic_of, detect, find_environments, render_toml, role_of

FILES = {
    "compose/docker-compose.dev.yml": "name: dashtam-dev\n",
    "compose/docker-compose.test.yml": "name: dashtam-test\n",
    "compose/docker-compose.staging.yml": "name: dashtam-staging\n",
    "env/.env.dev.example": "",
    "env/.env.test": "",
    "app/alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
    "app/uv.lock": "version = 1\n",
    "app/pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-ra'\n",
    "app/Dockerfile": (
        "FROM python:3.13-slim\nCOPY pyproject.toml uv.lock ./\nRUN uv sync --frozen\n"
        'CMD ["uv", "run", "fastapi", "run"]\n'
    ),
}


def test_roles_from_names() -> None:
    assert role_of("dev") == ("development", True)
    assert role_of("test") == ("testing", False)
    assert role_of("e2e") == ("testing", False)
    assert role_of("ci") == ("ci", False)
    assert role_of("staging") == ("development", True)  # anything else keeps its data


def test_compose_and_env_file_pairs() -> None:
    envs, notes = find_environments(list(FILES), FILES.__getitem__)
    assert [(e.name, e.compose_files, e.env_file, e.derived_from) for e in envs] == [
        ("dev", ["compose/docker-compose.dev.yml"], "env/.env.dev", None),  # from its .example
        ("test", ["compose/docker-compose.test.yml"], "env/.env.test", None),
    ]  # two stacks: nothing derived
    assert notes == [
        "compose/docker-compose.staging.yml: no env file found (looked for "
        "env/.env.staging, compose/.env.staging, .env.staging)"
    ]


def test_alembic_location() -> None:
    assert alembic_of("app/alembic.ini", FILES["app/alembic.ini"]) == (
        "app/alembic.ini",
        "app/migrations",
    )
    assert alembic_of("alembic.ini", "[alembic]\nscript_location = db/alembic\n") == (
        "alembic.ini",
        "db/alembic",
    )
    assert alembic_of("x/alembic.ini", "[alembic]\nscript_location = pkg:migrations\n") is None
    assert alembic_of("alembic.ini", "[other]\n") is None


def test_detect_writes_every_guess_with_its_evidence() -> None:
    model = ComposeModel(
        {
            "api": ComposeService("api", None, has_build=True),
            "postgres": ComposeService("postgres", None, image="postgres:17"),
        },
        name="dashtam-api-test",
    )
    found = detect(list(FILES), FILES.__getitem__, {"dev": None, "test": model},
                   {"dev": "app", "test": "app"})  # fmt: skip
    test = found.environments[1]
    assert {g.key: g.value for g in test.guesses} == {
        "compose_files": ["compose/docker-compose.test.yml"],
        "env_file": "env/.env.test",
        "role": "testing",
        "protected": False,
        "app_service": "api",
        "alembic_config": "app/alembic.ini",
        "migrations_dir": "app/migrations",
        "alembic_command": "uv run --frozen alembic",
        "migration_command": "uv run --frozen alembic upgrade head",
        "test_command": "uv run --frozen pytest",
    }
    assert "dev: Compose could not read compose/docker-compose.dev.yml; services not detected" in (
        found.notes
    )
    text = render_toml(found)
    assert 'alembic_command = "uv run --frozen alembic"  # app/Dockerfile holds uv.lock' in text
    assert text.startswith("# dashenv.toml, written by 'dashenv init --detect'")
    import tomllib

    parsed = tomllib.loads(text)
    assert parsed["builtins"] is False and parsed["environments"]["test"]["app_service"] == "api"


# --- the layouts people have ------------------------------------------------------------

TEMPLATE = {  # fastapi/full-stack-fastapi-template's traits
    "compose.yml": "services:\n  db:\n    env_file:\n      - .env\n",
    "compose.override.yml": "",
    ".env": "POSTGRES_DB=app\n",
    "backend/alembic.ini": "[alembic]\nscript_location = app/alembic\n",
    "backend/pyproject.toml": "[tool.pytest.ini_options]\n",
    "backend/uv.lock": "",
    "backend/app/core/config.py": (
        'class Settings:\n    ENVIRONMENT: Literal["local", "staging", "production"] = "local"\n'
    ),
}


def guesses(env: object) -> dict[str, object]:
    return {g.key: g.value for g in env.guesses}  # type: ignore[attr-defined]


def test_compose_default_files_are_dev_and_test_is_derived() -> None:
    envs, notes = find_environments(list(TEMPLATE), TEMPLATE.__getitem__)
    assert [(e.name, e.compose_files, e.env_file, e.derived_from) for e in envs] == [
        ("dev", ["compose.yml", "compose.override.yml"], ".env", None),
        ("test", [], None, "dev"),
        ("ci", [], None, "dev"),
    ]
    assert guesses(envs[0])["protected"] is True
    assert notes == []


def test_the_project_name_is_the_one_compose_gives_and_markers_follow_the_app() -> None:
    model = ComposeModel(
        {
            "db": ComposeService("db", None, image="postgres:18"),
            "backend": ComposeService("backend", None, has_build=True),
            "frontend": ComposeService("frontend", None, has_build=True),
        },
        name="my-app",
    )
    found = detect(list(TEMPLATE), TEMPLATE.__getitem__, {"dev": model}, {"dev": "backend"})
    dev, test, ci = found.environments
    assert guesses(dev)["project_name"] == "my-app"
    assert guesses(dev)["app_service"] == "backend"
    assert guesses(dev)["postgres_service"] == "db"
    assert guesses(dev)["alembic_config"] == "backend/alembic.ini"
    assert guesses(dev)["migrations_dir"] == "backend/app/alembic"
    # the image's own environment: the lock is the project's, no uv run in its image
    assert guesses(dev)["test_command"] == "pytest"
    assert guesses(test) == {"derived_from": "dev", "derive_markers": False}
    assert guesses(ci) == {"derived_from": "dev", "derive_markers": False}
    import tomllib

    parsed = tomllib.loads(render_toml(found))["environments"]
    assert parsed["test"] == {"derived_from": "dev", "derive_markers": False}


def test_files_in_a_subfolder_with_an_example_env_file() -> None:
    files = {
        "deploy/docker-compose.yml": "",
        "deploy/.env.sample": "",
        "src/main.py": "",
    }
    envs, _ = find_environments(list(files), files.__getitem__)
    dev = envs[0]
    assert (dev.compose_files, dev.env_file) == (["deploy/docker-compose.yml"], "deploy/.env")
    assert guesses(dev)["env_example"] == "deploy/.env.sample"


def test_the_env_file_the_services_name() -> None:
    files = {
        "docker/compose.yaml": "services:\n  api:\n    env_file: ../backend/.env\n",
        "backend/.env.example": "",
    }
    envs, _ = find_environments(list(files), files.__getitem__)
    assert envs[0].env_file == "backend/.env"
    assert guesses(envs[0])["env_file"] == "backend/.env"


def test_the_seeds_older_overlay_is_dev_and_test_sharing_one_stack() -> None:
    files = {"docker-compose.yml": "", "docker-compose.test.yml": "", ".env": "",
             ".env.test": ""}  # fmt: skip
    envs, _ = find_environments(list(files), files.__getitem__)
    dev, test = envs[:2]
    assert dev.compose_files == ["docker-compose.yml"]
    assert test.compose_files == ["docker-compose.yml", "docker-compose.test.yml"]
    assert guesses(dev)["exclusive_with"] == ["test"]
    assert guesses(test)["exclusive_with"] == ["dev"]
    assert [e.name for e in envs] == ["dev", "test"]


def test_one_file_per_environment_with_a_hyphen() -> None:
    files = {"docker-compose-dev.yml": "name: shop\n", "docker-compose-test.yml": "name: shop-t\n",
             ".env.dev": "", ".env.test": ""}  # fmt: skip
    envs, _ = find_environments(list(files), files.__getitem__)
    assert [(e.name, e.compose_files) for e in envs[:2]] == [
        ("dev", ["docker-compose-dev.yml"]),
        ("test", ["docker-compose-test.yml"]),
    ]


@pytest.mark.parametrize(
    ("files", "why"),
    [
        (
            {"docker-compose-dev.yml": "", "docker-compose-test.yml": ""},
            "no name:, the same folder",
        ),
        (
            {"dev/compose.dev.yml": "name: shop\n", "test/compose.test.yml": "name: shop\n"},
            "name: shop",
        ),
        (
            {
                "compose.dev.yml": "name: a\n",
                "compose.test.yml": "name: b\n",
                ".env": "# the project\nCOMPOSE_PROJECT_NAME=shop\n",
            },
            "COMPOSE_PROJECT_NAME in .env",
        ),
    ],
    ids=["unnamed", "one-name", "dotenv"],
)
def test_a_test_file_that_runs_as_dev_s_project_is_derived_from_dev(
    files: dict[str, str], why: str
) -> None:
    envs, _ = find_environments(list(files), files.__getitem__)
    assert [(e.name, e.derived_from) for e in envs] == [
        ("dev", None),
        ("test", "dev"),
        ("ci", "dev"),
    ]
    evidence = envs[1].guesses[0].evidence
    test_file = next(f for f in files if "test" in f)
    assert evidence == (
        f"{test_file} runs as dev's compose project ({why}): typed by hand it shares dev's "
        "containers and volumes: made from dev's by .dashenv/derived/test.yml"
    )


def test_a_test_file_of_its_own_project_is_adopted() -> None:
    for files in (
        {"compose.dev.yml": "", "compose.test.yml": "name: shop-test\n"},
        {"dev/compose.dev.yml": "", "test/compose.test.yml": ""},  # two folders: two projects
    ):
        envs, _ = find_environments(list(files), files.__getitem__)
        assert [(e.name, e.derived_from) for e in envs] == [("dev", None), ("test", None)]


def test_compose_project_name_in_dot_env_names_dev() -> None:
    files = {"compose.yaml": "", ".env.dev": "", ".env": "COMPOSE_PROJECT_NAME=shop\n"}
    model = ComposeModel({"db": ComposeService("db", None, image="postgres:17")}, name="x")
    found = detect(list(files), files.__getitem__, {"dev": model}, {})
    dev = found.environments[0]
    assert next(g for g in dev.guesses if g.key == "project_name").value == "shop"


def test_no_env_file_at_all() -> None:
    envs, notes = find_environments(["compose.yaml"], lambda _: "")
    assert envs[0].env_file == "/dev/null"  # read as empty; Compose takes it as it is
    assert notes == []


def test_infrastructure_only_runs_the_app_on_the_host() -> None:
    files = {
        "docker-compose.yml": "",
        "service/.env": "DATABASE_URL=postgresql://u:p@localhost:5432/shop\n",
        "service/pyproject.toml": "[tool.pytest.ini_options]\n",
        "service/poetry.lock": "",
        "service/migrate.py": "",
    }
    model = ComposeModel(
        {
            "postgres": ComposeService("postgres", None, image="postgres:17"),
            "redis": ComposeService("redis", None, image="redis:8"),
        },
        name="shop",
    )
    found = detect(list(files), files.__getitem__, {"dev": model}, {})
    dev = guesses(found.environments[0])
    assert found.environments[0].env_file == "service/.env"  # beside the code
    assert dev["test_runner"] == "host" and dev["host_dir"] == "service"
    assert dev["test_command"] == "poetry run pytest"
    assert dev["alembic_config"] == "none" and dev["migrations_dir"] == "service/migrate.py"
    assert dev["migration_command"] == "poetry run python migrate.py"  # its own script


def test_a_clashing_pair_is_isolated() -> None:
    files = {"docker-compose.dev.yml": "", "docker-compose.test.yml": "name: shop-test\n",
             ".env.dev": "", ".env.test": ""}  # fmt: skip

    def stack(db: str) -> ComposeModel:
        return ComposeModel(
            {
                "db": ComposeService(
                    "db",
                    "shop-db",
                    [("127.0.0.1", 5432, 5432)],
                    image="postgres:17",
                    mounts=[("bind", "/p/pgdata", "/var/lib/postgresql/data", False)],
                    environment={"POSTGRES_DB": db},
                ),
                "api": ComposeService("api", None, [("127.0.0.1", 8000, 8000)], has_build=True),
            },
            name="shop",
        )

    found = detect(list(files), files.__getitem__, {"dev": stack("shop"),
                   "test": stack("shop_test")}, {})  # fmt: skip
    dev, test = (guesses(e) for e in found.environments)
    assert dev["project_name"] == "shop" and "project_name" not in test
    assert dev["app_scheme"] == "http"  # no certificate mounted into the app
    assert test["isolated"] is True
    evidence = next(g.evidence for g in found.environments[1].guesses if g.key == "isolated")
    assert evidence == (
        "clashes with dev: container_name shop-db, host port 5432 (db), data directory "
        "/p/pgdata (db), host port 8000 (api)"
    )


def _found(files: dict[str, str]) -> tuple[list[tuple[str, list[str], str | None]], list[str]]:
    envs, notes = find_environments(list(files), files.__getitem__)
    return [(e.name, e.compose_files, e.env_file) for e in envs], notes


def test_compose_files_three_folders_deep_with_no_env_file_beside() -> None:
    compose = "services:\n  api:\n    build: .\n    env_file: ../../../.env\n"
    found, _ = _found({"deploy/docker/dev/docker-compose.dev.yml": compose, ".env": "A=1\n"})
    assert found[0] == ("dev", ["deploy/docker/dev/docker-compose.dev.yml"], ".env")
    assert [f[0] for f in found] == ["dev", "test", "ci"]  # test and ci derived from it
    # no env file anywhere: the values are in the files' environment:
    found, _ = _found({"ops/compose/local/docker-compose.dev.yml": "services: {}\n"})
    assert found[0] == ("dev", ["ops/compose/local/docker-compose.dev.yml"], "/dev/null")


def test_dev_is_what_the_project_s_own_dev_command_starts() -> None:
    prod = "services:\n  web:\n    image: acme/web:1\n"
    local = "services:\n  web:\n    build: .\n"
    files = {
        "docker-compose.yml": prod,
        "docker-compose.local.yml": local,
        "Makefile": "up:\n\tdocker compose -f docker-compose.local.yml up -d --build\n",
    }
    found, _ = _found(files)
    assert found[0] == ("dev", ["docker-compose.local.yml"], "/dev/null")
    envs, _ = find_environments(list(files), files.__getitem__)
    assert envs[0].guesses[0].evidence == (
        "the project's dev command (Makefile: docker compose -f docker-compose.local.yml up)"
    )
    files = {
        "docker-compose.yml": prod,
        "deploy/dev/compose.yaml": local,
        "README.md": "Run it:\n\n```\ndocker compose -f deploy/dev/compose.yaml up\n```\n",
    }
    found, notes = _found(files)
    assert found[0] == ("dev", ["deploy/dev/compose.yaml"], "/dev/null")
    assert notes == [
        "docker-compose.yml: Compose's default file, not dev: the project's dev command "
        "(README.md: docker compose -f deploy/dev/compose.yaml up) starts deploy/dev/compose.yaml"
    ]


def test_the_profiles_dev_needs() -> None:
    from dashenv.plan.compose_files import declared_profiles
    from dashenv.plan.detect import needed_profiles

    model = ComposeModel(
        {
            "api": ComposeService(
                "api", None, has_build=True, depends_on=["postgres"], profiles=["app"]
            ),
            "postgres": ComposeService(
                "postgres", None, image="postgres:17", profiles=["app", "db"]
            ),
            "admin": ComposeService("admin", None, image="x", profiles=["tools"]),
        }
    )
    makefile = (
        "dev:\n\tdocker compose --profile app up --build\n"
        "tools:\n\tdocker compose --profile tools up -d\n"
    )
    files = {"Makefile": makefile}
    chosen, why = needed_profiles(model, {"app_service": "api"}, set(files), files.__getitem__)
    assert (chosen, why) == (["app"], "app: Makefile's dev command enables it")
    # no dev command: the profile its services sit behind, one that enables each
    chosen, why = needed_profiles(model, {"app_service": "api"}, set(), lambda _: "")
    assert (chosen, why) == (["app"], "app: api is behind it")
    assert declared_profiles(["services:\n  a:\n    profiles: [x, y]\n  b: {}\n"]) == {
        "x": ["a"],
        "y": ["a"],
    }


def test_tools_run_as_the_project_runs_them_never_through_a_fresh_virtualenv() -> None:
    from dashenv.plan.detect import interpreter

    plain = "FROM python:3.13-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    locked = (
        "FROM python:3.13-slim\nCOPY . /app\nRUN uv sync --frozen\nCMD uv run uvicorn main:app\n"
    )
    onpath = (
        "FROM python:3.13-slim\nCOPY uv.lock .\nENV PATH=/app/.venv/bin:$PATH\nCMD fastapi run\n"
    )

    def runner(files: dict[str, str], on_host: bool) -> str:
        return interpreter("app", set(files), files.__getitem__, on_host)[0]

    lock = {"app/uv.lock": ""}
    assert runner({**lock, "app/Dockerfile": plain}, False) == ""  # the image has no lock
    assert runner({**lock, "app/Dockerfile": locked}, False) == "uv run --frozen "
    assert runner({**lock, "app/Dockerfile": onpath}, False) == ""  # its venv is on PATH
    assert runner(lock, True) == "uv run --frozen "  # the host: the lock as it is
    assert runner({"app/poetry.lock": ""}, True) == "poetry run "
    assert runner({"app/requirements.txt": ""}, True) == "python -m "


def test_tests_run_where_they_live() -> None:
    from dashenv.plan.detect import tests_outside_image

    files = {
        "api/Dockerfile": "FROM python:3.13-slim\nCOPY requirements.txt .\nCOPY ./app /srv/app\n",
        "api/app/main.py": "",
        "api/tests/test_main.py": "",
        ".github/workflows/ci.yml": "    - run: cd api && pytest -q\n",
    }
    why = tests_outside_image("api", list(files), files.__getitem__)
    assert why == (
        "the app's image holds no tests (api/Dockerfile does not copy tests/); "
        ".github/workflows/ci.yml runs them on the host"
    )
    everything = {**files, "api/Dockerfile": "FROM python:3.13-slim\nCOPY . /srv\n"}
    assert tests_outside_image("api", list(everything), everything.__getitem__) is None
    ignored = {**everything, "api/.dockerignore": "tests/\n.venv\n"}
    assert tests_outside_image("api", list(ignored), ignored.__getitem__) is not None
    named = {**files, "api/Dockerfile": 'FROM x\nCOPY ["app", "tests", "/srv/"]\n'}
    assert tests_outside_image("api", list(named), named.__getitem__) is None
