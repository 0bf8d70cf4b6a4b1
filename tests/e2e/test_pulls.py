"""A real pull by the real engine, from a registry on this machine (tests/tools/registry.py:
there is no other one here): on a terminal 'dashenv up' pulls first and Compose shows the
layers and sizes as they come; into a pipe nothing of it shows and up still pulls."""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_ports
from tests.e2e.conftest import run_dashenv
from tests.e2e.helpers import ok

pytestmark = pytest.mark.docker

REGISTRY = Path(__file__).resolve().parents[1] / "tools" / "registry.py"


def _tiny_image(tag: str) -> None:
    """An image of a few files (sleep, the C library it needs, 20 MB of noise), imported."""
    files = ["/usr/bin/sleep"]
    ldd = subprocess.run(["ldd", "/usr/bin/sleep"], capture_output=True, text=True, check=True)
    files += [w for line in ldd.stdout.splitlines() for w in line.split() if w.startswith("/")]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in files:
            tar.add(os.path.realpath(path), arcname=path.lstrip("/"))
        noise = os.urandom(20 * 10**6)
        info = tarfile.TarInfo("opt/noise")
        info.size = len(noise)
        tar.addfile(info, io.BytesIO(noise))
    subprocess.run(
        ["docker", "import", "--change", 'CMD ["/usr/bin/sleep", "3600"]', "-", tag],
        input=buf.getvalue(), capture_output=True, check=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def served(docker_engine: None) -> Iterator[str]:
    """An image only the registry on this machine has: its name there."""
    (port,) = free_ports(1)
    local = f"sandbox-pull/tiny:{uuid.uuid4().hex[:8]}"
    _tiny_image(local)
    proc = subprocess.Popen(
        [sys.executable, str(REGISTRY), str(port), local],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    remote = f"127.0.0.1:{port}/{local}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the registry did not start"
                time.sleep(0.1)  # the registry's own readiness: its API answering
        subprocess.run(["docker", "rmi", local], capture_output=True, check=True)
        yield remote
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        subprocess.run(["docker", "rmi", "-f", remote, local], capture_output=True)


def test_up_shows_the_pull_on_a_terminal_and_not_in_a_pipe(served: str, tmp_path: Path) -> None:
    project = f"pull{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yml").write_text(
        f"name: {project}\nservices:\n  cache:\n    image: {served}\n"
    )
    # no env file at all: the values would be in environment:
    assert "Wrote dashenv.toml" in ok(run_dashenv("init", "--detect", cwd=tmp_path))
    try:
        piped = run_dashenv("up", "dev", cwd=tmp_path)
        assert piped.returncode == 0, piped.stderr
        assert "Pulling" not in piped.stdout + piped.stderr  # up pulled it, quietly
        ok(run_dashenv("down", "dev", "--yes", cwd=tmp_path))
        subprocess.run(["docker", "rmi", served], capture_output=True, check=True)

        env = {k: v for k, v in os.environ.items() if not k.startswith("DASHENV_")}
        env.update(DASHENV_PRELOAD="0", NO_COLOR="1")
        command = shlex.join([sys.executable, "-m", "dashenv", "up", "dev"])
        on_a_terminal = subprocess.run(
            ["script", "-qec", command, "/dev/null"], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        shown = on_a_terminal.stdout
        assert on_a_terminal.returncode == 0, shown
        assert f"Pulling {served} for cache" in shown
        assert re.search(r"B / \d+(\.\d+)?MB", shown)  # Compose's bytes done, of the layers' total
        assert "Pulled" in shown and "dev is up" in shown
    finally:
        run_dashenv("down", "dev", "--yes", cwd=tmp_path)
