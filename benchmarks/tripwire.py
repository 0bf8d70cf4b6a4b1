"""What the tripwire costs a test run: its two readings of dev's running servers (before and
after; one query on PostgreSQL, one INFO keyspace on Redis each), beside the bare test
command it wraps.

Run by hand with dev and test up (it starts nothing): python benchmarks/tripwire.py [-C DIR]
[--runs N] [--env test]. Alternating, medians:

  tripwire: arm + check, in this process (the engine listing of dev's containers included),
            twice: listing through the docker CLI (a fresh process's way) and through the
            engine's API (a preloaded worker's, DASHENV_ENGINE_API=1)
  bare:     docker compose exec -T <app service> <test_command>, a whole process (the line
            'dashenv config compose test -- exec -T ...' prints); the app in its container only

and the tripwire as a share of the bare command (the ratio last).
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

from compose_line import compose_line
from installed import compile_dashenv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", dest="project", default=".", help="the project (default: here)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--env", default="test", help="the test-side environment")
    args = parser.parse_args()
    compile_dashenv()
    project = os.path.abspath(args.project)

    from dashenv.context import RunContext
    from dashenv.steps.tripwire import arm, check

    shown = subprocess.run(
        [sys.executable, "-m", "dashenv", "-C", project, "config", "show", args.env, "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    settings = json.loads(shown.stdout)["settings"]
    runner = settings["test_runner"]["value"]
    command = shlex.split(settings["test_command"]["value"])
    app = settings["app_service"]["value"]
    bare = (
        compose_line(project, args.env, "exec", "-T", app, *command)
        if runner == "container"
        else None
    )

    from dashenv.adapters.engine import SWITCH

    modes = {}
    for mode, switch in (("CLI", "0"), ("API", "1")):  # decided at each context's first call
        os.environ[SWITCH] = switch
        env = RunContext(project_dir=project).environment(args.env)
        watched = arm(env)
        if not any(w.before.postgres is not None or w.before.redis_keys for w in watched):
            sys.exit("no protected environment's server runs: start dev first ('dashenv up dev')")
        check(env.env, watched)
        modes[mode] = env

    trips: dict[str, list[float]] = {mode: [] for mode in modes}
    plain: list[float] = []
    for _ in range(args.runs):  # alternating, so drift hits every column alike
        for mode, env in modes.items():
            start = time.perf_counter()
            found = check(env.env, arm(env))
            trips[mode].append(time.perf_counter() - start)
            if found:
                print("\n".join(f.line() for f in found), file=sys.stderr)
        if bare is not None:
            argv, environ = bare
            start = time.perf_counter()
            subprocess.run(argv, env=environ, cwd=project, capture_output=True)
            plain.append(time.perf_counter() - start)

    names = ", ".join(w.dev.name for w in watched)
    print(f"{args.runs} runs alternating; medians; watched: {names}")
    med_bare = statistics.median(plain) * 1000 if plain else None
    if med_bare is not None:
        print(f"{'bare test command (' + ' '.join(command) + ')':44} {med_bare:8.1f} ms")
    else:
        print(f"({args.env} runs its tests on the host: no bare compose line to set beside it)")
    for mode, samples in trips.items():
        med = statistics.median(samples) * 1000
        ratio = f"   {med / med_bare:5.2f}x the bare command" if med_bare else ""
        print(f"{'tripwire, listing through the ' + mode:44} {med:8.1f} ms{ratio}")


if __name__ == "__main__":
    main()
