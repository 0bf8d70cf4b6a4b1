"""DASHENV_PRELOAD=1 end to end: the inner-loop commands run in a worker forked from a server
that has dashenv imported, with the same output, exit codes and signals as a fresh process."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, new_project, run_dashenv, teardown
from tests.e2e.helpers import ok, sql

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = new_project(tmp_path_factory.mktemp("preload"), ("dev", "test"))
    try:
        ok(project("up", "dev"))
        sql(project, "dev", "INSERT INTO users (email) VALUES ('precious@dev')")
        ok(project("test", "setup"))
        yield project
    finally:
        teardown(project, ("dev", "test"))


@pytest.fixture(scope="module")
def preload(stack: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The switch, and a runtime directory of this module's own for the server's socket."""
    env = {"DASHENV_PRELOAD": "1", "XDG_RUNTIME_DIR": str(tmp_path_factory.mktemp("run"))}
    ok(stack("status", "--all", "--json", env=env))  # runs here, and starts the server
    deadline = time.monotonic() + 60
    while "(listening" not in server_status(env):
        assert time.monotonic() < deadline, "the preload server did not start"
        time.sleep(0.1)
    yield env
    subprocess.run(
        [sys.executable, "-m", "dashenv.preload", "stop"], env={**os.environ, **env}, check=True
    )
    deadline = time.monotonic() + 30
    while server_pids(env):
        assert time.monotonic() < deadline, "the preload server did not leave after stop"
        time.sleep(0.2)


