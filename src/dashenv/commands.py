"""Every command of the ``dashenv`` program, declared once and read by the standard library only.

The CLI's lazy command index (``dashenv --help`` lists commands without importing their
modules) and the preload client (which must decide before anything heavy is imported whether a
command may run in a preloaded worker) both read this table; nothing here imports typer.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):  # not a dataclass: the client's path skips importing dataclasses
    module: str  # the module under dashenv.cli that registers it
    summary: str  # the first line of its help (tests/test_docs.py keeps them equal)


COMMANDS: dict[str, Command] = {
    "up": Command(
        "lifecycle", "Start ENV detached and wait for every healthcheck, then print its endpoints."
    ),
    "down": Command(
        "lifecycle", "Remove ENV's containers and network; volumes (its data) only with --volumes."
    ),
    "restart": Command(
        "lifecycle", "Restart ENV's services (default: all) and wait until they are healthy again."
    ),
    "build": Command("lifecycle", "Build ENV's images (the app and callback)."),
    "ps": Command("lifecycle", "List the containers of ENV, or of every environment."),
    "logs": Command(
        "lifecycle", "Show ENV's logs with service prefixes; Ctrl-C ends --follow cleanly."
    ),
    "exec": Command(
        "lifecycle", "Run a command in a running service: dashenv exec dev app -- python -V."
    ),
    "shell": Command("lifecycle", "Open a shell in a running service of ENV."),
    "run": Command(
        "lifecycle",
        "Run a command on the host with ENV's connection settings: dashenv run test -- pytest.",
    ),
    "url": Command(
        "lifecycle", "Print ENV's app URL, or a service's: PostgreSQL's and Redis's for the host."
    ),
    "open": Command("lifecycle", "Open ENV's app in a web browser (BROWSER says which)."),
    "env": Command(
        "lifecycle",
        "ENV's settings for the host (show, the default), and env files against their examples "
        "(check).",
    ),
    "psql": Command(
        "lifecycle", "Open psql on ENV's database as its owner; extra arguments go to psql."
    ),
    "redis-cli": Command(
        "lifecycle", "Open redis-cli on ENV's Redis index; extra arguments go to redis-cli."
    ),
    "test": Command("testing", "The test workflow: setup, run, clean."),
    "db": Command(
        "db",
        "The database: guarded reset, Alembic migrations, snapshots; destructive steps guarded.",
    ),
    "ci": Command("testing", "The CI workflow: one throwaway run of the test suite."),
    "status": Command(
        "status", "Containers, PostgreSQL, Redis and the app's /health, per environment."
    ),
    "doctor": Command(
        "status",
        "Check the machine and the environments, each check pass, warn or fail with a fix.",
    ),
    "certs": Command(
        "status",
        "Make a self-signed certificate and key for localhost and the configured host names.",
    ),
    "envs": Command(
        "config", "List the environments: role, compose files, env file, project and host ports."
    ),
    "init": Command("config", "Create missing env files from their examples, generating secrets."),
    "config": Command("config", "Show the resolved configuration and where it comes from."),
    "instances": Command(
        "instances", "List every dashenv instance the engine runs, with its checkout and ports."
    ),
    "preload": Command(
        "preload", "Preloading (DASHENV_PRELOAD): whether it is on, its socket, its server."
    ),
    "gc": Command(
        "instances",
        "Remove what removed checkouts and killed runs left: instances, leases, databases.",
    ),
}

# The root options that take a value, by the root callback's parameter: the CLI declares them
# with these names, and the preload client skips their values when it reads the command words.
ROOT_VALUE_OPTIONS: dict[str, tuple[str, ...]] = {
    "project_dir": ("--project-dir", "-C"),
    "set_": ("--set",),
    "context": ("--context",),
    "instance": ("--instance",),
}

# The command words a preloaded worker may run -> whether the command may still ask a question
# on a terminal (then it is preloaded only with one of NO_PROMPT_OPTIONS: a forked worker is
# not in the terminal's foreground process group and could not read it).
PRELOADED: dict[tuple[str, ...], bool] = {
    ("status",): False,
    ("ps",): False,
    ("envs",): False,
    ("doctor",): False,
    ("up",): False,
    ("test", "setup"): False,
    ("test", "run"): False,  # its output streams through; the exit code and Ctrl-C pass on
    ("db", "reset"): True,
    ("db", "snapshot"): True,  # --delete asks on a protected environment
    ("db", "restore"): True,  # asks on a protected environment
}
NO_PROMPT_OPTIONS = ("--yes", "-y", "--dry-run")
# Preloaded commands told whether their client runs in the foreground of a terminal (its
# standard input and output): the tests then get a terminal of their own in the container,
# as under a bare 'docker compose exec' (pdb reads it, Ctrl-C reaches them through it). A
# worker is in another session, so it cannot tell by itself; it is told through this
# variable, which the server sets in its environment ("1" or "0").
TERMINAL = (("test", "run"),)
WORKER_TERMINAL = "DASHENV_WORKER_TERMINAL"
# options that end in this process whatever the command (help, version, completion)
LOCAL_OPTIONS = ("--help", "-h", "--version", "--install-completion")

# Each command's examples, shown at the end of its help (the CLI sets them as its epilog);
# tests/cli checks that every command has some.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "up": ("dashenv up dev", "dashenv up test postgres redis --wait-timeout 120"),
    "down": ("dashenv down test", "dashenv down test --volumes"),
    "restart": ("dashenv restart dev app",),
    "build": ("dashenv build dev", "dashenv build dev app --no-cache"),
    "ps": ("dashenv ps", "dashenv ps dev --json"),
    "logs": ("dashenv logs dev app -f", "dashenv logs test --tail 50"),
    "exec": ("dashenv exec dev app -- alembic current",),
    "shell": ("dashenv shell dev", "dashenv shell dev postgres"),
    "run": ("dashenv run dev -- uvicorn app.main:app --reload",),
    "env show": ("dashenv env dev", 'eval "$(dashenv env test --reveal)"'),
    "env check": ("dashenv env check", "dashenv env check dev --fix"),
    "url": ("dashenv url dev", "dashenv url test postgres --reveal", "dashenv url dev --json"),
    "open": ("dashenv open dev",),
    "psql": ("dashenv psql dev", "dashenv psql test -c 'SELECT count(*) FROM users'"),
    "redis-cli": ("dashenv redis-cli dev", "dashenv redis-cli test KEYS '*'"),
    "test setup": ("dashenv test setup",),
    "test run": ("dashenv test run", "dashenv test run -- -k users -n auto"),
    "test clean": ("dashenv test clean",),
    "db reset": ("dashenv db reset test --dry-run", "dashenv db reset test --yes"),
    "db migrate": ("dashenv db migrate dev", "dashenv db migrate dev 0002"),
    "db current": ("dashenv db current dev",),
    "db history": ("dashenv db history dev",),
    "db revision": ("dashenv db revision dev -m 'add users.name' --autogenerate",),
    "db downgrade": ("dashenv db downgrade dev -1",),
    "db snapshot": (
        "dashenv db snapshot dev before-upgrade",
        "dashenv db snapshot dev --to dev.dump",
    ),
    "db snapshots": ("dashenv db snapshots dev",),
    "db restore": ("dashenv db restore dev before-upgrade",),
    "db seed": ("dashenv db seed test", "dashenv db seed dev --yes"),
    "ci run": ("dashenv ci run", "dashenv ci run --build -- -x"),
    "ci github": ("dashenv ci github", "dashenv ci github --shards 4 --force"),
    "status": ("dashenv status", "dashenv status --all --json"),
    "doctor": ("dashenv doctor", "dashenv doctor test --json"),
    "certs": ("dashenv certs", "dashenv certs --force --days 365"),
    "envs": ("dashenv envs", "dashenv envs --json"),
    "init": ("dashenv init", "dashenv init --detect"),
    "config show": ("dashenv config show dev", "dashenv config show test --json"),
    "config compose": ("dashenv config compose dev -- ps",),
    "instances": ("dashenv instances", "dashenv instances --json"),
    "preload status": ("dashenv preload status",),
    "preload stop": ("dashenv preload stop",),
    "gc": ("dashenv gc --dry-run", "dashenv gc --yes"),
}

# Root flags also accepted after the command's words, as docker compose, gh and uv take them:
# moved before the command (``hoist``). Not in the commands that hand their arguments to a
# program (psql's -v is psql's), and not `down -v`, which stays an error naming --volumes.
ANYWHERE_FLAGS = ("-q", "--quiet", "-v", "--verbose")
PASSTHROUGH_COMMANDS = ("exec", "psql", "run", "redis-cli")
KEPT_IN_PLACE = {("down", "-v")}


def root_options_end(argv: list[str]) -> int:
    """Where the root options of ``argv`` (without the program) end: the index of the
    command word (or of ``--``, or the length), the values of root options skipped."""
    value_options = {name for names in ROOT_VALUE_OPTIONS.values() for name in names}
    i, skip = 0, False
    while i < len(argv):
        arg = argv[i]
        if skip:
            skip = False
        elif arg == "--" or not arg.startswith("-"):
            break
        else:
            skip = arg in value_options
        i += 1
    return i


def hoist(argv: list[str]) -> list[str]:
    """``argv`` (without the program) with the root flags found after the command moved
    before it: ``status dev -q`` -> ``-q status dev``. Nothing after ``--`` moves."""
    i = root_options_end(argv)
    if i >= len(argv) or argv[i] == "--" or argv[i] in PASSTHROUGH_COMMANDS:
        return list(argv)
    command, rest, moved = argv[i], argv[i:], []
    kept = []
    for n, arg in enumerate(rest):
        if arg == "--":
            kept += rest[n:]
            break
        if arg in ANYWHERE_FLAGS and (command, arg) not in KEPT_IN_PLACE and n > 0:
            moved.append(arg)
        else:
            kept.append(arg)
    return [*argv[:i], *moved, *kept]
