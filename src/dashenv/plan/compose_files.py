"""The compose files say what they say: dashenv's settings reconciled with the resolved compose
model (``docker compose config``). Pure: the model comes in as facts.

The files are the truth for the project name (their ``name:``), the services, the ports they
publish and the proxy routes their labels declare. dashenv's settings add only what the files
cannot say (which service plays app, database, cache and callback; protection; commands).
A built-in default never overrides the files; a value set explicitly that dashenv cannot apply
(a port the files hard-code differently) is a configuration error naming both places.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from dashenv.errors import ConfigError
from dashenv.facts import ComposeModel, ComposeService, Container

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dashenv.settings.model import EnvironmentSettings

# 5: services carry environment, mounts, command, networks, profiles, one_shot; 6: no expose;
# 7: pinned subnets and addresses, the image a service builds FROM
CACHE_VERSION = 8

# images made from the official PostgreSQL image, with its entrypoint contract (POSTGRES_*
# variables, /docker-entrypoint-initdb.d, the postgres command): by name, or a project's own
# (<org>/<app>-postgres); dashenv.toml's postgres_images adds more
POSTGRES_IMAGES = ("postgres", "postgresql", "postgis", "pgvector", "timescaledb", "timescaledb-ha")
# role setting -> image names that play it, when the setting is left at its default (the
# database's are matched by ``is_postgres_image``, a build by what it builds FROM)
ROLE_IMAGES = {
    "postgres_service": POSTGRES_IMAGES,
    "redis_service": ("redis", "valkey", "redis-stack-server"),
}
# words naming a tool around PostgreSQL, not PostgreSQL (postgres-exporter, pgadmin...)
_NOT_POSTGRES = ("exporter", "admin", "backup", "bouncer", "pgpool", "operator", "migrat",
                 "dump", "cli", "client", "proxy", "ui")  # fmt: skip
# port setting -> (its role's service setting, the container port it publishes, if known)
PORT_ROLES = {
    "app_port": ("app_service", None),
    "callback_port": ("callback_service", None),
    "postgres_port": ("postgres_service", 5432),
    "redis_port": ("redis_service", 6379),
}
ROLE_SETTINGS = ("app_service", "callback_service", "postgres_service", "redis_service")
DEFAULT_ROLES = {r: r.removesuffix("_service") for r in ROLE_SETTINGS}  # the settings' defaults

_NAME = re.compile(r"^name:[ \t]*[\"']?([^\"'#\s]+)", re.MULTILINE)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def declared_name(texts: list[str]) -> str | None:
    """The project ``name:`` the compose files give, as written (the last file's wins)."""
    found = None
    for text in texts:
        m = _NAME.search(text)
        if m:
            found = m.group(1)
    return found


def referenced_variables(texts: list[str]) -> list[str]:
    """The variables the files interpolate (what of the process environment they depend on)."""
    return sorted({m for t in texts for m in _VARIABLE.findall(t)})


def _load(text: str) -> dict[str, Any] | None:
    """A compose file's document, parsed by PyYAML's C loader where libyaml is installed;
    None where it is not a mapping or not YAML (Compose itself says what is wrong)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(text, Loader=loader)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None


def _paths(value: Any, found: list[str]) -> None:
    """A path, a list of them, or {path: ..., required: ...}, as Compose reads them."""
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, list):
        for item in value:
            _paths(item, found)
    elif isinstance(value, dict) and "path" in value:
        _paths(value["path"], found)


def _services(doc: dict[str, Any]) -> list[dict[str, Any]]:
    services = doc.get("services")
    if not isinstance(services, dict):
        return []
    return [svc for svc in services.values() if isinstance(svc, dict)]


def env_files_named(text: str) -> list[str]:
    """The env files a compose file's services name (``env_file:``: one path, a list, or
    ``{path:, required:}`` items), as written, each once."""
    if "env_file" not in text:
        return []
    doc = _load(text)
    found: list[str] = []
    for service in _services(doc) if doc is not None else []:
        _paths(service.get("env_file"), found)
    return list(dict.fromkeys(found))


_REFERENCE = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def env_template(texts: dict[str, str], env_file: str) -> tuple[str, list[str]]:
    """An env file made from what the compose files reference, for a project that has none
    and no example: each variable they interpolate (``${VAR}``, ``${VAR:-default}``,
    ``${VAR:?message}``) with its default, and the variables the official PostgreSQL image
    requires of a service that reads ``env_file`` without setting them (POSTGRES_PASSWORD);
    a secret-looking variable with no default gets ``change-me``, which init turns into a
    generated secret. Each line under a comment saying where it came from. (text, keys)."""
    from dashenv.settings.secrets import is_secret_key

    found: dict[str, tuple[str, str]] = {}  # key -> (value, where)
    for name, text in texts.items():
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        for m in _REFERENCE.finditer(body):
            key = m.group(1) or m.group(4)
            if not key or key in found:
                continue
            op, default = m.group(2) or "", m.group(3) or ""
            value = default if op in (":-", "-") else ""
            where = f"${{{key}}} in {name}" + (f" (default {default})" if value else "")
            if not value and is_secret_key(key):
                value = "change-me"
            found[key] = (value, where)
        doc = _load(text)
        for service_name, service in (doc.get("services") or {}).items() if doc else []:
            if not isinstance(service, dict):
                continue
            named: list[str] = []
            _paths(service.get("env_file"), named)
            reads = any(PurePosixPath(n).name == PurePosixPath(env_file).name for n in named)
            environment = service.get("environment") or {}
            if isinstance(environment, list):
                environment = dict(str(e).partition("=")[::2] for e in environment)
            if not reads or not official_contract(str(service.get("image") or "")):
                continue
            if "POSTGRES_PASSWORD" in environment or "POSTGRES_HOST_AUTH_METHOD" in environment:
                continue
            found.setdefault(
                "POSTGRES_PASSWORD",
                ("change-me", f"{service_name} in {name}: the official image requires it"),
            )
    lines = [
        "# Written by dashenv init from what the compose files reference (there was no",
        "# example): check each value; secrets are generated.",
    ]
    for key, (value, where) in found.items():
        if not value:
            where += ": no default in the files, set it"
        lines += [f"# {where}", f"{key}={value}"]
    return "\n".join(lines) + "\n", list(found)


def declared_profiles(texts: list[str]) -> dict[str, list[str]]:
    """The profiles the compose files declare: profile -> the services behind it."""
    found: dict[str, list[str]] = {}
    for text in texts:
        if "profiles" not in text:
            continue
        doc = _load(text)
        for name, service in ((doc or {}).get("services") or {}).items():
            if isinstance(service, dict):
                for profile in service.get("profiles") or []:
                    found.setdefault(str(profile), []).append(str(name))
    return found


def referenced_files(text: str) -> list[str]:
    """The files a compose file pulls in, as it writes them (relative to its own directory):
    ``include:`` entries and their env files, services' ``extends: file:`` and
    ``env_file:``. What Compose resolves from them belongs in the model's cache key."""
    if not any(word in text for word in ("include", "extends", "env_file", "build")):
        return []  # most files: no YAML parse
    doc = _load(text)
    if doc is None:
        return []
    found: list[str] = []
    for entry in doc.get("include") or []:
        if isinstance(entry, dict):
            _paths(entry.get("path"), found)
            _paths(entry.get("env_file"), found)
        else:
            _paths(entry, found)
    for service in _services(doc):
        build = service.get("build")  # its Dockerfile: the image it builds FROM
        if isinstance(build, str) and "://" not in build:
            found.append(f"{build.rstrip('/')}/Dockerfile")
        elif isinstance(build, dict) and not build.get("dockerfile_inline"):
            context = build.get("context") or "."
            dockerfile = build.get("dockerfile") or "Dockerfile"
            if isinstance(context, str) and "://" not in context and isinstance(dockerfile, str):
                found.append(dockerfile if dockerfile.startswith("/")
                             else f"{context.rstrip('/')}/{dockerfile}")  # fmt: skip
        extends = service.get("extends")
        if isinstance(extends, dict) and isinstance(extends.get("file"), str):
            found.append(extends["file"])
        _paths(service.get("env_file"), found)
    return found


