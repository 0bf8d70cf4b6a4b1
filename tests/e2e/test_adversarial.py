"""Every setting that can point a reset somewhere else, through every layer that can carry
it: each is refused with its documented exit code (3 for a guard, 2 for a contradiction in
the configuration), and every byte of dev (its rows, every Redis index) is still there.

Dev's data is checked directly (psycopg, redis-py), not through dashenv.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import psycopg
import pytest
import redis

from tests.e2e.conftest import Project, isolated_toml, new_project, teardown
from tests.e2e.helpers import ok

pytestmark = pytest.mark.docker

DEV_KEYS = {0: "oauth:token", 1: "queue:job", 2: "ratelimit:ip", 3: "spare"}
LAYERS = ("cli", "process env", "env file", "dashenv.toml")


@pytest.fixture(scope="module")
def stack(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = new_project(tmp_path_factory.mktemp("adversarial"), ("dev", "test"))
    try:
        ok(project("up", "dev", "postgres", "redis"))
        with psycopg.connect(dev_dsn(project), autocommit=True) as conn:
            conn.execute("CREATE TABLE precious (id int PRIMARY KEY, what text)")
            conn.execute("INSERT INTO precious VALUES (1, 'oauth token'), (2, 'provider')")
        for index, key in DEV_KEYS.items():
            redis.Redis(port=project.ports["dev"]["redis"], db=index).set(key, f"dev-{index}")
        ok(project("test", "setup"))
        yield project
    finally:
        teardown(project, ("dev", "test"))


def dev_dsn(p: Project) -> str:
    port = p.ports["dev"]["postgres"]
    return f"postgresql://dashtam_user:dev_pw_1234@127.0.0.1:{port}/dashtam"


def assert_dev_intact(p: Project) -> None:
    with psycopg.connect(dev_dsn(p)) as conn:
        rows = conn.execute("SELECT id, what FROM precious ORDER BY id").fetchall()
    assert rows == [(1, "oauth token"), (2, "provider")]
    for index, key in DEV_KEYS.items():
        client = redis.Redis(port=p.ports["dev"]["redis"], db=index)
        assert client.get(key) == f"dev-{index}".encode(), f"dev's Redis index {index}"
        assert client.dbsize() == 1


def pointing_elsewhere(p: Project) -> dict[str, tuple[dict[str, str], int]]:
    """Each way to point the test environment's reset at dev: settings, and the exit code."""
    dev = p.ports["dev"]
    return {
        "postgres port": ({"postgres_port": str(dev["postgres"])}, 3),
        "redis port": ({"redis_port": str(dev["redis"])}, 3),
        "project name": ({"project_name": f"{p.prefix}-dev"}, 3),
        "host and port": ({"host": "localhost", "postgres_port": str(dev["postgres"])}, 3),
        "redis index": ({"redis_index": "0"}, 2),  # REDIS_URL says 1: a contradiction
        "further index on dev's server": (
            {"redis_indexes": "0", "redis_port": str(dev["redis"])},
            3,
        ),
        "dev's project, ports and a one-sided sharing": (
            {
                "project_name": f"{p.prefix}-dev",
                "postgres_port": str(dev["postgres"]),
                "redis_port": str(dev["redis"]),
                "exclusive_with": "dev",
            },
            3,
        ),
    }


def reset_with(p: Project, layer: str, settings: dict[str, str]):
    """``db reset test --yes`` with ``settings`` carried by ``layer``; files are restored."""
    env_file = p.root / "env" / ".env.test"
    toml = p.root / "dashenv.toml"
    saved = {env_file: env_file.read_text(), toml: toml.read_text()}
    args: list[str] = []
    environ: dict[str, str] = {}
    try:
        if layer == "cli":
            for key, value in settings.items():
                args += ["--set", f"{key}={value}"]
        elif layer == "process env":
            environ = {f"DASHENV_{k.upper()}": v for k, v in settings.items()}
        elif layer == "env file":
            lines = [f"DASHENV_{k.upper()}={v}" for k, v in settings.items()]
            env_file.write_text(saved[env_file] + "\n".join(lines) + "\n")
        else:
            tables = tomllib.loads(saved[toml])["environments"]
            tables["test"].update(
                {
                    k: (v.split(",") if k == "exclusive_with" else [int(v)])
                    if k in ("exclusive_with", "redis_indexes")
                    else (int(v) if v.isdigit() else v)
                    for k, v in settings.items()
                }
            )
            toml.write_text(isolated_toml(p.prefix, tables))
        return p(*args, "db", "reset", "test", "--yes", env=environ)
    finally:
        for path, text in saved.items():
            path.write_text(text)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize(
    "case",
    [
        "postgres port",
        "redis port",
        "project name",
        "host and port",
        "redis index",
        "further index on dev's server",
        "dev's project, ports and a one-sided sharing",
    ],
)
def test_every_setting_through_every_layer_is_refused(
    stack: Project, case: str, layer: str
) -> None:
    settings, code = pointing_elsewhere(stack)[case]
    result = reset_with(stack, layer, settings)
    assert result.returncode == code, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ") and lines[-1].startswith("Hint: ")
    assert "Traceback" not in result.stderr
    if code == 3:
        assert lines[0].startswith("Error: refusing to reset test: guard ")
    assert_dev_intact(stack)


