"""Many checkouts at once: the checkout that started an environment first owns its default
project; git worktrees of it run instances of their own (project, names, network, image tag,
leased host ports), set up at the same moment without taking each other's ports; 'gc' removes
what a deleted worktree left while the others keep running."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.e2e.conftest import free_ports, isolated_toml, run_dashenv
from tests.e2e.helpers import ok

pytestmark = pytest.mark.docker
PORTS = ("app", "callback", "postgres", "redis")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=e2e@dashenv", "-c", "user.name=e2e", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


class Checkouts:
    def __init__(self, base: Path):
        self.prefix = "e2e" + uuid.uuid4().hex[:6]
        self.main = make_project(base / "main")
        tables = {env: {"project_name": f"{self.prefix}-{env}"} for env in ("dev", "test", "ci")}
        (self.main / "dashenv.toml").write_text(isolated_toml(self.prefix, tables))
        git(self.main, "init", "-q")
        git(self.main, "add", "-A")
        git(self.main, "commit", "-qm", "the project")
        self.a, self.b = base / "feature-a", base / "hotfix-b"
        git(self.main, "worktree", "add", "-q", str(self.a))
        git(self.main, "worktree", "add", "-q", str(self.b))
        # the owner's ports: free ones, in its own env files (the worktrees have the
        # committed files, without them, so their instances allocate)
        numbers = iter(free_ports(8))
        self.owner_ports: dict[str, dict[str, int]] = {}
        for env in ("dev", "test"):
            self.owner_ports[env] = {svc: next(numbers) for svc in PORTS}
            path = self.main / "env" / f".env.{env}"
            lines = [f"DASHENV_{svc.upper()}_PORT={p}" for svc, p in self.owner_ports[env].items()]
            path.write_text(path.read_text() + "\n" + "\n".join(lines) + "\n")

    def run(self, where: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return run_dashenv(*args, cwd=where, **kw)  # type: ignore[arg-type]

    def status(self, where: Path) -> dict:
        return json.loads(self.run(where, "status", "test", "--json").stdout)["environments"][0]


@pytest.fixture
def checkouts(built_image: None, tmp_path: Path) -> Iterator[Checkouts]:
    c = Checkouts(tmp_path)
    try:
        yield c
    finally:
        for where in (c.a, c.b, c.main):  # every instance a test started, dev's too
            if where.is_dir():
                c.run(where, "down", "test", "--volumes", "--yes")
                c.run(where, "down", "dev", "--volumes", "--yes")
        c.run(c.main, "gc", "--yes")


def dev_with_a_row(c: Checkouts, value: str) -> None:
    """The main checkout's dev up (database and cache), holding one row worth keeping."""
    ok(c.run(c.main, "up", "dev", "postgres", "redis"))
    ok(
        c.run(
            c.main,
            "psql",
            "dev",
            "-c",
            f"CREATE TABLE keep (v text); INSERT INTO keep VALUES ('{value}')",
        )
    )


