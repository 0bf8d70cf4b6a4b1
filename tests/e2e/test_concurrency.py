"""Several commands on one environment at once, as people work (an editor running the tests on
save beside a terminal, make -j): each waits its turn and then sees what the first left, and
nothing is left broken (duplicate networks found by doctor and repaired by up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Project, new_project, teardown
from tests.e2e.helpers import ok

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def shop(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = new_project(tmp_path_factory.mktemp("concurrency"), ("dev", "test"))
    try:
        yield project
    finally:
        teardown(project, ("dev", "test"))


def together(p: Project, *commands: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """The commands started at the same moment; (exit code, stdout, stderr) of each."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dashenv", *argv],
            cwd=p.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in commands
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append((proc.returncode, out, err))
    return results


def networks(project: str) -> list[str]:
    listed = subprocess.run(
        ["docker", "network", "ls", "--format", "{{.Name}}",
         "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sorted(listed.stdout.split())


def test_three_ups_at_once_each_end_healthy_with_one_network(shop: Project) -> None:
    results = together(shop, ("up", "dev"), ("up", "dev"), ("up", "dev"))
    for code, out, err in results:
        assert code == 0, f"{out}\n{err}"
        assert "dev is up: 4 containers healthy" in out
    said = "".join(err for _, _, err in results)
    assert "waiting for another dashenv up dev (pid " in said
    ps = json.loads(ok(shop("ps", "dev", "--json")))["environments"]["dev"]
    assert sorted(c["service"] for c in ps) == ["app", "callback", "postgres", "redis"]
    assert networks(f"{shop.prefix}-dev") == [f"{shop.prefix}-dev-network"]


def test_a_duplicate_network_fails_doctor_and_up_repairs_it(shop: Project) -> None:
    import docker

    project = f"{shop.prefix}-dev"
    ok(shop("down", "dev"))
    api = docker.APIClient()
    labels = {"com.docker.compose.project": project, "com.docker.compose.network": "default"}
    for _ in range(2):  # what a race between two Compose runs leaves
        api.create_network(f"{project}-network", labels=labels, check_duplicate=False)
    assert networks(project) == [f"{project}-network"] * 2
    doctor = shop("doctor", "dev")
    assert doctor.returncode == 1, doctor.stdout
    assert f"more than one network named {project}-network" in doctor.stdout
    up = shop("up", "dev")
    assert up.returncode == 0, up.stderr
    assert "removed 2 duplicate network(s)" in up.stderr
    assert networks(project) == [f"{project}-network"]
    assert "networks" in ok(shop("doctor", "dev"))


def test_two_test_runs_at_once_both_pass(shop: Project) -> None:
    results = together(shop, ("test", "run"), ("test", "run"))
    for code, out, err in results:
        assert code == 0, f"{out}\n{err}"
        assert " passed" in out
    said = "".join(err for _, _, err in results)
    # the second waited for the first's whole run: its database was never reset under it
    assert "waiting for another dashenv test run test (pid " in said


def test_a_run_holding_the_environment_makes_no_wait_fail_at_once(shop: Project) -> None:
    from filelock import FileLock

    from dashenv.steps.environment_lock import lock_file

    held = FileLock(str(lock_file(f"{shop.prefix}-test", None)))  # one state dir: the session's
    with held:
        busy = shop("test", "run", "--no-wait")
    assert busy.returncode == 1, busy.stderr
    assert "is running on test" in busy.stderr and "Traceback" not in busy.stderr


def test_an_up_killed_at_any_moment_is_completed_by_the_next(shop: Project) -> None:
    """dashenv up killed (SIGKILL: nothing of its own runs) at a few seeded moments, from a
    stopped stack; the Compose process it started is left to itself, as it would be. The next
    up finds what is left (a lock of a dead process, containers half made, Compose still
    running) and ends healthy with one container per service and one network."""
    import time

    for after in (0.4, 1.2, 2.5):
        ok(shop("down", "dev"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashenv", "up", "dev"],
            cwd=shop.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "DASHENV_PRELOAD": "0"},
        )  # fmt: skip
        time.sleep(after)
        proc.kill()
        proc.wait()
        done = shop("up", "dev")
        assert done.returncode == 0, f"killed after {after}s:\n{done.stdout}\n{done.stderr}"
        assert "dev is up: 4 containers healthy" in done.stdout
        ps = json.loads(ok(shop("ps", "dev", "--json")))["environments"]["dev"]
        assert sorted(c["service"] for c in ps) == ["app", "callback", "postgres", "redis"]
        assert networks(f"{shop.prefix}-dev") == [f"{shop.prefix}-dev-network"]
