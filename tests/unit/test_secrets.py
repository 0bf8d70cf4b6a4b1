from __future__ import annotations

import pytest

from dashenv.settings.secrets import is_secret_key, mask_url, mask_value, scrub


@pytest.mark.parametrize(
    "key",
    ["POSTGRES_PASSWORD", "SECRET_KEY", "ENCRYPTION_KEY", "API_TOKEN", "aws_secret", "PRIVATE_KEY"],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["POSTGRES_USER", "DATABASE_URL", "DEBUG", "KEYBOARD", "MONKEYS"])
def test_not_secret_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_url_password_masked() -> None:
    url = "postgresql+asyncpg://dashtam_user:hunter2@postgres:5432/dashtam"
    assert mask_url(url) == "postgresql+asyncpg://dashtam_user:****@postgres:5432/dashtam"
    assert mask_url("redis://:pw@redis:6379/0") == "redis://:****@redis:6379/0"
    assert mask_url("redis://redis:6379/0") == "redis://redis:6379/0"


def test_mask_value() -> None:
    assert mask_value("POSTGRES_PASSWORD", "hunter2") == "****"
    assert mask_value("POSTGRES_PASSWORD", "") == ""
    assert mask_value("DATABASE_URL", "postgresql://u:p4ss@h/db") == "postgresql://u:****@h/db"
    assert mask_value("DEBUG", "true") == "true"


def test_scrub_known_values() -> None:
    text = "connecting with hunter2 to postgresql://u:hunter2@h/db"
    assert scrub(text, ["hunter2"]) == "connecting with **** to postgresql://u:****@h/db"


def test_scrub_masks_whole_values_never_parts_of_words() -> None:
    # the password is also the user and a word inside the scheme: the scheme stays readable
    text = "FATAL: postgresql://postgres:postgres@db:5432/app refused (user postgres)"
    assert scrub(text, ["postgres"]) == (
        "FATAL: postgresql://****:****@db:5432/app refused (user ****)"
    )
    assert scrub("postgres_test and mypostgres", ["postgres"]) == "postgres_test and mypostgres"
    # a value edged with punctuation still goes, wherever it stands
    assert scrub("key=!s3cret! and x!s3cret!y", ["!s3cret!"]) == "key=**** and x****y"
