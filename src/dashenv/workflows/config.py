"""Seeing the configuration: environments, resolved values with their sources, init."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.context import RunContext
from dashenv.errors import ConfigError
from dashenv.settings.secrets import mask_value
from dashenv.settings.sources import ResolvedEnvironment
from dashenv.steps.envfiles import init_environment as init_environment  # dashenv init's

if TYPE_CHECKING:
    from dashenv.documents import (
        ComposePart,
        ConfigDocument,
        EnvironmentRow,
        EnvironmentsDocument,
        Value,
    )
    from dashenv.settings.layers import Origin


def environments_document(ctx: RunContext) -> EnvironmentsDocument:
    envs: list[EnvironmentRow] = []
    for e in ctx.environments(lenient=True):
        name, env, present = e.name, e.resolved, e.has_env_file
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
        "project_dir": str(ctx.project().root),
        "environments": envs,
    }


def _value(value: Any, origin: Origin | None) -> Value:
    if origin is None:
        return {"value": value, "layer": "default", "source": "default"}
    return {
        "value": value,
        "layer": origin.layer,
        "key": origin.key,
        "path": origin.path,
        "line": origin.line,
        "source": origin.describe(),
    }


def config_document(env: ResolvedEnvironment, reveal: bool) -> ConfigDocument:
    settings = {
        name: _value(getattr(env.settings, name), env.provenance[name])
        for name in type(env.settings).model_fields
    }
    # what the redis_index setting resolves to (REDIS_URL's index; a contradiction: exit 2)
    settings["redis_index"]["effective"] = env.redis_index
    app = env.app
    app_values: dict[str, Value] = {}
    dumped = app.settings.model_dump()
    for key in sorted(set(dumped) | set(app.entries)):
        value = dumped.get(key)
        if isinstance(value, str) and not reveal:
            value = mask_value(key, value)
        app_values[key] = _value(value, app.provenance.get(key))
    files = env.files
    compose: ComposePart | None = (
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
        "environment": env.name,
        "project_dir": str(env.project.root),
        "masked": not reveal,
        "settings": settings,
        "compose": compose,
        "app": app_values,
    }


# --- init ------------------------------------------------------------------


@dataclass
class DetectResult:
    path: Path
    action: str  # "written", "kept"
    detection: Any = None  # dashenv.plan.detect.Detection


def project_files(root: Path, depth: int = 6) -> list[str]:
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
    from dashenv.plan.compose_files import declared_profiles
    from dashenv.plan.detect import detect, find_environments, render_toml
    from dashenv.settings.project import CONFIG_FILE

    path = root / CONFIG_FILE
    if path.exists() and not force:
        return DetectResult(path, "kept")
    paths = project_files(root)
    models: dict[str, Any] = {}
    app_dirs: dict[str, str | None] = {}

    def read(rel: str) -> str:
        try:
            return (root / rel).read_text(errors="replace")
        except OSError:
            return ""

    for env in find_environments(paths, read)[0]:
        if env.derived_from is not None:
            continue
        env_file = root / (env.env_file or os.devnull)
        # every profile the files declare: the model holds every service, each with its own
        # (detection proposes those the app needs)
        declared = declared_profiles([read(f) for f in env.compose_files])
        inv = ComposeInvocation(
            files=tuple((root / f).resolve() for f in env.compose_files),
            env_file=env_file if env_file.is_file() else DEVNULL,
            project_name=env.name,
            profiles=tuple(sorted(declared)),
            pass_project=False,
        )
        model = ask_compose(inv, verbose)
        models[env.name] = model
        app_dirs[env.name] = _app_dir(root, model)

    detection = detect(paths, read, models, app_dirs)
    if not detection.environments:
        raise ConfigError(
            f"no environments found in {root}: no compose.yaml, docker-compose.yml or "
            "docker-compose.<env>.yml",
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
