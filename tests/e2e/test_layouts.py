"""Adopting the layouts people have, on the real engine. The fixtures follow public FastAPI
projects' traits (never their files); every one builds the same small app image
(tests/fixtures/layouts/app)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.actionlint import assert_clean
from tests.conftest import free_ports
from tests.e2e.conftest import run_dashenv
from tests.e2e.helpers import LAYOUTS, Layout, adopted

pytestmark = pytest.mark.docker


def yaml_steps(workflow: Path) -> list[dict[str, Any]]:
    import yaml

    return list(yaml.safe_load(workflow.read_text())["jobs"]["tests"]["steps"])


@pytest.fixture
def template(tmp_path: Path) -> Iterator[Layout]:
    """After fastapi/full-stack-fastapi-template: compose.yml + compose.override.yml + .env,
    postgres:18, hard-coded ports, database settings in parts, a prestart migration job."""
    yield from adopted(tmp_path, "template", "backend")


def test_base_and_override_with_one_env_file(template: Layout) -> None:
    p = template
    out = p.ok("init", "--detect")
    assert "test: derived from dev's compose files" in out
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    # dev is the very project a bare 'docker compose' manages here
    assert config["dev"]["project_name"] == p.root.name
    assert config["dev"]["compose_files"] == ["compose.yml", "compose.override.yml"]
    assert config["test"] == {"derived_from": "dev", "derive_markers": False}
    assert p.ok("init", "--detect").startswith("dashenv.toml exists")  # idempotent

    p.ok("up", "dev", "--build")
    marker = "INSERT INTO items (title) VALUES ('dev marker')"
    done = p.by_hand("exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-c", marker)
    assert done.returncode == 0, done.stderr  # typed by hand: dev's own containers

    out = p.ok("test", "setup")
    assert "app_test" in out
    assert p.ok("test", "run").count("2 passed") == 1
    # xdist workers in the app container: each worker's POSTGRES_DB is a database of its own
    assert "2 passed" in p.ok("test", "run", "--", "-n", "2")
    p.ok("db", "reset", "test", "--yes")

    # the test database: its own server, on tmpfs, without durability, a name that says test
    project = f"{p.root.name}-test"
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
         "--filter", "label=com.docker.compose.service=db"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(ids) == 1
    tmpfs = subprocess.run(
        ["docker", "inspect", "-f", "{{json .HostConfig.Tmpfs}} {{json .Mounts}}", ids[0]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert '"/var/lib/postgresql"' in tmpfs and "app-db-data" not in tmpfs
    fsync = subprocess.run(
        ["docker", "exec", ids[0], "psql", "-U", "postgres", "-d", "app_test", "-Atc",
         "SHOW fsync"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert fsync == "off"
    # the services tests do not need stay off; dev's keep running beside
    assert "frontend" not in p.ok("status", "test", "--json")

    p.ok("test", "clean")
    # PostgreSQL 18 (data under /var/lib/postgresql/18/docker): dev's snapshots work there,
    # copied without cloning on an ordinary volume (the probe says why)
    assert "copied by WAL log" in p.ok("db", "snapshot", "dev", "before")
    copying = json.loads(p.ok("db", "snapshots", "dev", "--json"))["copy_method"]
    assert copying["method"] == "WAL log" and "its filesystem cannot clone" in copying["why"]
    assert copying["probe"].startswith("cp --reflink=always: ")
    p.by_hand("exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-c",
              "INSERT INTO items (title) VALUES ('after the snapshot')")  # fmt: skip
    p.ok("db", "restore", "dev", "before", "--yes")
    rows = p.by_hand("exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-Atc",
                     "SELECT title FROM items")  # fmt: skip
    assert rows.stdout.split("\n")[0] == "dev marker"
    listed = p.by_hand("ps", "--format", "{{.Service}}").stdout.split()
    assert {"db", "backend", "redis", "frontend"} <= set(listed)
    # ci, derived the same way: one throwaway run of the app's tests beside dev
    assert "2 passed" in p.ok("ci", "run")
    # in GitHub Actions: dev's files build the images (the derived override is generated)
    p.ok("ci", "github", "--shards", "2")
    workflow = p.root / ".github" / "workflows" / "dashenv.yml"
    assert_clean(workflow)
    bake = next(s for s in yaml_steps(workflow) if s.get("uses") == "docker/bake-action@v6")
    assert bake["with"]["files"].split() == ["compose.yml", "compose.override.yml"]


@pytest.fixture
def infra(tmp_path: Path) -> Iterator[Layout]:
    """Infrastructure only (after VladSkopenko/Custom_inst and brunosarti83/pwc-advertising-api):
    PostgreSQL and Redis in docker-compose.yml, the database settings hard-coded in
    environment:, a bind-mounted data directory; the app on the host, its env file beside its
    code, its own migration script instead of Alembic."""
    yield from adopted(tmp_path, "infra", None)


def test_infrastructure_only_with_the_app_on_the_host(infra: Layout) -> None:
    p = infra
    out = p.ok("init", "--detect")
    assert "dev: docker-compose.yml with service/.env" in out
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    assert config["dev"]["test_runner"] == "host"
    assert config["dev"]["host_dir"] == "service"
    assert config["dev"]["test_command"] == "python -m pytest"
    # the project migrates its own way: its script is found, no hand edit
    assert config["dev"]["migration_command"] == "python migrate.py"
    assert config["dev"]["migrations_dir"] == "service/migrate.py"

    p.ok("up", "dev")
    marker = (
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL); "
        "INSERT INTO orders (item) VALUES ('dev marker')"
    )
    done = p.by_hand("exec", "-T", "postgres", "psql", "-U", "shop", "-d", "shop", "-c", marker)
    assert done.returncode == 0, done.stderr
    # the project's migrations run where its app runs: on the host, with dev's settings
    assert "migrated" in p.ok("db", "migrate", "dev")

    p.ok("test", "setup")  # migrated on the host, against the template
    assert "2 passed" in p.ok("test", "run")  # pytest on the host, against shop_test
    # xdist workers on the host: each worker's DATABASE_URL names a database of its own
    assert "2 passed" in p.ok("test", "run", "--", "-n", "2")
    shown = p.ok("run", "test", "--", "sh", "-c", "echo $DATABASE_URL")
    assert shown.strip().endswith("/shop_test") and "127.0.0.1:" in shown
    exports = p.ok("env", "test")
    assert "export DATABASE_URL='postgresql://shop:****@127.0.0.1:" in exports
    assert "shop-secret" not in exports
    p.ok("db", "reset", "test", "--yes")
    p.ok("test", "clean")
    # ci, derived the same way: migrated by the reset on the host, the tests on the host
    assert "2 passed" in p.ok("ci", "run")
    # in GitHub Actions: the project installed in service/ by pip, its tests run there
    p.ok("ci", "github")
    workflow = p.root / ".github" / "workflows" / "dashenv.yml"
    assert_clean(workflow)
    runs = [s.get("run") for s in yaml_steps(workflow)]
    assert 'cd "service" && pip install .' in runs
    assert runs[-1] == 'cd "service" && dashenv ci run --env ci'

    rows = p.by_hand("exec", "-T", "postgres", "psql", "-U", "shop", "-d", "shop", "-Atc",
                     "SELECT item FROM orders")  # fmt: skip
    assert rows.stdout.strip() == "dev marker"
    assert (p.root / "data" / "postgres" / "PG_VERSION").is_file()  # dev's bind mount, dev's
    assert not (p.root / "service" / ".env").read_text().count("shop_test")  # files unchanged


@pytest.fixture(params=["shared", "named"])
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Layout]:
    """One file per environment, hyphenated (after ncdbzb/chatops_udv's docker-compose-local.yml
    and caio-lelis/TPPE-Autocampos-doc's second database): dev's and test's files are copies of
    each other (the same container names, host ports and data directory), the database URL
    hard-coded in environment:. ``shared``: as written, with no ``name:``, the test file runs as
    dev's very compose project; ``named``: the test file names a project of its own."""
    for layout in adopted(tmp_path, "pair", "app"):
        if request.param == "named":
            test_file = layout.root / "docker-compose-test.yml"
            test_file.write_text("name: shop-test\n" + test_file.read_text())
        layout.variant = request.param
        yield layout


def test_a_clashing_pair_runs_side_by_side(pair: Layout) -> None:
    p = pair
    out = p.ok("init", "--detect")
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    if p.variant == "shared":  # typed by hand, it would be dev's containers and volumes
        assert "test: derived from dev's compose files" in out
        assert "docker-compose-test.yml runs as dev's compose project (no name:" in out
        assert config["test"]["derived_from"] == "dev"
    else:
        assert "isolated = True  (clashes with dev: container_name shop-api" in out
    assert config["dev"]["project_name"] == p.root.name  # what 'docker compose -f' names it
    assert config["dev"]["app_scheme"] == "http"

    p.ok("up", "dev", "--build")
    dev = ["-f", "docker-compose-dev.yml"]
    marker = "INSERT INTO items (title) VALUES ('dev marker')"
    done = p.by_hand(*dev, "exec", "-T", "db", "psql", "-U", "shop", "-d", "shop", "-c", marker)
    assert done.returncode == 0, done.stderr

    p.ok("test", "setup")  # beside dev, although the files name the same containers and ports
    assert "2 passed" in p.ok("test", "run")
    p.ok("db", "reset", "test", "--yes")
    status = json.loads(p.ok("status", "--all", "--json"))
    healthy = [(e["name"], e["healthy"]) for e in status["environments"]]
    assert healthy[:2] == [("dev", True), ("test", True)]
    p.ok("test", "clean")
    rows = p.by_hand(*dev, "exec", "-T", "db", "psql", "-U", "shop", "-d", "shop", "-Atc",
                     "SELECT title FROM items")  # fmt: skip
    assert rows.stdout.strip() == "dev marker"


@pytest.fixture
def subfolder(tmp_path: Path) -> Iterator[Layout]:
    """Compose files in deploy/, the services' env file beside the app's code with only its
    example committed (after EmmanuelNiyonshuti/fastapi-uv-docker-template's .env.template)."""
    yield from adopted(tmp_path, "subfolder", "backend")


def test_files_in_a_subfolder_with_only_an_example_env_file(subfolder: Layout) -> None:
    p = subfolder
    out = p.ok("init", "--detect")
    assert "dev: deploy/compose.yaml + deploy/compose.override.yml with backend/.env" in out
    assert "dev: created backend/.env" in out
    env_text = (p.root / "backend" / ".env").read_text()
    assert "change-me" not in env_text  # the placeholder became a generated secret
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    assert config["dev"]["project_name"] == "deploy"  # Compose names it after the folder

    p.ok("up", "dev", "--build")
    compose = ["-f", "deploy/compose.yaml", "-f", "deploy/compose.override.yml"]
    marker = "INSERT INTO items (title) VALUES ('dev marker')"
    done = p.by_hand(*compose, "exec", "-T", "postgres", "psql", "-U", "notes", "-d", "notes",
                     "-c", marker)  # fmt: skip
    assert done.returncode == 0, done.stderr
    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    # the app's URL keeps its form (postgres://), pointed at the test database
    derived = (p.root / ".dashenv" / "derived" / "test.env").read_text()
    assert "DATABASE_URL=postgres://notes:" in derived and "@postgres:5432/notes_test" in derived
    p.ok("test", "clean")
    rows = p.by_hand(*compose, "exec", "-T", "postgres", "psql", "-U", "notes", "-d", "notes",
                     "-Atc", "SELECT title FROM items")  # fmt: skip
    assert rows.stdout.strip() == "dev marker"


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Layout]:
    """The app on the host reads its database in parts under its own names
    (``DATABASE__HOSTNAME/PORT/DB``, pydantic-settings' nesting) and a prefixed Redis port,
    with no DATABASE_URL anywhere; its suite makes a scratch database on the server it
    reaches."""
    yield from adopted(tmp_path, "split", None)


