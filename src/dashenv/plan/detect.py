"""``dashenv init --detect``: an existing project's environments guessed from its files, each
guess with its evidence, and the commented dashenv.toml that records them. Pure: the project
comes in as its file paths and a reader; compose models come in as facts.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dashenv.facts import ComposeModel, ComposeService
from dashenv.plan import compose_files
from dashenv.plan.compose_files import (
    DEFAULT_ROLES,
    ROLE_IMAGES,
    app_database,
    candidates,
    detect_roles,
    postgres_image,
)
from dashenv.settings.project import COMPOSE_DEFAULT_FILES

# docker-compose.dev.yml, compose.test.yaml, docker-compose-ci.yml
COMPOSE_FILE = re.compile(r"^(?:docker-)?compose[.-]([a-z0-9][a-z0-9_-]*)\.ya?ml$")
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", ".dashenv", "__pycache__", ".tox"}
ROLE_WORDS = (
    ("ci", ("ci",)),
    ("testing", ("test", "tests", "testing", "e2e")),
    ("development", ("dev", "develop", "development", "local")),
)


@dataclass
class Guess:
    key: str
    value: object
    evidence: str


@dataclass
class EnvironmentGuess:
    name: str
    compose_files: list[str]
    env_file: str | None  # None for a derived environment (its env file is generated)
    guesses: list[Guess] = field(default_factory=list)
    derived_from: str | None = None

    @property
    def compose_file(self) -> str:
        return self.compose_files[0]

    def add(self, key: str, value: object, evidence: str) -> None:
        self.guesses.append(Guess(key, value, evidence))

    @property
    def layout(self) -> str:
        """The layout proposed (a kind of ``dashenv.observe.layouts``), by the keys guessed:
        the strategy reads the same keys back."""
        keys = {g.key: g.value for g in self.guesses}
        if self.derived_from is not None or keys.get("derived_from"):
            return "derived"
        if keys.get("isolated"):
            return "isolated"
        if keys.get("exclusive_with"):
            return "overlay"
        return "own"


@dataclass
class Detection:
    environments: list[EnvironmentGuess]
    notes: list[str] = field(default_factory=list)  # what was seen but not turned into settings


# Compose's own default file names, in the order it looks for them, and their overrides
DEFAULT_FILES = COMPOSE_DEFAULT_FILES
OVERRIDE_FILES = (
    "compose.override.yaml", "compose.override.yml",
    "docker-compose.override.yaml", "docker-compose.override.yml",
)  # fmt: skip
EXAMPLE_SUFFIXES = (".example", ".sample", ".template", ".dist")
MAX_DEPTH = 5  # compose files this many path parts deep at most (a/b/variant/compose.yml)
NO_ENV_FILE = "/dev/null"  # an environment whose values are all in the compose files
# the names of the environments dashenv adopts from their compose file alone (no env file)
KNOWN_WORDS = {w for _role, words in ROLE_WORDS for w in words}


def role_of(name: str) -> tuple[str, bool]:
    """An environment's role and protection from its name: test and ci names are test roles;
    anything else (dev, staging, prod) holds data worth keeping."""
    words = set(re.split(r"[._-]", name))
    for role, names in ROLE_WORDS:
        if words & set(names):
            return role, role == "development"
    return "development", True


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def example_of(path: str, present: set[str]) -> str | None:
    """An example or template of the env file ``path`` (``.env.example``, ``.env.sample``)."""
    return next((f"{path}{s}" for s in EXAMPLE_SUFFIXES if f"{path}{s}" in present), None)


def _normal(path: str) -> str:
    import posixpath

    return posixpath.normpath(path).removeprefix("./")


def default_stack(paths: list[str]) -> tuple[str, list[str]] | None:
    """Compose's default files (one base, its override), in the shallowest directory that has
    them: (that directory, the files)."""
    present = set(paths)
    dirs = sorted(
        {str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name in DEFAULT_FILES},
        key=lambda d: (0 if d == "." else len(PurePosixPath(d).parts), d),
    )
    for d in dirs:
        here = "" if d == "." else d
        if len(PurePosixPath(here).parts) > MAX_DEPTH - 1:
            continue
        base = next(_join(here, n) for n in DEFAULT_FILES if _join(here, n) in present)
        override = next((_join(here, n) for n in OVERRIDE_FILES if _join(here, n) in present), None)
        return here, [base, *([override] if override else [])]
    return None


def _named_env_file(
    here: str, files: list[str], present: set[str], read: Callable[[str], str]
) -> tuple[str, str | None, str] | None:
    """The env file a stack's services name in ``env_file:`` (present, with an example, or
    missing with none: init writes it), as ``_env_guess`` answers."""
    missing = None
    for f in files:
        for named in compose_files.env_files_named(read(f)):
            rel = _normal(str(PurePosixPath(here) / named) if here else named)
            if rel in present or example_of(rel, present):
                shown = rel if rel in present else example_of(rel, present)
                return (
                    rel,
                    example_of(rel, present) if rel not in present else None,
                    f"env_file: {named} in {f} ({shown})",
                )
            missing = missing or (
                rel,
                None,
                f"env_file: {named} in {f} (it exists nowhere and has no example: init "
                "writes it from what the files reference)",
            )
    return missing


def _env_guess(
    here: str, name: str, files: list[str], present: set[str], read: Callable[[str], str]
) -> tuple[str, str | None, str] | None:
    """The env file of a stack: ``.env`` beside its first file (what Compose reads), its
    example, or the first env file the services name. (env file, example, evidence)."""
    candidates = [_join(here, ".env" if name == "dev" else f".env.{name}")]
    if name != "dev":
        candidates.append(_join(here, ".env"))
    for c in candidates:
        if c in present:
            return c, None, f"{c} beside {files[0]} (Compose reads it)"
        example = example_of(c, present)
        if example is not None:
            return c, example, f"{example} beside {files[0]} (created from it on first use)"
    named = _named_env_file(here, files, present, read)
    if named is not None:  # what the services name (a missing one: Compose fails without it)
        return named
    # the app's own env file, beside its code (an app on the host reads it itself)
    found = sorted(
        (p for p in present if PurePosixPath(p).name == ".env" or (
            PurePosixPath(p).name.startswith(".env.") and p.endswith(EXAMPLE_SUFFIXES))),
        key=lambda p: (len(PurePosixPath(p).parts), p),
    )  # fmt: skip
    if found:
        path = found[0] if PurePosixPath(found[0]).name == ".env" else found[0].rsplit(".", 1)[0]
        example = None if path in present else found[0]
        return path, example, f"{found[0]}, the project's env file"
    return None


# where a project writes the command that starts its dev stack, in the order asked
DEV_COMMAND_FILES = (
    "Makefile", "makefile", "GNUmakefile", "justfile", "Justfile", ".justfile",
    "Taskfile.yml", "Taskfile.yaml", "package.json", "README.md", "README.rst", "README",
)  # fmt: skip
_COMPOSE_UP = re.compile(
    r"docker[ -]compose((?:\s+(?:-f|--file)[ =]\s*[\"']?[^\s\"']+[\"']?"
    r"|\s+--?[a-z][a-z-]*(?:[ =](?!-)[^\s]+)?)+)\s+(?:up|watch)\b"
)


def _dev_invocations(text: str) -> list[str]:
    """The flags of each ``docker compose ... up`` in a Makefile, justfile, package.json or
    README that starts the dev stack: under a target, recipe or script whose name says dev
    (dev, local, start, up, serve, run), or the only one there is."""
    found: list[tuple[str, str]] = []
    for m in _COMPOSE_UP.finditer(text):
        before = text[: m.start()].splitlines()
        target = next(
            (t.group(1) for line in reversed(before)
             if (t := re.match(r"^\s*[\"']?([A-Za-z0-9_.-]+)[\"']?\s*:(?!=)", line))),
            "",
        )  # fmt: skip
        found.append((target, m.group(1)))
    if len(found) == 1:
        return [found[0][1]]
    return [f for t, f in found if re.search(r"dev|local|start|up|serve|run", t)]


def dev_flags(present: set[str], read: Callable[[str], str]) -> list[tuple[str, str]]:
    """The flags of every ``docker compose ... up`` that starts the dev stack in the files
    where a project writes its commands: (file, flags)."""
    return [
        (name, flags)
        for name in DEV_COMMAND_FILES
        if name in present
        for flags in _dev_invocations(read(name))
    ]


def dev_command(present: set[str], read: Callable[[str], str]) -> tuple[list[str], str] | None:
    """The compose files the project's own dev command starts (``docker compose -f X up`` in
    its Makefile, justfile, package.json scripts or README), preferring a file whose name
    says dev or local; (files relative to the project, where it was read)."""
    found: list[tuple[list[str], str]] = []
    for name, flags in dev_flags(present, read):
        files = [_normal(f) for f in re.findall(r"(?:-f|--file)[ =]\s*[\"']?([^\s\"']+)", flags)]
        if files and all(f in present for f in files):
            found.append((files, f"{name}: docker compose -f {' -f '.join(files)} up"))
    if not found:
        return None
    dev = [f for f in found if any(re.search(r"dev|local", PurePosixPath(x).name) for x in f[0])]
    return (dev or found)[0]


def find_environments(
    paths: list[str], read: Callable[[str], str] | None = None
) -> tuple[list[EnvironmentGuess], list[str]]:
    """The project's environments from its file names: one compose file per environment
    (``docker-compose.dev.yml``, ``compose-test.yaml``) with its env file; Compose's default
    files (``compose.yaml`` + its override, one ``.env``) as dev, with a ``test`` overlay
    beside them if there is one (the seed's older layout); and where the files define one
    stack only, test and ci derived from it."""
    read = read or (lambda _: "")
    present = set(paths)
    found: list[EnvironmentGuess] = []
    notes: list[str] = []
    for path in sorted(paths):
        p = PurePosixPath(path)
        m = COMPOSE_FILE.match(p.name)
        if m is None or m.group(1) == "override" or len(p.parts) > MAX_DEPTH:
            continue
        name = m.group(1)
        here = str(p.parent) if str(p.parent) != "." else ""
        candidates = [f"env/.env.{name}", f"{here}/.env.{name}" if here else "", f".env.{name}"]
        env_file = next(
            (c for c in candidates if c and (c in present or example_of(c, present))), None
        )
        if any(e.name == name for e in found):
            notes.append(f"{path}: a second compose file for {name}; kept the first")
            continue
        if env_file is None and not set(re.split(r"[._-]", name)) & KNOWN_WORDS:
            looked = ", ".join(c for c in candidates if c)
            notes.append(f"{path}: no env file found (looked for {looked})")
            continue
        if env_file is None:  # the env file its services name, else none: all in environment:
            named = _named_env_file(here, [path], present, read)
            guess = EnvironmentGuess(name, [path], named[0] if named else NO_ENV_FILE)
            guess.add("compose_files", [path], f"file name {p.name}")
            if named is not None:
                guess.add("env_file", named[0], named[2])
                if named[1] and named[1] != f"{named[0]}.example":
                    guess.add("env_example", named[1], "the example beside it")
            else:
                looked = ", ".join(c for c in candidates if c)
                guess.add("env_file", NO_ENV_FILE, f"no env file (looked for {looked}): the "
                          "values are in the compose files' environment:")  # fmt: skip
        else:
            guess = EnvironmentGuess(name, [path], env_file)
            shown = env_file if env_file in present else example_of(env_file, present)
            guess.add("compose_files", [path], f"file name {p.name}")
            guess.add("env_file", env_file, f"{shown} beside it")
            example = example_of(env_file, present)
            if env_file not in present and example and example != f"{env_file}.example":
                guess.add("env_example", example, "the example beside it")
        role, protected = role_of(name)
        guess.add("role", role, f"the name {name!r}")
        guess.add("protected", protected, "test roles hold no data worth keeping" if not protected
                  else "it may hold data worth keeping")  # fmt: skip
        found.append(guess)
    stack = default_stack(paths)
    stack_evidence = None
    command = dev_command(present, read) if not any(e.name == "dev" for e in found) else None
    if command is not None and (stack is None or command[0] != stack[1]):
        files, where = command
        same = next((e for e in found if e.compose_files == files), None)
        if same is not None and role_of(same.name)[0] == "development":
            same.name = "dev"  # the project's own dev command starts it
            same.guesses[0] = Guess("compose_files", files, f"the project's dev command ({where})")
        elif same is None:
            if stack is not None:
                notes.append(f"{stack[1][0]}: Compose's default file, not dev: the project's "
                             f"dev command ({where}) starts {' + '.join(files)}")  # fmt: skip
            parent = str(PurePosixPath(files[0]).parent)
            stack = (parent if parent != "." else "", files)
            stack_evidence = f"the project's dev command ({where})"
    if stack is not None:
        here, files = stack
        beside = [e for e in found if str(PurePosixPath(e.compose_file).parent) == (here or ".")]
        overlay = next((e for e in beside if e.name == "test"), None)
        if not any(e.name == "dev" for e in found):
            env = _env_guess(here, "dev", files, present, read)
            dev = EnvironmentGuess("dev", files, env[0] if env else None)
            shown = " + ".join(PurePosixPath(f).name for f in files)
            dev.add("compose_files", files, stack_evidence or f"Compose's default files ({shown})")
            if env is not None:
                dev.add("env_file", env[0], env[2])
                if env[1] and env[1] != f"{env[0]}.example":
                    dev.add("env_example", env[1], "the example beside it")
            else:
                dev.env_file = NO_ENV_FILE
                dev.add("env_file", NO_ENV_FILE, "no env file in the project: the values are in "
                        "the compose files' environment:")  # fmt: skip
            dev.add("role", "development", "what a bare 'docker compose' runs here")
            dev.add("protected", True, "it may hold data worth keeping")
            found.insert(0, dev)
            if overlay is not None:  # the seed's older layout: one stack, a test overlay
                overlay.compose_files = [*files[:1], overlay.compose_file]
                overlay.guesses[0] = Guess("compose_files", overlay.compose_files,
                                           f"{files[0]} with the test overlay")  # fmt: skip
                for e, other in ((dev, "test"), (overlay, "dev")):
                    e.add("exclusive_with", [other], "one PostgreSQL serves both (an overlay)")
        elif files:
            notes.append(f"{files[0]}: Compose's default file beside per-environment files; "
                         "not used")  # fmt: skip
    shared = _sharing_dev(found, present, read)
    if any(e.name == "dev" for e in found) and not any(e.name == "test" for e in found):
        shared = {"test": "", "ci": "", **shared}  # one stack: test and ci are made from it
    for name, why in shared.items():
        if any(e.name == name for e in found):
            continue
        derived = EnvironmentGuess(name, [], None, derived_from="dev")
        why = why or f"no {name} stack in the files"
        derived.add("derived_from", "dev", f"{why}: made from dev's by .dashenv/derived/{name}.yml")
        found.append(derived)
    return found, notes


_PROJECT_VARIABLE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?COMPOSE_PROJECT_NAME[ \t]*=[ \t]*[\"']?([^\"'#\s]+)", re.MULTILINE
)


def compose_project(
    files: list[str], present: set[str], read: Callable[[str], str]
) -> tuple[str, str]:
    """The project a bare ``docker compose -f FILES`` in the project's directory runs
    under, as Compose names it: ``COMPOSE_PROJECT_NAME`` from the ``.env`` beside the first
    file, else the files' ``name:``, else the first file's folder; and where that came from.
    A folder's name is given as ``folder:<path>`` (its real name is the checkout's)."""
    here = str(PurePosixPath(files[0]).parent)
    dotenv = _join("" if here == "." else here, ".env")
    m = _PROJECT_VARIABLE.search(read(dotenv)) if dotenv in present else None
    if m:
        return m.group(1), f"COMPOSE_PROJECT_NAME in {dotenv}"
    written = compose_files.declared_name([read(f) for f in files])
    if written is not None:
        return written, f"name: {written}"
    return f"folder:{here}", "no name:, the same folder"


def _sharing_dev(
    found: list[EnvironmentGuess], present: set[str], read: Callable[[str], str]
) -> dict[str, str]:
    """Take out the test environments whose own compose files run, typed by hand, as
    dev's very project (its containers and volumes): each is made from dev's files instead.
    A test overlay on dev's stack (the seed's older layout) shares it on purpose and stays.
    Returns the names taken out, each with why."""
    dev = next((e for e in found if e.name == "dev" and e.compose_files), None)
    if dev is None:
        return {}
    mine = compose_project(dev.compose_files, present, read)
    taken: dict[str, str] = {}
    for env in list(found):
        overlay = any(g.key == "exclusive_with" for g in env.guesses)
        if env is dev or not env.compose_files or overlay or role_of(env.name)[1]:
            continue
        theirs = compose_project(env.compose_files, present, read)
        if theirs[0] == mine[0]:
            found.remove(env)
            taken[env.name] = (
                f"{env.compose_file} runs as dev's compose project ({theirs[1]}): typed by "
                "hand it shares dev's containers and volumes"
            )
    return taken


def alembic_of(ini_path: str, text: str) -> tuple[str, str] | None:
    """alembic.ini -> (its path, the migrations directory its script_location names), both
    relative to the project."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    location = parser.get("alembic", "script_location", fallback=None)
    if not location:
        return None
    here = str(PurePosixPath(ini_path).parent)
    location = location.replace("%(here)s", here).strip()
    if ":" in location and not location.startswith("/"):  # a package resource ("pkg:dir")
        return None
    if not location.startswith(here) and not location.startswith("/"):
        location = str(PurePosixPath(here) / location) if here != "." else location
    return ini_path, str(PurePosixPath(location))


