"""The guarded reset and the test workflow, end to end, with dev up beside test.

Every refusal is checked to have touched nothing: dev's row and Redis key, and a marker
row in the test database, are all still there afterwards.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, new_project, teardown
from tests.e2e.helpers import add_revision, ok, sql

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = new_project(tmp_path_factory.mktemp("reset"))
    try:
        ok(project("up", "dev"))
        sql(project, "dev", "INSERT INTO users (email) VALUES ('precious@dev')")
        ok(project("redis-cli", "dev", "SET", "oauth:token", "precious"))
        ok(project("test", "setup"))
        yield project
    finally:
        teardown(project, ("dev", "test"))


def dev_intact(p: Project) -> None:
    assert sql(p, "dev", "SELECT string_agg(email, ',') FROM users") == "precious@dev"
    assert ok(p("redis-cli", "dev", "GET", "oauth:token")).strip() == "precious"


def mark_test_db(p: Project) -> None:
    sql(p, "test", "DELETE FROM users; INSERT INTO users (email) VALUES ('marker@test')")


def untouched(p: Project) -> None:
    assert sql(p, "test", "SELECT string_agg(email, ',') FROM users") == "marker@test"


def audit(p: Project) -> list[dict]:
    path = p.root / ".dashenv" / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()]


def edit_env(p: Project, key: str, value: str) -> str:
    path = p.root / "env" / ".env.test"
    original = path.read_text()
    lines = [ln for ln in original.splitlines() if not ln.startswith(f"{key}=")]
    path.write_text("\n".join([*lines, f"{key}={value}"]) + "\n")
    return original


def refused(result: subprocess.CompletedProcess[str], guard: str) -> None:
    assert result.returncode == 3, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: refusing to reset ") and f"guard '{guard}' failed" in first
    assert "Traceback" not in result.stderr


def test_setup_twice_with_dev_up_keeps_dev_data(stack: Project) -> None:
    mark_test_db(stack)
    ok(stack("redis-cli", "test", "SET", "cache:x", "1"))
    first = ok(stack("test", "setup"))
    assert "Test database initialized successfully" in first
    assert "cloned from template" in first and "template rebuilt" not in first
    assert sql(stack, "test", "SELECT count(*) FROM users") == "0"
    assert ok(stack("redis-cli", "test", "DBSIZE")).strip() == "0"
    assert "fsync=off, full_page_writes=off, synchronous_commit=off" in first
    ok(stack("test", "setup"))
    dev_intact(stack)
    entry = audit(stack)[-1]
    assert entry["outcome"] == "done" and entry["environment"] == "test"
    assert "test_password" not in json.dumps(entry) and all(g["passed"] for g in entry["guards"])


def test_reset_of_dev_is_refused(stack: Project) -> None:
    result = stack("db", "reset", "dev", "--yes")
    refused(result, "environment role")
    assert "database name (saw database=dashtam)" in result.stderr
    dev_intact(stack)
    assert audit(stack)[-1]["outcome"] == "refused"


@pytest.mark.parametrize(
    ("key", "value", "guard"),
    [
        ("ENVIRONMENT", "development", "environment role"),
        ("TESTING", "false", "TESTING flag"),
        # the seed's hole: "test" appears in the URL (the password), not in the database name
        (
            "DATABASE_URL",
            "postgresql+asyncpg://dashtam_test_user:test_password@postgres:5432/dashtam",
            "database name",
        ),
    ],
)
def test_env_file_guards_refuse(stack: Project, key: str, value: str, guard: str) -> None:
    mark_test_db(stack)
    original = edit_env(stack, key, value)
    try:
        refused(stack("db", "reset", "test", "--yes"), guard)
    finally:
        (stack.root / "env" / ".env.test").write_text(original)
    untouched(stack)
    dev_intact(stack)


def test_target_behind_devs_port_is_refused(stack: Project) -> None:
    mark_test_db(stack)
    result = stack(
        "--set", f"postgres_port={stack.ports['dev']['postgres']}", "db", "reset", "test", "--yes"
    )
    refused(result, "distinct target")
    assert "another project's container" in result.stderr
    untouched(stack)
    dev_intact(stack)


def test_protected_redis_index_is_refused(stack: Project) -> None:
    mark_test_db(stack)
    original = edit_env(stack, "REDIS_URL", "redis://redis:6379/0")
    try:
        result = stack(
            "--set", f"redis_port={stack.ports['dev']['redis']}", "db", "reset", "test", "--yes"
        )
    finally:
        (stack.root / "env" / ".env.test").write_text(original)
    refused(result, "redis index")
    assert "the port is served by another project's container" in result.stderr
    untouched(stack)
    dev_intact(stack)


def test_stamp_of_another_environment_is_refused(stack: Project) -> None:
    mark_test_db(stack)
    sql(stack, "test", "UPDATE dashenv.metadata SET value = 'staging' WHERE key = 'environment'")
    try:
        result = stack("db", "reset", "test", "--yes")
        refused(result, "stamp")
        assert "belongs to environment staging" in result.stderr
        untouched(stack)
    finally:
        sql(stack, "test", "UPDATE dashenv.metadata SET value = 'test' WHERE key = 'environment'")
    dev_intact(stack)


def test_unstamped_database_needs_adopt(stack: Project) -> None:
    mark_test_db(stack)
    sql(stack, "test", "DROP SCHEMA dashenv CASCADE")
    try:
        result = stack("db", "reset", "test", "--yes")
        refused(result, "stamp")
        assert "pass --adopt" in result.stderr
        untouched(stack)
    finally:
        ok(stack("db", "reset", "test", "--yes", "--adopt"))
    assert (
        sql(stack, "test", "SELECT value FROM dashenv.metadata WHERE key = 'environment'") == "test"
    )
    assert sql(stack, "test", "SELECT count(*) FROM users") == "0"
    dev_intact(stack)


def test_dry_run_prints_verdicts_and_plan_and_executes_nothing(stack: Project) -> None:
    mark_test_db(stack)
    out = ok(stack("db", "reset", "test", "--dry-run"))
    assert "Dry run: reset of test (dashtam_test); nothing executed." in out
    assert "Plan (would run):" in out and "FLUSHDB Redis" in out
    untouched(stack)
    refused_plan = stack("db", "reset", "dev", "--dry-run")
    assert refused_plan.returncode == 0 and "would be REFUSED" in refused_plan.stdout


def test_changed_migrations_rebuild_the_template(stack: Project) -> None:
    migration = add_revision(stack.root, "0004", "0003", "audit_events")
    try:
        result = stack("db", "reset", "test", "--yes")
        out = ok(result)
        assert "template rebuilt" in out
        assert "the migrations changed since the last template" in result.stderr
        assert sql(stack, "test", "SELECT to_regclass('public.audit_events') IS NOT NULL") == "t"
        again = ok(stack("db", "reset", "test", "--yes"))
        assert "template rebuilt" not in again
        templates = sql(
            stack,
            "test",
            "SELECT string_agg(datname, ',') FROM pg_database "
            "WHERE datname LIKE 'dashtam_test__tpl_%'",
        )
        assert templates.count(",") == 0  # the stale template is gone
    finally:
        migration.unlink()
    out = ok(stack("db", "reset", "test", "--yes", "--strategy", "migrate"))
    assert "migrated from scratch" in out
    assert sql(stack, "test", "SELECT to_regclass('public.audit_events') IS NULL") == "t"


def test_lock_serialises_resets(stack: Project) -> None:
    from filelock import FileLock

    (stack.root / ".dashenv" / "locks").mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(stack.root / ".dashenv" / "locks" / "reset-test.lock"))
    with lock:
        busy = stack("db", "reset", "test", "--yes", "--no-wait")
        assert busy.returncode == 1
        assert "another reset of test is running" in busy.stderr
        waiting = subprocess.Popen(
            [sys.executable, "-m", "dashenv", "db", "reset", "test", "--yes"],
            cwd=stack.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = waiting.stderr.readline() if waiting.stderr else ""
        assert "Waiting for another reset of test to finish" in line
        assert waiting.poll() is None
    out, _ = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and "Reset test" in out


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.2, 1.8])
def test_interrupted_reset_leaves_a_database_and_the_next_succeeds(
    stack: Project, delay: float
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "db", "reset", "test", "--yes", "--strategy", "migrate"],
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)  # interrupt at a different point of the reset each time
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert sql(stack, "test", "SELECT current_database()") == "dashtam_test"
    ok(stack("db", "reset", "test", "--yes"))
    leftovers = sql(
        stack,
        "test",
        "SELECT count(*) FROM pg_database WHERE datname LIKE "
        "'dashtam_test__new_%' OR datname LIKE 'dashtam_test__old_%'",
    )
    assert leftovers == "0"
    dev_intact(stack)


def test_databases_left_invalid_by_an_interrupted_drop_are_dropped_by_the_next_reset(
    stack: Project,
) -> None:
    ok(stack("db", "reset", "test", "--yes"))
    names = "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'dashtam_test%'"
    sql(
        stack,
        "test",
        "UPDATE pg_database SET datconnlimit = -2 WHERE datname LIKE 'dashtam_test__tpl_%'",
    )
    ok(stack("db", "reset", "test", "--yes"))  # the template is rebuilt, not connected to
    valid = sql(
        stack,
        "test",
        "SELECT count(*) FROM pg_database WHERE datconnlimit = -2 AND datname LIKE 'dashtam%'",
    )
    assert valid == "0"
    assert "dashtam_test__tpl_" in sql(stack, "test", names)
    dev_intact(stack)


def test_killed_postgres_during_reset_then_reset_succeeds(stack: Project) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "db", "reset", "test", "--yes", "--strategy", "migrate"],
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    subprocess.run(["docker", "kill", stack.container("test", "postgres")], capture_output=True)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in err
    ok(stack("test", "setup"))
    assert sql(stack, "test", "SELECT count(*) FROM users") == "0"
    dev_intact(stack)


def test_a_server_that_does_not_answer_is_waited_for_then_exit_5(stack: Project) -> None:
    """Its container runs, its server does not answer (its processes stopped here, as a
    starting or overloaded server is silent): the reset waits for it up to up_timeout, then
    exits 5 with libpq's own line; never a guard's refusal (exit 3)."""
    import os

    ok(stack("test", "setup"))  # running and answering, whatever an earlier test left
    pid = int(subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Pid}}", stack.container("test", "postgres")],
        capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    assert pid > 0  # 0 (not running) would stop this test's own process group
    os.kill(pid, signal.SIGSTOP)
    try:
        result = stack("--set", "up_timeout=1", "db", "reset", "test", "--yes")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert result.returncode == 5, f"{result.returncode}\n{result.stderr}"
    assert "test's PostgreSQL did not answer within 1s" in result.stderr
    assert "timeout expired" in result.stderr and "refusing" not in result.stderr
    ok(stack("db", "reset", "test", "--yes"))  # it answers again: the next reset goes through
    dev_intact(stack)


def test_run_passes_exit_codes_through(stack: Project) -> None:
    result = stack("test", "run", "--", "-v")
    assert result.returncode == 0, result.stderr
    assert "3 passed" in result.stdout
    failing = stack("test", "run", "--no-setup", "--", "-q", "-k", "no_such_test")
    assert failing.returncode == 5


def test_run_in_the_container_with_xdist_workers(stack: Project) -> None:
    """The in-container contract: each worker its own database and index, none left."""
    result = stack("test", "run", "--", "-n", "3", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout and "created: 3/3 workers" in result.stdout
    assert "Cloned 3 worker databases" in result.stderr
    left = sql(stack, "test", "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_gw%'")
    assert left == "0"
    dev_intact(stack)


def test_clean_takes_test_down_and_keeps_dev(stack: Project, tmp_path: Path) -> None:
    try:
        ok(stack("test", "clean"))
        assert ok(stack("ps", "test")).strip() == "test: no containers"
        dev_intact(stack)
    finally:
        ok(stack("test", "setup"))  # leave the module's stack as it was


def test_run_on_the_host_gets_host_side_urls(stack: Project) -> None:
    show = "import os; print(os.environ['DATABASE_URL']); print(os.environ['REDIS_URL'])"
    result = stack(
        "--set",
        "test_runner=host",
        "--set",
        f'test_command={sys.executable} -c "{show}"',
        "test",
        "run",
        "--no-setup",
    )
    assert result.returncode == 0, result.stderr
    db_url, redis_url = result.stdout.split()
    pg, rd = stack.ports["test"]["postgres"], stack.ports["test"]["redis"]
    assert (
        db_url
        == f"postgresql+asyncpg://dashtam_test_user:test_password@127.0.0.1:{pg}/dashtam_test"
    )
    assert redis_url == f"redis://127.0.0.1:{rd}/1"


def test_restart_and_shell(stack: Project) -> None:
    out = ok(stack("restart", "test", "redis"))
    assert "test: restarted and healthy" in out
    shell = stack("shell", "test", "app")  # no terminal: sh reads the empty stdin and ends
    assert shell.returncode == 0


def test_gc_collects_what_killed_runs_left_and_keeps_the_current_template(stack: Project) -> None:
    current = sql(
        stack, "test", "SELECT datname FROM pg_database WHERE datname LIKE '%\\_\\_tpl\\_%'"
    )
    left = ["dashtam_test__new_deadbeef", "dashtam_test__tpl_000000000000", "dashtam_test_gw0"]
    for name in left:
        sql(stack, "test", f"CREATE DATABASE {name}")
    sql(stack, "dev", "CREATE TABLE IF NOT EXISTS keep_gc (v int)")
    plan = ok(stack("gc", "--dry-run"))
    for name in left:
        assert f"test: {name}" in plan
    assert current not in plan and "dev:" not in plan
    refused = stack("gc")  # no terminal to ask on
    assert refused.returncode == 3 and "dashenv gc --yes" in refused.stderr
    ok(stack("gc", "--yes"))
    names = sql(stack, "test", "SELECT string_agg(datname, ',') FROM pg_database")
    assert not any(name in names for name in left) and current in names
    audit = (stack.root / ".dashenv" / "audit.log").read_text()
    assert '"action": "gc database"' in audit
    dev_intact(stack)


def test_gc_leaves_a_database_alone_while_a_reset_holds_it(stack: Project) -> None:
    """A reset (or restore, or snapshot) at work holds the database's lock: its scratch
    databases are its own, and gc lists none of them until it ends."""
    from filelock import FileLock

    scratch = "dashtam_test__new_inflight"
    sql(stack, "test", f"CREATE DATABASE {scratch}")
    (stack.root / ".dashenv" / "locks").mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(stack.root / ".dashenv" / "locks" / "reset-test.lock"))
    with lock:  # a reset in another process, as far as gc can tell
        assert f"test: {scratch}" not in ok(stack("gc", "--dry-run"))
        for busy in (
            stack("db", "reset", "test", "--yes", "--no-wait"),
            stack("db", "restore", "test", "nosuch", "--yes", "--no-wait"),
        ):
            assert busy.returncode == 1 and "of test is running" in busy.stderr, busy.stderr
    assert f"test: {scratch}" in ok(stack("gc", "--dry-run"))
    ok(stack("gc", "--yes"))
    assert scratch not in sql(stack, "test", "SELECT string_agg(datname, ',') FROM pg_database")


def test_the_commands_that_change_things_print_their_documents_with_json(
    stack: Project,
) -> None:
    """up, test setup, db reset (and its dry run), db snapshot (taken, deleted), db restore
    and down, each with --json: the document alone on stdout, valid against its schema."""
    import jsonschema

    from tests.conftest import REPO

    def document(name: str, *argv: str) -> dict:
        result = stack(*argv, "--json")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        schema = json.loads((REPO / "docs" / f"{name}.schema.json").read_text())
        jsonschema.validate(doc, schema)
        return doc

    up = document("up", "up", "test")
    assert up["environment"] == "test" and len(up["containers"]) == 4
    assert up["endpoints"]["app"] is None and up["endpoints"]["redis"].endswith("/1")
    setup = document("test-setup", "test", "setup")
    assert setup["reset"]["database"] == "dashtam_test" and setup["up"]["command"] == "up"
    assert setup["tripwire"]["leak"] is False and setup["tripwire"]["findings"] == []
    assert [w["environment"] for w in setup["tripwire"]["watched"]] == ["dev"]
    dry = document("db-reset", "db", "reset", "test", "--dry-run")
    assert dry["dry_run"] and all(g["passed"] for g in dry["guards"])
    done = document("db-reset", "db", "reset", "test", "--yes")
    assert not done["dry_run"] and done["strategy"] == "template"
    taken = document("db-snapshot", "db", "snapshot", "test", "json_doc")
    assert (taken["action"], taken["name"]) == ("taken", "json_doc") and taken["size_bytes"] > 0
    restored = document("db-restore", "db", "restore", "test", "json_doc", "--yes")
    assert restored["restored"] == "json_doc" and restored["kept_as"]
    gone = document("db-snapshot", "db", "snapshot", "test", "--delete", "json_doc", "--yes")
    assert gone["action"] == "deleted"
    down = document("down", "down", "test")
    assert down["volumes"] is False
    ok(stack("test", "setup"))
    dev_intact(stack)


def test_seed_data_is_in_every_clone_and_db_seed_guards_dev(stack: Project) -> None:
    """seed_command runs after the migrations when the reset builds its template, so a
    seeded reset is still a clone; 'db seed' runs it on demand, and on dev only confirmed,
    after an automatic snapshot, audited."""
    toml = stack.root / "dashenv.toml"
    original = toml.read_text()
    seeding = 'seed_command = "python alembic/seeds.py"\n'
    toml.write_text(
        original.replace("[environments.test]\n", "[environments.test]\n" + seeding).replace(
            "[environments.dev]\n", "[environments.dev]\n" + seeding
        )
    )
    try:
        first = stack("db", "reset", "test", "--yes")
        assert first.returncode == 0, first.stderr
        assert "Seeding dashtam_test__build_" in first.stderr  # the template, not the clone
        seeded = "SELECT count(*) FROM users WHERE email LIKE '%@dashtam.dev'"
        assert sql(stack, "test", seeded) == "2"
        again = stack("db", "reset", "test", "--yes")
        assert again.returncode == 0 and "Seeding" not in again.stderr  # a clone of it
        assert sql(stack, "test", seeded) == "2"
        assert stack("status", "test", "--json").returncode == 0  # seeded rows are no residue
        on_test = stack("db", "seed", "test")
        assert on_test.returncode == 0 and "seeded 2 users" in on_test.stdout, on_test.stderr
        refused = stack("db", "seed", "dev")  # no terminal, no --yes: refused, nothing run
        assert refused.returncode == 3, refused.stderr
        assert sql(stack, "dev", seeded) == "0"
        done = stack("db", "seed", "dev", "--yes")
        assert done.returncode == 0, done.stderr
        assert "taken first: 'dashenv db restore dev" in done.stderr
        assert sql(stack, "dev", seeded) == "2"
        entry = audit(stack)[-1]
        assert entry["action"] == "db seed" and entry["outcome"] == "done"
        snapshot = done.stderr.split("restore dev ", 1)[1].split("'", 1)[0]
        ok(stack("db", "restore", "dev", snapshot, "--yes"))
        assert sql(stack, "dev", seeded) == "0"
        dev_intact(stack)
    finally:
        toml.write_text(original)
    no_seed = stack("db", "seed", "test")
    assert no_seed.returncode == 2 and "test has no seed_command" in no_seed.stderr