def test_an_app_reading_its_own_variables_never_reaches_dev(split: Layout) -> None:
    p = split
    detected = p.ok("init", "--detect")  # says what test's processes get instead of dev's
    assert "DATABASE__DB: ledger -> ledger_test" in detected
    assert "DATABASE__PORT: " in detected and "(refused until 'dashenv up test'" in detected
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    assert config["dev"]["migration_command"] == "python migrate.py"  # its own script, found
    # before test has its ports, what it would hand over still reaches dev: refused
    refused = p("env", "test")
    assert refused.returncode == 3, refused.stderr
    assert "DATABASE__PORT" in refused.stderr and "'dashenv up test' leases" in refused.stderr

    p.ok("up", "dev")
    marker = (
        "CREATE TABLE entries (id serial PRIMARY KEY, what text NOT NULL); "
        "INSERT INTO entries (what) VALUES ('dev marker')"
    )
    psql = ("exec", "-T", "db", "psql", "-U", "ledger", "-d", "ledger", "-Atc")
    assert p.by_hand(*psql, marker).returncode == 0
    assert p.by_hand("exec", "-T", "cache", "redis-cli", "set", "dev-marker", "1").returncode == 0
    databases = p.by_hand(*psql, "SELECT datname FROM pg_database ORDER BY 1").stdout

    p.ok("test", "setup")  # migrated on the host through the app's own variables
    assert "3 passed" in p.ok("test", "run")
    exports = p.ok("env", "test")
    dev_port = next(
        line.split("=", 1)[1]
        for line in (p.root / "service" / ".env").read_text().splitlines()
        if line.startswith("DATABASE__PORT=")
    )
    assert f"export DATABASE__PORT={dev_port}" not in exports
    assert "export DATABASE__DB=ledger_test" in exports
    assert f"export PAGE_SIZE={dev_port}" in exports  # a value that merely looks alike
    shown = p.ok("config", "show", "test")
    assert f"DATABASE__PORT: {dev_port} -> " in shown
    assert "DATABASE__DB: ledger -> ledger_test" in shown
    # a variable exported in the shell that reaches dev: refused before anything runs
    leaky = run_dashenv("test", "run", "--no-setup", cwd=p.root, env={"PGPORT": dev_port})
    assert leaky.returncode == 3, leaky.stderr
    assert "PGPORT" in leaky.stderr and "the protected PostgreSQL" in leaky.stderr
    assert '"action": "isolation guard"' in (p.root / ".dashenv" / "audit.log").read_text()

    assert p.by_hand(*psql, "SELECT what FROM entries").stdout.strip() == "dev marker"
    assert p.by_hand(*psql, "SELECT datname FROM pg_database ORDER BY 1").stdout == databases
    keys = p.by_hand("exec", "-T", "cache", "redis-cli", "keys", "*").stdout.split()
    assert keys == ["dev-marker"]
    # a test that reaches dev by a value dashenv never hands over (hard-coded here) is caught
    # after the fact: exit 3 whatever pytest said, what changed named, audited
    leaky = p.root / "service" / "tests" / "test_leaky.py"
    leaky.write_text(
        "import psycopg\n\n\n"
        "def test_writes_to_dev() -> None:\n"
        f"    dev = 'host=127.0.0.1 port={dev_port} user=ledger password=ledger-secret'\n"
        "    with psycopg.connect(dev + ' dbname=ledger', autocommit=True) as conn:\n"
        "        conn.execute('CREATE TABLE leaked (id int)')\n"
        "        conn.execute('CREATE DATABASE ledger_leaked')\n"
    )
    caught = p("test", "run")
    assert caught.returncode == 3, caught.stderr
    assert "4 passed" in caught.stdout
    assert "tripwire LEAK: dev: database ledger_leaked was created on its server" in caught.stderr
    assert "tables of ledger changed (+public.leaked)" in caught.stderr
    assert '"action": "tripwire"' in (p.root / ".dashenv" / "audit.log").read_text()
    # rows alone: counted once the writing backend has flushed its statistics, as it exits.
    # With another client connected to dev's database at the first reading (the last run's
    # backends still ending, on a loaded machine) it would be a warning: wait for them
    for _ in range(100):
        others = p.by_hand(*psql, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "'ledger' AND pid <> pg_backend_pid()").stdout.strip()  # fmt: skip
        if others == "0":
            break
        time.sleep(0.1)
    leaky.write_text(
        "import psycopg\n\n\n"
        "def test_writes_a_row_to_dev() -> None:\n"
        f"    dev = 'host=127.0.0.1 port={dev_port} user=ledger password=ledger-secret'\n"
        "    with psycopg.connect(dev + ' dbname=ledger', autocommit=True) as conn:\n"
        "        conn.execute(\"INSERT INTO entries (what) VALUES ('leaked')\")\n"
    )
    caught = p("test", "run", "--no-setup")
    assert caught.returncode == 3, caught.stderr
    assert "tripwire LEAK: dev: 1 rows of ledger were written" in caught.stderr


