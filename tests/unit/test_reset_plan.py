from __future__ import annotations

from pathlib import Path

from dashenv.workflows.reset import (
    leftovers,
    migrations_hash,
    scratch_names,
    target_without_password,
    url_with_database,
)


def test_migrations_hash_follows_files_and_command(tmp_path: Path) -> None:
    (tmp_path / "0001.sql").write_text("CREATE TABLE a ();")
    first = migrations_hash(tmp_path, "migrate")
    assert migrations_hash(tmp_path, "migrate") == first
    (tmp_path / "0002.sql").write_text("CREATE TABLE b ();")
    second = migrations_hash(tmp_path, "migrate")
    assert second != first
    (tmp_path / "0002.sql").write_text("CREATE TABLE c ();")
    assert migrations_hash(tmp_path, "migrate") != second
    assert migrations_hash(tmp_path, "alembic upgrade head") != migrations_hash(tmp_path, "x")


def test_scratch_names_keep_the_test_database_prefix() -> None:
    names = scratch_names("dashtam_test", "abcdef0123456789")
    assert names["template"] == "dashtam_test__tpl_abcdef012345"
    assert all(v.startswith("dashtam_test__") for v in names.values())
    assert all(len(v) <= 63 for v in names.values())


def test_leftovers_are_only_ours() -> None:
    existing = [
        "dashtam",
        "dashtam_test",
        "postgres",
        "dashtam_test__tpl_new",
        "dashtam_test__tpl_old",
        "dashtam_test__new_1",
        "dashtam_test__old_1",
        "dashtam_test__build_x",
        "dashtam__new_1",
    ]
    assert leftovers(existing, "dashtam_test", "dashtam_test__tpl_new") == [
        "dashtam_test__tpl_old",
        "dashtam_test__new_1",
        "dashtam_test__old_1",
        "dashtam_test__build_x",
    ]


def test_urls() -> None:
    url = "postgresql+asyncpg://u:pw@postgres:5432/dashtam_test?ssl=off"
    assert url_with_database(url, "x") == "postgresql+asyncpg://u:pw@postgres:5432/x?ssl=off"
    assert target_without_password("u", "127.0.0.1", 5433, "t") == "postgresql://u@127.0.0.1:5433/t"
