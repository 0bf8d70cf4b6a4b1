"""dashenv env check [ENV] [--fix]: env files against their examples, without the engine."""

from __future__ import annotations

from pathlib import Path

import yaml  # type: ignore[import-untyped]

from tests.cli.conftest import Run, assert_usage_error
from tests.conftest import REPO


def test_complete_env_files_pass(run: Run) -> None:
    result = run("env", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "dev: env/.env.dev against env/.env.dev.example: ok\n"
        "test: env/.env.test against env/.env.test.example: ok\n"
        "ci: env/.env.ci against env/.env.ci.example: ok\n"
    )


def test_drift_both_ways_is_named_and_fix_adds_only_what_is_missing(
    run: Run, project: Path
) -> None:
    example = project / "env" / ".env.dev.example"
    example.write_text(example.read_text() + "NEW_FLAG=on\nNEW_TOKEN=change_me_new_token\n")
    dev = project / "env" / ".env.dev"
    dev.write_text(dev.read_text() + "LOCAL_ONLY=1\n")
    result = run("env", "check", "dev")
    assert result.exit_code == 1
    assert result.stdout == (
        "dev: missing NEW_FLAG (env/.env.dev against env/.env.dev.example)\n"
        "dev: missing NEW_TOKEN (env/.env.dev against env/.env.dev.example)\n"
        "dev: unknown LOCAL_ONLY (in env/.env.dev, not in env/.env.dev.example)\n"
    )
    fixed = run("env", "check", "dev", "--fix")
    assert fixed.stdout == (
        "dev: added NEW_FLAG, NEW_TOKEN to env/.env.dev (generated NEW_TOKEN)\n"
        "dev: unknown LOCAL_ONLY (in env/.env.dev, not in env/.env.dev.example)\n"
    )
    assert fixed.exit_code == 1  # the unknown key is still there: never removed
    text = dev.read_text()
    assert "NEW_FLAG=on\n" in text and "LOCAL_ONLY=1\n" in text
    assert "change_me_new_token" not in text  # a secret was generated for it
    dev.write_text(text.replace("LOCAL_ONLY=1\n", ""))
    assert run("env", "check", "dev").exit_code == 0


def test_a_missing_env_file_is_no_drift_and_fix_makes_it(run: Run, project: Path) -> None:
    (project / "env" / ".env.dev").unlink()
    result = run("env", "check", "dev")
    assert result.exit_code == 0
    assert result.stdout == (
        "dev: env/.env.dev does not exist yet (made from env/.env.dev.example on first use; "
        "'dashenv env check --fix' makes it now)\n"
    )
    made = run("env", "check", "dev", "--fix")
    assert made.exit_code == 0 and made.stdout.startswith("dev: added ")
    assert (project / "env" / ".env.dev").stat().st_mode & 0o077 == 0  # private


def test_without_an_example_there_is_nothing_to_check(run: Run, project: Path) -> None:
    (project / "env" / ".env.test.example").unlink()
    assert_usage_error(
        run("env", "check", "test"),
        "test has no example to check env/.env.test against: env/.env.test.example does not exist",
    )
    every = run("env", "check")
    assert every.exit_code == 0
    assert "test: env/.env.test.example does not exist; nothing to check against\n" in every.stdout


def test_env_env_is_still_env_show(run: Run) -> None:
    assert run("env", "dev").stdout == run("env", "show", "dev").stdout
    assert run("env", "dev").stdout.startswith("export ")


def test_the_pre_commit_hook_runs_the_check() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "dashenv-env-check" and hook["entry"] == "dashenv env check"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