def _copied_sources(dockerfile: str) -> list[str]:
    """The sources of a Dockerfile's COPY and ADD lines (from the build context; not those
    of another stage, ``--from``), normalised (``./app/`` -> ``app``, ``.`` -> ``""``)."""
    found: list[str] = []
    for line in re.sub(r"\\\n", " ", dockerfile).splitlines():
        m = re.match(r"^\s*(?:COPY|ADD)\s+(.*)$", line, re.I)
        if m is None or "--from" in m.group(1):
            continue
        words = m.group(1).strip()
        if words.startswith("["):
            try:
                parts = [str(w) for w in json.loads(words)]
            except ValueError:
                continue
        else:
            parts = [w for w in words.split() if not w.startswith("--")]
        for src in parts[:-1]:
            norm = src.removeprefix("./").strip("/")
            found.append("" if norm in (".", "") else norm)
    return found


def tests_outside_image(app_dir: str, paths: list[str], read: Callable[[str], str]) -> str | None:
    """Why the tests run on the host although the app runs in a container: its image holds
    none of them (its Dockerfile copies the app's code only, or .dockerignore leaves them
    out), with where the project's CI runs them; None where the image holds them (or no
    Dockerfile says)."""
    dockerfile = _join(app_dir, "Dockerfile")
    if dockerfile not in paths:
        return None
    prefix = f"{app_dir}/" if app_dir else ""
    tests = [p[len(prefix):] for p in paths if p.startswith(prefix) and _is_test_file(p)
             and p.endswith(".py")]  # fmt: skip
    if not tests:
        return None
    ignore_file = _join(app_dir, ".dockerignore")
    ignored = {
        line.strip().strip("/").removeprefix("**/")
        for line in (read(ignore_file) if ignore_file in paths else "").splitlines()
        if line.strip() and not line.startswith("#")
    }
    sources = _copied_sources(read(dockerfile))

    def held(test: str) -> bool:
        if set(PurePosixPath(test).parts[:-1]) & ignored:
            return False
        return any(src == "" or test == src or test.startswith(src + "/") for src in sources)

    if any(held(t) for t in tests):
        return None
    ci = next(
        (f"; {w} runs them on the host"
         for w in sorted(p for p in paths if p.startswith(".github/workflows/"))
         if any("pytest" in line and "docker" not in line for line in read(w).splitlines())),
        "",
    )  # fmt: skip
    where = PurePosixPath(tests[0]).parts[0]
    return f"the app's image holds no tests ({dockerfile} does not copy {where}/){ci}"


