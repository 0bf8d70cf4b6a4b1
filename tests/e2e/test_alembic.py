"""The seed's real stack end to end: Alembic migrations, where a database stands, the
migration commands, and snapshots of dev (taken before a downgrade, restored exactly)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Project, new_project, teardown
from tests.e2e.helpers import add_revision, ok, sql

pytestmark = pytest.mark.docker

CHECKSUM = (
    "SELECT count(*) || ':' || md5(string_agg(name || access_token, ',' ORDER BY id))"
    " FROM providers"
)


@pytest.fixture(scope="module")
def stack(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = new_project(tmp_path_factory.mktemp("alembic"), ("dev", "test"))
    subprocess.run(["git", "init", "-q", "-b", "feature-x"], cwd=project.root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project.root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"],
        cwd=project.root,
        check=True,
    )
    try:
        ok(project("up", "dev"))
        sql(project, "dev", "INSERT INTO users (email) VALUES ('owner@dev')")
        sql(
            project,
            "dev",
            "INSERT INTO providers (user_id, name, access_token)"
            " SELECT u.id, 'p' || g, md5(g::text) FROM users u, generate_series(1, 40) g",
        )
        ok(project("test", "setup"))
        yield project
    finally:
        teardown(project, ("dev", "test"))


def migrations(p: Project, env: str) -> dict:
    doc = json.loads(p("status", env, "--json").stdout)
    return doc["environments"][0]["postgres"]["migrations"]


def test_dev_runs_the_seeds_alembic_start_and_is_latest(stack: Project) -> None:
    logs = ok(stack("logs", "dev", "app", "--tail", "200"))
    assert "Running Alembic migrations..." in logs
    assert "Migrations completed successfully" in logs
    state = migrations(stack, "dev")
    assert state["state"] == "latest" and state["heads"] == ["0003"]
    assert state["current"] == ["0003"] and state["applied"] == 3
    # the data migration's rows are there
    assert sql(stack, "dev", "SELECT count(*) FROM provider_catalog") == "3"
    assert ok(stack("db", "current", "dev")).split()[0] == "0003"
    assert "0002 -> 0003 (head) (current)" in ok(stack("db", "history", "dev"))


def test_new_revision_behind_migrate_latest_and_the_template_follows(stack: Project) -> None:
    revision = add_revision(stack.root, "0004", "0003", "audit_events")
    try:
        state = migrations(stack, "dev")
        assert state["state"] == "behind" and state["pending"] == ["0004"]
        ok(stack("db", "migrate", "dev"))
        assert migrations(stack, "dev")["state"] == "latest"
        reset = stack("db", "reset", "test", "--yes")
        assert "template rebuilt" in ok(reset)
        assert "the migrations changed since the last template" in reset.stderr
        assert sql(stack, "test", "SELECT to_regclass('public.audit_events') IS NOT NULL") == "t"

        # the branch switch: the checkout loses 0004 while dev's database is at it
        moved = revision.with_suffix(".away")
        revision.rename(moved)
        try:
            state = migrations(stack, "dev")
            assert state["state"] == "ahead" and state["unknown_revisions"] == ["0004"]
            doctor = stack("doctor", "dev", "--json")
            assert doctor.returncode == 1
            (check,) = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "migrations"]
            assert check["level"] == "fail" and "check out the branch that has 0004" in check["fix"]
        finally:
            moved.rename(revision)
        out = stack("db", "downgrade", "dev", "-1", "--yes")
        assert out.returncode == 0, out.stderr
    finally:
        revision.unlink()
    assert migrations(stack, "dev")["state"] == "latest"


def test_downgrade_takes_a_snapshot_and_restore_brings_dev_back_exactly(stack: Project) -> None:
    before = sql(stack, "dev", CHECKSUM)
    assert before.startswith("40:")
    refused = stack("db", "downgrade", "dev", "0001")  # no terminal, no --yes
    assert refused.returncode == 3 and refused.stderr.startswith(
        "Error: refusing to downgrade protected environment dev without confirmation"
    )
    result = stack("db", "downgrade", "dev", "0001", "--yes")
    assert result.returncode == 0, result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if " taken first: " in ln]
    name = line.split()[1]
    assert f"'dashenv db restore dev {name}' goes back" in line
    assert sql(stack, "dev", "SELECT to_regclass('public.providers') IS NULL") == "t"

    listed = json.loads(ok(stack("db", "snapshots", "dev", "--json")))
    (snap,) = [s for s in listed["snapshots"] if s["name"] == name]
    assert snap["auto"] and snap["revision"] == ["0003"] and snap["environment"] == "dev"
    assert snap["git_branch"] == "feature-x" and snap["git_commit"]
    assert snap["size_bytes"] > 0 and listed["total_bytes"] >= snap["size_bytes"]

    restored = ok(stack("db", "restore", "dev", name, "--yes"))
    assert f"Restored snapshot {name} into dev" in restored
    assert sql(stack, "dev", CHECKSUM) == before
    assert migrations(stack, "dev")["state"] == "latest"
    # the state it replaced is kept as an automatic snapshot, and status lists snapshots
    doc = json.loads(stack("status", "dev", "--json").stdout)
    names = {s["name"] for s in doc["environments"][0]["postgres"]["snapshots"]}
    assert name in names and len(names) >= 2
    audit = (stack.root / ".dashenv" / "audit.log").read_text().splitlines()
    actions = [json.loads(a)["action"] for a in audit]
    assert "db downgrade" in actions and "db restore" in actions


def test_named_snapshot_delete_and_the_file_round_trip(stack: Project, tmp_path) -> None:
    # PostgreSQL 17, fsync on, a small database: WAL_LOG copies (no probe: 18 clones, 17 not)
    assert "copied by WAL log" in ok(stack("db", "snapshot", "dev", "before_demo"))
    copying = json.loads(ok(stack("db", "snapshots", "dev", "--json")))["copy_method"]
    assert copying["method"] == "WAL log" and copying["probe"] is None
    again = stack("db", "snapshot", "dev", "before_demo")
    assert again.returncode == 1 and "already has a snapshot before_demo" in again.stderr
    bad = stack("db", "snapshot", "dev", "Bad Name!")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: invalid snapshot name")
    missing = stack("db", "restore", "dev", "nope", "--yes")
    assert missing.returncode == 2 and "dev has no snapshot 'nope'" in missing.stderr
    refused = stack("db", "snapshot", "dev", "--delete", "before_demo")  # protected, no terminal
    assert refused.returncode == 3
    ok(stack("db", "snapshot", "dev", "--delete", "before_demo", "--yes"))

    dump = tmp_path / "dev.dump"
    ok(stack("db", "snapshot", "dev", "--to", str(dump)))
    assert dump.stat().st_size > 0
    before = sql(stack, "dev", CHECKSUM)
    sql(stack, "dev", "DELETE FROM providers")
    ok(stack("db", "restore", "dev", "--from", str(dump), "--yes"))
    assert sql(stack, "dev", CHECKSUM) == before
    # dev's file into test: stamped for dev, refused, test untouched
    marker = sql(stack, "test", "SELECT count(*) FROM users")
    into_test = stack("db", "restore", "test", "--from", str(dump), "--yes")
    assert into_test.returncode == 3, into_test.stderr
    assert "stamped for environment dev" in into_test.stderr
    assert sql(stack, "test", "SELECT count(*) FROM users") == marker
    assert sql(stack, "test", "SELECT current_database()") == "dashtam_test"


def test_a_snapshot_left_invalid_by_an_interrupted_drop_is_never_listed_and_is_dropped(
    stack: Project,
) -> None:
    # Ctrl-C during a prune or a delete cancels DROP DATABASE part way: PostgreSQL leaves the
    # database invalid (datconnlimit = -2), with its files gone, and it can only be dropped
    ok(stack("db", "snapshot", "dev", "half_dropped"))
    broken = sql(stack, "dev", "SELECT current_database()") + "__snap_half_dropped"
    sql(stack, "dev", f"UPDATE pg_database SET datconnlimit = -2 WHERE datname = '{broken}'")
    assert "half_dropped" not in ok(stack("db", "snapshots", "dev"))
    ok(stack("db", "snapshot", "dev", "after_half"))
    gone = sql(stack, "dev", f"SELECT count(*) FROM pg_database WHERE datname = '{broken}'")
    assert gone == "0"
    audit = (stack.root / ".dashenv" / "audit.log").read_text()
    assert "db snapshot cleanup" in audit and broken in audit
    ok(stack("db", "snapshot", "dev", "--delete", "after_half", "--yes"))


def _dashenv(stack: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashenv", *args],
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            k: v
            for k, v in os.environ.items()
            if not k.startswith("DASHENV_") or k == "DASHENV_STATE_DIR"
        },
    )


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0])
def test_interrupted_restore_leaves_the_old_or_the_new(stack: Project, delay: float) -> None:
    ok(stack("db", "snapshot", "dev", f"cut_{int(delay * 10)}"))
    before = sql(stack, "dev", CHECKSUM)
    sql(stack, "dev", "DELETE FROM providers WHERE id % 2 = 0")
    changed = sql(stack, "dev", CHECKSUM)
    proc = _dashenv(stack, "db", "restore", "dev", f"cut_{int(delay * 10)}", "--yes")
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    assert sql(stack, "dev", CHECKSUM) in (before, changed)  # the old or the new, whole
    ok(stack("db", "restore", "dev", f"cut_{int(delay * 10)}", "--yes"))
    assert sql(stack, "dev", CHECKSUM) == before
    leftovers = sql(
        stack,
        "dev",
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'dashtam\\_\\_restore\\_%'",
    )
    assert leftovers == "0"


def test_killed_postgres_during_restore_leaves_a_database(stack: Project) -> None:
    ok(stack("db", "snapshot", "dev", "kill_me"))
    before = sql(stack, "dev", CHECKSUM)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "db", "restore", "dev", "kill_me", "--yes"],
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    subprocess.run(["docker", "kill", stack.container("dev", "postgres")], capture_output=True)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    ok(stack("up", "dev"))
    assert sql(stack, "dev", CHECKSUM) == before  # a snapshot of the same state, either way
    ok(stack("db", "restore", "dev", "kill_me", "--yes"))
    assert sql(stack, "dev", CHECKSUM) == before


def test_revision_file_belongs_to_the_checkouts_owner(stack: Project) -> None:
    versions = stack.root / "compose" / "app" / "alembic" / "versions"
    for path in [stack.root, *stack.root.rglob("*")]:
        os.chown(path, 1000, 1000, follow_symlinks=False)
    try:
        result = stack("db", "revision", "dev", "-m", "add notes")
        assert result.returncode == 0, result.stderr
        (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("Created ")]
        created = stack.root / line.split(" ", 1)[1]
        assert created.parent == versions and created.is_file()
        assert (created.stat().st_uid, created.stat().st_gid) == (1000, 1000)
        assert "down_revision" in created.read_text()
        created.unlink()
    finally:
        for path in [stack.root, *stack.root.rglob("*")]:
            os.chown(path, 0, 0, follow_symlinks=False)


def test_two_restores_of_dev_at_once_cannot_undo_each_other(stack: Project) -> None:
    """One lock per database: the second restore waits for the first, and dev ends with one
    of the two snapshots' data, whole; nothing of either restore is left behind."""
    ok(stack("db", "snapshot", "dev", "race_a"))
    first = sql(stack, "dev", CHECKSUM)
    sql(stack, "dev", "DELETE FROM providers WHERE id % 3 = 0")
    ok(stack("db", "snapshot", "dev", "race_b"))
    second = sql(stack, "dev", CHECKSUM)
    assert first != second
    runs = [_dashenv(stack, "db", "restore", "dev", snap, "--yes") for snap in ("race_a", "race_b")]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in runs]
    for code, out, err in outcomes:
        assert code == 0, f"{out}\n{err}"
        assert "Traceback" not in err
    assert sql(stack, "dev", CHECKSUM) in (first, second)
    leftovers = "SELECT count(*) FROM pg_database WHERE datname LIKE 'dashtam\\_\\_restore\\_%'"
    assert sql(stack, "dev", leftovers) == "0"
    ok(stack("db", "restore", "dev", "race_a", "--yes"))
    assert sql(stack, "dev", CHECKSUM) == first


def test_a_reset_and_a_restore_of_test_at_once_each_succeed(stack: Project) -> None:
    """The reset's scratch and a restore's copy are each their own (the naming authority),
    and the two take the same lock: both succeed, one after the other."""
    ok(stack("db", "snapshot", "test", "clean"))
    runs = [
        _dashenv(stack, "db", "reset", "test", "--yes"),
        _dashenv(stack, "db", "restore", "test", "clean", "--yes"),
    ]
    for p in runs:
        code = p.wait(timeout=300)
        out, err = p.communicate()
        assert code == 0, f"{out}\n{err}"
    scratch = (
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'dashtam\\_test\\_\\_new\\_%'"
        " OR datname LIKE 'dashtam\\_test\\_\\_restore\\_%'"
    )
    assert sql(stack, "test", scratch) == "0"
    ok(stack("db", "snapshot", "test", "--delete", "clean", "--yes"))