def server_status(env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "dashenv.preload", "status"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def served(env: dict[str, str]) -> int:
    line = server_status(env)
    assert "(listening" in line, line
    return int(line.rsplit("served ", 1)[1].rstrip(")\n"))


def server_pid(env: dict[str, str]) -> int:
    return int(server_status(env).split("pid ", 1)[1].split(",", 1)[0])


def server_pids(env: dict[str, str]) -> list[int]:
    """The server and its forked workers: processes whose command line names
    this module's runtime directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "dashenv.preload" in cmdline and env["XDG_RUNTIME_DIR"] in cmdline:
                found.append(int(proc.name))
    return found


def dev_intact(p: Project) -> None:
    assert sql(p, "dev", "SELECT string_agg(email, ',') FROM users") == "precious@dev"


def test_the_server_answers_with_the_same_output_and_exit_codes(
    stack: Project, preload: dict[str, str]
) -> None:
    before = served(preload)
    for argv in (
        ("db", "reset", "dev", "--yes"),  # refused: exit 3
        ("status", "nosuch"),  # usage: exit 2
        ("db", "reset", "test", "--dry-run"),
    ):
        fresh, warm = stack(*argv), stack(*argv, env=preload)
        assert (warm.returncode, warm.stdout, warm.stderr) == (
            fresh.returncode,
            fresh.stdout,
            fresh.stderr,
        ), argv
    fresh_doc = json.loads(stack("status", "--all", "--json").stdout)
    warm_run = stack("status", "--all", "--json", env=preload)
    assert warm_run.returncode == 0, warm_run.stderr
    warm_doc = json.loads(warm_run.stdout)
    assert [e["name"] for e in warm_doc["environments"]] == [
        e["name"] for e in fresh_doc["environments"]
    ]
    assert warm_doc["environments"][0]["postgres"] == fresh_doc["environments"][0]["postgres"]
    ok(stack("db", "reset", "test", "--yes", env=preload))
    ok(stack("test", "setup", env=preload))
    # the test command through a worker: its output streamed back, its exit code passed on
    for argv in (
        ("test", "run", "--no-setup", "--", "-q"),
        ("test", "run", "--no-setup", "--", "-q", "-k", "no_such_test"),  # exit 5
    ):
        fresh, warm = stack(*argv), stack(*argv, env=preload)
        assert warm.returncode == fresh.returncode, (argv, warm.stdout, warm.stderr)
        assert (
            warm.stdout.splitlines()[-1].split(" in ")[0]
            == (fresh.stdout.splitlines()[-1].split(" in ")[0])
        ), argv  # pytest's summary line, its timing aside
    ok(stack("db", "snapshot", "dev", "via_preload", env=preload))
    sql(stack, "dev", "INSERT INTO users (email) VALUES ('after@dev')")
    ok(stack("db", "restore", "dev", "via_preload", "--yes", env=preload))
    assert served(preload) == before + 10  # each of the preloaded calls went to the server
    dev_intact(stack)


def with_switch(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without dashenv's variables, then ``env`` (the switch)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("DASHENV_")}
    full.update({"DASHENV_STATE_DIR": os.environ.get("DASHENV_STATE_DIR", ""), **env})
    return full


def started(
    stack: Project, env: dict[str, str], *argv: str, group: bool = False
) -> subprocess.Popen[str]:
    """dashenv ARGV started in the project (``group``: in a process group of its own, as a
    terminal's foreground job), its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "dashenv", *argv],
        cwd=stack.root,
        env=with_switch(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=group,
    )


def preloaded_reset(stack: Project, env: dict[str, str], *root: str) -> subprocess.Popen[str]:
    return started(stack, env, *root, "db", "reset", "test", "--yes", "--strategy", "migrate")


def test_ctrl_c_reaches_the_worker_and_the_next_reset_succeeds(
    stack: Project, preload: dict[str, str]
) -> None:
    before = served(preload)
    proc = preloaded_reset(stack, preload)
    deadline = time.monotonic() + 30
    while served(preload) == before:  # the server took the call: a worker runs it
        assert time.monotonic() < deadline and proc.poll() is None, "the call never came"
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    assert proc.returncode in (0, 130), err  # interrupted, or done before the signal came
    ok(stack("db", "reset", "test", "--yes", env=preload))
    dev_intact(stack)


SLOW_TEST = """\
import time


def test_slow():
    try:
        time.sleep(120)
    except KeyboardInterrupt:
        print("SLOW TEST INTERRUPTED", flush=True)
        raise
"""


def _in_container(stack: Project, script: str) -> str:
    done = subprocess.run(
        ["docker", "exec", stack.container("test", "app"), "sh", "-c", script],
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.mark.parametrize("how", ["preloaded", "fresh"])
def test_ctrl_c_reaches_the_tests_in_the_container(
    stack: Project, preload: dict[str, str], how: str
) -> None:
    """A terminal's Ctrl-C (SIGINT to the foreground process group) during 'test run'
    reaches pytest in the container: it prints its interruption, exits, and nothing of it is
    left running there; dashenv exits 130."""
    _in_container(stack, f"cat > /tmp/test_ctrl_c.py <<'EOF'\n{SLOW_TEST}EOF")
    env = preload if how == "preloaded" else {"DASHENV_PRELOAD": "0"}
    argv = ["test", "run", "--no-setup", "--", "-s", "-p", "no:cacheprovider",
            "/tmp/test_ctrl_c.py"]  # fmt: skip
    proc = started(stack, env, *argv, group=True)
    running = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done"
    deadline = time.monotonic() + 60
    while "test_ctrl_c.py" not in _in_container(stack, running):
        assert time.monotonic() < deadline and proc.poll() is None, "the tests never started"
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "SLOW TEST INTERRUPTED" in out, (out, err)
    deadline = time.monotonic() + 10
    while "test_ctrl_c.py" in _in_container(stack, running):
        assert time.monotonic() < deadline, "the tests still run in the container"
        time.sleep(0.2)


TTY_TEST = """\
import sys


def test_on_a_terminal():
    print("STDIN", sys.stdin.isatty(), "STDOUT", sys.stdout.isatty(), flush=True)
"""


@pytest.mark.parametrize("how", ["preloaded", "fresh"])
def test_on_a_terminal_the_tests_get_one(stack: Project, preload: dict[str, str], how: str) -> None:
    """Run from a terminal ('script' gives the command one, as a shell would), the tests get
    a terminal of their own in the container, as under a bare 'docker compose exec': a
    preloaded worker, in another session, is told so by its client."""
    if shutil.which("script") is None:
        pytest.skip("no 'script' (util-linux) here to give the command a terminal")
    _in_container(stack, f"cat > /tmp/test_tty.py <<'EOF'\n{TTY_TEST}EOF")
    env = preload if how == "preloaded" else {"DASHENV_PRELOAD": "0"}
    before = served(preload)
    line = shlex.join([sys.executable, "-m", "dashenv", "test", "run", "--no-setup", "--",
                       "-s", "-p", "no:cacheprovider", "/tmp/test_tty.py"])  # fmt: skip
    # twice in one terminal: the first leaves it as it found it
    done = subprocess.run(
        ["script", "-qec", f"{line} && {line}", "/dev/null"],
        cwd=stack.root,
        env=with_switch(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.count("STDIN True STDOUT True") == 2, done.stdout
    assert served(preload) == before + (2 if how == "preloaded" else 0)


RESIZE_TEST = """\
import os, time


def test_the_terminal_resized():
    before = os.get_terminal_size(0)
    print("BEFORE", before.columns, before.lines, flush=True)
    deadline = time.monotonic() + 30
    while os.get_terminal_size(0) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    after = os.get_terminal_size(0)
    print("AFTER", after.columns, after.lines, flush=True)
"""


def _window(fd: int, rows: int, columns: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


@pytest.mark.parametrize("how", ["preloaded", "fresh"])
def test_a_resized_terminal_resizes_the_tests_one(
    stack: Project, preload: dict[str, str], how: str
) -> None:
    """The terminal dashenv runs on is resized (its window made bigger) while the tests run:
    theirs follows, as under a bare 'docker compose exec' (a preloaded client passes the
    resize, SIGWINCH, on to its worker)."""
    import fcntl
    import select
    import termios

    _in_container(stack, f"cat > /tmp/test_resize.py <<'EOF'\n{RESIZE_TEST}EOF")
    env = preload if how == "preloaded" else {"DASHENV_PRELOAD": "0"}
    master, slave = os.openpty()
    _window(master, 24, 80)

    def controlling_terminal() -> None:  # a session of its own, the terminal its own
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "test", "run", "--no-setup", "--",
         "-s", "-p", "no:cacheprovider", "/tmp/test_resize.py"],
        cwd=stack.root, env=with_switch(env), stdin=slave, stdout=slave, stderr=slave,
        preexec_fn=controlling_terminal,
    )  # fmt: skip
    os.close(slave)
    seen, resized = "", False
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096).decode(errors="replace")
                except OSError:  # the terminal's last process is gone
                    break
            if "BEFORE 80 24" in seen and not resized:
                time.sleep(0.3)
                _window(master, 50, 132)
                resized = True
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert "BEFORE 80 24" in seen, seen
    assert "AFTER 132 50" in seen, seen
    assert proc.returncode == 0, seen


def test_a_killed_client_takes_its_worker_with_it(stack: Project, preload: dict[str, str]) -> None:
    server = server_pid(preload)
    deadline = time.monotonic() + 30
    while server_pids(preload) != [server]:  # an earlier call's worker still finishing
        assert time.monotonic() < deadline, "an earlier worker never ended"
        time.sleep(0.1)
    proc = preloaded_reset(stack, preload)
    deadline = time.monotonic() + 30
    while len(server_pids(preload)) < 2:  # the server and the call's worker
        assert time.monotonic() < deadline and proc.poll() is None, "no worker seen"
        time.sleep(0.02)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while server_pids(preload) != [server]:
        assert time.monotonic() < deadline, "the worker outlived its client"
        time.sleep(0.1)
    ok(stack("db", "reset", "test", "--yes"))  # no lock left held
    dev_intact(stack)


def process_groups() -> dict[int, list[str]]:
    """Process group -> the command lines of its members, from /proc."""
    groups: dict[int, list[str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state, ppid, pgrp, ...
        groups.setdefault(int(fields[2]), []).append(cmdline)
    return groups


def test_a_killed_client_takes_every_process_its_worker_started(
    stack: Project, preload: dict[str, str]
) -> None:
    """The server ends the worker's whole process group: the docker compose exec a migrating
    reset runs (made slow here) does not outlive a killed client."""
    server = server_pid(preload)
    slow = ("--set", "migration_command=sleep 30; alembic upgrade head")
    for _attempt in range(5):
        proc = preloaded_reset(stack, preload, *slow)
        group = None
        deadline = time.monotonic() + 60
        while group is None and proc.poll() is None and time.monotonic() < deadline:
            workers = set(server_pids(preload)) - {server}
            group = next(
                (
                    pgid
                    for pgid, members in process_groups().items()
                    if pgid in workers and any("docker" in m and " exec " in m for m in members)
                ),
                None,
            )
            time.sleep(0.01)
        if group is None:  # the reset ended before its docker child was seen: again
            proc.communicate(timeout=120)
            continue
        proc.kill()
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 10  # the exec alone would run 30 s more
        # (zombies, with no command line, are not processes that run on)
        while any(process_groups().get(group, [])):
            assert time.monotonic() < deadline, f"{process_groups().get(group)} outlived it"
            time.sleep(0.1)
        break
    else:
        pytest.fail("the worker's docker child was never seen")
    ok(stack("db", "reset", "test", "--yes"))  # no lock left held
    dev_intact(stack)


def test_preload_is_off_unless_asked(stack: Project, preload: dict[str, str]) -> None:
    before = served(preload)
    ok(
        run_dashenv(
            "status", "--all", "--json", cwd=stack.root, env={**preload, "DASHENV_PRELOAD": "0"}
        )
    )
    ok(stack("status", "--all", "--json", env={"XDG_RUNTIME_DIR": preload["XDG_RUNTIME_DIR"]}))
    assert served(preload) == before


# --- another local user squatting the socket ------------------------------------------------

SQUATTER = "dashenv-squatter"


def sbin(tool: str) -> str:
    """An administrator's tool, found whether or not /usr/sbin is on PATH."""
    import shutil

    return shutil.which(tool) or f"/usr/sbin/{tool}"


# the squatter's listener: stdlib only, run by the system Python as the squatter; it records
# every connection and every byte and file descriptor it is handed
LISTENER = r"""
import json, os, socket, sys
path, record = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o777)
server.listen(8)
server.settimeout(60)
got = []
open(record, "w").write("[]")
while True:
    try:
        conn, _ = server.accept()
    except (TimeoutError, OSError):
        break
    conn.settimeout(3)
    data, fds = b"", []
    try:
        while True:
            chunk, passed, _flags, _addr = socket.recv_fds(conn, 65536, 3)
            fds += passed
            if not chunk:
                break
            data += chunk
    except (TimeoutError, OSError):
        pass
    got.append({"bytes": len(data), "fds": len(fds), "text": data.decode(errors="replace")})
    open(record, "w").write(json.dumps(got))
"""


@pytest.fixture(scope="module")
def squatter() -> Iterator[str]:
    """A second local user (CI runs as root: it makes one, and removes it after)."""
    if os.geteuid() != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the squatter test needs root under CI, to make a second user")
        pytest.skip("making a second local user needs root")
    made = subprocess.run(["id", SQUATTER], capture_output=True).returncode != 0
    if made:
        subprocess.run(
            [
                sbin("useradd"),
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SQUATTER,
            ],
            check=True,
        )
    yield SQUATTER
    subprocess.run(["pkill", "-KILL", "-u", SQUATTER], check=False)  # its listeners
    if made:
        for _ in range(50):  # userdel refuses while a process of the user still runs
            if subprocess.run([sbin("userdel"), SQUATTER], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)


def squat(user: str, socket_path: Path, record: Path) -> subprocess.Popen[bytes]:
    """The squatter listens at ``socket_path``; returns once it does."""
    listener = subprocess.Popen(
        [sbin("runuser"), "-u", user, "--", "/usr/bin/python3", "-c", LISTENER, str(socket_path),
         str(record)],
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not (socket_path.exists() and record.exists()):
        assert listener.poll() is None, "the squatter's listener died"
        assert time.monotonic() < deadline, "the squatter's listener did not start"
        time.sleep(0.05)
    return listener


def victims_socket(root: Path, env: dict[str, str]) -> Path:
    status = run_dashenv("preload", "status", "--json", cwd=root, env=env)
    assert status.returncode == 0, status.stderr
    return Path(json.loads(status.stdout)["socket"])


@pytest.mark.parametrize("attack", ["shared runtime directory", "socket in the victim's dir"])
def test_another_user_cannot_take_a_preloaded_call(
    squatter: str, tmp_path: Path, attack: str
) -> None:
    """A second local user squats the name the victim's client computes, where it can: the
    victim's command still succeeds, in its own process, and the squatter receives nothing
    (not the environment, with its secret, not the standard streams)."""
    project = new_project(tmp_path, ("dev",))
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    record = Path(f"/tmp/dashenv-squat-{os.getpid()}-{attack.split()[0]}.json")
    # a runtime directory everyone can write to (misconfigured), where the squatter reaches
    shared = Path(f"/tmp/dashenv-xdg-{os.getpid()}")
    shared.mkdir()
    shared.chmod(0o1777)
    env = {
        "DASHENV_PRELOAD": "1",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(shared),
        "DASHENV_SQUAT_SECRET": "s3cr3t-token",
    }
    target = victims_socket(project.root, env)
    assert target.parent == shared / f"dashenv-{os.getuid()}"
    listener = None
    try:
        if attack == "shared runtime directory":
            # the squatter makes the victim's socket directory first, open to all
            staging = target.parent
            as_squatter = [sbin("runuser"), "-u", squatter, "--"]
            subprocess.run([*as_squatter, "mkdir", "-m", "0777", str(staging)], check=True)
            listener = squat(squatter, target, record)
            expected = "belongs to uid"
        else:
            # the victim's own private directory, and a socket in it that the squatter
            # serves (placed there as root stands in for any way it could get there)
            target.parent.mkdir(mode=0o700)
            staging = Path(f"/tmp/dashenv-squat-{os.getpid()}")
            as_squatter = [sbin("runuser"), "-u", squatter, "--"]
            subprocess.run([*as_squatter, "mkdir", "-m", "0777", str(staging)], check=True)
            listener = squat(squatter, staging / "s.sock", record)
            os.rename(staging / "s.sock", target)
            expected = "is served by uid"
        result = run_dashenv("-v", "envs", cwd=project.root, env=env)
        assert result.returncode == 0, result.stderr
        assert f"{project.prefix}-dev" in result.stdout  # the command ran, here
        assert f"dashenv: not preloading: {target.parent}" in result.stderr
        assert expected in result.stderr
        time.sleep(0.5)  # what the squatter got would be in its record by now
        got = json.loads(record.read_text())
        assert all(c["bytes"] == 0 and c["fds"] == 0 for c in got), got
        assert "s3cr3t-token" not in record.read_text()
        # and no server was started for the victim beside the squatter's socket
        assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
            subprocess.run(["pkill", "-KILL", "-u", squatter], check=False)  # runuser's child
        record.unlink(missing_ok=True)
        subprocess.run(["rm", "-rf", str(shared), f"/tmp/dashenv-squat-{os.getpid()}"])


def test_without_a_runtime_directory_the_socket_is_in_the_users_own_cache(
    tmp_path: Path,
) -> None:
    """No XDG_RUNTIME_DIR (a server, a CI runner, su, ssh without a session manager): never a
    shared name in /tmp that another user could make first."""
    project = new_project(tmp_path, ("dev",))
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {"DASHENV_PRELOAD": "1", "HOME": str(home), "XDG_RUNTIME_DIR": "", "XDG_CACHE_HOME": ""}
    assert victims_socket(project.root, env).parent == home / ".cache" / "dashenv"


def test_on_by_default_it_says_so_once_and_ci_keeps_it_off(
    stack: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No switch, no CI: the first inner-loop command starts a server and says one line on
    stderr (what it is, how to stop it, how to turn it off); later ones say nothing and are
    served. Under CI=true the same command starts none."""
    run, ci_run = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("ci")  # short paths
    default = {"DASHENV_PRELOAD": "", "CI": "", "XDG_RUNTIME_DIR": str(run)}
    first = stack("status", "--all", "--json", env=default)
    assert first.returncode == 0, first.stderr
    json.loads(first.stdout)  # stdout is the document alone
    told = [ln for ln in first.stderr.splitlines() if ln.startswith("dashenv: started a preload")]
    assert len(told) == 1 and "'dashenv preload stop'" in told[0], first.stderr
    assert "DASHENV_PRELOAD=0" in told[0]
    try:
        deadline = time.monotonic() + 60
        while "(listening" not in server_status(default):
            assert time.monotonic() < deadline, "the default did not start a server"
            time.sleep(0.1)
        before = served(default)
        again = stack("status", "--all", "--json", env=default)
        assert again.returncode == 0 and "preload" not in again.stderr, again.stderr
        assert served(default) == before + 1
        shown = stack("preload", "status", env=default).stdout
        assert "on (the default;" in shown and "listening" in shown
    finally:
        stopped = stack("preload", "stop", env=default)
    assert stopped.returncode == 0 and "Stopped 1 preload server" in stopped.stdout
    ci = {"DASHENV_PRELOAD": "", "CI": "true", "XDG_RUNTIME_DIR": str(ci_run)}
    under_ci = stack("status", "--all", "--json", env=ci)
    assert under_ci.returncode == 0 and "preload" not in under_ci.stderr
    time.sleep(1)  # a server started now would have made its socket directory by then
    assert list(ci_run.iterdir()) == []
    assert "off (CI is set" in stack("preload", "status", env=ci).stdout
