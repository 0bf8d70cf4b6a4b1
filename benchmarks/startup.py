"""Startup cost of `dashenv --help` and `dashenv --version` beside a bare `import typer`.

Run by hand: python benchmarks/startup.py [--runs N]. Target: within 1.3x of import typer.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from installed import compile_dashenv

CASES = {
    "import typer": [sys.executable, "-c", "import typer"],
    "dashenv --help": [sys.executable, "-m", "dashenv", "--help"],
    "dashenv --version": [sys.executable, "-m", "dashenv", "--version"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    compile_dashenv()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):  # interleaved, so drift hits every case alike
        for name, cmd in CASES.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["import typer"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:20} median {median * 1000:7.1f} ms   ratio {median / base:4.2f}x")


if __name__ == "__main__":
    main()