def start(where: Path, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DASHENV_") or k == "DASHENV_STATE_DIR"
    }
    env.update({"NO_COLOR": "1", "COLUMNS": "200", **(extra or {})})
    return subprocess.Popen(
        [sys.executable, "-m", "dashenv", "test", "setup"],
        cwd=where,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_worktrees_run_their_own_instances_side_by_side(checkouts: Checkouts) -> None:
    c = checkouts
    dev_with_a_row(c, "dev")
    ok(c.run(c.main, "up", "test", "postgres"))  # the main checkout owns test's project

    # a foreign process holds the first port of the range hotfix-b allocates from
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    held = holder.getsockname()[1]
    try:
        # three checkouts set up test at the same moment
        procs = {
            c.main: start(c.main),
            c.a: start(c.a),
            c.b: start(c.b, {"DASHENV_PORT_RANGE": f"{held}-{min(held + 300, 65535)}"}),
        }
        results = {where: p.communicate(timeout=600) for where, p in procs.items()}
    finally:
        holder.close()
    for where, (out, err) in results.items():
        assert procs[where].returncode == 0, f"{where}\n{out}\n{err}"
        assert "Test database initialized successfully" in out + err
    said = results[c.a][1]
    assert "test runs as instance feature-a here (" in said and "allocated host ports" in said
    assert f"is {c.main.resolve()}'s)" in said  # whose default project it is
    said = results[c.b][1]
    assert "test runs as instance hotfix-b here" in said and f"skipped {held}, in use" in said

    docs = {where: c.status(where) for where in (c.main, c.a, c.b)}
    assert [d["project"] for d in docs.values()] == [
        f"{c.prefix}-test",
        f"{c.prefix}-test-feature-a",
        f"{c.prefix}-test-hotfix-b",
    ]
    assert all(d["healthy"] for d in docs.values()), docs
    ports = [
        {p["host_port"] for row in d["containers"]["list"] for p in row["ports"]}
        for d in docs.values()
    ]
    assert ports[0] == set(c.owner_ports["test"].values())
    assert not (ports[0] & ports[1] or ports[0] & ports[2] or ports[1] & ports[2])
    assert held not in ports[2]
    # each checkout's containers, networks and image tags are its own
    names = {row["name"] for d in docs.values() for row in d["containers"]["list"]}
    assert f"{c.prefix}-test-feature-a-postgres" in names and len(names) == 12
    listed = json.loads(ok(c.run(c.main, "instances", "--json")))["instances"]
    mine = {r["project"]: r for r in listed if r["project"].startswith(c.prefix)}
    assert mine[f"{c.prefix}-test-hotfix-b"]["checkout"] == str(c.b.resolve())
    assert mine[f"{c.prefix}-test"]["instance"] == ""
    # the leases hold across down and up
    ok(c.run(c.a, "down", "test"))
    ok(c.run(c.a, "up", "test"))
    assert {
        p["host_port"] for row in c.status(c.a)["containers"]["list"] for p in row["ports"]
    } == (ports[1])

    # hotfix-b's worktree is removed: gc takes what it left, the others keep running
    git(c.main, "worktree", "remove", "--force", str(c.b))
    plan = ok(c.run(c.main, "gc", "--dry-run"))
    assert f"{c.prefix}-test-hotfix-b" in plan and "no longer exists" in plan
    ok(c.run(c.main, "gc", "--yes"))
    left = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "-q",
            "--filter",
            f"label=com.docker.compose.project={c.prefix}-test-hotfix-b",
        ],
        capture_output=True,
        text=True,
    ).stdout
    networks = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", f"name={c.prefix}-test-hotfix-b"],
        capture_output=True,
        text=True,
    ).stdout
    assert left.strip() == "" and networks.strip() == ""
    assert c.status(c.main)["healthy"] and c.status(c.a)["healthy"]
    assert ok(c.run(c.main, "psql", "dev", "-tA", "-c", "SELECT v FROM keep")).strip() == "dev"


def test_init_in_a_worktree_copies_the_owners_ignored_files(checkouts: Checkouts) -> None:
    c = checkouts
    (c.a / "env" / ".env.dev").unlink()  # git-ignored in a real project: a worktree lacks it
    copied = ok(c.run(c.a, "init", "dev", "--from-owner"))
    assert f"dev: copied env/.env.dev from {c.main.resolve()}" in copied
    assert (c.a / "env" / ".env.dev").read_text() == (c.main / "env" / ".env.dev").read_text()
    (c.b / "env" / ".env.dev").unlink()
    fresh = ok(c.run(c.b, "init", "dev", "--fresh"))
    assert "dev: created env/.env.dev" in fresh


def test_a_reset_in_an_instance_never_reaches_the_owners_server(checkouts: Checkouts) -> None:
    c = checkouts
    ok(c.run(c.main, "test", "setup"))
    ok(c.run(c.main, "psql", "test", "-c", "CREATE TABLE owner_row (v text)"))
    ok(c.run(c.a, "test", "setup"))
    owner_pg = str(c.owner_ports["test"]["postgres"])
    refused = c.run(c.a, "--set", f"postgres_port={owner_pg}", "db", "reset", "test", "--yes")
    assert refused.returncode == 3, refused.stderr
    assert "guard 'distinct target' failed" in refused.stderr
    tables = ok(c.run(c.main, "psql", "test", "-tA", "-c", "SELECT count(*) FROM owner_row"))
    assert tables.strip() == "0"


def test_dev_data_moves_between_instances_through_a_snapshot_file(
    checkouts: Checkouts, tmp_path: Path
) -> None:
    c = checkouts
    dev_with_a_row(c, "main")
    dump = tmp_path / "dev.dump"
    ok(c.run(c.main, "db", "snapshot", "dev", "--to", str(dump)))
    started = ok(c.run(c.a, "up", "dev", "postgres", "redis"))
    assert f"{c.prefix}-dev-feature-a" in ok(c.run(c.a, "config", "compose", "dev", "--", "ps"))
    assert str(c.owner_ports["dev"]["postgres"]) not in started  # a port of its own
    ok(c.run(c.a, "db", "restore", "dev", "--from", str(dump), "--yes"))  # dev to dev: allowed
    assert ok(c.run(c.a, "psql", "dev", "-tA", "-c", "SELECT v FROM keep")).strip() == "main"
    ok(c.run(c.main, "up", "test", "postgres"))  # main owns test; feature-a gets an instance
    ok(c.run(c.a, "up", "test", "postgres"))
    refused = c.run(c.a, "db", "restore", "test", "--from", str(dump), "--yes")
    assert refused.returncode == 3 and "stamped for environment dev" in refused.stderr
    # the owner's dev is untouched by it all
    assert ok(c.run(c.main, "psql", "dev", "-tA", "-c", "SELECT v FROM keep")).strip() == "main"
