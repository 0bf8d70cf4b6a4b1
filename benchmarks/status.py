"""`dashenv status --all --json` beside `docker compose ps --format json` for dev and test.

Run by hand with dev and test up: python benchmarks/status.py [--runs N].
Target: status --all --json under 1 s on a warm machine.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

from installed import compile_dashenv


def compose_ps(env: str) -> list[str]:
    line = subprocess.run(
        [sys.executable, "-m", "dashenv", "config", "compose", env, "--", "ps", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return shlex.split(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    compile_dashenv()
    ps = {env: compose_ps(env) for env in ("dev", "test")}

    def run_compose_ps() -> None:
        for argv in ps.values():
            env = dict(a.split("=", 1) for a in argv if "=" in a and a.split("=")[0].isupper())
            cmd = [a for a in argv if a not in {f"{k}={v}" for k, v in env.items()}]
            subprocess.run(cmd, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)

    def run_status() -> None:
        subprocess.run(
            [sys.executable, "-m", "dashenv", "status", "--all", "--json"],
            stdout=subprocess.DEVNULL,
        )

    cases = {"docker compose ps x2": run_compose_ps, "dashenv status --all --json": run_status}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.runs):  # interleaved
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, value in medians.items():
        print(f"{name:30} median {value * 1000:7.1f} ms")
    ratio = medians["dashenv status --all --json"] / medians["docker compose ps x2"]
    print(f"status/compose-ps ratio: {ratio:.1f}")


if __name__ == "__main__":
    main()
