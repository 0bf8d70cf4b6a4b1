"""Which commands a preloaded server may run, and what its key depends on (no server here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashenv.preload.client import command_words, eligible
from dashenv.preload.protocol import key
from dashenv.preload.switch import preload_enabled as enabled


def test_command_words_skip_root_options_and_their_values() -> None:
    argv = ["-C", "db", "--instance", "b", "--set", "x=1", "-v", "db", "reset", "test", "--yes"]
    assert command_words(argv) == ("db", "reset", "test")
    assert command_words(["status", "--all", "--json"]) == ("status",)
    assert command_words(["test", "run", "--", "-k", "x"]) == ("test", "run")


@pytest.mark.parametrize(
    ("argv", "terminal", "expected"),
    [
        (["status", "--all", "--json"], True, True),
        (["up", "dev"], True, True),
        (["test", "setup"], False, True),
        (["db", "reset", "test", "--yes"], True, True),
        (["db", "reset", "test", "--dry-run"], True, True),
        (["db", "reset", "test"], True, False),  # it would ask on the terminal
        (["db", "reset", "test"], False, True),  # it refuses without --yes, as always
        (["psql", "dev"], False, False),
        (["exec", "dev", "app", "sh"], False, False),
        (["db", "restore", "dev", "x", "--yes"], True, True),
        (["db", "restore", "dev", "x"], True, False),
        (["db", "snapshot", "dev", "x"], False, True),
        (["db", "downgrade", "dev", "-1", "--yes"], False, False),
        (["down", "dev"], False, False),
        (["status", "--help"], False, False),
        (["--version"], False, False),
        ([], False, False),
    ],
)
def test_only_commands_that_never_ask_go_to_the_server(
    argv: list[str], terminal: bool, expected: bool
) -> None:
    assert eligible(argv, terminal) is expected


def test_switch() -> None:
    assert enabled({"DASHENV_PRELOAD": "1"}) and enabled({"DASHENV_PRELOAD": "on"})
    assert not enabled({}) and not enabled({"DASHENV_PRELOAD": "0"})


def test_key_follows_the_interpreter_the_import_path_and_every_source_file(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    source = package / "sub" / "mod.py"
    source.write_text("x = 1\n")
    site = tmp_path / "site"
    site.mkdir()
    first = key("/usr/bin/python3", [str(site)], package)
    assert key("/usr/bin/python3", [str(site)], package) == first
    assert key("/usr/bin/python3.12", [str(site)], package) != first
    os.utime(source, ns=(1, 1))  # an edited checkout
    edited = key("/usr/bin/python3", [str(site)], package)
    assert edited != first
    (site / "newpkg").mkdir()  # a package installed beside
    os.utime(site, ns=(2, 2))
    assert key("/usr/bin/python3", [str(site)], package) != edited


def test_every_preloaded_module_imports() -> None:
    """The server imports PRELOAD with errors suppressed: a name that went stale would only
    make it slower, silently."""
    import importlib

    from dashenv.preload.server import PRELOAD

    for name in PRELOAD:
        importlib.import_module(name)
