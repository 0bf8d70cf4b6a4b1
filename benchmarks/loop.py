"""The inner loop, side by side with the bare Compose commands it replaces, whole processes.

Run by hand with dev and test up (it starts nothing): python benchmarks/loop.py [-C DIR]
[--runs N]. For each command, its median beside its baseline's, alternating runs, the ratio
last on each line:

  dashenv db reset test --yes      vs  docker compose exec -T app <migration_command> (a no-op)
  dashenv test setup (already up)  vs  docker compose up -d --wait + that exec
  dashenv status --all --json      vs  docker compose ps --format json, for dev and for test
  dashenv up dev (already healthy) vs  docker compose up -d --wait
  dashenv test run                 vs  docker compose exec -T app <test_command> (no reset)
  dashenv test run --no-setup      vs  the same exec

  dashenv --help                   vs  python -c "import typer"

Each line has two dashenv columns: as a user runs it (preloading on by default: the server
that has dashenv imported forks a worker for it; the script starts that server first), and a
fresh process (DASHENV_PRELOAD=0); each ratio is shown beside its goal.

The baselines are the exact lines 'dashenv config compose ENV -- ARGS' prints, so they follow
the configured migration_command (alembic upgrade head for the shipped app).

For a project whose tests run on the host (test_runner = "host"), the two test run lines are
measured against the bare test command on the host (sh -c <test_command> in the project,
with the variables 'dashenv run test -- env -0' gives it; with no reset between its runs, its
exit code is not checked), and the lines whose baseline needs the app's container (the
reset, test setup) are left out.

python benchmarks/loop.py --soak N [--preload] [-C DIR] runs N resets of test in a row
(default 200) with 'status --all --json' running concurrently the whole time, then reports
what is left over: scratch or template databases beyond the current template, dashenv's
PostgreSQL connections still open, lock files still held and temporary files, every
concurrent status call that did not answer with its report (exit 0 or 1 and a JSON document;
never a traceback), and each reset's time and peak memory over the first 10 runs beside the
last 10. With --preload every call goes through the preloaded server; its resident memory
stands for the peak, and a worker still alive at the end is a leftover.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from compose_line import compose_line
from installed import compile_dashenv
from preloaded import server_pid, start_server

# what a fresh command imports before its own work: typer (with pydantic, through which it
# builds its parameters), pydantic-settings, psycopg and redis-py
LIBRARIES = ("typer._adapters", "pydantic_settings", "psycopg", "redis")


def soak(project: str, count: int, preload: bool) -> int:
    """N resets with status running beside them; what is left over. Exit 1 on any leftover.
    With ``preload``, every call goes to the preloaded server (DASHENV_PRELOAD=1): the peak
    memory is then the server's resident size, sampled after each reset, and a
    worker still alive at the end is a leftover."""
    import threading
    from pathlib import Path

    from filelock import FileLock, Timeout

    from dashenv.adapters.postgres import Postgres

    base = [sys.executable, "-m", "dashenv", "-C", project]
    environ = {k: v for k, v in os.environ.items() if k != "DASHENV_PRELOAD"}
    if preload:
        environ["DASHENV_PRELOAD"] = "1"
        start_server([*base, "status", "--all", "--json"], environ, project)
    server = server_pid(environ) if preload else None
    shown = subprocess.run(
        [*base, "config", "show", "test", "--json", "--reveal"],
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(shown.stdout)
    settings, app = doc["settings"], doc["app"]
    from urllib.parse import urlsplit

    url = urlsplit(app["DATABASE_URL"]["value"])
    database = url.path.lstrip("/")
    pg = Postgres(
        settings["host"]["value"],
        settings["postgres_port"]["value"],
        url.username or "postgres",
        url.password,
    )
    done = threading.Event()
    answers: list[tuple[int, bool, bool]] = []  # exit code, JSON report, traceback
    samples: list[str] = []  # what the first bad answers said

    def status_loop() -> None:
        while not done.is_set():
            r = subprocess.run(
                [*base, "status", "--all", "--json"], capture_output=True, text=True, env=environ
            )
            try:
                json.loads(r.stdout)
                report = True
            except ValueError:
                report = False
            answers.append((r.returncode, report, "Traceback" in r.stderr))
            if (r.returncode not in (0, 1) or not report or "Traceback" in r.stderr) and len(
                samples
            ) < 3:
                samples.append(f"exit {r.returncode}: {r.stderr.strip()[-600:]}")

    watcher = threading.Thread(target=status_loop, daemon=True)
    watcher.start()
    seconds: list[float] = []
    peaks: list[int] = []
    failures = 0
    for _ in range(count):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*base, "db", "reset", "test", "--yes"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=environ,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss if server is None else _rss_kb(server))  # kB
        failures += proc.returncode != 0
    done.set()
    watcher.join()

    names = pg.database_names()
    templates = [n for n in names if n.startswith(f"{database}__tpl_")]
    scratch = [
        n
        for n in names
        if n.startswith((f"{database}__new_", f"{database}__old_", f"{database}__build_"))
    ]
    with pg.connect() as conn:
        connections = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dashenv'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    pg.close()
    held = []
    for lock in (Path(project) / ".dashenv" / "locks").glob("*.lock"):
        try:
            FileLock(str(lock)).acquire(timeout=0)
        except Timeout:
            held.append(lock.name)
    temporary = [
        str(p)
        for p in Path(project).rglob("*")
        if p.name.endswith((".partial", ".dashenv-tmp", ".tmp"))
    ]
    bad = [a for a in answers if a[0] not in (0, 1) or not a[1] or a[2]]
    stray = _preload_children(server) if server is not None else []

    def med(xs: list[float] | list[int]) -> float:
        return float(statistics.median(xs))

    print(
        f"{count} resets, {failures} failed; {len(answers)} status calls beside them, "
        f"{len(bad)} without a report or with a traceback"
    )
    print(
        f"reset time   first 10 median {med(seconds[:10]) * 1000:7.1f} ms   "
        f"last 10 median {med(seconds[-10:]) * 1000:7.1f} ms"
    )
    print(
        f"peak memory  first 10 median {med(peaks[:10]) / 1024:7.1f} MB   "
        f"last 10 median {med(peaks[-10:]) / 1024:7.1f} MB"
    )
    print(
        f"left over: templates {len(templates)} (1 expected), scratch databases {scratch}, "
        f"dashenv connections {connections}, locks held {held}, temporary files {temporary}"
        + (f", preload workers {stray}" if server is not None else "")
    )
    clean = (
        not failures
        and not bad
        and len(templates) == 1
        and not scratch
        and not connections
        and not held
        and not temporary
        and not stray
    )
    for sample in samples:
        print(f"a status call that did not answer with its report: {sample}")
    print("nothing left over" if clean else "LEFT OVERS OR FAILURES ABOVE")
    return 0 if clean else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", dest="project", default=".", help="the project (default: here)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--soak",
        type=int,
        nargs="?",
        const=200,
        default=None,
        metavar="N",
        help="N resets with status beside them (default 200), then leftovers",
    )
    parser.add_argument(
        "--preload", action="store_true", help="--soak through the preloaded server"
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="LINE",
        help="only the lines whose name starts with LINE ('test run', status); repeatable",
    )  # fmt: skip
    args = parser.parse_args()
    compile_dashenv()
    project = os.path.abspath(args.project)
    if args.soak is not None:
        sys.exit(soak(project, args.soak, args.preload))

    def dashenv(*argv: str) -> list[str]:
        return [sys.executable, "-m", "dashenv", "-C", project, *argv]

    def compose(env: str, *argv: str) -> tuple[list[str], dict[str, str]]:
        return compose_line(project, env, *argv)

    shown = subprocess.run(
        dashenv("config", "show", "test", "--json"), capture_output=True, text=True, check=True
    )
    settings = json.loads(shown.stdout)["settings"]
    migration = settings["migration_command"]["value"] or "true"  # none: nothing to migrate
    tests = settings["test_command"]["value"]
    host = settings["test_runner"]["value"] == "host"
    noop = compose("test", "exec", "-T", "app", "sh", "-c", migration)
    pytest = compose("test", "exec", "-T", "app", "sh", "-c", tests)
    if host:  # the bare command on the host, with the variables dashenv gives it there
        listed = subprocess.run(
            dashenv("run", "test", "--", "env", "-0"), capture_output=True, check=True
        ).stdout.decode()
        variables = dict(v.split("=", 1) for v in listed.split("\0") if "=" in v)
        pytest = (["sh", "-c", tests], variables)
    up_test = compose("test", "up", "-d", "--wait")
    up_dev = compose("dev", "up", "-d", "--wait")
    ps = [compose(env, "ps", "--format", "json") for env in ("dev", "test")]

    def run(*commands: tuple[list[str], dict[str, str]], check: bool = True) -> Callable[[], None]:
        def go() -> None:
            for argv, environ in commands:
                subprocess.run(argv, env=environ, cwd=project, check=check, capture_output=True)

        return go

    # as a user runs it: preloading on by default (outside CI); and with DASHENV_PRELOAD=0
    default = {k: v for k, v in os.environ.items() if k not in ("DASHENV_PRELOAD", "CI")}
    fresh = {**default, "DASHENV_PRELOAD": "0"}
    start_server(dashenv("status", "--all", "--json"), default, project)
    typer = ([sys.executable, "-c", "import typer"], default)
    commands = {
        "db reset test --yes": (dashenv("db", "reset", "test", "--yes"), run(noop)),
        "test setup (up)": (dashenv("test", "setup"), run(up_test, noop)),
        "status --all --json": (dashenv("status", "--all", "--json"), run(*ps)),
        "up dev (healthy)": (dashenv("up", "dev"), run(up_dev)),
        # on the host, the bare tests (and --no-setup) share one database with no reset
        # between runs: a suite that wants it empty fails there from the second run on, in
        # the same time; their exit codes are not the point
        "test run": (dashenv("test", "run"), run(pytest, check=not host)),
        "test run --no-setup": (dashenv("test", "run", "--no-setup"), run(pytest, check=not host)),
        "--help": (dashenv("--help"), run(typer)),
    }
    if args.only:
        commands = {k: v for k, v in commands.items() if k.startswith(tuple(args.only))}
    if host:
        print("test_runner = host: test run against the bare command on the host; "
              "the reset and test setup lines left out (their baselines need the app's "
              "container)")  # fmt: skip
        commands = {k: v for k, v in commands.items() if not k.startswith(("db reset", "test s"))}
    goals = {  # issue 20's: (default, DASHENV_PRELOAD=0)
        "db reset test --yes": (0.3, 0.8),
        "test setup (up)": (0.5, 1.0),
        "status --all --json": (0.5, 2.5),
        "up dev (healthy)": (0.7, 1.2),
        # issue 32's: the reset included, against the bare exec without one
        "test run": (1.3, 1.3),
        "test run --no-setup": (1.05, 1.05),
        "--help": (1.3, 1.3),
    }
    # what no dashenv command can go below, measured in the same rounds: a Python process
    # (a preloaded call's client is one; this machine's site hooks included), and one that
    # imports the libraries a fresh command's work needs (the CLI's, the settings', the
    # database's, Redis's) and does nothing with them
    floors = {
        "a Python process": [sys.executable, "-c", "pass"],
        "+ the libraries": [sys.executable, "-c", f"import {', '.join(LIBRARIES)}"],
    }
    floor_times: dict[str, list[float]] = {k: [] for k in floors}
    # each line: the bare baseline, dashenv as a user runs it (preloaded), in a fresh process
    times: dict[str, tuple[list[float], list[float], list[float]]] = {
        k: ([], [], []) for k in commands
    }
    for _ in range(args.runs):  # alternating, so drift hits every column alike
        for name, (argv, bare) in commands.items():
            strict = not (host and name.startswith("test run"))
            sides = (bare, run((argv, default), check=strict), run((argv, fresh), check=strict))
            for fn, samples in zip(sides, times[name], strict=True):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
        for name, argv in floors.items():
            start = time.perf_counter()
            subprocess.run(argv, env=default, check=True)
            floor_times[name].append(time.perf_counter() - start)
    print(f"{args.runs} runs alternating; medians of whole processes; migration: {migration}")
    print(f"{'':22} {'baseline':>10} {'default':>10} {'PRELOAD=0':>10}"
          f"   {'default':>12} {'PRELOAD=0':>12}   (ratio / goal)")  # fmt: skip
    for name, (bare, warm, cold) in times.items():
        b, w, c = (statistics.median(x) * 1000 for x in (bare, warm, cold))
        gw, gc = goals[name]
        print(f"{name:22} {b:7.1f} ms {w:7.1f} ms {c:7.1f} ms"
              f"   {w / b:5.2f} / {gw:<4} {c / b:5.2f} / {gc:<4}")  # fmt: skip
    print("floors (no dashenv), and their ratio to each line's baseline:")
    for name, samples in floor_times.items():
        f = statistics.median(samples) * 1000
        ratios = ", ".join(
            f"{line} {f / (statistics.median(t[0]) * 1000):.2f}"
            for line, t in times.items()
            if not line.startswith("--")
        )
        print(f"  {name:20} {f:7.1f} ms   {ratios}")


def _rss_kb(pid: int) -> int:
    from pathlib import Path

    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _preload_children(server: int) -> list[int]:
    """Processes the server forked that are still alive (its workers)."""
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == server:  # its parent
                found.append(int(proc.name))
    return found


if __name__ == "__main__":
    main()
