"""init --detect's guesses from a project's files (pure)."""

from __future__ import annotations

from dashenv.facts import ComposeModel, ComposeService
from dashenv.plan.detect import alembic_of, detect, find_environments, render_toml, role_of

FILES = {
    "compose/docker-compose.dev.yml": "",
    "compose/docker-compose.test.yml": "",
    "compose/docker-compose.staging.yml": "",
    "env/.env.dev.example": "",
    "env/.env.test": "",
    "app/alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
    "app/uv.lock": "version = 1\n",
    "app/pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-ra'\n",
    "app/Dockerfile": "FROM python:3.13-slim\n",
}


def test_roles_from_names() -> None:
    assert role_of("dev") == ("development", True)
    assert role_of("test") == ("testing", False)
    assert role_of("e2e") == ("testing", False)
    assert role_of("ci") == ("ci", False)
    assert role_of("staging") == ("development", True)  # anything else keeps its data


def test_compose_and_env_file_pairs() -> None:
    envs, notes = find_environments(list(FILES))
    assert [(e.name, e.compose_file, e.env_file) for e in envs] == [
        ("dev", "compose/docker-compose.dev.yml", "env/.env.dev"),  # from its .example
        ("test", "compose/docker-compose.test.yml", "env/.env.test"),
    ]
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
        "alembic_command": "uv run alembic",
        "migration_command": "uv run alembic upgrade head",
        "test_command": "uv run pytest",
    }
    assert "dev: Compose could not read compose/docker-compose.dev.yml; services not detected" in (
        found.notes
    )
    text = render_toml(found)
    assert 'alembic_command = "uv run alembic"  # uv: app/uv.lock' in text
    assert text.startswith("# dashenv.toml, written by 'dashenv init --detect'")
    import tomllib

    parsed = tomllib.loads(text)
    assert parsed["builtins"] is False and parsed["environments"]["test"]["app_service"] == "api"
