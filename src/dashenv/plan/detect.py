"""``dashenv init --detect``: an existing project's environments guessed from its files, each
guess with its evidence, and the commented dashenv.toml that records them. Pure: the project
comes in as its file paths and a reader; compose models come in as facts.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dashenv.facts import ComposeModel
from dashenv.plan.compose_files import DEFAULT_ROLES, detect_roles

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
    compose_file: str
    env_file: str
    guesses: list[Guess] = field(default_factory=list)

    def add(self, key: str, value: object, evidence: str) -> None:
        self.guesses.append(Guess(key, value, evidence))


@dataclass
class Detection:
    environments: list[EnvironmentGuess]
    notes: list[str] = field(default_factory=list)  # what was seen but not turned into settings


def role_of(name: str) -> tuple[str, bool]:
    """An environment's role and protection from its name: test and ci names are test roles;
    anything else (dev, staging, prod) holds data worth keeping."""
    words = set(re.split(r"[._-]", name))
    for role, names in ROLE_WORDS:
        if words & set(names):
            return role, role == "development"
    return "development", True


def find_environments(paths: list[str]) -> tuple[list[EnvironmentGuess], list[str]]:
    """Each ``<compose dir>/docker-compose.<env>.yml`` paired with its env file: env/.env.<env>,
    .env.<env> beside the compose file or at the root (an ``.example`` of one counts: init
    creates the file from it)."""
    present = set(paths)
    found: list[EnvironmentGuess] = []
    notes: list[str] = []
    for path in sorted(paths):
        p = PurePosixPath(path)
        m = COMPOSE_FILE.match(p.name)
        if m is None or len(p.parts) > 3:
            continue
        name = m.group(1)
        here = str(p.parent) if str(p.parent) != "." else ""
        candidates = [f"env/.env.{name}", f"{here}/.env.{name}" if here else "", f".env.{name}"]
        env_file = next(
            (c for c in candidates if c and (c in present or f"{c}.example" in present)), None
        )
        if env_file is None:
            looked = ", ".join(c for c in candidates if c)
            notes.append(f"{path}: no env file found (looked for {looked})")
            continue
        if any(e.name == name for e in found):
            notes.append(f"{path}: a second compose file for {name}; kept the first")
            continue
        guess = EnvironmentGuess(name, path, env_file)
        shown = env_file if env_file in present else f"{env_file}.example"
        guess.add("compose_files", [path], f"file name {p.name}")
        guess.add("env_file", env_file, f"{shown} beside it")
        role, protected = role_of(name)
        guess.add("role", role, f"the name {name!r}")
        guess.add("protected", protected, "test roles hold no data worth keeping" if not protected
                  else "it may hold data worth keeping")  # fmt: skip
        found.append(guess)
    for path in paths:
        if PurePosixPath(path).name in ("docker-compose.yml", "compose.yaml", "compose.yml"):
            notes.append(
                f"{path}: a base file without an environment in its name (the overlay layout?): "
                "declare those environments by hand, as examples/overlay does"
            )
    return found, notes


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


def uses_uv(directory: str, paths: set[str], read: Callable[[str], str]) -> str | None:
    """Evidence that the app runs through uv: a uv.lock, or a Dockerfile that uses uv."""
    for candidate in (f"{directory}/uv.lock", "uv.lock"):
        candidate = candidate.lstrip("/").removeprefix("./")
        if candidate in paths:
            return candidate
    dockerfile = f"{directory}/Dockerfile".lstrip("/")
    if dockerfile in paths and re.search(r"\buv (sync|run|pip)\b", read(dockerfile)):
        return f"{dockerfile} runs uv"
    return None


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


def detect(
    paths: list[str],
    read: Callable[[str], str],
    models: dict[str, ComposeModel | None],
    app_dirs: dict[str, str | None],
) -> Detection:
    """The project's environments and their settings. ``models``: each environment's compose
    model (None where Compose could not be asked); ``app_dirs``: the app service's build
    context, relative to the project."""
    envs, notes = find_environments(paths)
    present = set(paths)
    inis = [p for p in paths if PurePosixPath(p).name == "alembic.ini"]
    alembic = next((a for a in (alembic_of(p, read(p)) for p in sorted(inis)) if a), None)
    for env in envs:
        model = models.get(env.name)
        if model is None:
            notes.append(
                f"{env.name}: Compose could not read {env.compose_file}; services not detected"
            )
        else:
            for role, service in detect_roles(model.services, DEFAULT_ROLES).items():
                image = model.services[service].image or "built"
                evidence = f"image {image}" if role != "app_service" else "the service built here"
                env.add(role, service, f"{service} in {env.compose_file}: {evidence}")
            if model.name:
                notes.append(f"{env.name}: compose project {model.name} (the files' name:)")
        app_dir = app_dirs.get(env.name) or ""
        uv = uses_uv(app_dir, present, read)
        if alembic is not None:
            ini, location = alembic
            command = "uv run alembic" if uv else "alembic"
            env.add("alembic_config", ini, "found")
            env.add("migrations_dir", location, f"script_location in {ini}")
            env.add("alembic_command", command, f"uv: {uv}" if uv else "no uv.lock")
            env.add("migration_command", f"{command} upgrade head", "Alembic")
        else:
            notes.append(f"{env.name}: no alembic.ini found; migration_command left at its default")
        config = pytest_config(app_dir, present, read)
        if config is not None:
            command = "uv run pytest" if uv else "pytest"
            env.add("test_command", command, f"pytest configured in {config}")
    return Detection(envs, notes)


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
