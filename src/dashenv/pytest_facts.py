"""What pytest and pytest-xdist would read where the tests run: pytest's configuration files
from a directory up, PYTEST_ADDOPTS, and the CPUs xdist's ``auto`` counts.

Standard library only, and whole in itself: on the host it is called in dashenv's process;
in an app container its source runs as it is (``python -c``), printing the facts as JSON.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

NAMES = ["pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"]


def pytest_facts(here: pathlib.Path) -> dict[str, Any]:
    dirs = [
        [(n, (p / n).read_text(errors="replace")) for n in NAMES if (p / n).is_file()]
        for p in [here, *here.parents]
    ]
    try:
        cpus = len(os.sched_getaffinity(0))
    except Exception:
        cpus = os.cpu_count() or 1
    cpus = int(os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or cpus)
    return {"cpus": cpus, "addopts": os.environ.get("PYTEST_ADDOPTS", ""), "dirs": dirs}


if __name__ == "__main__":
    print(json.dumps(pytest_facts(pathlib.Path.cwd())))