def interpreter(
    app_dir: str,
    present: set[str],
    read: Callable[[str], str],
    on_host: bool,
    app: ComposeService | None = None,
) -> tuple[str, str]:
    """How the project runs its tools (pytest, alembic, its scripts): the prefix and why. On
    the host: ``uv run --frozen`` with a uv.lock (the lock as it is, nothing resolved),
    ``poetry run`` with a poetry.lock, else ``python -m``. In the app's container: the
    image's own environment, as the project runs them there, unless the image holds the
    lock and the project's own commands go through ``uv run`` (or ``poetry run``): never a
    virtualenv built, and every dependency downloaded, at test time."""
    lock = next((f for f in (_join(app_dir, "uv.lock"), "uv.lock") if f in present), None)
    poetry = next((f for f in (_join(app_dir, "poetry.lock"), "poetry.lock") if f in present),
                  None)  # fmt: skip
    if on_host:
        if lock is not None:
            return "uv run --frozen ", f"uv: {lock}"
        if poetry is not None:
            return "poetry run ", f"poetry: {poetry}"
        return "python -m ", "no uv.lock or poetry.lock: the host's python"
    dockerfile = _join(app_dir, "Dockerfile")
    text = read(dockerfile) if dockerfile in present else ""
    commands = text + " " + " ".join(app.command or []) if app is not None else text
    for found, tool, prefix in (
        (lock, "uv", "uv run --frozen "),
        (poetry, "poetry", "poetry run "),
    ):
        if found is None:
            continue
        name = PurePosixPath(found).name
        copied = re.search(
            rf"^\s*(?:COPY|ADD)\b[^\n]*(?:{re.escape(name)}|\s\.\s)", text, re.M | re.I
        )
        if copied and re.search(rf"\b{tool}[\"',\s]+run\b", commands):
            return (
                prefix,
                f"{dockerfile} holds {name} and the project runs its tools with {tool} run",
            )
    held = f" ({dockerfile} runs nothing through uv run)" if lock is not None else ""
    return "", f"the app image's own environment, as the project runs its tools there{held}"


