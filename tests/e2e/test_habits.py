"""The team's habits: the pytest plugin, the seed's make targets, and ci run."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import Project
from tests.e2e.helpers import ok

pytestmark = pytest.mark.docker
SAMPLE = REPO / "tests" / "sample_app"


def resets_done(p: Project) -> int:
    log = p.root / ".dashenv" / "audit.log"
    if not log.is_file():
        return 0
    return sum(json.loads(line)["outcome"] == "done" for line in log.read_text().splitlines())


def sample_suite(p: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHENV_", "PYTEST_"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(SAMPLE),
            "-c",
            os.devnull,
            "--dashenv",
            "--dashenv-project-dir",
            str(p.root),
            str(SAMPLE),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_plugin_sets_up_once_and_hands_over_the_test_environment(e2e: Project) -> None:
    ok(e2e("up", "dev", "postgres"))
    before = resets_done(e2e)
    result = sample_suite(e2e)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout
    assert resets_done(e2e) == before + 1
    # and under pytest-xdist, still one setup for all workers
    parallel = sample_suite(e2e, "-n", "2")
    assert parallel.returncode == 0, parallel.stdout + parallel.stderr
    assert "7 passed" in parallel.stdout
    assert resets_done(e2e) == before + 2


def test_plugin_refuses_anything_but_a_test_environment(e2e: Project) -> None:
    result = sample_suite(e2e, "--dashenv-env", "dev")
    assert result.returncode == 3
    assert "dashenv: refusing to reset dev: guard 'environment role' failed" in result.stdout
    assert ok(e2e("ps", "dev")).strip() == "dev: no containers"  # nothing was started


def test_make_targets(e2e: Project) -> None:
    dashenv = f"{shlex.quote(sys.executable)} -m dashenv -C {shlex.quote(str(e2e.root))}"

    def make(*targets: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "-f", str(REPO / "Makefile"), f"DASHENV={dashenv}", *targets],
            capture_output=True,
            text=True,
            timeout=900,
        )

    for target in ("dev-up", "test-setup", "status", "test", "test-clean", "dev-down"):
        result = make(target)
        assert result.returncode == 0, f"make {target}\n{result.stdout}\n{result.stderr}"
        if target == "test-setup":
            assert "Test database initialized successfully" in result.stdout
        if target == "test":
            assert "2 passed" in result.stdout
    assert make("test-down").returncode == 0
    assert "up           start development" in make("help").stdout


def ci_containers(p: Project) -> list[str]:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            f"label=com.docker.compose.project={p.prefix}-ci",
        ],
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def test_ci_run_passes_and_leaves_nothing(e2e: Project) -> None:
    result = e2e("ci", "run", "--", "-v")
    assert result.returncode == 0, result.stderr
    assert "2 passed" in result.stdout
    assert "Taking ci down with its volumes" in result.stderr
    assert ci_containers(e2e) == []


def test_ci_run_returns_a_failing_suites_code(e2e: Project) -> None:
    failing = 'test_command=python -c "raise SystemExit(3)"'
    result = e2e("--set", failing, "ci", "run")
    assert result.returncode == 3
    assert ci_containers(e2e) == []


def test_ci_run_interrupted_still_takes_ci_down(e2e: Project) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "--set", "test_command=sleep 120", "ci", "run"],
        cwd=e2e.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    app = f"{e2e.prefix}-ci-app"
    while time.monotonic() < deadline:
        top = subprocess.run(["docker", "top", app], capture_output=True, text=True)
        if "sleep 120" in top.stdout:
            break
        time.sleep(0.5)  # waiting for the test command to be running
    else:
        proc.kill()
        pytest.fail("the ci test command never started")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "Taking ci down with its volumes" in err and "Traceback" not in err
    assert ci_containers(e2e) == []


def test_ci_run_on_a_protected_environment_is_refused(tmp_path: Path, e2e: Project) -> None:
    result = e2e("ci", "run", "--env", "dev")
    assert result.returncode == 3
    assert "'ci run' deletes dev's volumes, and dev is not a test environment" in result.stderr
    clean = e2e("test", "clean", "--env", "dev")
    assert clean.returncode == 3 and "not a test environment" in clean.stderr
