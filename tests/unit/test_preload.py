"""Which commands a preloaded server may run, and what its key depends on (no server here)."""

from __future__ import annotations

import contextlib
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


def test_switch_on_by_default_off_under_ci_and_with_zero() -> None:
    assert enabled({}) and enabled({"DASHENV_PRELOAD": ""}) and enabled({"CI": "false"})
    assert enabled({"DASHENV_PRELOAD": "1"}) and enabled({"DASHENV_PRELOAD": "on"})
    assert not enabled({"DASHENV_PRELOAD": "0"}) and not enabled({"DASHENV_PRELOAD": "off"})
    assert not enabled({"CI": "true"}) and not enabled({"CI": "1"})
    assert enabled({"CI": "true", "DASHENV_PRELOAD": "1"})  # asked for by name


def test_the_first_default_start_says_one_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dashenv.preload.client import _tell_once

    monkeypatch.delenv("DASHENV_PRELOAD", raising=False)
    directory = tmp_path / "run" / "dashenv-1"
    _tell_once(directory)
    first = capsys.readouterr().err
    assert first.count("\n") == 1 and "preload stop" in first and "DASHENV_PRELOAD=0" in first
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    _tell_once(directory)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("DASHENV_PRELOAD", "1")  # asked for: nothing to explain
    _tell_once(tmp_path / "other")
    assert capsys.readouterr().err == "" and not (tmp_path / "other").exists()


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
    """The server imports its preload list with errors suppressed: a name that went stale would only
    make it slower, silently."""
    import importlib

    from dashenv.preloaded import preload_list

    names = preload_list()
    assert "dashenv.workflows.reset" in names and "typer._adapters" in names
    assert "dashenv.pytest_plugin" not in names
    for name in names:
        importlib.import_module(name)


# --- trusting only this user's own server ------------------------------------------------


def test_a_private_directory_passes(tmp_path: Path) -> None:
    from dashenv.preload.protocol import directory_problem

    private = tmp_path / "run"
    private.mkdir(mode=0o700)
    assert directory_problem(private) is None
    assert directory_problem(tmp_path / "not-yet") is None  # the server makes it, 0700


def test_a_directory_others_reach_is_refused(tmp_path: Path) -> None:
    from dashenv.preload.protocol import directory_problem

    shared = tmp_path / "run"
    shared.mkdir()
    shared.chmod(0o777)
    assert "has mode 0777: others can reach it" in str(directory_problem(shared))
    shared.chmod(0o750)
    assert "has mode 0750" in str(directory_problem(shared))


def test_a_symlink_or_a_file_is_refused(tmp_path: Path) -> None:
    from dashenv.preload.protocol import directory_problem

    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    assert "is a symbolic link" in str(directory_problem(tmp_path / "link"))
    (tmp_path / "file").write_text("")
    assert "is not a directory" in str(directory_problem(tmp_path / "file"))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another uid needs root")
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    from dashenv.preload.protocol import directory_problem

    theirs = tmp_path / "run"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    assert "belongs to uid 65534, not to this user" in str(directory_problem(theirs))


def test_the_socket_never_lives_in_tmp_without_a_runtime_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dashenv.preload.protocol import socket_dir

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert socket_dir() == tmp_path / ".cache" / "dashenv"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert socket_dir() == Path(f"/run/user/1000/dashenv-{os.getuid()}")


def test_the_peer_of_a_socket_pair_is_this_user() -> None:
    import socket

    from dashenv.preload.protocol import peer_uid

    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert peer_uid(a) == os.getuid()


@pytest.mark.parametrize("missing", ["pidfd_open", "SO_PEERCRED", "send_fds"])
def test_elsewhere_the_switch_does_nothing_and_says_why(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """macOS has no pidfd_open or SO_PEERCRED: simulated by taking the calls away."""
    import socket

    from dashenv.preload import client, protocol

    monkeypatch.delattr(os if missing == "pidfd_open" else socket, missing)
    monkeypatch.setenv("DASHENV_PRELOAD", "1")
    reason = protocol.unsupported()
    assert reason is not None and missing in reason and "needs Linux" in reason
    assert client.client(["status"]) is None  # runs in this process; no server is started


def test_an_old_kernel_without_pidfd_open_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from dashenv.preload import protocol

    def enosys(pid: int) -> int:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", enosys)
    assert "Linux 5.3 or later" in str(protocol.unsupported())


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-v", "status"], True),
        (["--verbose", "-C", "x", "envs"], True),
        (["-C", "-v", "envs"], False),  # -v is -C's directory here
        (["logs", "dev", "-v"], False),  # a subcommand's option, not the root's
        (["status"], False),
    ],
)
def test_verbose_is_a_root_option(argv: list[str], expected: bool) -> None:
    from dashenv.preload.client import verbose

    assert verbose(argv) is expected


def test_no_server_is_started_where_its_directory_cannot_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashenv.preload import client

    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(locked / "run"))
    monkeypatch.setenv("DASHENV_PRELOAD", "1")
    started: list[object] = []
    monkeypatch.setattr(client, "_start_server", lambda path: started.append(path) or True)
    if os.getuid() == 0:  # root writes anywhere: a file where the directory would be
        (locked / "run").write_text("")
    assert client.client(["status"]) is None
    assert started == []


def test_only_test_run_is_told_it_runs_on_a_terminal_and_only_when_it_does() -> None:
    from dashenv.preload.client import on_terminal

    # under pytest, standard input is not a terminal: nothing is handed, whatever the command
    assert not on_terminal(["test", "run"])
    assert not on_terminal(["status", "--all"])
    import pty

    pid, fd = pty.fork()  # a child in the foreground of a terminal of its own
    if pid == 0:
        answers = (on_terminal(["test", "run", "--", "-x"]), on_terminal(["status"]))
        os._exit(0 if answers == (True, False) else 1)
    with open(fd, "rb", buffering=0) as master, contextlib.suppress(OSError):
        master.read(1024)  # until the child is gone (EIO)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