def pytest_config(directory: str, paths: set[str], read: Callable[[str], str]) -> str | None:
    """The pytest configuration file of the app's directory, if it has one."""
    for name in ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
        path = f"{directory}/{name}".lstrip("/")
        if path not in paths:
            continue
        text = read(path)
        if name == "pytest.ini":
            return path
        if name == "pyproject.toml":
            try:
                if "pytest" in tomllib.loads(text).get("tool", {}):
                    return path
            except tomllib.TOMLDecodeError:
                continue
        elif re.search(r"^\[(tool:)?pytest\]", text, re.MULTILINE):
            return path
    return None


_MARKER_COMPARED = re.compile(
    r"environment\b[^\n]{0,40}?(?:==|!=|\bin\b)[^\n]{0,60}?[\"'](?:test|testing)[\"']",
    re.IGNORECASE,
)
_TESTING_READ = re.compile(
    r"(?:getenv|environ\.get|environ\[)\(?\s*[\"']TESTING[\"']|^\s*testing\s*:\s*(?:bool|int)",
    re.IGNORECASE | re.MULTILINE,
)


def test_markers(paths: list[str], read: Callable[[str], str]) -> tuple[list[str], str]:
    """The seed's markers the app reads as test markers, with where: ``ENVIRONMENT`` where
    its code compares it with "test"/"testing" (or accepts "testing" in its own list), never
    where its own tests assert another value; ``TESTING`` where its code reads it."""
    code = [p for p in sorted(paths) if p.endswith(".py") and not _is_test_file(p)]
    tests = [p for p in sorted(paths) if p.endswith(".py") and _is_test_file(p)]
    found: list[str] = []
    why: list[str] = []
    accepted = accepted_environments(paths, read)
    compared = next((p for p in code if _MARKER_COMPARED.search(read(p))), None)
    if compared is None and accepted is not None and "testing" in accepted[1]:
        compared = accepted[0]  # its own list of environments accepts "testing"
    asserted = next(
        (p for p in tests
         if re.search(r"environment[\"'\]]*\s*==\s*[\"'](?!test)[a-z]+[\"']", read(p), re.I)),
        None,
    )  # fmt: skip
    if asserted is not None:
        why.append(f"{asserted} asserts its own ENVIRONMENT")
    elif accepted is not None and "testing" not in accepted[1]:
        why.append(f"{accepted[0]}: ENVIRONMENT is one of {', '.join(accepted[1])}")
    elif compared is not None:
        found.append("ENVIRONMENT")
        why.append(f"{compared} reads ENVIRONMENT as a test marker")
    reads = next((p for p in code if _TESTING_READ.search(read(p))), None)
    if reads is not None:
        found.append("TESTING")
        why.append(f"{reads} reads TESTING")
    if not why:
        why.append("the app reads neither ENVIRONMENT nor TESTING as a test marker")
    return found, "; ".join(why)


