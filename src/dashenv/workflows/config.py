"""Seeing the configuration: environments, resolved values with their sources, init."""

from __future__ import annotations

import os
import secrets as _secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashenv import SCHEMA_VERSION
from dashenv.context import RunContext
from dashenv.errors import ConfigError
from dashenv.settings.secrets import PLACEHOLDER, mask_value
from dashenv.settings.sources import ResolvedEnvironment


def environments_document(ctx: RunContext) -> dict[str, Any]:
    envs = []
    for name in ctx.environment_names():
        env, present = ctx.env_lenient(name)
        s = env.settings
        envs.append(
            {
                "name": name,
                "role": s.role,
                "protected": s.protected,
                "compose_files": s.compose_files,
                "env_file": s.env_file,
                "env_file_present": present,
                "project_name": s.project_name,
                "ports": s.published_ports(),
                "redis_index": env.redis_index,
                "redis_indexes": list(env.redis_indexes),
                "exclusive_with": s.exclusive_with,
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "project_dir": str(ctx.project().root),
        "environments": envs,
    }


def _origin_dict(origin: Any) -> dict[str, Any]:
    return {
        "layer": origin.layer,
        "key": origin.key,
        "path": origin.path,
        "line": origin.line,
        "source": origin.describe(),
    }


def config_document(env: ResolvedEnvironment, reveal: bool) -> dict[str, Any]:
    settings = {
        name: {"value": getattr(env.settings, name), **_origin_dict(env.provenance[name])}
        for name in type(env.settings).model_fields
    }
    # what the redis_index setting resolves to (REDIS_URL's index; a contradiction: exit 2)
    settings["redis_index"]["effective"] = env.redis_index
    app = env.app
    app_values: dict[str, Any] = {}
    dumped = app.settings.model_dump()
    for key in sorted(set(dumped) | set(app.entries)):
        value = dumped.get(key)
        if isinstance(value, str) and not reveal:
            value = mask_value(key, value)
        origin = app.provenance.get(key)
        app_values[key] = {
            "value": value,
            **(_origin_dict(origin) if origin else {"layer": "default", "source": "default"}),
        }
    files = env.files
    compose = (
        {
            "project_name_in_files": files.name_in_files,
            "passes_project_name": files.pass_project,
            "services": files.services,
            "proxy_url": files.proxy_url,
        }
        if files is not None
        else None
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": env.name,
        "project_dir": str(env.project.root),
        "masked": not reveal,
        "settings": settings,
        "compose": compose,
        "app": app_values,
    }


# --- init ------------------------------------------------------------------


@dataclass
class InitResult:
    environment: str
    env_file: str
    action: str  # created | updated | unchanged | no-example
    added: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


def _fill_placeholders(value: str, replacements: dict[str, str]) -> str:
    def sub(match: Any) -> str:
        token = match.group(0)
        if token not in replacements:
            replacements[token] = _secrets.token_urlsafe(24)
        return replacements[token]

    return PLACEHOLDER.sub(sub, value)


def init_environment(env: ResolvedEnvironment) -> InitResult:
    """Create or complete the env file from its example, generating secrets.

    Never overwrites a value that is set; a second run changes nothing.
    """
    from dashenv.settings.envfile import parse_env_text, read_env_file

    s = env.settings
    target, example = env.path(s.env_file), env.path(s.example_file)
    result = InitResult(env.name, s.env_file, "unchanged")
    if not example.is_file():
        if target.is_file():
            return result
        raise ConfigError(
            f"cannot create {s.env_file}: its example {s.example_file} does not exist",
            hint="commit an example env file, or set env_example in dashenv.toml",
        )
    example_text = example.read_text(encoding="utf-8")
    example_entries = parse_env_text(example_text, s.example_file)
    replacements: dict[str, str] = {}

    if not target.exists():
        lines = [
            line if line.lstrip().startswith("#") else _fill_placeholders(line, replacements)
            for line in example_text.splitlines()
        ]
        keys = [k for k, e in example_entries.items() if PLACEHOLDER.search(e.value)]
        _write_private(target, "\n".join(lines) + "\n")
        result.action, result.added = "created", list(example_entries)
        result.generated = keys
        return result

    current = read_env_file(target, s.env_file, env_name=env.name)
    # a placeholder the file already answered keeps that answer (a password inside a URL)
    for key, entry in example_entries.items():
        if PLACEHOLDER.fullmatch(entry.value) and key in current and current[key].value:
            replacements[entry.value] = current[key].value
    missing = [k for k in example_entries if k not in current]
    if not missing:
        return result
    text = target.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# added by dashenv init from " + s.example_file + "\n"
    for key in missing:
        value = example_entries[key].value
        filled = _fill_placeholders(value, replacements)
        if filled != value:
            result.generated.append(key)
        text += f"{key}={_quote(filled)}\n"
    _write_private(target, text)
    result.action, result.added = "updated", missing
    return result


def _quote(value: str) -> str:
    if not value or not any(c in value for c in " \t#'\"\\$"):
        return value
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".dashenv-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


@dataclass
class DetectResult:
    path: Path
    action: str  # "written", "kept"
    detection: Any = None  # dashenv.plan.detect.Detection


def project_files(root: Path, depth: int = 4) -> list[str]:
    """The project's files, relative, a few levels deep, skipping VCS, virtualenvs, caches."""
    from dashenv.plan.detect import SKIP_DIRS

    found = []
    for here, dirs, files in os.walk(root):
        rel = Path(here).relative_to(root)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and len(rel.parts) < depth)
        found += [str(rel / f) if rel.parts else f for f in files]
    return sorted(found)


def init_detect(root: Path, *, force: bool, verbose: bool = False) -> DetectResult:
    """Guess the project's environments from its files and write a commented dashenv.toml;
    an existing one is kept unless ``force``."""
    from dashenv.observe.compose import DEVNULL, ask_compose
    from dashenv.plan.compose import ComposeInvocation
    from dashenv.plan.detect import detect, find_environments, render_toml
    from dashenv.settings.project import CONFIG_FILE

    path = root / CONFIG_FILE
    if path.exists() and not force:
        return DetectResult(path, "kept")
    paths = project_files(root)
    models: dict[str, Any] = {}
    app_dirs: dict[str, str | None] = {}
    for env in find_environments(paths)[0]:
        env_file = root / env.env_file
        inv = ComposeInvocation(
            files=((root / env.compose_file).resolve(),),
            env_file=env_file if env_file.is_file() else DEVNULL,
            project_name=env.name,
            pass_project=False,
        )
        model = ask_compose(inv, verbose)
        models[env.name] = model
        app_dirs[env.name] = _app_dir(root, model)

    def read(rel: str) -> str:
        return (root / rel).read_text(errors="replace")

    detection = detect(paths, read, models, app_dirs)
    if not detection.environments:
        raise ConfigError(
            f"no environments found in {root}: no docker-compose.<env>.yml with an env file",
            hint="declare them in dashenv.toml by hand (see the README's settings)",
        )
    path.write_text(render_toml(detection))
    return DetectResult(path, "written", detection)


def _app_dir(root: Path, model: Any) -> str | None:
    """The build context of the service that plays the app, relative to the project."""
    from dashenv.plan.compose_files import DEFAULT_ROLES, detect_roles

    if model is None:
        return None
    app = detect_roles(model.services, DEFAULT_ROLES).get("app_service", "app")
    service = model.services.get(app)
    if service is None or not service.build_context:
        return None
    try:
        return str(Path(service.build_context).resolve().relative_to(root.resolve()))
    except ValueError:
        return None
