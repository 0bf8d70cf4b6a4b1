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
WORKERS = REPO / "tests" / "sample_workers"
WORKER_DATABASES = (
    "SELECT count(*) FROM pg_database"
    " WHERE datname LIKE 'dashtam\\_test\\_gw%' OR datname LIKE 'dashtam\\_test\\_fresh\\_%'"
)


def resets_done(p: Project) -> int:
    log = p.root / ".dashenv" / "audit.log"
    if not log.is_file():
        return 0
    return sum(json.loads(line)["outcome"] == "done" for line in log.read_text().splitlines())


def sample_suite(
    p: Project, *args: str, suite: Path = SAMPLE, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DASHENV_", "PYTEST_")) or k == "DASHENV_STATE_DIR"
    }
    env.update(extra or {})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(suite),
            "-c",
            os.devnull,
            "--dashenv",
            "--dashenv-project-dir",
            str(p.root),
            str(suite),
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
    # under pytest-xdist too: one clear line, no worker started, no INTERNALERROR
    parallel = sample_suite(e2e, "--dashenv-env", "dev", "-n", "2")
    assert parallel.returncode == 3, parallel.stdout + parallel.stderr
    output = parallel.stdout + parallel.stderr
    assert "dashenv: refusing to reset dev: guard 'environment role' failed" in output
    assert "INTERNALERROR" not in output and "Traceback" not in output
    assert ok(e2e("ps", "dev")).strip() == "dev: no containers"


