"""Copies at real sizes' methods, on the real engine with small databases: dev's PostgreSQL 18
on a copy-on-write volume (XFS with reflink, from the sandbox's reflink-volume.sh) clones;
a snapshot restored twice; an interrupted restore leaves the old or the new; pruning waits
for the next snapshot command or gc; a full volume refuses a copy up front with the sizes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, new_project, teardown
from tests.e2e.helpers import ok, sql

pytestmark = pytest.mark.docker

SANDBOX = Path(__file__).resolve().parents[3] / "shared" / "sandbox"
REFLINK = SANDBOX / "reflink-volume.sh"
NO_POSTGRES_18 = Path("/tmp/sandbox-postgres18.unavailable")
CHECKSUM = "SELECT count(*) || ':' || md5(string_agg(email, ',' ORDER BY id)) FROM users"

OVERRIDE = """services:
  postgres:
    image: postgres:18
    volumes: !override
      - data18:/var/lib/postgresql
      - ./postgres/dashenv-stamp.sh:/docker-entrypoint-initdb.d/00-dashenv-stamp.sh:ro
volumes:
  data18:
    external: true
    name: {volume}
"""


def _reflink(*args: str) -> None:
    done = subprocess.run(["bash", str(REFLINK), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def cow(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """dev's PostgreSQL 18 (its own migrations, the seed's app image not started) on a small
    reflink volume; snapshot_keep = 1 so pruning shows at once."""
    if NO_POSTGRES_18.exists():
        pytest.skip(f"the sandbox could not build postgres:18: {NO_POSTGRES_18.read_text()}")
    if not REFLINK.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"no {REFLINK}: the clone path needs a copy-on-write volume")
        pytest.skip(f"no {REFLINK} here: the clone path needs a copy-on-write volume")
    project = new_project(tmp_path_factory.mktemp("clones"), ("dev",))
    volume = f"{project.prefix}-cow"
    _reflink("create", volume, "600M")
    (project.root / "compose" / "cow.yml").write_text(OVERRIDE.format(volume=volume))
    with (project.root / "dashenv.toml").open("a") as f:
        f.write(
            'compose_files = ["compose/docker-compose.dev.yml", "compose/cow.yml"]\n'
            "snapshot_keep = 1\n"
        )
    try:
        ok(project("up", "dev", "postgres"))
        sql(
            project,
            "dev",
            "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);"
            " INSERT INTO users (email) SELECT 'u' || g || '@dev' FROM generate_series(1, 2000) g",
        )
        yield project
    finally:
        teardown(project, ("dev",))
        _reflink("remove", volume)


def _audit(project: Project) -> list[dict]:
    path = project.root / ".dashenv" / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _snapshots(project: Project) -> dict:
    return json.loads(ok(project("db", "snapshots", "dev", "--json")))


def test_postgres_18_on_a_copy_on_write_volume_clones_and_restores_twice(cow: Project) -> None:
    before = sql(cow, "dev", CHECKSUM)
    taken = cow("db", "snapshot", "dev", "twice")
    assert "Snapshot twice of dev taken" in ok(taken) and "copied by clone" in taken.stdout
    listed = _snapshots(cow)
    assert listed["copy_method"]["method"] == "clone"
    assert "cp --reflink=always" in listed["copy_method"]["probe"]
    assert "copies by clone: PostgreSQL 18" in ok(cow("db", "snapshots", "dev"))
    doc = json.loads(cow("status", "dev", "--json").stdout)  # unhealthy: only postgres runs
    assert doc["environments"][0]["postgres"]["copy_method"]["method"] == "clone"
    # the probe's answer is remembered per cluster and data directory
    remembered = json.loads((cow.root / ".dashenv" / "cache" / "copy-methods.json").read_text())
    assert [v["clones"] for v in remembered.values()] == [True]
    for _ in range(2):  # a snapshot restored twice: the same data each time, the snapshot kept
        sql(cow, "dev", "DELETE FROM users WHERE id % 3 = 0")
        restored = ok(cow("db", "restore", "dev", "twice", "--yes"))
        assert "copied by clone" in restored
        assert sql(cow, "dev", CHECKSUM) == before
    restores = [a for a in _audit(cow) if a["action"] == "db restore"]
    assert restores and all(a["copied_by"] == "clone" for a in restores)


@pytest.mark.parametrize("delay", [0.05, 0.25, 0.5])
def test_an_interrupted_clone_leaves_the_old_or_the_new(cow: Project, delay: float) -> None:
    name = f"cut_{int(delay * 100)}"
    ok(cow("db", "snapshot", "dev", name))
    before = sql(cow, "dev", CHECKSUM)
    sql(cow, "dev", "DELETE FROM users WHERE id % 2 = 0")
    changed = sql(cow, "dev", CHECKSUM)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "db", "restore", "dev", name, "--yes"],
        cwd=cow.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DASHENV_PRELOAD": "0"},
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert sql(cow, "dev", CHECKSUM) in (before, changed)  # the old or the new, whole
    ok(cow("db", "restore", "dev", name, "--yes"))
    assert sql(cow, "dev", CHECKSUM) == before
    left = sql(
        cow, "dev", "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_\\_restore\\_%'"
    )
    assert left == "0"
    ok(cow("db", "snapshot", "dev", "--delete", name, "--yes"))


def test_pruning_waits_for_the_next_snapshot_command_or_gc(cow: Project) -> None:
    ok(cow("db", "snapshot", "dev", "base"))
    ok(cow("gc", "--yes"))  # what earlier tests left beyond snapshot_keep = 1
    pruned_before = len([a for a in _audit(cow) if "prune" in a["action"]])
    for _ in range(2):
        restored = cow("db", "restore", "dev", "base", "--yes")
        assert "Pruned" not in ok(restored) + restored.stderr  # it answered without a DROP
    autos = [s for s in _snapshots(cow)["snapshots"] if s["auto"]]
    assert len(autos) == 3  # two beyond snapshot_keep = 1, until the next db snapshot or gc
    assert len([a for a in _audit(cow) if "prune" in a["action"]]) == pruned_before
    taken = cow("db", "snapshot", "dev", "next")
    ok(taken)
    for old in autos[:2]:
        assert f"Pruned automatic snapshot {old['name']} (snapshot_keep = 1)" in taken.stderr
    assert [s["name"] for s in _snapshots(cow)["snapshots"] if s["auto"]] == [autos[2]["name"]]
    prunes = [a for a in _audit(cow) if a["action"] == "db snapshot prune"]
    assert len(prunes) == pruned_before + 2 and prunes[-1]["target"].endswith(autos[1]["name"])
    # and gc prunes too, under the database's lock, audited
    ok(cow("db", "restore", "dev", "base", "--yes"))
    listed = ok(cow("gc", "--dry-run"))
    assert "an automatic snapshot beyond snapshot_keep = 1" in listed
    ok(cow("gc", "--yes"))
    assert len([s for s in _snapshots(cow)["snapshots"] if s["auto"]]) == 1
    assert any(a["action"] == "gc snapshot" for a in _audit(cow))
    for name in ("base", "next"):
        ok(cow("db", "snapshot", "dev", "--delete", name, "--yes"))


def test_a_full_volume_refuses_the_copy_up_front_with_the_sizes(cow: Project) -> None:
    container = cow.container("dev", "postgres")
    ok(cow("db", "snapshot", "dev", "kept"))
    fill = (
        'free=$(df -Pk /var/lib/postgresql | tail -n 1 | awk "{print \\$4}"); '
        "head -c $(( free / 1024 - 24 ))M /dev/zero > /var/lib/postgresql/filler"
    )
    subprocess.run(["docker", "exec", container, "sh", "-c", fill], check=True)
    try:
        before = {s["name"] for s in _snapshots(cow)["snapshots"]}
        refused = cow("db", "snapshot", "dev", "no_room")
        assert refused.returncode == 1, refused.stderr
        line = refused.stderr.splitlines()[0]
        assert line.startswith("Error: dev: not enough free space on the database's volume")
        assert "(clone): it needs about 67 MB" in line and "MB is free" in line
        assert "dashenv gc" in refused.stderr and "Traceback" not in refused.stderr
        assert {s["name"] for s in _snapshots(cow)["snapshots"]} == before  # nothing half-done
        again = cow("db", "restore", "dev", "kept", "--yes")
        assert again.returncode == 1 and "not enough free space" in again.stderr
        assert "Traceback" not in again.stderr
    finally:
        subprocess.run(["docker", "exec", container, "rm", "-f", "/var/lib/postgresql/filler"])
    ok(cow("db", "snapshot", "dev", "room"))
    for name in ("room", "kept"):
        ok(cow("db", "snapshot", "dev", "--delete", name, "--yes"))


def test_the_probe_by_docker_exec_for_a_role_that_may_not_run_programs(cow: Project) -> None:
    """Where COPY ... FROM PROGRAM is not permitted the probe runs by docker exec, and finds
    the same: the clone and the room left."""
    from dashenv.context import RunContext
    from dashenv.steps.copying import docker_probe

    dev = RunContext(project_dir=str(cow.root)).environment("dev")
    found = docker_probe(dev, "/var/lib/postgresql/18/docker")
    assert found.clones is True and found.free_bytes and found.total_bytes
    assert found.free_bytes < found.total_bytes <= 700 * 10**6  # the small reflink volume
    missing = docker_probe(dev, "/no/such/directory")
    assert missing.clones is None and "cannot write in /no/such/directory" in missing.detail
