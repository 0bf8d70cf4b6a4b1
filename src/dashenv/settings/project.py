"""The project: where it lives, its dashenv.toml, and the built-in environments.

Data and file reading; the project-wide keys are validated by ``ProjectOptions``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.errors import ConfigError

if TYPE_CHECKING:
    from dashenv.settings.model import ProjectOptions

CONFIG_FILE = "dashenv.toml"
# Compose's own default file names, in the order it looks for them
COMPOSE_DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

# The seed's isolated layout: dev and test side by side, ci with nothing published.
BUILTIN_ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "dev": {
        "role": "development",
        "protected": True,
        "compose_files": ["compose/docker-compose.dev.yml"],
        "env_file": "env/.env.dev",
        "project_name": "dashtam-dev",
        "app_port": 8000,
        "callback_port": 8182,
        "postgres_port": 5432,
        "redis_port": 6379,
    },
    "test": {
        "role": "testing",
        "protected": False,
        "compose_files": ["compose/docker-compose.test.yml"],
        "env_file": "env/.env.test",
        "project_name": "dashtam-test",
        "app_port": 8001,
        "callback_port": 8183,
        "postgres_port": 5433,
        "redis_port": 6380,
        "app_http": False,
    },
    "ci": {
        "role": "ci",
        "protected": False,
        "compose_files": ["compose/docker-compose.ci.yml"],
        "env_file": "env/.env.ci",
        "project_name": "dashtam-ci",
        "app_port": None,
        "callback_port": None,
        "postgres_port": None,
        "redis_port": None,
        "app_http": False,
    },
}


@dataclass
class ProjectConfig:
    """dashenv.toml as read: project-wide options and one table per environment."""

    root: Path
    path: Path | None  # the file the configuration came from, if any
    table_prefix: str = ""  # "tool.dashenv." inside pyproject.toml
    options: ProjectOptions = field(default_factory=lambda: _default_options())
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""

    @property
    def shown_path(self) -> str:
        if self.path is None:
            return CONFIG_FILE
        try:
            return str(self.path.relative_to(self.root))
        except ValueError:
            return str(self.path)

    def environment_names(self) -> list[str]:
        names = list(BUILTIN_ENVIRONMENTS) if self.options.builtins else []
        names += [n for n in self.environments if n not in names]
        return names

    def path_of(self, relative: str) -> Path:
        """A project-relative path (audit_log, certs_dir) as an absolute one."""
        return (self.root / relative).resolve()

    def line_of(self, env: str, key: str) -> int | None:
        """The line of ``key`` inside the ``[environments.<env>]`` table, if it can be found."""
        header = re.compile(
            rf"^\s*\[\s*{re.escape(self.table_prefix)}environments\.\"?{re.escape(env)}\"?\s*\]"
        )
        assign = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        inside = False
        for number, line in enumerate(self.text.splitlines(), start=1):
            if line.lstrip().startswith("["):
                inside = bool(header.match(line))
                continue
            if inside and assign.match(line):
                return number
        return None


def _default_options() -> ProjectOptions:
    from dashenv.settings.model import ProjectOptions

    return ProjectOptions()


def find_project_dir(start: Path) -> Path:
    """The nearest directory upward holding dashenv.toml or compose/."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "[tool.dashenv" in pyproject.read_text(errors="replace"):
            return candidate
        if (candidate / "compose").is_dir():
            if any((candidate / e["compose_files"][0]).is_file()
                   for e in BUILTIN_ENVIRONMENTS.values()):  # fmt: skip
                return candidate  # the seed's own layout: the built-in environments
            raise undetected(candidate)
        if candidate == start and any((candidate / n).is_file() for n in COMPOSE_DEFAULT_FILES):
            raise undetected(candidate)
    raise ConfigError(
        f"no dashenv project in {start} or any parent",
        hint="run inside a project (a directory with dashenv.toml or compose/) or pass -C DIR; "
        "'dashenv init --detect' adopts a project that has compose files",
    )


def undetected(root: Path) -> ConfigError:
    """A project with compose files but no dashenv.toml: detection, not built-in files that
    are not there."""
    return ConfigError(
        f"{root} has compose files but no {CONFIG_FILE}",
        hint="run 'dashenv init --detect' to adopt the project as it is laid out (it writes "
        f"{CONFIG_FILE}, each guess with its evidence)",
    )


def _load_toml(path: Path, shown: str) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{shown} is not valid TOML: {exc}",
            hint="check the quoting and brackets on that line",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown} is not UTF-8 text", hint="save it as UTF-8") from None


def load_project(root: Path) -> ProjectConfig:
    root = root.resolve()
    if not root.is_dir():
        raise ConfigError(f"project directory {root} does not exist", hint="check -C DIR")
    config_path = root / CONFIG_FILE
    prefix = ""
    data: dict[str, Any] = {}
    text = ""
    path: Path | None = None
    if config_path.is_file():
        path = config_path
        data, text = _load_toml(config_path, CONFIG_FILE)
    elif (root / "pyproject.toml").is_file():
        pyproject, ptext = _load_toml(root / "pyproject.toml", "pyproject.toml")
        tool = pyproject.get("tool", {}).get("dashenv")
        if isinstance(tool, dict):
            data, text, path, prefix = tool, ptext, root / "pyproject.toml", "tool.dashenv."
    project = ProjectConfig(root=root, path=path, table_prefix=prefix, text=text)
    envs = data.get("environments", {})
    if not isinstance(envs, dict) or not all(isinstance(v, dict) for v in envs.values()):
        raise ConfigError(
            f"{project.shown_path}: 'environments' must hold one table per environment",
            hint="write [environments.NAME] tables",
        )
    project.options = _project_options(
        project, {k: v for k, v in data.items() if k != "environments"}
    )
    project.environments = envs
    return project


def _project_options(project: ProjectConfig, values: dict[str, Any]) -> ProjectOptions:
    from pydantic import ValidationError

    from dashenv.settings.model import PROJECT_KEYS, ProjectOptions

    unknown = sorted(set(values) - set(PROJECT_KEYS))
    if unknown:
        raise ConfigError(
            f"{project.shown_path}: unknown key {unknown[0]!r}",
            hint=f"project-wide keys are {', '.join(sorted(PROJECT_KEYS))}; "
            "environment keys go under [environments.NAME]",
        )
    try:
        return ProjectOptions(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(part) for part in err["loc"]) or "?"
        raise ConfigError(
            f"{project.shown_path}: {key}: {err['msg']} (got {err.get('input')!r})",
            hint="fix the value in the project-wide keys at the top of the file",
        ) from None