_MIGRATION_WORDS = re.compile(r"migrat|alembic|aerich|yoyo|\bupgrade\b|manage\.py\s+migrate")
_EXEC_PREFIX = re.compile(
    r"^\s*(?:docker[ -]compose|docker compose)\b(?:\s+(?:-f|--file|-p|--project-name)\s+\S+)*"
    r"\s+(?:exec|run)\b(?:\s+-{1,2}[a-zA-Z][\w-]*(?:[ =](?!-)\S+)?)*\s+([\w.-]+)\s+(.+)$"
)


def migration_step(
    app: ComposeService | None,
    present: set[str],
    read: Callable[[str], str],
    app_dir: str = "",
    runner: str = "",
) -> tuple[str, str, str | None] | None:
    """A migration command of the project's own (not Alembic's default): the step its app
    service runs before the server (``sh -c "python -m app.migrate && uvicorn ..."``), else
    the recipe of a ``migrate`` target in its Makefile or justfile (``docker compose exec
    SERVICE CMD`` read as CMD), else a ``migrate.py`` script of the app's (run with the
    project's ``runner``); (command, where it was found, the file it runs where it is one)."""
    from dashenv.plan.derive import APP_WORDS

    command = app.command if app is not None else None
    if command and len(command) >= 3 and command[0] in ("sh", "bash") and command[1] == "-c":
        steps = [part.strip() for part in re.split(r"&&|;", command[2]) if part.strip()]
        server = next((i for i, st in enumerate(steps) if any(w in st for w in APP_WORDS)), None)
        before = steps[:server] if server is not None else []
        found = [st for st in before if _MIGRATION_WORDS.search(st)]
        if found and app is not None:
            return " && ".join(found), f"{app.name}'s command runs it before the server", None
    for name in ("Makefile", "justfile", "Justfile"):
        if name not in present:
            continue
        lines = read(name).splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(db[-_])?(migrate|migrations|upgrade)([-_]db)?\s*:(?!=)", line)
            if m is None:
                continue
            recipe = next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
            recipe = recipe.lstrip("@-").strip()
            inside = _EXEC_PREFIX.match(recipe)
            step = inside.group(2).strip() if inside else recipe
            if step and _MIGRATION_WORDS.search(step):
                return step, f"{name}: the {line.split(':')[0].strip()} target", None
    script = next((f for f in (_join(app_dir, "migrate.py"), _join(app_dir, "scripts/migrate.py"))
                   if f in present), None)  # fmt: skip
    if script is not None:  # run from the app's directory, as the project runs it
        rel = script[len(app_dir) + 1 :] if app_dir else script
        return f"{runner}python {rel}", f"the project's own migration script {script}", script
    return None


