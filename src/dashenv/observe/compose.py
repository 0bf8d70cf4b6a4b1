"""The compose files' layer: ``docker compose config`` asked once, its reduced model cached
under ``.dashenv/cache/`` by everything it depends on (the files, the env file, the
interpolation variables), and the settings reconciled with it (``dashenv.plan.compose_files``).

An unchanged project costs no Compose call: the cache answers. Where Compose cannot be asked
(no Docker CLI, files Compose rejects), the settings stay as the layers gave them and the
command that needs Compose reports Compose's own error.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.errors import ConfigError, DashenvError

if TYPE_CHECKING:
    from dashenv.adapters.docker import Docker
    from dashenv.facts import ComposeModel, Container
    from dashenv.plan.compose import ComposeInvocation, UpRecord
    from dashenv.settings.sources import ResolvedEnvironment

DEVNULL = Path(os.devnull)


def cache_path(root: Path, name: str) -> Path:
    return root / ".dashenv" / "cache" / f"compose-{name}.json"


def with_compose_files(env: ResolvedEnvironment, *, verbose: bool = False) -> ResolvedEnvironment:
    """``env`` with what its compose files say applied (a ConfigError where an explicit
    setting contradicts them)."""
    from dashenv.plan.compose import compose_invocation
    from dashenv.plan.compose_files import (
        cache_key,
        declared_name,
        reconcile,
        referenced_variables,
    )
    from dashenv.settings.layers import Origin
    from dashenv.settings.sources import FilesView

    s = env.settings
    files = [env.path(f) for f in s.compose_files]
    if not all(
        f.is_file() or rel in env.generated for f, rel in zip(files, s.compose_files, strict=True)
    ):
        return env  # named by the command that needs them (require_compose_files)
    texts = [
        env.generated[rel] if rel in env.generated else f.read_text(errors="replace")
        for f, rel in zip(files, s.compose_files, strict=True)
    ]
    explicit = {k: o.describe() for k, o in env.provenance.items() if o.layer != "default"}
    written_name = declared_name(texts)
    files_name = written_name is not None and "project_name" not in explicit
    inv = compose_invocation(s, env.project.root, env.name, None, pass_project=not files_name)
    generated_env = env.generated.get(s.env_file)
    if generated_env is None and not inv.env_file.is_file():
        # init before the env file exists; teardown without one
        inv = replace(
            inv, env_file=DEVNULL, variables={**inv.variables, "DASHENV_ENV_FILE": str(DEVNULL)}
        )
    env_text = (
        generated_env
        if generated_env is not None
        else inv.env_file.read_text(errors="replace")
        if inv.env_file != DEVNULL
        else None
    )
    direct = cache_key(
        texts, env_text, inv.variables, os.environ, not files_name, s.profiles, direct=True
    )
    entries = _entries(env.project.root, env.name)  # read once for this command
    hit = _cached_direct(entries, direct)
    if hit is not None:  # the files, and those they pull in, unchanged: no YAML parsed
        key, model, pulled_paths = hit
        cached = True
        if s.profiles:
            _check_profiles(env, texts + _texts_of(pulled_paths))
    else:
        pulled = _pulled_in(files, texts)
        if s.profiles:
            _check_profiles(env, texts + [p.split("\0", 1)[1] for p in pulled if "\0" in p])
        key = cache_key(
            texts + pulled, env_text, inv.variables, os.environ, not files_name, s.profiles
        )
        kept, cached = _cached(entries, key), True
        if kept is None:
            cached = False
            kept = ask_compose(inv, verbose, generated=_absolute(env, env.generated))
            if kept is None:
                return env
        model = kept
        pulled_paths = [p.split("\0", 1)[0] for p in pulled]
        used = sorted(set(referenced_variables(texts + pulled)) - set(inv.variables))
        _store(env.project.root, env.name, entries, key, model, direct, pulled_paths, used)
    shown = ", ".join(s.compose_files)
    rec = reconcile(
        s,
        explicit,
        model,
        shown,
        files_name_project=files_name,
        postgres_images=tuple(env.project.options.postgres_images),
    )
    provenance = dict(env.provenance)
    for k, reason in rec.reasons.items():
        provenance[k] = Origin("compose files", k, path=reason)
    view = FilesView(
        model=model,
        services=rec.services,
        pass_project=not files_name,
        name_in_files=model.name if files_name else written_name,
        proxy_url=rec.proxy_url,
        cached=cached,
        database_url=_database_url(model, rec.updates.get("postgres_service", s.postgres_service)),
        key=key,
    )
    return replace(
        env, settings=s.model_copy(update=rec.updates), provenance=provenance, files=view
    )


def _database_url(model: ComposeModel, service_name: str) -> tuple[str, str] | None:
    """The URL of the database the PostgreSQL service creates, from its environment."""
    from dashenv.plan.derive import account_of, account_url

    service = model.services.get(service_name)
    if service is None:
        return None
    url = account_url(account_of(service), service.name)
    return url, f"{service.name}'s environment in the compose files"


def _absolute(env: ResolvedEnvironment, generated: dict[str, str]) -> dict[Path, str]:
    return {env.path(rel): text for rel, text in generated.items()}


def ask_compose(
    inv: ComposeInvocation, verbose: bool = False, *, generated: dict[Path, str] | None = None
) -> ComposeModel | None:
    """The model Compose resolves; where it cannot interpolate (an env file the services
    name does not exist yet), the files as written; None where Compose cannot read them.
    ``generated`` files (path -> text) are shown to Compose from a private scratch directory:
    asking writes nothing into the project."""
    import tempfile

    from dashenv.adapters.docker import Docker

    with tempfile.TemporaryDirectory(prefix="dashenv-compose-") as scratch:
        if generated:
            swapped = []
            for i, path in enumerate(inv.files):
                if path in generated:
                    stand_in = Path(scratch) / f"{i}-{path.name}"
                    stand_in.write_text(generated[path])
                    path = stand_in
                swapped.append(path)
            inv = replace(inv, files=tuple(swapped))
            if inv.env_file in generated:
                stand_in = Path(scratch) / "env"
                stand_in.write_text(generated[inv.env_file])
                inv = replace(inv, env_file=stand_in)
        docker = Docker(inv, verbose=verbose)
        for interpolate in (True, False):
            try:
                model = docker.compose_model(interpolate=interpolate)
            except DashenvError:
                continue
            return _with_local_majors(docker, model)
    return None


def _with_local_majors(docker: Docker, model: ComposeModel) -> ComposeModel:
    """The model with the PostgreSQL major of each PostgreSQL image whose tag names none
    (a project's own ``<org>/<app>-postgres:1.2``), from the local image's environment:
    the engine is asked only for those, and not at all where it has no such image."""
    from dashenv.plan.compose_files import is_postgres_image, postgres_image
    from dashenv.plan.derive import image_major, postgres_major

    for service in model.services.values():
        image = postgres_image(service) or service.image
        if not image or not is_postgres_image(image) or postgres_major(image) is not None:
            continue
        try:
            service.pg_major = image_major(docker.image_env(image) or {})
        except DashenvError:
            continue
    return model


def hashes_path(root: Path, name: str) -> Path:
    return root / ".dashenv" / "cache" / f"up-{name}.json"


def recorded_hashes(env: ResolvedEnvironment) -> UpRecord | None:
    """The configuration hashes Compose gave ``env``'s containers at its last up of this
    very configuration (the files' key), and their restart counts then, by service; None
    when there is none on record."""
    from dashenv.plan.compose import UpRecord

    if env.files is None or not env.files.key:
        return None
    try:
        data = json.loads(hashes_path(env.project.root, env.name).read_text())
        if data.get("key") != env.files.key:
            return None
        hashes, restarts = data["hashes"], data.get("restarts") or {}
        return UpRecord(
            {str(k): str(v) for k, v in hashes.items()},
            {str(k): int(v) for k, v in restarts.items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def record_hashes(
    env: ResolvedEnvironment, containers: list[Container], services: list[str]
) -> None:
    """After an up that Compose did of ``services``: the hashes it gave them and how often
    each had restarted (added to those of earlier ups of the same configuration), for the
    next up to compare."""
    if env.files is None or not env.files.key:
        return
    before = recorded_hashes(env)
    hashes, restarts = (before.hashes, before.restarts) if before else ({}, {})
    for c in containers:
        if c.project == env.settings.project_name and c.service in services and c.config_hash:
            hashes[c.service] = c.config_hash
            restarts[c.service] = c.restart_count
    path = hashes_path(env.project.root, env.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        data = {"key": env.files.key, "hashes": hashes, "restarts": restarts}
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    except OSError:
        pass  # a read-only checkout: every up goes through Compose


def _check_profiles(env: ResolvedEnvironment, texts: list[str]) -> None:
    """A profile the settings enable that no service declares is a configuration error
    (exit 2), named with the layer that set it and the profiles that exist."""
    from dashenv.plan.compose_files import declared_profiles

    declared = declared_profiles(texts)
    unknown = [p for p in env.settings.profiles if p not in declared]
    if unknown:
        origin = env.provenance.get("profiles")
        where = f" (set in {origin.describe()})" if origin is not None else ""
        shown = ", ".join(sorted(declared)) or "none"
        raise ConfigError(
            f"{env.name}: no service declares the profile {unknown[0]!r}{where}",
            hint=f"the profiles {', '.join(env.settings.compose_files)} declare: {shown}",
        )


def _pulled_in(files: list[Path], texts: list[str]) -> list[str]:
    """The files the compose files pull in (include:, extends:, services' env_file:), each
    as its path and text (or that it is missing), followed through the included files."""
    from dashenv.plan.compose_files import referenced_files

    seen: set[Path] = set()
    out: list[str] = []
    todo = list(zip(files, texts, strict=True))
    while todo and len(seen) < 200:
        where, text = todo.pop()
        for rel in referenced_files(text):
            path = (where.parent / rel).resolve()
            if path in seen:
                continue
            seen.add(path)
            try:
                pulled = path.read_text(errors="replace")
            except OSError:
                out.append(f"{path}\0missing")
                continue
            out.append(f"{path}\0{pulled}")
            if path.suffix in (".yml", ".yaml"):  # an included or extended compose file
                todo.append((path, pulled))
    return sorted(out)


KEPT = 4  # models kept per environment: its views (as owned, as this checkout's instance;
# with and without its env file) each have their own files or variables, and would otherwise
# push each other out on every command


def _entries(root: Path, name: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(cache_path(root, name).read_text())
        entries = data.get("entries") if isinstance(data, dict) else None
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    except (OSError, ValueError):
        return []


def _cached(entries: list[dict[str, Any]], key: str) -> ComposeModel | None:
    from dashenv.plan.compose_files import model_from_json

    for entry in entries:
        if entry.get("key") == key:
            try:
                return model_from_json(entry["model"])
            except (KeyError, TypeError, ValueError):
                return None
    return None


def _stamp(path: str) -> list[int] | None:
    """What tells a file changed without reading it: its inode, size and modification time
    (None: missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _settled(stamp: list[int] | None) -> list[int] | str | None:
    """A stamp to keep: a file changed in the last two seconds could change again within
    its clock's resolution, size unchanged, unseen; its stamp is kept as one that matches
    nothing (the next command parses, and keeps a settled stamp)."""
    import time

    if stamp is not None and time.time_ns() - stamp[2] < 2_000_000_000:
        return "recent"
    return stamp


def _cached_direct(
    entries: list[dict[str, Any]], direct: str
) -> tuple[str, ComposeModel, list[str]] | None:
    """The model kept for these very files (``direct``: their texts, the env file and the
    variables) where every file they pulled in is as it was then, and the process
    environment gives the variables they name the same values: its key, the model and the
    files pulled in. Nothing is parsed: the files pulled in are only looked at (``_stamp``)."""
    from dashenv.plan.compose_files import model_from_json

    for data in entries:
        if data.get("direct") != direct:
            continue
        try:
            pulled = {str(p): s for p, s in data["pulled"].items()}
            if any(_stamp(p) != s for p, s in pulled.items()):
                return None
            if any(os.environ.get(k) != v for k, v in data["used"].items()):
                return None
            return str(data["key"]), model_from_json(data["model"]), list(pulled)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
    return None


def _texts_of(paths: list[str]) -> list[str]:
    texts = []
    for path in paths:
        try:
            texts.append(Path(path).read_text(errors="replace"))
        except OSError:
            continue
    return texts


def _store(
    root: Path,
    name: str,
    entries: list[dict[str, Any]],
    key: str,
    model: ComposeModel,
    direct: str | None = None,
    pulled: list[str] | None = None,
    used: list[str] | None = None,
) -> None:
    from dashenv.plan.compose_files import model_to_json

    path = cache_path(root, name)
    record = {
        "key": key,
        "model": model_to_json(model),
        "direct": direct,
        "pulled": {p: _settled(_stamp(p)) for p in pulled or []},
        "used": {k: os.environ.get(k) for k in used or []},
    }
    others = [e for e in entries if e.get("key") != key and e.get("direct") != direct]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"entries": [record, *others][:KEPT]}))
        tmp.replace(path)
    except OSError:
        pass  # a read-only checkout: no cache, Compose is asked each run
