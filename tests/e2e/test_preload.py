"""DASHENV_PRELOAD=1 end to end: the inner-loop commands run in a worker forked from a server
that has dashenv imported, with the same output, exit codes and signals as a fresh process."""

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

from tests.e2e.conftest import Project, new_project, run_dashenv, teardown
from tests.e2e.helpers import ok, sql

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = new_project(tmp_path_factory.mktemp("preload"), ("dev", "test"))
    try:
        ok(project("up", "dev"))
        sql(project, "dev", "INSERT INTO users (email) VALUES ('precious@dev')")
        ok(project("test", "setup"))
        yield project
    finally:
        teardown(project, ("dev", "test"))


@pytest.fixture(scope="module")
def preload(stack: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The switch, and a runtime directory of this module's own for the server's socket."""
    env = {"DASHENV_PRELOAD": "1", "XDG_RUNTIME_DIR": str(tmp_path_factory.mktemp("run"))}
    ok(stack("status", "--all", "--json", env=env))  # runs here, and starts the server
    deadline = time.monotonic() + 60
    while "(listening" not in server_status(env):
        assert time.monotonic() < deadline, "the preload server did not start"
        time.sleep(0.1)
    yield env
    subprocess.run(
        [sys.executable, "-m", "dashenv.preload", "stop"], env={**os.environ, **env}, check=True
    )
    deadline = time.monotonic() + 30
    while server_pids(env):
        assert time.monotonic() < deadline, "the preload server did not leave after stop"
        time.sleep(0.2)


def server_status(env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "dashenv.preload", "status"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def served(env: dict[str, str]) -> int:
    line = server_status(env)
    assert "(listening" in line, line
    return int(line.rsplit("served ", 1)[1].rstrip(")\n"))


def server_pid(env: dict[str, str]) -> int:
    return int(server_status(env).split("pid ", 1)[1].split(",", 1)[0])


def server_pids(env: dict[str, str]) -> list[int]:
    """The server and its forked handlers and workers: processes whose command line names
    this module's runtime directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "dashenv.preload" in cmdline and env["XDG_RUNTIME_DIR"] in cmdline:
                found.append(int(proc.name))
    return found


def dev_intact(p: Project) -> None:
    assert sql(p, "dev", "SELECT string_agg(email, ',') FROM users") == "precious@dev"


def test_the_server_answers_with_the_same_output_and_exit_codes(
    stack: Project, preload: dict[str, str]
) -> None:
    before = served(preload)
    for argv in (
        ("db", "reset", "dev", "--yes"),  # refused: exit 3
        ("status", "nosuch"),  # usage: exit 2
        ("db", "reset", "test", "--dry-run"),
    ):
        fresh, warm = stack(*argv), stack(*argv, env=preload)
        assert (warm.returncode, warm.stdout, warm.stderr) == (
            fresh.returncode,
            fresh.stdout,
            fresh.stderr,
        ), argv
    fresh_doc = json.loads(stack("status", "--all", "--json").stdout)
    warm_run = stack("status", "--all", "--json", env=preload)
    assert warm_run.returncode == 0, warm_run.stderr
    warm_doc = json.loads(warm_run.stdout)
    assert [e["name"] for e in warm_doc["environments"]] == [
        e["name"] for e in fresh_doc["environments"]
    ]
    assert warm_doc["environments"][0]["postgres"] == fresh_doc["environments"][0]["postgres"]
    ok(stack("db", "reset", "test", "--yes", env=preload))
    ok(stack("test", "setup", env=preload))
    ok(stack("db", "snapshot", "dev", "via_preload", env=preload))
    sql(stack, "dev", "INSERT INTO users (email) VALUES ('after@dev')")
    ok(stack("db", "restore", "dev", "via_preload", "--yes", env=preload))
    assert served(preload) == before + 8  # each of the preloaded calls went to the server
    dev_intact(stack)


def preloaded_reset(stack: Project, env: dict[str, str]) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DASHENV_")}
    full.update({"DASHENV_STATE_DIR": os.environ.get("DASHENV_STATE_DIR", ""), **env})
    return subprocess.Popen(
        [sys.executable, "-m", "dashenv", "db", "reset", "test", "--yes", "--strategy", "migrate"],
        cwd=stack.root,
        env=full,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_reaches_the_worker_and_the_next_reset_succeeds(
    stack: Project, preload: dict[str, str]
) -> None:
    before = served(preload)
    proc = preloaded_reset(stack, preload)
    deadline = time.monotonic() + 30
    while served(preload) == before:  # the server took the call: a worker runs it
        assert time.monotonic() < deadline and proc.poll() is None, "the call never came"
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    assert proc.returncode in (0, 130), err  # interrupted, or done before the signal came
    ok(stack("db", "reset", "test", "--yes", env=preload))
    dev_intact(stack)


def test_a_killed_client_takes_its_worker_with_it(stack: Project, preload: dict[str, str]) -> None:
    server = server_pid(preload)
    deadline = time.monotonic() + 30
    while server_pids(preload) != [server]:  # an earlier call's worker still finishing
        assert time.monotonic() < deadline, "an earlier worker never ended"
        time.sleep(0.1)
    proc = preloaded_reset(stack, preload)
    deadline = time.monotonic() + 30
    while len(server_pids(preload)) < 3:  # the server, the call's handler and its worker
        assert time.monotonic() < deadline and proc.poll() is None, "no worker seen"
        time.sleep(0.02)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while server_pids(preload) != [server]:
        assert time.monotonic() < deadline, "the worker outlived its client"
        time.sleep(0.1)
    ok(stack("db", "reset", "test", "--yes"))  # no lock left held
    dev_intact(stack)


def test_preload_is_off_unless_asked(stack: Project, preload: dict[str, str]) -> None:
    before = served(preload)
    ok(
        run_dashenv(
            "status", "--all", "--json", cwd=stack.root, env={**preload, "DASHENV_PRELOAD": "0"}
        )
    )
    ok(stack("status", "--all", "--json", env={"XDG_RUNTIME_DIR": preload["XDG_RUNTIME_DIR"]}))
    assert served(preload) == before