def health_of(
    app: ComposeService, paths: list[str], read: Callable[[str], str]
) -> tuple[str, str] | None:
    """The app's health path and where it was found: the URL its compose healthcheck asks,
    else a route of its own code named after health (``/healthz``, ``/ping``)."""
    from urllib.parse import urlsplit

    if app.health_url:
        path = urlsplit(app.health_url).path or "/"
        return path, f"{app.name}'s healthcheck asks {app.health_url}"
    route = re.compile(
        r"@\w+\.(?:get|api_route|route)\(\s*[\"'](/[\w/-]*(?:health|ping|live|ready)[\w/-]*)[\"']"
    )
    for path in sorted(p for p in paths if p.endswith(".py") and not _is_test_file(p)):
        m = route.search(read(path))
        if m:
            return m.group(1), f"the route in {path}"
    return None


def _is_test_file(path: str) -> bool:
    parts = PurePosixPath(path).parts
    name = parts[-1]
    return name.startswith("test_") or name == "conftest.py" or "tests" in parts[:-1]


def accepted_environments(
    paths: list[str], read: Callable[[str], str]
) -> tuple[str, list[str]] | None:
    """Where the app validates ENVIRONMENT against its own list (``ENVIRONMENT: Literal[...]``
    in its settings): the file and the values it accepts."""
    pattern = re.compile(r"ENVIRONMENT\s*:\s*Literal\[([^\]]*)\]")
    for path in sorted(p for p in paths if p.endswith(".py")):
        m = pattern.search(read(path))
        if m:
            return path, re.findall(r"[\"']([^\"']*)[\"']", m.group(1))
    return None