def cache_key(
    texts: list[str],
    env_text: str | None,
    variables: Mapping[str, str],
    environ: Mapping[str, str],
    pass_project: bool,
    profiles: list[str],
    *,
    direct: bool = False,
) -> str:
    """What the resolved model depends on: the files (with what they pull in), the env file,
    dashenv's interpolation variables and the process environment's values of the variables
    the files name, and Compose's own (``COMPOSE_*``).

    ``direct``: what is at hand without parsing: the compose files' texts (not yet what they
    pull in), the env file, dashenv's variables and Compose's own; with the files pulled in
    unchanged (and the variables they name), the same full key follows."""
    values: dict[str, str | None] = {k: v for k, v in environ.items() if k.startswith("COMPOSE_")}
    if not direct:
        values.update(
            {k: environ.get(k) for k in referenced_variables(texts) if k not in variables}
        )
    parts = [CACHE_VERSION, texts, env_text, sorted(variables.items()), sorted(values.items())]
    blob = json.dumps([*parts, pass_project, profiles], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def model_to_json(model: ComposeModel) -> dict[str, Any]:
    return asdict(model)


def model_from_json(data: dict[str, Any]) -> ComposeModel:
    services = {}
    for name, svc in data["services"].items():
        svc = dict(svc)
        svc["ports"] = [tuple(p) for p in svc.get("ports", [])]
        svc["mounts"] = [tuple(m) for m in svc.get("mounts", [])]
        services[name] = ComposeService(**svc)
    return ComposeModel(
        services,
        list(data.get("external_networks", [])),
        list(data.get("external_volumes", [])),
        name=data.get("name"),
        interpolated=bool(data.get("interpolated", True)),
        fixed_networks=dict(data.get("fixed_networks", {})),
        fixed_volumes=dict(data.get("fixed_volumes", {})),
        external_network_keys=list(data.get("external_network_keys", [])),
        pinned_subnets=list(data.get("pinned_subnets", [])),
    )


def image_name(image: str | None) -> str:
    """``docker.io/library/postgres:17-alpine`` -> ``postgres``."""
    if not image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.split("@", 1)[0].split(":", 1)[0].lower()


def is_postgres_image(image: str | None, known: tuple[str, ...] = ()) -> bool:
    """Whether an image is PostgreSQL with the official image's contract: a known name
    (``postgres``, ``postgis/postgis``, ``pgvector/pgvector``, ``timescale/timescaledb``...),
    one of ``known`` (dashenv.toml's postgres_images, matched as written or by the name
    without its tag), or a project's own image named after it (``acme/shop-postgres``)."""
    if not image:
        return False
    if image in known or split_image(image)[0] in known:
        return True
    name = image_name(image)
    if name in POSTGRES_IMAGES:
        return True
    words = re.split(r"[-_.]", name)
    return any(w in POSTGRES_IMAGES for w in words) and not any(
        bad in w for w in words for bad in _NOT_POSTGRES
    )


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/org/postgres:18@sha256:...`` -> (``registry:5000/org/postgres``, ``18``)."""
    image = image.partition("@")[0]
    head, _, last = image.rpartition("/")
    name, _, tag = last.partition(":")
    return (f"{head}/{name}" if head else name), tag


def official_contract(image: str | None, known: tuple[str, ...] = ()) -> bool:
    """A PostgreSQL image that keeps the official image's entrypoint contract: not
    Bitnami's (``bitnami/postgresql``: POSTGRESQL_* variables, its own data path)."""
    return (
        is_postgres_image(image, known)
        and "bitnami" not in (image or "")
        and image_name(image) != "postgresql"
    )


def postgres_image(service: ComposeService, known: tuple[str, ...] = ()) -> str | None:
    """The PostgreSQL image a service runs: its image where that is one, else the image its
    Dockerfile builds FROM where that is one (``FROM postgres:16`` plus extensions)."""
    if is_postgres_image(service.image, known):
        return service.image
    if service.has_build and is_postgres_image(service.base_image, known):
        return service.base_image
    return None


def dockerfile_base(text: str) -> str | None:
    """The image a Dockerfile's final stage builds FROM (global ARG defaults substituted,
    an earlier stage followed to its own base); None where it names none."""
    args: dict[str, str] = {}
    stages: dict[str, str] = {}
    base = None
    for line in re.sub(r"\\\n", " ", text).splitlines():
        arg = re.match(r"(?i)^\s*ARG\s+(\w+)(?:=(\S*))?", line)
        if arg and base is None:
            args[arg.group(1)] = (arg.group(2) or "").strip("\"'")
            continue
        m = re.match(r"(?i)^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line)
        if not m:
            continue

        def value(v: re.Match[str]) -> str:
            return args.get(v.group(1) or v.group(3), v.group(2) or "")

        image = re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)", value, m.group(1))
        image = stages.get(image.lower(), image)
        if m.group(2):
            stages[m.group(2).lower()] = image
        base = image
    return base


def detect_roles(
    services: dict[str, ComposeService], current: dict[str, str], known: tuple[str, ...] = ()
) -> dict[str, str]:
    """The service playing each role, for roles whose default name the files do not use:
    the database and cache by their image, the app as the service that is built (an
    ``api``, ``app``, ``web`` or ``backend`` name preferred). Among several PostgreSQL
    services, the app's (``app_database``). Roles found stay unchanged."""
    found: dict[str, str] = {}
    playing = {role: candidates(services, role, known) for role in ROLE_IMAGES}
    for role, match in playing.items():
        if current[role] not in services and len(match) == 1:
            found[role] = match[0]
    taken = {n for match in playing.values() for n in match} | {current[r] for r in ROLE_IMAGES}
    if current["app_service"] not in services:
        built = [n for n, s in services.items() if s.has_build and n not in taken]
        preferred = [n for n in built if any(w in n for w in ("api", "app", "web", "backend"))]
        if len(preferred) == 1 or len(built) == 1:
            found["app_service"] = (preferred or built)[0]
    app = found.get("app_service", current["app_service"])
    for role, match in playing.items():
        if role not in found and current[role] not in services and len(match) > 1:
            chosen, _why = app_database(services, app, match)
            if chosen is not None:
                found[role] = chosen
    return found


def candidates(
    services: dict[str, ComposeService], role: str, known: tuple[str, ...] = ()
) -> list[str]:
    """The services that could play ``role`` (a database or cache role), by image."""
    return [n for n, s in services.items() if plays(role, s, known)]


def plays(role: str, service: ComposeService, known: tuple[str, ...] = ()) -> bool:
    """Whether a service's image (or, for PostgreSQL, what it builds FROM) plays ``role``."""
    if role == "postgres_service":
        return postgres_image(service, known) is not None
    return image_name(service.image).startswith(ROLE_IMAGES[role])


def app_database(
    services: dict[str, ComposeService], app: str | None, candidates: list[str]
) -> tuple[str | None, str]:
    """Among several database services (the app's, a workflow engine's, an analytics one),
    the app's: the one the app-side services (the app, and what the files build) depend on
    and whose host their variables name. (chosen, or None where none stands out; why)."""
    users = [n for n, s in services.items() if n not in candidates and (n == app or s.has_build)]
    score = dict.fromkeys(candidates, 0)
    reasons: dict[str, list[str]] = {c: [] for c in candidates}
    for c in candidates:
        svc = services[c]
        names = {c, *([svc.container_name] if svc.container_name else [])}
        for u in users:
            user = services[u]
            if c in user.depends_on:
                score[c] += 1
                reasons[c].append(f"{u} depends on it")
            named = sorted(k for k, v in user.environment.items() if _names_host(v, names))
            if named:
                score[c] += 2
                reasons[c].append(f"{u}'s {named[0]} names it")
    best = max(score.values(), default=0)
    top = [c for c in candidates if score[c] == best]
    shown = ", ".join(candidates)
    if best == 0 or len(top) != 1:
        return None, f"{len(candidates)} database services ({shown}); none is clearly the app's"
    others = ", ".join(c for c in candidates if c != top[0])
    return top[0], f"the app's: {'; '.join(reasons[top[0]])} (not the app's: {others})"


def _names_host(value: str, names: set[str]) -> bool:
    """A variable's value names one of ``names`` as its host (a URL's, or the bare name)."""
    from urllib.parse import urlsplit

    if value in names:
        return True
    if "://" not in value:
        return False
    try:
        return urlsplit(value).hostname in names
    except ValueError:
        return False


def published_port(service: ComposeService, target: int | None) -> int | None:
    """The host port ``service`` publishes for ``target`` (its first, when not known)."""
    for _, published, container in service.ports:
        if target is None or container == target:
            return published
    return None


def proxy_url(service: ComposeService) -> str | None:
    """Where a reverse proxy (Traefik router labels) serves ``service``: the first router's
    ``Host(...)``, over https when the router has TLS or a secure-sounding entrypoint."""
    routers: dict[str, dict[str, str]] = {}
    for key, value in service.labels.items():
        parts = key.split(".")
        if len(parts) >= 5 and parts[:3] == ["traefik", "http", "routers"]:
            routers.setdefault(parts[3], {})[".".join(parts[4:])] = value
    for options in routers.values():
        host = re.search(r"Host\(\s*[`\"']([^`\"']+)[`\"']", options.get("rule", ""))
        if host is None:
            continue
        entry = options.get("entrypoints", "").lower()
        secure = (
            options.get("tls", "").lower() == "true"
            or "tls.certresolver" in options
            or any(word in entry for word in ("websecure", "https", "443"))
        )
        return f"{'https' if secure else 'http'}://{host.group(1)}"
    return None


def routes_through_proxy(model: ComposeModel) -> list[str]:
    """The services the files route through Traefik (its labels)."""
    return [
        name
        for name, s in model.services.items()
        if any(k.startswith("traefik.http.routers.") for k in s.labels)
        or s.labels.get("traefik.enable", "").lower() == "true"
    ]


def running_proxies(containers: list[Container]) -> list[str]:
    """The running containers that carry Traefik's name or image."""
    return [
        c.name for c in containers
        if c.state == "running" and "traefik" in f"{c.name} {c.image}".lower()
    ]  # fmt: skip


@dataclass
class Reconciled:
    """What the files change in the settings, and why (shown by ``config show``)."""

    updates: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    services: list[str] = field(default_factory=list)  # the services the files declare
    proxy_url: str | None = None  # the app's URL through a reverse proxy, if routed so


def reconcile(
    settings: EnvironmentSettings,
    explicit: Mapping[str, str],
    model: ComposeModel,
    files: str,
    *,
    files_name_project: bool,
    postgres_images: tuple[str, ...] = (),
) -> Reconciled:
    """The settings the files decide. ``explicit`` maps the keys set in a layer above the
    built-in defaults to where (for the error naming both places); ``files_name_project``:
    the files declare ``name:`` and no layer set ``project_name``, so Compose's name holds."""
    out = Reconciled(services=list(model.services))
    if not model.interpolated:
        # Compose could not interpolate the files (a value it rejects, an env file not made
        # yet): only what holds as written, the services and their roles
        files_name_project = files_name_project and "$" not in (model.name or "$")
    if files_name_project and model.name and model.name != settings.project_name:
        out.updates["project_name"] = model.name
        out.reasons["project_name"] = f"name: in {files}"
    current = {r: getattr(settings, r) for r in ROLE_SETTINGS}
    for role, detected in detect_roles(model.services, current, postgres_images).items():
        if role not in explicit:
            out.updates[role] = detected
            out.reasons[role] = f"{files}: service {detected} ({role.removesuffix('_service')})"
            current[role] = detected
    for port_key, (role, target) in PORT_ROLES.items():
        if not model.interpolated:
            break
        service = model.services.get(current[role])
        file_port = published_port(service, target) if service is not None else None
        mine = getattr(settings, port_key)
        if file_port == mine:
            continue
        if port_key in explicit and file_port is not None:
            raise ConfigError(
                f"{port_key} is {mine} ({explicit[port_key]}), but {files} publishes "
                f"{current[role]} on {file_port}: dashenv cannot change a port the files "
                "hard-code",
                hint=f"drop {explicit[port_key]} to use the files' port, or "
                f"publish ${{{_port_variable(port_key)}:-{file_port}}} in the file",
            )
        out.updates[port_key] = file_port
        out.reasons[port_key] = (
            f"{files}: {current[role]} publishes {file_port}"
            if file_port is not None
            else f"{files}: {current[role]} publishes no port"
            if service is not None
            else f"{files}: no {current[role]} service"
        ) + (f"; {explicit[port_key]} has nothing to apply to" if port_key in explicit else "")
    app = model.services.get(current["app_service"])
    if app is not None:
        out.proxy_url = proxy_url(app)
    return out


def _port_variable(port_key: str) -> str:
    from dashenv.plan.compose import PORT_VARIABLES

    return PORT_VARIABLES[port_key]
