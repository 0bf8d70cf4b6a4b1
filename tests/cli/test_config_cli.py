"""What users see from the configuration commands, and from bad input."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Run, assert_usage_error


def test_envs_table(run: Run) -> None:
    result = run("envs")
    assert result.exit_code == 0, result.output
    assert "dashtam-dev" in result.stdout and "dashtam-test" in result.stdout
    assert "none published" in result.stdout


def test_envs_json(run: Run) -> None:
    doc = json.loads(run("envs", "--json").stdout)
    assert doc["schema_version"] == 1
    by_name = {e["name"]: e for e in doc["environments"]}
    assert by_name["test"]["ports"] == {
        "app": 8001,
        "callback": 8183,
        "postgres": 5433,
        "redis": 6380,
    }
    assert by_name["ci"]["ports"] == {}


def test_config_show_masks_secrets(run: Run) -> None:
    result = run("config", "show", "dev")
    assert result.exit_code == 0, result.output
    assert "dev_pw_1234" not in result.stdout
    assert "dev_secret_key_5678" not in result.stdout
    assert "dashtam_user:****@postgres" in result.stdout
    assert "env/.env.dev:10" in result.stdout  # POSTGRES_PASSWORD's line


def test_config_show_reveal(run: Run) -> None:
    doc = json.loads(run("config", "show", "dev", "--json", "--reveal").stdout)
    assert doc["app"]["POSTGRES_PASSWORD"]["value"] == "dev_pw_1234"
    assert doc["masked"] is False


def test_config_show_json_provenance(run: Run, project: Path) -> None:
    (project / "dashenv.toml").write_text("[environments.dev]\napp_port = 9000\n")
    doc = json.loads(
        run(
            "--set",
            "redis_port=7000",
            "config",
            "show",
            "dev",
            "--json",
            env={"DASHENV_CALLBACK_PORT": "9182"},
        ).stdout
    )
    s = doc["settings"]
    assert (s["app_port"]["value"], s["app_port"]["layer"], s["app_port"]["line"]) == (
        9000,
        "dashenv.toml",
        2,
    )
    assert (s["callback_port"]["value"], s["callback_port"]["layer"]) == (9182, "process env")
    assert (s["redis_port"]["value"], s["redis_port"]["source"]) == (7000, "--set redis_port")
    assert s["postgres_port"]["layer"] == "default"
    assert doc["app"]["POSTGRES_PASSWORD"]["value"] == "****"


def test_config_compose(run: Run) -> None:
    result = run("config", "compose", "test", "--", "up", "--detach")
    assert result.exit_code == 0
    # the file names its project (name: dashtam-test) and no layer sets project_name: no -p,
    # so the line is what the team types by hand
    assert result.stdout.rstrip().endswith(
        "docker compose -f compose/docker-compose.test.yml --env-file env/.env.test up --detach"
    )
    named = run("--set", "project_name=other", "config", "compose", "test", "--", "ps")
    assert named.stdout.rstrip().endswith("--project-name other ps")


def test_unknown_environment(run: Run) -> None:
    assert_usage_error(run("config", "show", "prod"), "unknown environment 'prod'")


def test_missing_env_file(run: Run, project: Path) -> None:
    (project / "env" / ".env.dev").unlink()
    assert_usage_error(run("config", "show", "dev"), "env file env/.env.dev does not exist")


def test_env_file_is_a_directory(run: Run, project: Path) -> None:
    (project / "env" / ".env.dev").unlink()
    (project / "env" / ".env.dev").mkdir()
    assert_usage_error(
        run("config", "show", "dev"), "env file env/.env.dev is a directory, not a file"
    )


def test_malformed_env_line(run: Run, project: Path) -> None:
    with (project / "env" / ".env.test").open("a") as fh:
        fh.write("BROKEN='no end\n")
    result = run("config", "show", "test")
    assert_usage_error(result, "env/.env.test:15: malformed line, expected KEY=VALUE")


def test_invalid_port(run: Run) -> None:
    result = run("--set", "app_port=99999", "config", "show", "dev")
    assert_usage_error(
        result, "--set app_port: Input should be less than or equal to 65535 (got '99999')"
    )


def test_invalid_port_in_env_file(run: Run, project: Path) -> None:
    with (project / "env" / ".env.test").open("a") as fh:
        fh.write("DASHENV_POSTGRES_PORT=five\n")
    result = run("config", "show", "test")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: env/.env.test:15: DASHENV_POSTGRES_PORT: ")


def test_bad_toml(run: Run, project: Path) -> None:
    (project / "dashenv.toml").write_text("[environments.dev]\napp_port = = 1\n")
    result = run("envs")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: dashenv.toml is not valid TOML: ")
    assert "(at line 2" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


def test_bad_set_syntax(run: Run) -> None:
    result = run("--set", "nonsense", "envs")
    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.stderr


def test_no_project(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dashenv.cli import app

    result = CliRunner().invoke(app, ["-C", str(tmp_path / "nowhere"), "envs"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_init_creates_and_is_idempotent(run: Run, project: Path) -> None:
    (project / "env" / ".env.dev").unlink()
    first = run("init", "dev")
    assert first.exit_code == 0
    assert "created env/.env.dev, generated POSTGRES_PASSWORD" in first.stdout
    path = project / "env" / ".env.dev"
    text = path.read_text()
    assert "change_me" not in text.split("\n", 3)[-1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    assert f":{values['POSTGRES_PASSWORD']}@postgres" in values["DATABASE_URL"]
    assert values["SECRET_KEY"] != values["POSTGRES_PASSWORD"]
    second = run("init", "dev")
    assert second.stdout.strip() == "dev: env/.env.dev is complete"
    assert path.read_text() == text


def test_init_adds_missing_keys_only(run: Run, project: Path) -> None:
    path = project / "env" / ".env.dev"
    path.write_text("POSTGRES_PASSWORD=mine\nDEBUG=false\n")
    result = run("init", "dev")
    assert result.exit_code == 0
    text = path.read_text()
    assert text.startswith("POSTGRES_PASSWORD=mine\nDEBUG=false\n")
    assert "DATABASE_URL=postgresql+asyncpg://dashtam_user:mine@postgres:5432/dashtam" in text
    assert text.count("DEBUG=") == 1


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["config", "--help"], ["init", "-h"]])
def test_help(run: Run, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_version(run: Run) -> None:
    from dashenv import __version__

    assert run("--version").stdout == f"dashenv {__version__}\n"


def test_certs_command(run: Run, project: Path) -> None:
    first = run("certs", "--days", "30")
    assert first.exit_code == 0
    assert first.stdout.startswith("Created certs/localhost.crt and certs/localhost.key\n")
    key = project / "certs" / "localhost.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    second = run("certs")
    assert second.stdout.startswith("Kept existing certs/localhost.crt")
    assert key.read_bytes() == before
    assert run("certs", "--force").stdout.startswith("Created")
    assert key.read_bytes() != before
    bad = run("certs", "--days", "0")
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("args", "first", "hint"),
    [
        (["up"], "Error: Missing argument 'ENV'.", "Hint: see 'dashenv up -h'"),
        (
            ["logs", "dev", "--tail", "x"],
            "Error: Invalid value for --tail: a number of lines, or all",
            "Hint: see 'dashenv logs -h'",
        ),
        (["nope"], "Error: No such command 'nope'.", "Hint: see 'dashenv -h'"),
        (["--bogus", "envs"], "Error: No such option: --bogus", "Hint: see 'dashenv -h'"),
        (
            ["db", "reset", "test", "--strategy", "x"],
            "Error: Invalid value for --strategy: choose template or migrate",
            "Hint: see 'dashenv db reset -h'",
        ),
    ],
)
def test_usage_errors_are_one_line_and_a_hint(run: Run, args: list[str], first: str, hint: str):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(first) and lines[-1] == hint and len(lines) == 2


def test_output_to_a_pipe_never_splits_a_value(run: Run, project: Path) -> None:
    # a narrow terminal width must not matter when stdout is not a terminal
    long_value = "x" * 150
    path = project / "env" / ".env.dev"
    path.write_text(path.read_text() + f"LONG_SETTING={long_value}\n")
    result = run("config", "show", "dev", "--reveal", env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    (password,) = [ln for ln in result.stdout.splitlines() if "POSTGRES_PASSWORD" in ln]
    assert "dev_pw_1234" in password and "env/.env.dev:10" in password
    (long_line,) = [ln for ln in result.stdout.splitlines() if "LONG_SETTING" in ln]
    assert long_value in long_line
    envs = run("envs", env={"COLUMNS": "40"}).stdout
    (dev,) = [ln for ln in envs.splitlines() if "dashtam-dev" in ln]
    assert "compose/docker-compose.dev.yml" in dev and "postgres 5432, redis 6379" in dev


def test_a_missing_compose_file_is_a_configuration_error(run: Run, project: Path) -> None:
    (project / "dashenv.toml").write_text(
        '[environments.test]\ncompose_files = ["compose/nowhere.yml"]\n'
    )
    for args in (("config", "compose", "test"), ("up", "test"), ("db", "reset", "test", "-y")):
        assert_usage_error(
            run(*args),
            "test: compose file compose/nowhere.yml does not exist (compose_files from "
            "dashenv.toml:2 (environments.test.compose_files))",
        )


def test_a_disagreeing_redis_index_is_a_configuration_error(run: Run) -> None:
    result = run("--set", "redis_index=0", "config", "show", "test")
    assert_usage_error(
        result,
        "test: redis_index is 0 (--set redis_index) but REDIS_URL names index 1 (env/.env.test:11)",
    )


def test_a_pipe_keeps_values_whole_with_colour_forced(project: Path) -> None:
    """FORCE_COLOR makes Rich take a pipe for an 80-column terminal; the width comes from
    the stream being a terminal, so nothing is split (a real pipe, a real process)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    env["FORCE_COLOR"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "dashenv", "-C", str(project), "envs"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "compose/docker-compose.dev.yml" in done.stdout
    assert "\x1b[" in done.stdout  # the colour is still forced


def test_down_dash_v_is_an_error_naming_volumes(run: Run) -> None:
    """docker compose down -v deletes volumes; dashenv asks for that by its whole name."""
    result = run("down", "dev", "-v")
    assert_usage_error(result, "No such option: -v")
    assert "did you mean --volumes" in result.stderr.splitlines()[-1]