def needed_profiles(
    model: ComposeModel, roles: dict[str, str], present: set[str], read: Callable[[str], str]
) -> tuple[list[str], str]:
    """The Compose profiles dev needs: those the project's own dev command enables
    (``--profile X``, ``COMPOSE_PROFILES`` in its .env) and those behind which the services
    dashenv drives sit (the app, its database and cache, and what they depend on), each
    with its evidence; none where nothing it needs is profiled."""
    wanted: dict[str, str] = {}
    for name, flags in dev_flags(present, read):
        for profile in re.findall(r"--profile[ =]\s*([A-Za-z0-9_.-]+)", flags):
            wanted.setdefault(profile, f"{name}'s dev command enables it")
    if ".env" in present:
        line = re.search(r"^COMPOSE_PROFILES=[\"']?([^\"'\n]*)", read(".env"), re.MULTILINE)
        for profile in line.group(1).split(",") if line else []:
            if profile.strip():
                wanted.setdefault(profile.strip(), "COMPOSE_PROFILES in .env")
    todo = [roles.get(r, DEFAULT_ROLES[r]) for r in ("app_service", "postgres_service",
                                                    "redis_service")]  # fmt: skip
    seen: set[str] = set()
    while todo:
        name = todo.pop(0)
        service = model.services.get(name)
        if service is None or name in seen:
            continue
        seen.add(name)
        todo += service.depends_on
        if service.profiles and not set(service.profiles) & set(wanted):
            wanted[service.profiles[0]] = f"{name} is behind it"  # one of them enables it
    declared = {p for s in model.services.values() for p in s.profiles}
    chosen = sorted(p for p in wanted if p in declared)
    return chosen, "; ".join(f"{p}: {wanted[p]}" for p in chosen)


def has_app(model: ComposeModel) -> bool:
    """The files run the app: a service is built (besides the database and the cache) or
    runs an ASGI server or a task worker."""
    from dashenv.plan.derive import runs_app

    roles = detect_roles(model.services, DEFAULT_ROLES)
    if "app_service" in roles or DEFAULT_ROLES["app_service"] in model.services:
        return True
    return any(runs_app(s) for s in model.services.values())


def host_app_dir(paths: list[str], read: Callable[[str], str]) -> str:
    """The directory of an app that runs on the host: where its alembic.ini is, else its
    pytest configuration, else the project's root ("")."""
    present = set(paths)
    for p in sorted(paths, key=lambda p: (len(PurePosixPath(p).parts), p)):
        if PurePosixPath(p).name == "alembic.ini":
            return "" if str(PurePosixPath(p).parent) == "." else str(PurePosixPath(p).parent)
    for p in sorted(paths, key=lambda p: (len(PurePosixPath(p).parts), p)):
        d = "" if str(PurePosixPath(p).parent) == "." else str(PurePosixPath(p).parent)
        if PurePosixPath(p).name in ("pyproject.toml", "pytest.ini") and pytest_config(
            d, present, read
        ):
            return d
    return ""


