"""An env file the compose files need that exists nowhere and has no example (the project's
README says to write it by hand), on the real engine: 'init --detect' writes it from what
the files reference, the password the official image requires generated, and the project
runs end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def handmade(tmp_path: Path) -> Iterator[Layout]:
    yield from adopted(tmp_path, "handmade", "app")


def test_an_env_file_with_no_example_is_written_from_the_files(handmade: Layout) -> None:
    p = handmade
    assert not (p.root / ".env").exists()
    out = p.ok("init", "--detect")
    toml = (p.root / "dashenv.toml").read_text()
    assert "# env_file: .env in docker-compose.yml (it exists nowhere and has no example" in toml
    assert "${POSTGRES_DB" not in out  # no rewrite shown from the files as written
    assert "dev: created .env, generated POSTGRES_PASSWORD" in out
    text = (p.root / ".env").read_text()
    assert "# ${POSTGRES_DB} in docker-compose.yml (default tasks)\nPOSTGRES_DB=tasks\n" in text
    assert "# db in docker-compose.yml: the official image requires it\n" in text
    password = text.split("POSTGRES_PASSWORD=", 1)[1].split("\n", 1)[0]
    assert len(password) >= 24 and "change" not in password
    assert (p.root / ".env").stat().st_mode & 0o777 == 0o600

    p.ok("up", "dev", "--build")
    p.ok("psql", "dev", "-c", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev')")
    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    assert p.ok("psql", "dev", "-Atc", "SELECT v FROM marker").strip() == "dev"
    assert password not in p.ok("config", "show", "dev")  # masked
