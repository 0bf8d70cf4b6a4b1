"""Copies of an environment's databases: which method the server copies with (the probe of
its data directory), the free-space check before a copy, and the copy with its progress.

The probe is one ``sh`` beside the PostgreSQL server (plan.copying.PROBE_SCRIPT): whether a
file cloned in the data directory shares its blocks, and the free space there; the server
runs it itself (``COPY ... FROM PROGRAM``) where the role may, else ``docker exec`` does. Its answer
about cloning is remembered per cluster and data directory (``.dashenv/cache/``), so the
reset's and the workers' copies ask it once per server; a snapshot or a restore, which copy
dev's whole database, run it each time for the free space.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from dashenv.errors import OperationFailed
from dashenv.plan.copying import PROBE_SCRIPT, CopyMethod, Probe, parse_probe, refusal

if TYPE_CHECKING:
    from pathlib import Path

    from dashenv.adapters.postgres import Postgres
    from dashenv.context import Environment
    from dashenv.settings.sources import ResolvedEnvironment

CACHE = "copy-methods.json"
CLONE_VERSION = 180000
# the reset's and workers' copies check the free space (a probe) from this size on; below
# it a copy is too small to fill a volume and too quick to be worth the probe
CHECK_FROM = 64 * 2**20


def _cache_file(env: ResolvedEnvironment) -> Path:
    return env.project.root / ".dashenv" / "cache" / CACHE


def _remembered(env: ResolvedEnvironment) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_cache_file(env).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(pg: Postgres) -> str | None:
    """What a probe's answer is remembered by: the server, its cluster and data directory."""
    key = pg.copy_facts().key
    return f"{pg.where}/{key}" if key else None


def _remember(env: ResolvedEnvironment, key: str, probe: Probe) -> None:
    data = _remembered(env)
    data[key] = {"clones": probe.clones, "detail": probe.detail}
    path = _cache_file(env)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass  # a read-only checkout probes again next time


def probe(t: Environment, pg: Postgres) -> Probe:
    """Run the probe in the environment's PostgreSQL container now."""
    return start_probe(t, pg).result()


