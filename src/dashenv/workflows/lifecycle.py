"""Environment lifecycle: up, down, restart, build, ps, logs, exec. Observe, plan, apply."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dashenv.adapters.host import say_on_stderr
from dashenv.errors import (
    ConfigError,
    DashenvError,
    ExitCode,
    HealthTimeout,
    OperationFailed,
)
from dashenv.guards import Consent, require_consent
from dashenv.plan.compose import (
    Endpoints,
    endpoints,
    role_services,
    started_services,
    unpublished_ports,
)
from dashenv.steps.targets import (
    Quiet,
    Reporter,
    containers_by_environment,
    env_by_project,
    environment_conflicts,
)
from dashenv.steps.targets import exec_in as exec_in  # the exec, shell and psql commands'

if TYPE_CHECKING:
    from dashenv.context import Environment, RunContext
    from dashenv.facts import ComposeModel, ComposeService, Container
    from dashenv.guards import Asker

POLL_SECONDS = 0.5


def ensure_env_file(t: Environment, say: Callable[[str], None]) -> Environment:
    """``up`` creates a missing env file from its example, as ``init`` would, and says so;
    the environment as it resolves from then on."""
    from dashenv.steps.envfiles import can_create, init_environment

    bare = t.bare
    source = t.layout.source
    if t.layout.generates_env_file and source is not None:  # generated from its source's
        origin_env = t.other(source)
        origin = origin_env.view(read_env=False, base=True)
        if not origin.path(origin.settings.env_file).exists() and can_create(origin):
            ensure_env_file(origin_env, say)  # renews ``t`` too: it is derived from it
            return t.renewed()
        return t
    if bare.path(bare.settings.env_file).exists():
        return t
    result = init_environment(bare)
    generated = f" (generated {', '.join(result.generated)})" if result.generated else ""
    say(f"Created {result.env_file} from {result.source}{generated}")
    return t.renewed()


def ensure_certs(ctx: RunContext, say: Callable[[str], None]) -> None:
    from dashenv.steps.certs import CERT_FILE, KEY_FILE
    from dashenv.steps.certs import ensure_certs as make

    directory = ctx.certs_dir()
    if (directory / CERT_FILE).is_file() and (directory / KEY_FILE).is_file():
        return  # kept as it is, unread (doctor checks its expiry)
    project = ctx.project()
    result = make(directory, list(project.options.host_names))
    if result.created:
        say(f"Created a self-signed certificate in {project.options.certs_dir}/")


def mounts_certs(ctx: RunContext, services: dict[str, ComposeService]) -> bool:
    """Whether the compose files bind-mount the certificate directory (the shipped layout
    does; an adopted project behind its own proxy has no use for dashenv's certificate)."""
    from pathlib import Path

    certs = ctx.certs_dir().resolve()
    return any(
        Path(b).resolve() == certs or Path(b).resolve().is_relative_to(certs)
        for svc in services.values()
        for b in svc.binds
    )


def _files_label(t: Environment) -> str:
    return t.docker.invocation.files_label if t.docker.invocation else ""


def running_foreign(t: Environment, containers: list[Container]) -> bool:
    """Containers of this project started from other compose files (an exclusive sibling)."""
    mine = [c for c in containers if c.project == t.project_name and c.state == "running"]
    return any(c.config_files and c.config_files != _files_label(t) for c in mine)


def stop_exclusive(t: Environment, containers: list[Container], say: Callable[[str], None]) -> bool:
    """Environments sharing this one's containers are stopped first (never their volumes)."""
    stopped = False
    for other in t.settings.exclusive_with:
        ot = t.other(other)
        theirs = [c for c in containers if c.project == ot.project_name and c.state == "running"]
        if ot.project_name == t.project_name:
            if not running_foreign(t, containers):
                continue
            theirs = [c for c in theirs if c.config_files == _files_label(ot)]
        if theirs:
            say(f"Stopping {other} first: {t.name} and {other} share containers (exclusive)")
            ot.docker.down(volumes=False)
            stopped = True
    return stopped


def check_conflicts(
    t: Environment, services: dict[str, ComposeService], containers: list[Container]
) -> None:
    conflicts = environment_conflicts(
        t.project_name, services, containers, env_by_project(t.ctx), t.docker.context
    )
    if conflicts:
        first, rest = conflicts[0], conflicts[1:]
        raise OperationFailed(
            f"cannot start {t.name}: {first.message}",
            hint=first.hint,
            details="\n".join(f"also: {c.message}" for c in rest) or None,
        )


def _note_missing_proxy(
    t: Environment, compose: ComposeModel, containers: list[Container], say: Callable[[str], None]
) -> None:
    """The files route the app through Traefik and no Traefik runs: say so (the stack starts
    all the same; only the route waits for the proxy)."""
    from dashenv.plan.compose_files import routes_through_proxy, running_proxies

    routed = routes_through_proxy(compose)
    if routed and not running_proxies(containers):
        say(
            f"note: {', '.join(routed)} route through Traefik and no Traefik container is "
            "running: start the proxy's stack for its routes to answer"
        )


def check_prerequisites(t: Environment, compose: ComposeModel) -> None:
    """External networks and volumes are checked before anything starts (exit 1)."""
    from dashenv.plan.compose import missing_prerequisites

    if not compose.external_networks and not compose.external_volumes:
        return
    missing = missing_prerequisites(*t.docker.missing_externals(compose))
    if missing:
        raise OperationFailed(
            f"cannot start {t.name}: {missing[0].message}",
            hint=missing[0].hint,
            details="\n".join(f"also: {m.message} ({m.hint})" for m in missing[1:]) or None,
        )


def _pull_missing(
    t: Environment, model: dict[str, ComposeService], starts: list[str], rep: Reporter
) -> None:
    """On a terminal, pull first, on its own, what 'docker compose up' would pull where only
    "waiting" would show: the images of the services this up starts that the engine lacks,
    Compose showing the layers and sizes as they come. Into a pipe there is nothing to show:
    up pulls them, as before. A pull that fails is left to up, which pulls again and says
    why in one line."""
    if not t.docker.shows_progress():
        return
    images = {n: model[n].image for n in starts if model[n].image and not model[n].has_build}
    missing = set(t.docker.missing_images(sorted({i for i in images.values() if i})))
    pulls = [n for n, image in images.items() if image in missing]
    if pulls:
        rep.close()  # Compose's own display stands below what was said
        rep.say(f"Pulling {', '.join(sorted(missing))} for {', '.join(pulls)}")
        with suppress(OperationFailed):
            t.docker.pull(pulls)


@dataclass
class UpResult:
    name: str
    endpoints: Endpoints
    containers: list[Container]
    elapsed: float
    database: str | None = None
    database_user: str | None = None
    redis_index: int = 0
    health_path: str = "/health"
    app_idle: bool = False  # the app serves no HTTP here (app_http = false)
    notes: list[str] = field(default_factory=list)
    # the environment as this up left it (its leases, its instance): what comes next uses it
    environment: Environment | None = field(default=None, repr=False, compare=False)


def up(
    t: Environment,
    services: list[str],
    *,
    build: bool = False,
    wait: bool = True,
    reporter: Reporter | None = None,
) -> UpResult:
    """Start ``t`` (its wait timeout is its ``up_timeout``: ``--wait-timeout`` is a flag of
    the environment the CLI resolves)."""
    from dashenv.steps.environment_lock import environment_lock
    from dashenv.steps.leases import claim

    rep = reporter or Quiet()
    started = time.monotonic()
    t = ensure_env_file(t, rep.say)
    t, _instance = claim(t, rep.say)  # owner, or an instance with its own names and ports
    # one command at a time on the environment: a second up started beside this one waits,
    # then finds it healthy and asks Compose nothing
    with environment_lock(t, f"up {t.name}", say=rep.say):
        return _up(t, services, build, wait, rep, started)


def _up(
    t: Environment, services: list[str], build: bool, wait: bool, rep: Reporter, started: float
) -> UpResult:
    name = t.name
    app = t.env.app  # a broken env file stops us before Docker does
    _ = t.env.redis_index  # and a bad Redis index too
    # the first engine calls, concurrently: the compose model and every container (an
    # unreachable engine fails them with exit 4, as a ping would)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # this project's containers inspected; the rest (names and ports they hold) listed
        listing = pool.submit(t.docker.every_container, frozenset({t.project_name}))
        compose = t.compose_model()
        containers = listing.result()
    model = compose.services
    check_prerequisites(t, compose)
    _note_missing_proxy(t, compose, containers, rep.say)
    unknown = [s for s in services if s not in model]
    enabling = _profiles_of(t, unknown) if unknown else None
    if enabling:  # as Compose does: naming a service enables its profile
        rep.say(f"{name}: enabling profile {', '.join(enabling)} for {', '.join(unknown)}")
        wider = t.ctx.environment(
            name, {**dict(t.extra), "profiles": ",".join([*t.settings.profiles, *enabling])}
        )
        return _up(wider, services, build, wait, rep, started)
    if unknown:
        raise ConfigError(
            f"{name} has no service {unknown[0]!r}",
            hint=f"services: {', '.join(model)}",
        )
    if stop_exclusive(t, containers, rep.say):
        containers = t.docker.every_container(frozenset({t.project_name}))
    # only what this up starts can conflict (dashenv up dev postgres needs no app port)
    starts = started_services(model, services)
    if t.settings.postgres_service in starts:  # 18+ refuses the old data path: say so first
        from dashenv.steps.pg_layout import refuse_old_data_path

        refuse_old_data_path(t, compose)
    check_conflicts(t, {k: v for k, v in model.items() if k in starts}, containers)
    if mounts_certs(t.ctx, model):
        ensure_certs(t.ctx, rep.say)

    expected = services or list(model)
    deadline = started + t.settings.up_timeout
    secrets = app.secrets()
    if not build and _nothing_to_start(t, starts, containers):
        mine = [c for c in containers if c.project == t.project_name]
        return _result(t, expected, mine, model, started)
    if build:  # first, on its own: its progress streams live on a terminal
        t.docker.build(services)
    _pull_missing(t, model, starts, rep)
    _repair_networks(t, compose, name, rep.say)
    starting = t.docker.start_up(services)
    try:
        while not starting.wait(POLL_SECONDS):
            _report(t, expected, rep, started)
            if wait and time.monotonic() >= deadline:
                starting.stop()
                now = t.docker.project_containers()
                ready = {c.service for c in now if c.project == t.project_name and c.ready}
                raise _health_failure(
                    t,
                    now,
                    {svc: "" for svc in expected if svc not in ready},
                    t.settings.up_timeout,
                    secrets,
                    timed_out=True,
                )
    except KeyboardInterrupt:
        starting.stop()
        raise
    starting.result()
    if wait:
        containers = wait_healthy(t, expected, deadline, rep, started, secrets)
    else:
        containers = t.docker.project_containers()
    from dashenv.observe.compose import record_hashes

    record_hashes(t.env, containers, starts)
    return _result(t, expected, containers, model, started)


def _profiles_of(t: Environment, services: list[str]) -> list[str] | None:
    """The profiles to enable so that every one of ``services`` exists, as the files declare
    them (one per service, not enabled yet); None where one is declared nowhere."""
    from dashenv.plan.compose_files import declared_profiles

    env = t.resolved
    declared = declared_profiles(list(env.compose_texts().values()))
    found: list[str] = []
    for service in services:
        profile = next(
            (p for p, named in sorted(declared.items())
             if service in named and p not in env.settings.profiles),
            None,
        )  # fmt: skip
        if profile is None:
            return None
        if profile not in found:
            found.append(profile)
    return found


def _repair_networks(
    t: Environment, compose: ComposeModel, name: str, say: Callable[[str], None]
) -> None:
    """Before Compose is asked: a network of the project's that exists twice (Compose would
    fail on it as ambiguous) loses its copies with no container attached; where two copies
    both have containers, refuse (exit 1) saying how to clear it."""
    from dashenv.plan.networks import stuck_hint

    found = t.network_repair(compose)
    if found.remove:
        t.docker.remove_networks([n.id for n in found.remove])
        names = ", ".join(sorted({n.name for n in found.remove}))
        say(f"{name}: removed {len(found.remove)} duplicate network(s) of {names}, none in use")
    if found.stuck:
        first, copies = next(iter(found.stuck.items()))
        raise OperationFailed(
            f"{name}: network {first} exists {len(copies)} times, each with containers "
            "attached; Compose cannot tell which to use",
            hint=stuck_hint(name, t.project_name, found.stuck),
        )


def _nothing_to_start(t: Environment, starts: list[str], containers: list[Container]) -> bool:
    """Whether every service the up would start runs, healthy, as Compose would start it
    now (``plan.compose.why_compose_up``): then Compose is not asked at all."""
    from dashenv.observe.compose import recorded_hashes
    from dashenv.plan.compose import why_compose_up

    recorded = recorded_hashes(t.env)
    mine = [c for c in containers if c.project == t.project_name and c.service in starts]
    images = t.docker.image_ids([c.image for c in mine if c.image]) if recorded else {}
    reason = why_compose_up(t.project_name, _files_label(t), starts, containers, recorded, images)
    if t.docker.verbose:  # -v says why Compose is asked, or that it is not
        said = reason or "nothing to do: every service runs as Compose would start it"
        sys.stderr.write(f"dashenv: docker compose up: {said}\n")
    return reason is None


def _result(
    t: Environment,
    expected: list[str],
    containers: list[Container],
    model: dict[str, ComposeService],
    started: float,
) -> UpResult:
    name, app, redis_index = t.name, t.env.app, t.env.redis_index
    problems = unpublished_ports(
        t.project_name, {k: v for k, v in model.items() if k in expected}, containers
    )
    if problems:
        raise OperationFailed(
            f"{name} started, but {problems[0]}",
            hint="another process may hold the port; run 'dashenv doctor " + name + "'",
            details="\n".join(problems[1:]) or None,
        )
    db = app.database()
    # only what runs now is listed ('up test postgres redis' has no app to point at)
    running = {c.service for c in containers if c.state == "running"}
    s = t.settings
    found = endpoints(s, redis_index, t.env.proxy_url)
    roles = role_services(s)
    found = replace(found, **{k: None for k, svc in roles.items() if svc not in running})
    return UpResult(
        name=name,
        endpoints=found,
        containers=containers,
        elapsed=time.monotonic() - started,
        database=db.database if db else None,
        database_user=db.user if db else None,
        redis_index=redis_index,
        health_path=t.settings.health_path,
        app_idle=not t.settings.app_http and t.settings.app_service in expected,
        environment=t,
    )


def _report(t: Environment, expected: list[str], rep: Reporter, started: float) -> None:
    with suppress(DashenvError):  # a passing failure to look is not a failure to start
        rep.progress(t.docker.project_containers(), expected, time.monotonic() - started)


def wait_healthy(
    t: Environment,
    expected: list[str],
    deadline: float,
    rep: Reporter,
    started: float,
    secrets: list[str],
) -> list[Container]:
    """Wait (until the monotonic ``deadline``) until every expected service is ready
    (``plan.readiness``): healthy by its healthcheck; where it has none, answering (the
    services whose role dashenv knows, probed by ``steps.readiness``) or still running,
    unrestarted, after a settle window. One that exits or restarts fails the wait at once."""
    from dashenv.plan.readiness import Readiness
    from dashenv.steps.readiness import probes

    timeout = deadline - started
    one_shot = (
        {n for n, svc in t.env.files.model.services.items() if svc.one_shot}
        if t.env.files
        else set()
    )
    probe = probes(t, expected)
    readiness = Readiness(t.project_name, expected, frozenset(one_shot), frozenset(probe))
    while True:
        containers = t.docker.project_containers()
        rep.progress(containers, expected, time.monotonic() - started)
        for svc in readiness.to_probe(containers):
            if probe[svc]():
                readiness.answered.add(svc)
        state = readiness.step(containers, time.monotonic())
        if state.done:
            return containers
        if state.failed or time.monotonic() >= deadline:
            bad = state.failed or dict.fromkeys(state.pending, "")
            raise _health_failure(t, containers, bad, timeout, secrets, timed_out=not state.failed)
        time.sleep(POLL_SECONDS)  # polling the engine and the probes, not waiting blind


def _health_failure(
    t: Environment,
    containers: list[Container],
    services: dict[str, str],
    timeout: float,
    secrets: list[str],
    *,
    timed_out: bool,
) -> DashenvError:
    """Why the wait ended: each service not ready with its state (or why it failed) and its
    last log lines; the hint fits the failure (a missing variable is named: waiting longer
    would not help)."""
    from dashenv.plan.readiness import failure_hint
    from dashenv.settings.secrets import scrub

    by_service = {c.service: c for c in containers if c.project == t.project_name}
    described, logs, hints = [], [], []
    for svc, why in services.items():
        c = by_service.get(svc)
        if c is not None and c.ready and not why:
            state = "running, not answering" if c.health is None else (c.health or c.state)
        else:
            state = why or ("not created" if c is None else (c.health or c.state))
        described.append(f"{svc} ({state})")
        tail = ""
        if c is not None:
            tail = scrub(t.docker.container_logs(c.name, tail=15), secrets).rstrip()
            if tail:
                logs.append(f"--- {svc} ({c.name}), last lines ---\n{tail}")
        if why:
            hints.append(failure_hint(t.name, svc, why, tail, t.settings.env_file))
    what = ", ".join(described)
    details = "\n".join(logs) or None
    if timed_out:
        hint = f"see 'dashenv logs {t.name}'; 'dashenv up {t.name} --wait-timeout S' waits longer"
        return HealthTimeout(
            f"{t.name} not healthy after {timeout:g}s: {what}", hint=hint, details=details
        )
    return HealthTimeout(
        f"{t.name} failed to become healthy: {what}", hint="; ".join(hints), details=details
    )


# --- down, restart, build, ps ------------------------------------------------


def down(t: Environment, *, volumes: bool, yes: bool, ask: Asker | None) -> list[str]:
    """Remove containers and networks; volumes only when asked (protected: confirmed). ``t``
    is lenient: a missing env file does not stop a teardown."""
    from dashenv.steps.environment_lock import environment_lock

    with environment_lock(t, f"down {t.name}", say=say_on_stderr):
        return _down(t, volumes=volumes, yes=yes, ask=ask)


def _down(t: Environment, *, volumes: bool, yes: bool, ask: Asker | None) -> list[str]:
    name = t.name
    notes = []
    if volumes:
        from dashenv.steps.ownership import require_own

        require_own(t, f"delete the volumes of {name}", volumes=True)
    if volumes and t.settings.protected:
        consent = Consent.standard(
            f"delete the volumes of protected environment {name}",
            f"{name} is protected: delete its volumes and all their data?",
            f"dashenv down {name} --volumes --yes",
            f"kept the volumes of {name}",
            kept_hint="nothing was removed",
        )
        require_consent(consent, yes=yes, ask=ask)
    t.docker.ping()
    t.docker.down(volumes=volumes)
    notes.append(f"{name} is down" + (" and its volumes are removed" if volumes else ""))
    if volumes:  # the instance is removed: its host ports go back to the pool
        from dashenv.steps.leases import release

        notes += release(t)[1]
    return notes


def restart(t: Environment, services: list[str], reporter: Reporter | None = None) -> None:
    from dashenv.steps.environment_lock import environment_lock

    rep = reporter or Quiet()
    t.docker.ping()
    with environment_lock(t, f"restart {t.name}", say=rep.say):
        started = time.monotonic()
        t.docker.restart(services)
        expected = services or list(t.compose_model().services)
        deadline = started + t.settings.up_timeout
        wait_healthy(t, expected, deadline, rep, started, t.env.app.secrets())


def build(t: Environment, services: list[str], no_cache: bool) -> None:
    from dashenv.steps.environment_lock import environment_lock

    t.docker.ping()
    with environment_lock(t, f"build {t.name}", say=say_on_stderr):
        t.docker.build(services, no_cache=no_cache)


def ps(ctx: RunContext, names: list[str]) -> dict[str, list[Container]]:
    from dashenv.steps.targets import compose_projects, list_engines

    listings, errors = list_engines(ctx, names, compose_projects(ctx, names))
    if errors:
        raise next(iter(errors.values()))
    return containers_by_environment(ctx, names, listings)


# --- commands on the user's terminal -----------------------------------------


def logs(
    t: Environment, services: list[str], follow: bool, tail: str | None, since: str | None
) -> int:
    """Stream the logs with service prefixes, secrets from the env file masked (``t`` is
    lenient: a missing env file hides nothing to mask)."""
    t.docker.ping()
    args = ["logs", "--no-color"]
    if follow:
        args.append("--follow")
    if tail is not None:
        args += ["--tail", tail]
    if since is not None:
        args += ["--since", since]
    secrets: list[str] = []
    if t.env.path(t.settings.env_file).is_file():
        secrets = t.env.app.secrets()
    code = t.docker.run_filtered(t.docker.compose_argv(*args, *services), secrets)
    return 0 if follow and code == ExitCode.INTERRUPTED else code
