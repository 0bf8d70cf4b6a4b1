"""Doctor's file checks and the certificates, on real files (no services needed)."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest

from dashenv.plan.migrations import Revision, build_graph
from dashenv.steps.certs import ensure_certs, read_expiry
from dashenv.workflows.doctor import check_certificate, env_file_check, migrations_check
from dashenv.workflows.status import migration_problems, problems

NOW = datetime.datetime.now(datetime.UTC)


def env_check(tmp_path: Path, text: str | None, example: str = "A=1\nSECRET_KEY=x\n"):
    base = tmp_path / str(len(list(tmp_path.iterdir())))
    base.mkdir()
    path, ex = base / ".env", base / ".env.example"
    ex.write_text(example)
    if text is not None:
        path.write_text(text)
    return env_file_check("dev", path, ".env", ex, ".env.example")


def test_env_file_checks(tmp_path: Path) -> None:
    assert env_check(tmp_path, "A=1\nSECRET_KEY=s3cret\n").level == "pass"
    missing = env_check(tmp_path, None)
    assert (missing.level, missing.fix) == ("fail", "dashenv init dev")
    lacking = env_check(tmp_path, "A=1\n")
    assert lacking.level == "fail" and "lacks SECRET_KEY" in lacking.detail
    placeholder = env_check(tmp_path, "A=1\nSECRET_KEY=change_me_secret_key\n")
    assert placeholder.level == "fail" and "placeholder secrets: SECRET_KEY" in placeholder.detail
    malformed = env_check(tmp_path, "A='open\n")
    assert malformed.level == "fail" and "malformed line" in malformed.detail


def test_env_file_that_is_a_directory(tmp_path: Path) -> None:
    ex = tmp_path / ".env.example"
    ex.write_text("A=1\n")
    (tmp_path / ".env").mkdir()
    check = env_file_check("dev", tmp_path / ".env", ".env", ex, ".env.example")
    assert check.level == "fail" and check.detail == ".env is a directory"


def test_certs_made_once_with_private_key(tmp_path: Path) -> None:
    first = ensure_certs(tmp_path / "certs", ["dashtam.local", "10.1.2.3"], days=90)
    assert first.created
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.cert.stat().st_mode) == 0o644
    not_after, names = read_expiry(first.cert)
    assert {"localhost", "dashtam.local", "10.1.2.3", "127.0.0.1"} <= set(names)
    assert 89 <= (not_after - NOW).days <= 90
    before = (first.cert.read_bytes(), first.key.read_bytes())
    second = ensure_certs(tmp_path / "certs", [], days=90)
    assert not second.created and (second.cert.read_bytes(), second.key.read_bytes()) == before
    forced = ensure_certs(tmp_path / "certs", [], days=90, force=True)
    assert forced.created and forced.cert.read_bytes() != before[0]


def test_certificate_check(tmp_path: Path) -> None:
    assert check_certificate(tmp_path / "none", "certs", NOW).level == "warn"
    ensure_certs(tmp_path / "c", [], days=10)
    soon = check_certificate(tmp_path / "c", "c", NOW)
    assert soon.level == "warn" and "expires in" in soon.detail
    assert check_certificate(tmp_path / "c", "c", NOW + datetime.timedelta(days=11)).level == "fail"
    ensure_certs(tmp_path / "d", [], days=365)
    assert check_certificate(tmp_path / "d", "d", NOW).level == "pass"


def test_migrations_check_and_problems() -> None:
    from dashenv.plan.migrations import database_state

    g = build_graph([Revision("a", (), "a.py"), Revision("b", ("a",), "b.py")])
    latest = database_state(g, ("b",)).as_dict()
    assert migrations_check("dev", latest).level == "pass" and migration_problems(latest) == []
    behind = database_state(g, ("a",)).as_dict()
    assert migrations_check("dev", behind).fix == "dashenv db migrate dev"
    assert migration_problems(behind) == ["migrations pending: b"]
    ahead = database_state(g, ("c9",)).as_dict()
    check = migrations_check("dev", ahead)
    assert check.level == "fail" and "which this checkout does not have" in check.detail
    assert "check out the branch that has c9" in check.fix and "restore a snapshot" in check.fix
    assert migration_problems(ahead)[0].startswith("database at revision c9")


def test_status_problems() -> None:
    base = {
        "state": "up",
        "containers": {"not_ready": []},
        "postgres": None,
        "redis": None,
        "app": None,
    }
    assert problems(base) == []
    assert problems({**base, "state": "down"}) == ["not running"]
    bad = {
        **base,
        "containers": {"not_ready": ["app"]},
        "postgres": {"reachable": False, "error": "refused"},
        "redis": {"reachable": False, "error": "timeout"},
        "app": {"healthy": False, "error": None, "status": 503},
    }
    assert problems(bad) == [
        "not ready: app",
        "PostgreSQL unreachable: refused",
        "Redis unreachable: timeout",
        "app health: HTTP 503",
    ]


@pytest.mark.parametrize(
    ("version", "level"),
    [("2.26.1", "pass"), ("v2.24.0", "pass"), ("2.23.3", "fail"), ("2.9.0", "fail"), ("x", "warn")],
)
def test_the_compose_version_is_checked(version: str, level: str) -> None:
    from dashenv.workflows.doctor import compose_version_check

    check = compose_version_check(version)
    assert check.level == level
    if level == "fail":
        assert "2.24 or later" in check.detail and "upgrade" in check.fix


def test_doctor_and_env_check_compare_alike(tmp_path: Path) -> None:
    """Keys the example lacks: named by doctor (a warning) as 'env check' names them."""
    from dashenv.settings.envfile import compare_with_example

    extra = env_check(tmp_path, "A=1\nSECRET_KEY=s3cret\nEXTRA=1\n")
    assert extra.level == "warn" and "EXTRA" in extra.detail
    base = tmp_path / "0"  # the directory env_check made for it
    found = compare_with_example(base / ".env", ".env", base / ".env.example", ".env.example")
    assert found == ([], ["EXTRA"])