def detect(
    paths: list[str],
    read: Callable[[str], str],
    models: dict[str, ComposeModel | None],
    app_dirs: dict[str, str | None],
) -> Detection:
    """The project's environments and their settings. ``models``: each environment's compose
    model (None where Compose could not be asked), as Compose resolves it without a project
    name given; ``app_dirs``: the app service's build context, relative to the project."""
    from functools import cache

    from dashenv.plan.compose_files import declared_name

    read = cache(read)  # the app's files are scanned by several rules: each read once
    envs, notes = find_environments(paths, read)
    present = set(paths)
    inis = [p for p in paths if PurePosixPath(p).name == "alembic.ini"]
    alembic = next((a for a in (alembic_of(p, read(p)) for p in sorted(inis)) if a), None)
    markers: tuple[list[str], str] | None = None
    for env in envs:
        if env.derived_from is not None:  # test and ci: only the markers the app reads
            markers = markers or test_markers(paths, read)
            given, why = markers
            env.add("derive_markers", given if given else False, why)
            continue
        model = models.get(env.name)
        app: ComposeService | None = None
        on_host = False
        app_dir = (app_dirs.get(env.name) or "").removeprefix("./").strip("/")
        app_dir = "" if app_dir == "." else app_dir  # the build context is the project
        if model is None:
            notes.append(
                f"{env.name}: Compose could not read {env.compose_file}; services not detected"
            )
        else:
            on_host = not has_app(model)
            outside = tests_outside_image(app_dir, paths, read) if not on_host else None
            if on_host:
                app_dir = host_app_dir(paths, read)
                env.add("test_runner", "host", "no service in the files builds or runs the app: "
                        "it runs on the host")  # fmt: skip
            elif outside is not None:
                on_host = True
                env.add("test_runner", "host", outside)
            if on_host and app_dir:
                env.add("host_dir", app_dir, "the app's directory (its alembic.ini or "
                        "pytest configuration)")  # fmt: skip
            roles = detect_roles(model.services, DEFAULT_ROLES)
            for role, service in roles.items():
                found = model.services[service]
                evidence = f"image {found.image or 'built'}"
                if role == "app_service":
                    evidence = "the service built here"
                elif role == "postgres_service" and postgres_image(found) != found.image:
                    evidence = f"built FROM {found.base_image}: PostgreSQL's official image"
                several = candidates(model.services, role) if role in ROLE_IMAGES else []
                if len(several) > 1:
                    app_name = roles.get("app_service", DEFAULT_ROLES["app_service"])
                    evidence += "; " + app_database(model.services, app_name, several)[1]
                env.add(role, service, f"{service} in {env.compose_file}: {evidence}")
            profiles, why = needed_profiles(model, roles, present, read)
            if profiles:
                env.add("profiles", profiles, why)
            app = model.services.get(roles.get("app_service", DEFAULT_ROLES["app_service"]))
            health = health_of(app, paths, read) if app is not None else None
            if app is not None and app.health_url and app.ports:
                scheme = app.health_url.split("://", 1)[0]
                if scheme == "http":
                    env.add("app_scheme", "http", f"{app.name}'s healthcheck asks plain HTTP")
            elif (
                app is not None
                and app.ports
                and not any("cert" in f"{m[1]} {m[2]}".lower() for m in app.mounts)
            ):
                env.add("app_scheme", "http", f"{app.name} has no certificate mounted: plain HTTP")
            if health is not None and health[0] != "/health":
                env.add("health_path", *health)
            written = declared_name([read(f) for f in env.compose_files])
            default_layout = PurePosixPath(env.compose_file).name in DEFAULT_FILES
            named, source = compose_project(env.compose_files, present, read)
            if source.startswith("COMPOSE_PROJECT_NAME") and (default_layout or env.name == "dev"):
                env.add("project_name", named, f"{source}: the name Compose gives these files")
            elif model.name and written is None and (default_layout or env.name == "dev"):
                env.add("project_name", model.name, "the name Compose gives these files")
            elif model.name and written is not None:
                notes.append(f"{env.name}: compose project {model.name} (the files' name:)")
        runner, why = interpreter(app_dir, present, read, on_host, app)
        if alembic is not None:
            ini, location = alembic
            command = f"{runner}alembic"
            env.add("alembic_config", ini, "found")
            env.add("migrations_dir", location, f"script_location in {ini}")
            env.add("alembic_command", command, why)
            env.add("migration_command", f"{command} upgrade head", "Alembic")
        else:
            env.add("alembic_config", "none", "no alembic.ini in the project")
            script_runner = runner if runner != "python -m " else ""
            own = migration_step(app, present, read, app_dir, script_runner)
            folder = next(
                (f for f in (_join(app_dir, "migrations"), "migrations")
                 if any(p.startswith(f + "/") for p in paths)),
                None,
            )  # fmt: skip
            if own is not None:
                env.add("migration_command", own[0], own[1])
                if own[2] is not None:
                    env.add("migrations_dir", own[2], "the script: with the command it keys the "
                            "reset's template")  # fmt: skip
                elif folder is not None:
                    env.add("migrations_dir", folder, "its migration files: with the command "
                            "they key the reset's template")  # fmt: skip
                else:
                    env.add("migrations_dir", "none", "no migrations folder: the command "
                            "alone keys the reset's template")  # fmt: skip
            else:
                env.add("migration_command", "none", "no Alembic and no migration step of its "
                        "own: the test database starts empty (plus seed_command)")  # fmt: skip
                env.add("migrations_dir", "none", "no migrations")
                notes.append(
                    f"{env.name}: no migrations found; where the project has some, set "
                    "migration_command to the command that runs them (it runs where the app runs)"
                )
        config = pytest_config(app_dir, present, read)
        if config is not None:
            command = f"{runner}pytest"
            env.add("test_command", command, f"pytest configured in {config}")
    isolate_clashes(envs, models)
    return Detection(envs, notes)


def isolate_clashes(envs: list[EnvironmentGuess], models: dict[str, ComposeModel | None]) -> None:
    """A test environment whose own files clash with a protected one's (the same
    container_name, host port, data directory) is made to run beside it (``isolated``)."""
    from dashenv.plan.derive import clashes

    shared = {n for e in envs for g in e.guesses if g.key == "exclusive_with" for n in g.value}  # type: ignore[attr-defined]
    for env in envs:
        if env.derived_from is not None or env.name in shared or role_of(env.name)[1]:
            continue
        mine = models.get(env.name)
        for other in envs:
            theirs = models.get(other.name)
            if other is env or mine is None or theirs is None or not role_of(other.name)[1]:
                continue
            found = clashes(mine, theirs)
            if found:
                env.add("isolated", True, f"clashes with {other.name}: {', '.join(found)}")
                break


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_toml(detection: Detection) -> str:
    """The commented dashenv.toml: every guess with its evidence."""
    lines = [
        "# dashenv.toml, written by 'dashenv init --detect' from this project's files.",
        "# Every value is a guess with its evidence beside it: check them, then edit freely.",
        "# Ports, container names and the project name are not here: the compose files say them.",
        "builtins = false",
    ]
    for env in detection.environments:
        lines += ["", f"[environments.{env.name}]"]
        for g in env.guesses:
            lines.append(f"{g.key} = {_toml_value(g.value)}  # {g.evidence}")
    if detection.notes:
        lines += ["", "# Seen but not turned into settings:"]
        lines += [f"#   {n}" for n in detection.notes]
    return "\n".join(lines) + "\n"
