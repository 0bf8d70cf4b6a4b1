"""Several dashenv commands on one checkout at once, as people work (an editor running the
tests on save beside a terminal, make -j): failures, and each command's time against running
it alone.

Run by hand with dev and test up: python benchmarks/concurrency.py [-C DIR] [--rounds N]
[--parallel P] [--seed S]. First each command runs alone (--rounds times, one after the
other); then for --rounds rounds, P commands drawn from the mix (up dev, test setup, test run,
status --all --json), seeded, start at the same moment. It prints every failure (the goal is
none: a command waits its turn, it never fails for another's sake) and, per command, the
p50/p95 alone beside the p50/p95 in the mix (waiting for a lock counts in the mix's figures:
that is what the user waits).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

from installed import compile_dashenv

MIX = {
    "up dev": ("up", "dev"),
    "test setup": ("test", "setup"),
    "test run": ("test", "run"),
    "status --all --json": ("status", "--all", "--json"),
}
OK_CODES = {"status --all --json": {0, 1}}  # status exits 1 on a warning it reports


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", dest="project", default=".", help="the project (default: here)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    compile_dashenv()
    project = os.path.abspath(args.project)
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    rng = random.Random(args.seed)

    def start(name: str) -> tuple[subprocess.Popen[str], float]:
        argv = [sys.executable, "-m", "dashenv", "-C", project, *MIX[name]]
        proc = subprocess.Popen(
            argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return proc, time.perf_counter()

    alone: dict[str, list[float]] = {k: [] for k in MIX}
    mixed: dict[str, list[float]] = {k: [] for k in MIX}
    failures: list[str] = []
    for _ in range(args.rounds):
        for name in MIX:
            proc, began = start(name)
            _out, err = proc.communicate()
            alone[name].append(time.perf_counter() - began)
            if proc.returncode not in OK_CODES.get(name, {0}):
                failures.append(f"alone: {name}: exit {proc.returncode}: {err.strip()[-300:]}")
    for number in range(args.rounds):
        names = [rng.choice(list(MIX)) for _ in range(args.parallel)]
        running = [(name, *start(name)) for name in names]
        for name, proc, began in running:
            _out, err = proc.communicate()
            mixed[name].append(time.perf_counter() - began)
            if proc.returncode not in OK_CODES.get(name, {0}):
                last = err.strip().splitlines()[-1:] or [""]
                failures.append(
                    f"round {number + 1} ({', '.join(names)}): {name}: exit "
                    f"{proc.returncode}: {last[0]}"
                )
    print(f"{args.rounds} rounds of {args.parallel} at once (seed {args.seed}); whole processes")
    print(f"{'':22} {'alone p50':>10} {'p95':>8} {'mixed p50':>10} {'p95':>8}  {'p50 ratio':>9}")
    for name in MIX:
        a50, a95 = quantiles(alone[name])
        if mixed[name]:
            m50, m95 = quantiles(mixed[name])
            print(f"{name:22} {a50:9.2f}s {a95:7.2f}s {m50:9.2f}s {m95:7.2f}s  {m50 / a50:8.2f}x")
        else:
            print(f"{name:22} {a50:9.2f}s {a95:7.2f}s {'-':>10} {'-':>8}")
    print(f"failures: {len(failures)} (goal 0)")
    for line in failures:
        print(f"  {line}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