def test_a_database_and_a_redis_index_per_xdist_worker(e2e: Project, tmp_path: Path) -> None:
    ok(e2e("up", "dev", "postgres", "redis"))
    ok(e2e("psql", "dev", "-c", "CREATE TABLE keep (v text); INSERT INTO keep VALUES ('dev')"))
    ok(e2e("redis-cli", "dev", "SET", "oauth:token", "precious"))
    record = tmp_path / "records"
    record.mkdir()
    result = sample_suite(
        e2e, "-n", "3", suite=WORKERS, extra={"DASHENV_SAMPLE_RECORD": str(record)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 passed" in result.stdout  # 9 recording tests, 3 with a fresh database each
    records = [json.loads(p.read_text()) for p in record.glob("*.json")]
    by_worker: dict[str, set[tuple[str, int]]] = {}
    for r in records:
        by_worker.setdefault(r["worker"], set()).add((r["database"], r["index"]))
        # no test saw another worker's row or key
        assert all(row.startswith(r["worker"] + "-") for row in r["rows"]), r
        assert all(key.startswith(f"sample:{r['worker']}-") for key in r["keys"]), r
    assert set(by_worker) == {"gw0", "gw1", "gw2"}
    pairs = {next(iter(v)) for v in by_worker.values()}
    assert all(len(v) == 1 for v in by_worker.values())  # one database and index per worker
    assert {db for db, _ in pairs} == {"dashtam_test_gw0", "dashtam_test_gw1", "dashtam_test_gw2"}
    assert len({index for _, index in pairs}) == 3 and 0 not in {i for _, i in pairs}
    # dev untouched, and no worker database left
    assert ok(e2e("psql", "dev", "-tA", "-c", "SELECT v FROM keep")).strip() == "dev"
    assert ok(e2e("redis-cli", "dev", "GET", "oauth:token")).strip() == "precious"
    left = ok(e2e("psql", "test", "-tA", "-c", WORKER_DATABASES))
    assert left.strip() == "0"


def test_a_killed_parallel_run_leaves_orphans_the_next_run_removes(
    e2e: Project, tmp_path: Path
) -> None:
    record = tmp_path / "records"
    record.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DASHENV_", "PYTEST_")) or k == "DASHENV_STATE_DIR"
    }
    env["DASHENV_SAMPLE_RECORD"] = str(record)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(WORKERS),
         "-c", os.devnull, "--dashenv", "--dashenv-project-dir", str(e2e.root), str(WORKERS),
         "-n", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(record.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)  # until the workers run tests: their databases exist
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # a CREATE DATABASE the killed run had sent finishes on the server all the same
    busy = "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'CREATE DATABASE%'"
    while ok(e2e("psql", "test", "-tA", "-c", busy)).strip() != "0":
        time.sleep(0.2)
    orphans = ok(e2e("psql", "test", "-tA", "-c", WORKER_DATABASES))
    assert int(orphans) >= 2  # both workers' databases (and a fresh one, if one was running)
    listed = json.loads(e2e("status", "test", "--json").stdout)["environments"][0]["postgres"]
    assert {"dashtam_test_gw0", "dashtam_test_gw1"} <= set(listed["worker_databases"])
    again = sample_suite(
        e2e, "-n", "2", suite=WORKERS, extra={"DASHENV_SAMPLE_RECORD": str(record)}
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "left by an earlier run that did not end" in again.stdout + again.stderr
    left = ok(e2e("psql", "test", "-tA", "-c", WORKER_DATABASES))
    names = ok(e2e("psql", "test", "-tA", "-c", "SELECT string_agg(datname, ',') FROM pg_database"))
    assert left.strip() == "0", names + again.stdout[-3000:] + again.stderr[-3000:]


def test_a_second_parallel_run_with_no_wait_fails_at_once(e2e: Project) -> None:
    """Another run holds test's worker databases: --dashenv-no-wait ends this one at
    once, one line, before setting anything up."""
    from filelock import FileLock

    lock = e2e.root / ".dashenv" / "locks" / "workers-test.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock)):
        result = sample_suite(e2e, "-n", "2", "--dashenv-no-wait", suite=WORKERS)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "another parallel test run holds test's worker databases" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out


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
            assert "3 passed" in result.stdout
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
    assert "3 passed" in result.stdout
    assert "Taking ci down with its volumes" in result.stderr
    assert ci_containers(e2e) == []


def test_ci_run_gives_each_xdist_worker_its_own_database_inside_the_network(
    e2e: Project,
) -> None:
    """ci publishes no port: the worker databases are cloned by psql in its own postgres
    container. The worker count comes from pytest's configuration (PYTEST_ADDOPTS in the
    container's environment here), as pytest-xdist counts it."""
    env_file = e2e.root / "env" / ".env.ci"
    env_file.write_text(env_file.read_text() + "PYTEST_ADDOPTS=-n 2\n")
    result = e2e("ci", "run", "--", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout and "created: 2/2 workers" in result.stdout
    assert "Cloned 2 worker databases from dashtam_test" in result.stderr
    assert "inside ci's network" in result.stderr
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


def test_ci_github_writes_a_workflow_whose_test_step_runs_here(
    e2e: Project, tmp_path: Path
) -> None:
    """The workflow passes actionlint, is never overwritten without --force, and its test
    step's command, run here as GitHub Actions runs it (each shard), passes, grouped, with
    the counts of both shards in the job summary."""
    import yaml

    from tests.actionlint import assert_clean

    done = e2e("ci", "github", "--shards", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Wrote .github/workflows/dashenv.yml\n"
    path = e2e.root / ".github" / "workflows" / "dashenv.yml"
    assert_clean(path)
    first = path.read_text()
    again = e2e("ci", "github")
    assert again.stdout.startswith(".github/workflows/dashenv.yml exists; left as it is")
    assert path.read_text() == first
    assert e2e("ci", "github", "--shards", "3", "--force").returncode == 0
    assert "shard: [1, 2, 3]" in path.read_text()
    path.write_text(first)

    test_step = yaml.safe_load(first)["jobs"]["tests"]["steps"][-1]["run"]
    assert test_step == "dashenv ci run --env ci -- --splits 2 --group ${{ matrix.shard }}"
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHENV_")}
    env.update(
        NO_COLOR="1", DASHENV_PRELOAD="0", GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(summary),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )  # fmt: skip
    for shard in ("1", "2"):
        command = test_step.replace("${{ matrix.shard }}", shard)
        run = subprocess.run(
            command, shell=True, cwd=e2e.root, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert "::group::Starting ci" in run.stdout and "::group::Taking ci down" in run.stdout
    rows = [line for line in summary.read_text().splitlines() if line.startswith("| ")]
    counts = [int(row.split("|")[1]) for row in rows if row.split("|")[1].strip().isdigit()]
    assert sum(counts) == 3 and len(counts) == 2  # the suite's three tests, split in two
    assert summary.read_text().count("The run passed.") == 2
    assert ci_containers(e2e) == []
