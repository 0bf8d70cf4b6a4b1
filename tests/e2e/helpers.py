"""Helpers the end-to-end modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request
from pathlib import Path

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


def add_revision(root: Path, revision: str, down: str, table: str) -> Path:
    """An Alembic revision in the project's checkout that creates ``table``."""
    path = root / "compose" / "app" / "alembic" / "versions" / f"{revision}_{table}.py"
    path.write_text(
        f'"""{table}"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        f"    op.create_table({table!r}, sa.Column('id', sa.BigInteger, primary_key=True),"
        " sa.Column('what', sa.Text))\n\n\n"
        "def downgrade() -> None:\n"
        f"    op.drop_table({table!r})\n"
    )
    return path
