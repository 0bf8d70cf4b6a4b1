"""Helpers the end-to-end modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request

from tests.e2e.conftest import Project


def https_json(url: str) -> dict:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        return json.loads(resp.read())


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def sql(project: Project, env: str, statement: str) -> str:
    return ok(project("psql", env, "-tA", "-c", statement)).strip()
