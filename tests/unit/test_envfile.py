from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dashenv.errors import ConfigError, DashenvError
from dashenv.settings.envfile import parse_env_text


def test_parses_keys_values_and_lines() -> None:
    text = "# comment\n\nA=1\nexport B='two words'\nC=\"x # y\" # trailing\nD=\n"
    entries = parse_env_text(text, "f")
    assert {k: (e.value, e.line) for k, e in entries.items()} == {
        "A": ("1", 3),
        "B": ("two words", 4),
        "C": ("x # y", 5),
        "D": ("", 6),
    }


def test_later_assignment_wins() -> None:
    assert parse_env_text("A=1\nA=2\n", "f")["A"].value == "2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nB='unterminated\n", "f:2: malformed line, expected KEY=VALUE"),
        ("A=1\nJUSTAKEY\n", "f:2: JUSTAKEY has no value, expected JUSTAKEY=VALUE"),
        ("1ABC=3\n", "f:1: invalid key '1ABC'"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_env_text(text, "f")
    assert info.value.message == message


def test_malformed_line_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_env_text("PASSWORD='s3cr3t\n", "f")
    assert "s3cr3t" not in info.value.message


@given(st.text(max_size=300))
def test_arbitrary_text_loads_or_raises_our_error(text: str) -> None:
    try:
        entries = parse_env_text(text, "fuzz")
    except DashenvError as exc:
        assert exc.message.startswith("fuzz:")
    else:
        for key, entry in entries.items():
            assert key == entry.key and isinstance(entry.value, str) and entry.line >= 1


def test_a_value_referencing_another_is_read_as_compose_reads_it() -> None:
    from dashenv.settings.envfile import parse_env_text

    entries = parse_env_text(
        "POSTGRES_PASSWORD=s3cret\nDATABASE_URL=postgresql://u:${POSTGRES_PASSWORD}@db/app\n",
        ".env",
    )
    assert entries["DATABASE_URL"].value == "postgresql://u:s3cret@db/app"
    assert entries["DATABASE_URL"].line == 2


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=60))
@example("\\\\")  # two backslashes: python-dotenv unescapes them inside single quotes
@example("it's $HOME")  # skipped: never written
def test_a_quoted_value_reads_back_as_it_was(value: str) -> None:
    """The one quoting every env file dashenv writes uses (init, a derived env file)."""
    from dashenv.settings.envfile import quote_value

    if ("'" in value or "\\\\" in value) and "$" in value:
        return  # double quotes interpolate: a value dashenv never writes
    assert parse_env_text(f"K={quote_value(value)}\n", "f")["K"].value == value


def test_an_env_file_is_completed_from_its_example_beside_its_reader() -> None:
    from dashenv.settings.envfile import complete_from_example, parse_env_text

    example = "# the app\nSECRET_KEY=change-me\nDATABASE_URL=postgresql://u:change-me@db/app\nX=1\n"
    made = complete_from_example(example, ".env.example", None, {})
    assert made.text is not None and made.added == ["SECRET_KEY", "DATABASE_URL", "X"]
    assert made.generated == ["SECRET_KEY", "DATABASE_URL"]
    entries = parse_env_text(made.text, ".env")
    secret = entries["SECRET_KEY"].value
    assert "change-me" not in made.text and made.text.startswith("# the app\n")
    assert (
        entries["DATABASE_URL"].value == f"postgresql://u:{secret}@db/app"
    )  # one token, one secret
    # a file that answered the placeholder keeps its answer in what it gains
    current = "SECRET_KEY=mine\nX=2"
    more = complete_from_example(example, ".env.example", current, parse_env_text(current, ".env"))
    assert more.added == ["DATABASE_URL"] and more.generated == ["DATABASE_URL"]
    assert more.text == (
        "SECRET_KEY=mine\nX=2\n# added by dashenv init from .env.example\n"
        "DATABASE_URL=postgresql://u:mine@db/app\n"
    )
    done = complete_from_example(
        example, ".env.example", more.text, parse_env_text(more.text, ".env")
    )
    assert done.text is None and done.added == []


def test_an_env_file_from_what_the_compose_files_reference() -> None:
    """For a project whose compose files name an env file with no example anywhere."""
    from dashenv.plan.compose_files import env_template

    compose = (
        "services:\n"
        "  db:\n"
        "    image: postgres:17\n"
        "    env_file: .env\n"
        "    environment:\n"
        "      POSTGRES_USER: ${DB_USER:-shop}\n"
        "  api:\n"
        "    build: .\n"
        "    env_file: [.env]\n"
        "    environment:\n"
        "      SECRET_KEY: ${SECRET_KEY}\n"
        "      MODE: ${MODE:?set the mode}\n"
        "      HOME_DIR: $$HOME\n"
        "# ${COMMENTED}\n"
    )
    text, keys = env_template({"compose.yml": compose}, ".env")
    assert keys == ["DB_USER", "SECRET_KEY", "MODE", "POSTGRES_PASSWORD"]
    assert "# ${DB_USER} in compose.yml (default shop)\nDB_USER=shop\n" in text
    assert "# ${SECRET_KEY} in compose.yml\nSECRET_KEY=change-me\n" in text
    assert "# ${MODE} in compose.yml: no default in the files, set it\nMODE=\n" in text
    assert "# db in compose.yml: the official image requires it\nPOSTGRES_PASSWORD=change-me\n" in (
        text
    )
    # a database that sets its password itself needs none from the file
    done = compose.replace("POSTGRES_USER: ${DB_USER:-shop}", "POSTGRES_PASSWORD: pw")
    assert "POSTGRES_PASSWORD" not in env_template({"compose.yml": done}, ".env")[1]
