"""Helpers the end-to-end modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO, free_ports
from tests.e2e.conftest import Project, run_dashenv

LAYOUTS = REPO / "tests" / "fixtures" / "layouts"
SUITES = REPO / "tests" / "fixtures" / "suites"  # apps whose own test suites dashenv runs


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


class Layout:
    def __init__(self, root: Path):
        self.root = root
        self.variant = ""  # a fixture's variant of the layout, where it has several

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_dashenv(*args, cwd=self.root)

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, f"dashenv {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def detect(self) -> tuple[str, dict]:
        """``init --detect``: what it said, and the environments of the dashenv.toml it wrote."""
        import tomllib

        out = self.ok("init", "--detect")
        return out, tomllib.loads((self.root / "dashenv.toml").read_text())["environments"]

    def by_hand(self, *args: str) -> subprocess.CompletedProcess[str]:
        """docker compose as the team types it in the project's directory."""
        return subprocess.run(
            ["docker", "compose", *args], cwd=self.root, capture_output=True, text=True
        )


def adopted(
    tmp_path: Path, name: str, app_dir: str | None, base: Path = LAYOUTS
) -> Iterator[Layout]:
    """A layout fixture copied for one test, its environments taken down after it."""
    layout = make_layout(tmp_path, name, app_dir, base)
    try:
        yield layout
    finally:
        if (layout.root / "dashenv.toml").exists():
            layout("down", "test", "--volumes")
            layout("down", "dev", "--volumes", "--yes")


def make_layout(tmp_path: Path, name: str, app_dir: str | None, base: Path = LAYOUTS) -> Layout:
    root = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(base / name, root)
    if app_dir is not None:
        shutil.copytree(LAYOUTS / "app", root / app_dir, dirs_exist_ok=True)
    marks = ("@DB_PORT@", "@API_PORT@", "@WEB_PORT@", "@REDIS_PORT@")
    ports = dict(zip(marks, free_ports(len(marks)), strict=True))
    for f in [*root.rglob("*.yml"), *root.rglob("*.yaml"), *root.rglob(".env")]:
        text = f.read_text()
        for mark, port in ports.items():
            text = text.replace(mark, str(port))
        f.write_text(text)
    return Layout(root)