@pytest.mark.parametrize(
    ("entries", "set_", "code"),
    [
        # the database name is dev's
        (
            {"DATABASE_URL": "postgresql://dashtam_test_user:test_password@postgres:5432/dashtam"},
            [],
            3,
        ),
        # index 0, on dev's server: refused whatever the index
        ({"REDIS_URL": "redis://redis:6379/0"}, ["redis_port"], 3),
        ({"REDIS_URL": "redis://redis:6379/1"}, ["redis_port"], 3),
        # dev's user and password, at dev's port
        (
            {"DATABASE_URL": "postgresql://dashtam_user:dev_pw_1234@postgres:5432/dashtam_test"},
            ["postgres_port"],
            3,
        ),
    ],
)
def test_app_settings_in_the_env_file_are_refused(
    stack: Project, entries: dict[str, str], set_: list[str], code: int
) -> None:
    env_file = stack.root / "env" / ".env.test"
    saved = env_file.read_text()
    kept = [ln for ln in saved.splitlines() if ln.split("=")[0] not in entries]
    env_file.write_text("\n".join(kept + [f"{k}={v}" for k, v in entries.items()]) + "\n")
    args: list[str] = []
    for key in set_:
        args += ["--set", f"{key}={stack.ports['dev'][key.split('_')[0]]}"]
    try:
        result = stack(*args, "db", "reset", "test", "--yes")
    finally:
        env_file.write_text(saved)
    assert result.returncode == code, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stderr.startswith("Error: refusing to reset test: guard ")
    assert_dev_intact(stack)


@pytest.mark.parametrize(
    ("key", "url"),
    [
        # the path names the test database, the query (libpq's dbname=) dev's, at dev's port
        (
            "DATABASE_URL",
            "postgresql://dashtam_user:dev_pw_1234@postgres:5432/dashtam_test?dbname=dashtam",
        ),
        # asyncpg's database= likewise
        (
            "DATABASE_URL",
            "postgresql+asyncpg://dashtam_test_user:test_password@postgres:5432/dashtam_test"
            "?database=dashtam",
        ),
        # the path says test's index 1, the query (redis-py's db=) dev's index 0
        ("REDIS_URL", "redis://redis:6379/1?db=0"),
    ],
)
def test_a_url_whose_query_names_another_target_is_refused(
    stack: Project, key: str, url: str
) -> None:
    """URLs mean what the drivers read: the guards see the URL's parts, the driver would go
    where the query says; such a URL in a test environment is a configuration error."""
    env_file = stack.root / "env" / ".env.test"
    saved = env_file.read_text()
    kept = [ln for ln in saved.splitlines() if not ln.startswith(f"{key}=")]
    env_file.write_text("\n".join([*kept, f"{key}={url}"]) + "\n")
    try:
        result = stack("--set", f"postgres_port={stack.ports['dev']['postgres']}", "db", "reset",
                       "test", "--yes")  # fmt: skip
    finally:
        env_file.write_text(saved)
    assert result.returncode == 2, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stderr.startswith("Error: env/.env.test:")
    assert f"{key}'s query sets the" in result.stderr and "Traceback" not in result.stderr
    assert_dev_intact(stack)


def test_a_hand_edited_env_file_pointing_the_tests_at_dev_is_refused(stack: Project) -> None:
    """Variables of the app's own naming, added by hand to test's env file, that reach dev's
    PostgreSQL from the app container (the machine's gateway at dev's published port): the
    guard on what the container gets refuses the run before anything starts (exit 3,
    audited), naming the variable and its line."""
    env_file = stack.root / "env" / ".env.test"
    saved = env_file.read_text()
    port = stack.ports["dev"]["postgres"]
    env_file.write_text(saved + f"LEGACY_DB_HOST=host.docker.internal\nLEGACY_DB_PORT={port}\n")
    try:
        result = stack("test", "run", "--no-setup")
    finally:
        env_file.write_text(saved)
    assert result.returncode == 3, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "refusing to run" in result.stderr and "in app" in result.stderr
    assert "LEGACY_DB_" in result.stderr and "env/.env.test:" in result.stderr
    assert "passed" not in result.stdout  # nothing ran
    assert '"action": "isolation guard"' in (stack.root / ".dashenv" / "audit.log").read_text()
    assert_dev_intact(stack)


def test_the_reported_reproduction(stack: Project) -> None:
    """dev's Redis index 1 holds a key; a reset of test pointed at dev's Redis port used to
    FLUSHDB it. Now it is refused, naming the owner of the server."""
    result = stack(
        "--set", f"redis_port={stack.ports['dev']['redis']}", "db", "reset", "test", "--yes"
    )
    assert result.returncode == 3
    assert result.stderr.startswith("Error: refusing to reset test: guard 'redis index' failed")
    assert "another project's container" in result.stderr
    assert_dev_intact(stack)
    # and the test environment's own reset still works, flushing only its own index
    redis.Redis(port=stack.ports["test"]["redis"], db=1).set("cache:x", "1")
    out = ok(stack("db", "reset", "test", "--yes"))
    assert "Flushed Redis index 1 (1 keys)" in out
    assert_dev_intact(stack)


def test_a_missing_migrations_dir_refuses_the_reset(stack: Project) -> None:
    result = stack("--set", "migrations_dir=compose/app/nowhere", "db", "reset", "test", "--yes")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "Error: test: migrations_dir compose/app/nowhere does not exist"
    )
    assert_dev_intact(stack)


def test_a_missing_alembic_ini_set_in_a_layer_refuses_the_reset(stack: Project) -> None:
    """The template's key covers alembic.ini: one set and missing would key it by nothing."""
    result = stack(
        "--set", "alembic_config=compose/app/nowhere.ini", "db", "reset", "test", "--yes"
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "Error: test: alembic_config compose/app/nowhere.ini does not exist (from --set"
    )
    assert_dev_intact(stack)
