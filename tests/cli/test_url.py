"""dashenv url and open: the shipped files' URLs, exact, without an engine."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import jsonschema

from tests.cli.conftest import Run, assert_usage_error
from tests.conftest import REPO

SCHEMA = json.loads((REPO / "docs" / "url.schema.json").read_text())


def test_the_apps_url_and_each_services(run: Run) -> None:
    assert run("url", "dev").stdout == "https://localhost:8000\n"
    assert run("url", "dev", "callback").stdout == "https://localhost:8182\n"
    assert run("url", "dev", "postgres").stdout == (
        "postgresql://dashtam_user:****@127.0.0.1:5432/dashtam\n"
    )
    assert run("url", "dev", "postgres", "--reveal").stdout == (
        "postgresql://dashtam_user:dev_pw_1234@127.0.0.1:5432/dashtam\n"
    )
    assert run("url", "test", "redis").stdout == "redis://127.0.0.1:6380/1\n"


def test_json_lists_every_role_null_where_none_is_published(run: Run) -> None:
    result = run("url", "test", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc == {
        "schema_version": 1,
        "environment": "test",
        "urls": {
            "app": None,  # the test app idles: it serves no HTTP
            "callback": "https://localhost:8183",
            "postgres": "postgresql://dashtam_test_user:****@127.0.0.1:5433/dashtam_test",
            "redis": "redis://127.0.0.1:6380/1",
        },
    }
    one = json.loads(run("url", "dev", "redis", "--json").stdout)
    jsonschema.validate(one, SCHEMA)
    assert one["urls"] == {"redis": "redis://127.0.0.1:6379/0"}


def test_what_has_no_url_says_why(run: Run) -> None:
    result = run("url", "test")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        "Error: test has no app URL: its app serves no HTTP (app_http = false)\n"
        "Hint: 'dashenv url test --json' lists the URLs it has; 'dashenv envs' its ports\n"
    )
    ci = run("url", "ci", "postgres")
    assert ci.exit_code == 1
    assert ci.stderr.startswith("Error: ci has no postgres URL: it publishes no port for it\n")
    assert_usage_error(run("url", "dev", "nosuch"), "dev has no service 'nosuch' with a URL")
    assert_usage_error(run("url", "nosuch"), "unknown environment 'nosuch'")


def test_open_hands_the_apps_url_to_the_browser(run: Run, tmp_path: Path) -> None:
    """A stub browser (BROWSER, as webbrowser reads it) that records what it was given."""
    record = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {record}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    result = run(
        "open", "dev", env={"BROWSER": str(browser), "DISPLAY": os.environ.get("DISPLAY", "")}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "https://localhost:8000\n"
    assert record.read_text() == "https://localhost:8000\n"
    idle = run("open", "test", env={"BROWSER": str(browser)})
    assert idle.exit_code == 1 and "test has no app URL" in idle.stderr
    assert record.read_text() == "https://localhost:8000\n"  # nothing more was opened