class PendingProbe:
    """The probe, asked of the server itself where the role may (``COPY ... FROM PROGRAM``:
    a few milliseconds, on any engine, local or remote); else by ``docker exec`` in a
    thread of its own (most of a clone's time), started early so it runs while the command
    asks PostgreSQL the rest. The thread only runs docker; PostgreSQL stays with the
    caller's thread."""

    def __init__(self, t: Environment, pg: Postgres):
        import shlex
        import threading

        self.t = t
        self.directory = pg.copy_facts().data_directory or ""
        self._found: Probe | None = None
        self._thread: threading.Thread | None = None
        command = shlex.join(["sh", "-c", PROBE_SCRIPT, "dashenv-probe", self.directory])
        answer = pg.run_on_server(command) if self.directory else None
        if answer is not None:
            self._found = parse_probe(answer)
            return
        self._thread = threading.Thread(target=self._run, name="dashenv-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._found = docker_probe(self.t, self.directory)

    def result(self) -> Probe:
        if self._thread is not None:
            self._thread.join()
        assert self._found is not None
        return self._found

    def __enter__(self) -> PendingProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._thread.join()  # never left running after the command has answered


def docker_probe(t: Environment, directory: str) -> Probe:
    """The probe by ``docker exec`` in the environment's PostgreSQL container (a role that
    may not run programs on the server); never raises: what went wrong is its detail."""
    from dashenv.errors import DashenvError

    service = t.settings.postgres_service
    try:
        done = t.docker.exec_quick(service, ["sh", "-c", PROBE_SCRIPT, "dashenv-probe", directory])
    except DashenvError as exc:
        return Probe(None, f"could not probe its data directory: {exc.message}")
    except Exception as exc:  # a thread's end must be a Probe, whatever went wrong
        return Probe(None, f"could not probe its data directory: {exc}")
    if done is None:
        return Probe(None, f"no running container of {service} to probe")
    return parse_probe(done[1])


def start_probe(t: Environment, pg: Postgres) -> PendingProbe:
    """The probe, started now; use it as a context manager (its end waits for it)."""
    return PendingProbe(t, pg)


def learn(
    t: Environment,
    pg: Postgres,
    *,
    fresh: bool,
    pending: PendingProbe | None = None,
) -> Probe | None:
    """Tell ``pg`` whether its data directory clones files (``pg.clones``), from what is
    remembered of this cluster, else by the probe; ``fresh`` runs the probe now whatever is
    remembered (for the free space it reads too). Returns the probe when it ran."""
    env = t.env
    facts = pg.copy_facts()
    key = _key(pg)
    if not fresh:
        if facts.version_num < CLONE_VERSION:
            return None  # nothing to learn: only PostgreSQL 18 clones
        known = _remembered(env).get(key) if key else None
        if known is not None:
            clones = known.get("clones")
            pg.clones = clones if isinstance(clones, bool) else None
            return None
    found = pending.result() if pending is not None else probe(t, pg)
    pg.clones = found.clones
    if key and found.clones is not None:
        _remember(env, key, found)
    return found


def describe(
    env: ResolvedEnvironment,
    pg: Postgres,
    database: str,
    *,
    probe_in: Environment | None = None,
    size_bytes: int | None = None,
) -> dict[str, object]:
    """How copies of ``database`` go on this server, and why (status, db snapshots). With
    ``probe_in`` (``env``'s environment) the probe runs there where nothing is remembered;
    without it (status, which never execs) what is remembered is all it says."""
    facts = pg.copy_facts()
    found = learn(probe_in, pg, fresh=False) if probe_in is not None else None
    if probe_in is None and facts.version_num >= CLONE_VERSION:
        key = _key(pg)
        known = _remembered(env).get(key) if key else None
        clones = known.get("clones") if known else None
        pg.clones = clones if isinstance(clones, bool) else None
    method = pg.copy_method(database, size_bytes)
    detail: str | None = None
    if facts.version_num >= CLONE_VERSION:
        detail = found.detail if found is not None else _remembered_detail(env, pg)
        detail = detail or "not probed yet: the next snapshot, restore or reset probes it"
    return {"method": method.name, "why": method.why, "probe": detail}


def _remembered_detail(env: ResolvedEnvironment, pg: Postgres) -> str | None:
    key = _key(pg)
    known = _remembered(env).get(key) if key else None
    return str(known.get("detail")) if known else None


def copy(
    t: Environment,
    pg: Postgres,
    name: str,
    template: str,
    *,
    hold_template: bool = False,
    check_space: bool = False,
    say: Callable[[str], None] | None = None,
    announce: str | None = None,
    pending: PendingProbe | None = None,
) -> CopyMethod:
    """Copy ``template`` into a new database ``name`` by the best method the server has,
    refusing up front when its volume has not the room (``check_space``: always; else from
    CHECK_FROM on), with progress on a terminal when it takes more than a moment;
    ``announce`` is said once the copy is sure to start; ``pending``: the probe the caller
    started early (start_probe)."""
    from dashenv.plan.copying import size as shown_size

    env = t.env
    size = pg.database_size(template) or 0
    fresh = check_space or size >= CHECK_FROM or pending is not None
    found = learn(t, pg, fresh=fresh, pending=pending)
    method = pg.copy_method(template, size)
    if found is not None and found.free_bytes is not None:
        why = refusal(method, size, found.free_bytes)
        if why is not None:
            raise OperationFailed(
                f"{env.name}: {why}",
                hint=f"free space on {env.name}'s volume: 'dashenv gc' removes automatic "
                f"snapshots beyond snapshot_keep, 'dashenv db snapshots {env.name}' lists "
                "the others",
            )
    if say is not None and announce:
        say(announce)
    if say is not None and size >= CHECK_FROM:
        say(f"Copying {template} ({shown_size(size)}) by {method.name}: {method.why}")
    with t.ctx.progress(f"Copying {template} ({method.name})", size) as report:
        pg.create_database(
            name, template, hold_template=hold_template, method=method, progress=report
        )
    return method