def test_a_second_checkout_of_the_same_name_never_touches_the_first(tmp_path: Path) -> None:
    """Compose gives two checkouts named alike one project; the first one's dev, started by
    hand as the team always has, is named in the second's doctor and its destructive
    commands refuse (exit 3)."""
    first, second = tmp_path / "a" / "ledger", tmp_path / "b" / "ledger"
    ports = dict(zip(("@DB_PORT@", "@REDIS_PORT@"), free_ports(2), strict=True))
    for root in (first, second):
        shutil.copytree(LAYOUTS / "split", root)
        for f in [*root.rglob("*.yml"), *root.rglob(".env")]:
            text = f.read_text()
            for mark, port in ports.items():
                text = text.replace(mark, str(port))
            f.write_text(text)
    a, b = Layout(first), Layout(second)
    try:
        started = a.by_hand("up", "-d", "--wait")
        assert started.returncode == 0, started.stderr
        psql = ("exec", "-T", "db", "psql", "-U", "ledger", "-d", "ledger", "-Atc")
        assert a.by_hand(*psql, "CREATE TABLE kept (what text); INSERT INTO kept VALUES ('a')")
        b.ok("init", "--detect")
        refused = b("down", "dev", "--volumes", "--yes")
        assert refused.returncode == 3, refused.stderr
        assert "runs from another checkout" in refused.stderr
        assert str(first) in refused.stderr
        doctor = b("doctor")
        assert f"runs from another checkout, {first}" in doctor.stdout
        status = json.loads(b("status", "dev", "--json").stdout)
        assert status["environments"][0]["other_checkout"] == str(first)
        assert f"dev: these run from another checkout, {first}" in b.ok("ps", "dev")
        gc = b("gc", "--dry-run")
        assert gc.returncode == 0, gc.stderr
        assert f"left dev: compose project ledger runs from another checkout, {first}" in gc.stderr
        assert a.by_hand(*psql, "SELECT what FROM kept").stdout.strip() == "a"
    finally:
        a.by_hand("down", "-v")
