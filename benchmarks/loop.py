"""The inner loop, side by side with the bare Compose commands it replaces, whole processes.

Run by hand with dev and test up (it starts nothing): python benchmarks/loop.py [-C DIR]
[--runs N]. For each command, its median beside its baseline's, alternating runs, the ratio
last on each line:

  dashenv db reset test --yes      vs  docker compose exec -T app <migration_command> (a no-op)
  dashenv test setup (already up)  vs  docker compose up -d --wait + that exec
  dashenv status --all --json      vs  docker compose ps --format json, for dev and for test
  dashenv up dev (already healthy) vs  docker compose up -d --wait

The baselines are the exact lines 'dashenv config compose ENV -- ARGS' prints, so they follow
the configured migration_command (alembic upgrade head for the shipped app).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", dest="project", default=".", help="the project (default: here)")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    project = os.path.abspath(args.project)

    def dashenv(*argv: str) -> list[str]:
        return [sys.executable, "-m", "dashenv", "-C", project, *argv]

    def compose(env: str, *argv: str) -> tuple[list[str], dict[str, str]]:
        line = subprocess.run(
            dashenv("config", "compose", env, "--", *argv), capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
        words = shlex.split(line)
        environ = dict(os.environ)
        while "=" in words[0]:
            key, value = words.pop(0).split("=", 1)
            environ[key] = value
        return words, environ

    shown = subprocess.run(
        dashenv("config", "show", "test", "--json"), capture_output=True, text=True, check=True
    )
    migration = json.loads(shown.stdout)["settings"]["migration_command"]["value"]
    noop = compose("test", "exec", "-T", "app", "sh", "-c", migration)
    up_test = compose("test", "up", "-d", "--wait")
    up_dev = compose("dev", "up", "-d", "--wait")
    ps = [compose(env, "ps", "--format", "json") for env in ("dev", "test")]

    def run(*commands: tuple[list[str], dict[str, str]]) -> Callable[[], None]:
        def go() -> None:
            for argv, environ in commands:
                subprocess.run(argv, env=environ, cwd=project, check=True, capture_output=True)

        return go

    plain = dict(os.environ)
    pairs = {
        "db reset test --yes": (run((dashenv("db", "reset", "test", "--yes"), plain)), run(noop)),
        "test setup (up)": (run((dashenv("test", "setup"), plain)), run(up_test, noop)),
        "status --all --json": (run((dashenv("status", "--all", "--json"), plain)), run(*ps)),
        "up dev (healthy)": (run((dashenv("up", "dev"), plain)), run(up_dev)),
    }
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
    for _ in range(args.runs):  # alternating, so drift hits both sides alike
        for name, (ours, bare) in pairs.items():
            for fn, samples in ((ours, times[name][0]), (bare, times[name][1])):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
    print(f"{args.runs} runs alternating; medians of whole processes; migration: {migration}")
    for name, (ours, bare) in times.items():
        a, b = statistics.median(ours) * 1000, statistics.median(bare) * 1000
        print(f"{name:22} dashenv {a:7.1f} ms   baseline {b:7.1f} ms   ratio {a / b:4.2f}")


if __name__ == "__main__":
    main()
