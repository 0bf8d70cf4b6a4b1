"""Output: Rich tables for people, versioned JSON documents for scripts.

It stands above the workflows, beside the CLI: it takes the results the workflows return
(their dataclasses, typed), and every JSON document a command prints is stamped here
(``document``). Workflows and steps never import it: they report through the ``Reporter``
protocol and the run context's ``progress``. Rich is imported here and only here, so
commands pay for it when they print.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.table import Table

from dashenv.plan.copying import size as size

if TYPE_CHECKING:
    from dashenv.documents import ConfigDocument, EnvironmentsDocument, StatusDocument
    from dashenv.facts import Container
    from dashenv.steps.snapshots import Snapshot
    from dashenv.workflows.doctor import Check
    from dashenv.workflows.lifecycle import UpResult
    from dashenv.workflows.reset import ResetResult
    from dashenv.workflows.testing import SetupResult

# a pipe or a log is never wrapped: a value is never split across lines (grep finds it)
UNWRAPPED_WIDTH = 100_000


def console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr). On a terminal tables fit its width; anywhere else
    nothing wraps, so every value stays whole on its line, whatever forces colour
    (FORCE_COLOR makes Rich treat a pipe as a terminal, 80 columns wide: the width comes
    from the stream itself being a terminal, not from Rich's guess)."""
    options: dict[str, Any] = {
        "stderr": stderr,
        "no_color": bool(os.environ.get("NO_COLOR")),
        "highlight": False,
    }
    stream = sys.stderr if stderr else sys.stdout
    try:
        on_terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        on_terminal = False
    if on_terminal:
        return Console(soft_wrap=False, **options)
    return Console(soft_wrap=True, width=UNWRAPPED_WIDTH, **options)


def document(body: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON document as a command prints it: versioned (``schema_version`` first), the
    body after. Every document dashenv prints is made here."""
    from dashenv import SCHEMA_VERSION

    return {"schema_version": SCHEMA_VERSION, **body}


def print_json(body: Mapping[str, Any]) -> None:
    """Print ``body`` as a versioned JSON document (``document``)."""
    sys.stdout.write(json.dumps(document(body), indent=2, default=str) + "\n")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return str(value)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False, pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*[_fmt(v) for v in row])
    return t


def environments(doc: EnvironmentsDocument) -> None:
    rows = [
        [
            e["name"],
            e["role"] + (" (protected)" if e["protected"] else ""),
            e["compose_files"],
            e["env_file"] + ("" if e["env_file_present"] else " (missing)"),
            e["project_name"],
            {svc: port for svc, port in e["ports"].items()} or "none published",
        ]
        for e in doc["environments"]
    ]
    console().print(
        table(None, ["environment", "role", "compose files", "env file", "project", "ports"], rows)
    )


def config(doc: ConfigDocument) -> None:
    out = console()
    rows = [[k, v["value"], v["source"]] for k, v in doc["settings"].items()]
    out.print(table(f"dashenv settings: {doc['environment']}", ["setting", "value", "from"], rows))
    compose = doc.get("compose")
    if compose:
        named = compose["project_name_in_files"]
        project = doc["settings"]["project_name"]["value"]
        if compose["passes_project_name"] and named and named != project:
            where = f"project {project} (passed with -p), beside the files' name: {named}"
        elif compose["passes_project_name"]:
            where = f"project {project} (passed with -p; the files name none)"
        else:
            where = f"project {project} (the files' name:, no -p)"
        route = f"; app route {compose['proxy_url']}" if compose["proxy_url"] else ""
        out.print(f"compose files: {where}; services {', '.join(compose['services'])}{route}")
    rows = [[k, v["value"], v["source"]] for k, v in doc["app"].items()]
    note = " (secrets masked; --reveal shows them)" if doc["masked"] else ""
    out.print(table(f"application settings{note}", ["key", "value", "from"], rows))


# --- lifecycle -------------------------------------------------------------------


def _ports(c: Container) -> str:
    return (
        ", ".join(
            f"{b.host_ip or '*'}:{b.host_port}->{b.container_port.split('/')[0]}" for b in c.ports
        )
        or "-"
    )


def health_cell(state: str, health: str | None) -> str:
    """A container's health as the tables show it: a running one without a healthcheck is
    never called healthy."""
    if health:
        return health
    return "no healthcheck" if state == "running" else "-"


def up_line(name: str, containers: list[Container], elapsed: float) -> str:
    """'dev is up: ...': how many are healthy, and how many run without a healthcheck
    (ready because they answered, or stayed up, as ``plan.readiness`` decides)."""
    plain = sum(1 for c in containers if c.state == "running" and c.health is None)
    if not plain:
        return f"{name} is up: {len(containers)} containers healthy in {elapsed:.1f}s"
    healthy = sum(1 for c in containers if c.health == "healthy")
    return f"{name} is up: {healthy} healthy, {plain} running (no healthcheck) in {elapsed:.1f}s"


def containers_table(
    title: str | None,
    containers: list[Container],
    expected: list[str] | None = None,
    elapsed: float | None = None,
) -> Table:
    rows = []
    seen = set()
    for c in sorted(containers, key=lambda c: (c.service or "", c.name)):
        seen.add(c.service)
        rows.append([c.service, c.name, c.state, health_cell(c.state, c.health), _ports(c)])
    for svc in expected or []:
        if svc not in seen:
            rows.append([svc, "-", "waiting", "-", "-"])
    suffix = f" ({elapsed:.0f}s)" if elapsed is not None else ""
    return table(
        f"{title}{suffix}" if title else None,
        ["service", "container", "state", "health", "ports"],
        rows,
    )


class LiveReporter:
    """Messages to stderr and a live table of container health while waiting."""

    def __init__(self, title: str):
        from rich.live import Live

        self.title = title
        self.err = console(stderr=True)
        self.live = Live(console=self.err, transient=False, auto_refresh=False)
        self.started = False

    def say(self, message: str) -> None:
        self.err.print(message)

    def progress(self, containers: list[Container], expected: list[str], elapsed: float) -> None:
        if not self.err.is_terminal:
            return
        if not self.started:
            self.live.start()
            self.started = True
        self.live.update(containers_table(self.title, containers, expected, elapsed), refresh=True)

    def close(self) -> None:
        if self.started:
            self.live.stop()
            self.started = False


@contextmanager
def live_progress(title: str) -> Iterator[LiveReporter]:
    """A live table of container health while waiting (on a terminal; elsewhere only the
    messages), closed however the block ends."""
    reporter = LiveReporter(title)
    try:
        yield reporter
    finally:
        reporter.close()


def up_summary(result: UpResult) -> None:
    out = console()
    e = result.endpoints
    rows = []
    if e.app:
        rows.append(["app", e.app, f"health: {e.app}{result.health_path}"])
    elif result.app_idle:
        rows.append(["app", "-", "serves no HTTP here (it idles for the tests)"])
    if e.callback:
        rows.append(["callback", e.callback, ""])
    if e.postgres:
        rows.append(
            ["postgres", e.postgres, f"database {result.database}, user {result.database_user}"]
        )
    if e.redis:
        rows.append(["redis", e.redis, f"index {result.redis_index}"])
    if not rows:
        rows.append(["-", "nothing published", f"use 'dashenv exec {result.name} SERVICE -- CMD'"])
    out.print(up_line(result.name, result.containers, result.elapsed))
    out.print(table(None, ["service", "endpoint", "notes"], rows))


def ps(groups: dict[str, list[Container]], others: dict[str, str]) -> None:
    """Each environment's containers; ``others``: those another checkout started (by
    Compose's working-directory label), named under their table."""
    out = console()
    for name, containers in groups.items():
        if containers:
            out.print(containers_table(name, containers))
        else:
            out.print(f"{name}: no containers")
        if name in others:
            out.print(f"{name}: these run from another checkout, {others[name]}", markup=False)


# --- reset and test setup ----------------------------------------------------------


def reset_result(result: ResetResult) -> None:
    out = console()
    if result.dry_run:
        out.print(f"Dry run: reset of {result.environment} ({result.database}); nothing executed.")
        out.print(
            table(
                "guards",
                ["guard", "verdict", "saw", "why"],
                [
                    [v.guard, "pass" if v.passed else "FAIL", v.saw, v.reason or "-"]
                    for v in result.verdicts
                ],
            )
        )
        verdict = "would run" if all(v.passed for v in result.verdicts) else "would be REFUSED"
        out.print(f"Plan ({verdict}):")
        for i, step in enumerate(result.plan.steps if result.plan else [], start=1):
            out.print(f"  {i}. {step}")
        return
    how = "cloned from template" if result.strategy == "template" else "migrated from scratch"
    built = " (template rebuilt)" if result.template_built else ""
    out.print(
        f"Reset {result.environment}: {result.database} {how}{built} in {result.seconds:.2f}s"
    )
    if result.flushed_keys is not None:
        indexes = ", ".join(str(i) for i in result.redis_indexes)
        out.print(f"Flushed Redis index {indexes} ({result.flushed_keys} keys)")
    out.print("Server settings: " + ", ".join(f"{k}={v}" for k, v in result.settings.items()))


def setup_result(result: SetupResult) -> None:
    up_summary(result.up)
    reset_result(result.reset)
    console().print("Test database initialized successfully")


# --- status ------------------------------------------------------------------------


@contextmanager
def copy_progress(what: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A line on stderr, on a terminal only, for a database copy that takes more than a
    moment: the bytes done of the total, the rate. Yields the callback the copy's watcher
    calls (from its own thread), or None where nothing would be shown (a pipe, -q)."""
    import time

    err = console(stderr=True)
    if not err.is_terminal:
        yield None
        return
    from rich.live import Live
    from rich.text import Text

    started = time.monotonic()
    live = Live(console=err, transient=True, auto_refresh=False)
    shown = False

    def report(done: int) -> None:
        nonlocal shown
        elapsed = time.monotonic() - started
        if elapsed < PROGRESS_AFTER:
            return
        if not shown:
            live.start()
            shown = True
        of = f" of {size(total)}" if total else ""
        rate = f", {size(int(done / elapsed))}/s" if elapsed > 0 else ""
        live.update(Text(f"{what}: {size(done)}{of}{rate}, {elapsed:.0f} s"), refresh=True)

    try:
        yield report
    finally:
        if shown:
            live.stop()


PROGRESS_AFTER = 1.0  # seconds: a copy quicker than this shows nothing


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def status_renderables(doc: StatusDocument) -> list[RenderableType]:
    from rich.text import Text

    parts: list[RenderableType] = []
    if not doc["engine"]["reachable"]:
        parts.append(Text(f"Docker engine unreachable: {doc['engine']['error']}"))
    for env in doc["environments"]:
        verdict = "healthy" if env["healthy"] else "; ".join(env["problems"])
        parts.append(
            Text(
                f"{env['name']} ({env['role']}, project {env['project']}): "
                f"{env['state']}, {verdict}"
            )
        )
        if env["state"] == "down":
            continue
        rows = [
            [
                c["service"],
                c["name"],
                c["state"],
                health_cell(c["state"], c["health"]),
                ", ".join(
                    f"{p['host_ip']}:{p['host_port']}->{p['container_port'].split('/')[0]}"
                    for p in c["ports"]
                )
                or "-",
                _uptime(c["uptime_seconds"]),
            ]
            for c in env["containers"]["list"]
        ]
        parts.append(table(None, ["service", "container", "state", "health", "ports", "up"], rows))
        pg = env.get("postgres")
        if pg is not None:
            if not pg["reachable"]:
                parts.append(Text(f"  PostgreSQL {pg['endpoint']}: unreachable ({pg['error']})"))
            else:
                stamp = (pg.get("stamp") or {}).get("environment", "none")
                mig = pg.get("migrations") or {}
                state = mig.get("state", "unknown")
                if state == "behind":
                    state += f" ({', '.join(mig.get('pending') or [])} pending)"
                elif state == "ahead":
                    state += f" (at {', '.join(mig.get('unknown_revisions') or [])}, not here)"
                elif state == "latest":
                    state += f" ({', '.join(mig.get('heads') or [])})"
                flags = ", ".join(f"{k}={v}" for k, v in (pg.get("settings") or {}).items())
                parts.append(
                    Text(
                        f"  PostgreSQL {pg['version']} at {pg['endpoint']}: "
                        f"database {pg['database']}, stamp {stamp}, "
                        f"migrations {state}; {flags}"
                    )
                )
                parts.append(
                    table(
                        None,
                        ["database", "owner", "size", "connections"],
                        [
                            [d["name"], d["owner"], size(d["size_bytes"]), d["connections"]]
                            for d in pg["databases"]
                        ],
                    )
                )
                if pg.get("copy_method"):
                    parts.append(Text("  " + copy_method_line(pg["copy_method"])))
                if pg.get("snapshots"):
                    snaps = pg["snapshots"]
                    parts.append(
                        Text(
                            f"  snapshots: {', '.join(s['name'] for s in snaps)} "
                            f"({size(sum(s['size_bytes'] for s in snaps))})"
                        )
                    )
                if pg.get("worker_databases"):
                    parts.append(
                        Text(
                            "  worker databases (a parallel run's, or orphans of a killed "
                            f"one): {', '.join(pg['worker_databases'])}"
                        )
                    )
                if pg.get("tables"):
                    parts.append(
                        table(
                            None,
                            ["table", "rows (estimate)"],
                            [[f"{t['schema']}.{t['name']}", t["rows"]] for t in pg["tables"]],
                        )
                    )
        rd = env.get("redis")
        if rd is not None:
            if rd["reachable"]:
                parts.append(
                    Text(
                        f"  Redis {rd['version']} at {rd['endpoint']}: index "
                        f"{rd['index']}, {rd['keys']} keys, {rd['used_memory']} used"
                        + (
                            f"; further indexes {', '.join(map(str, rd['indexes'][1:]))}"
                            if len(rd.get("indexes") or []) > 1
                            else ""
                        )
                    )
                )
            else:
                parts.append(Text(f"  Redis {rd['endpoint']}: unreachable ({rd['error']})"))
        app = env.get("app")
        if app is not None:
            answer = app["error"] or f"HTTP {app['status']} {app['body']}"
            parts.append(Text(f"  App {app['url']}: {answer}"))
        if env.get("app_runs") == "host":
            parts.append(Text(f"  App runs on the host: dashenv run {env['name']} -- CMD"))
    return parts


def status(doc: StatusDocument) -> None:
    out = console()
    for part in status_renderables(doc):
        out.print(part)


def copy_method_line(copying: dict[str, Any]) -> str:
    probe = f" (probe: {copying['probe']})" if copying.get("probe") else ""
    return f"copies by {copying['method']}: {copying['why']}{probe}"


def snapshots(environment: str, found: list[Snapshot], copying: dict[str, Any]) -> None:
    out = console()
    if not found:
        out.print(
            f"{environment}: no snapshots ('dashenv db snapshot {environment} NAME' takes one)"
        )
        out.print(copy_method_line(copying))
        return
    rows = [
        [
            s.name + (" (auto)" if s.auto else ""),
            s.taken_at,
            size(s.size_bytes),
            ", ".join(s.revision or []) or "-",
            s.git_branch or "-",
            s.git_commit or "-",
        ]
        for s in found
    ]
    out.print(table(None, ["snapshot", "taken", "size", "revision", "branch", "commit"], rows))
    total = sum(s.size_bytes for s in found)
    out.print(
        f"{len(found)} snapshots of {environment}, {size(total)} in all; they live on its volume"
    )
    out.print(copy_method_line(copying))


def doctor(checks: list[Check]) -> None:
    out = console()
    marks = {"pass": "pass", "warn": "WARN", "fail": "FAIL"}
    rows = [[marks[c.level], c.environment or "-", c.name, c.detail, c.fix or "-"] for c in checks]
    out.print(table(None, ["", "env", "check", "detail", "fix"], rows))
    fails = sum(c.level == "fail" for c in checks)
    warns = sum(c.level == "warn" for c in checks)
    out.print(f"{len(checks)} checks: {fails} failed, {warns} warnings")


# --- the JSON documents of the commands that change things (--json) -----------------------
# Each is versioned (schema_version) and has its JSON Schema in docs/ (command.schema.json),
# which the tests validate them against.


def _containers_doc(containers: list[Container]) -> list[dict[str, Any]]:
    return [
        {
            "service": c.service,
            "name": c.name,
            "state": c.state,
            "health": c.health,
            "ports": [
                {"host_ip": p.host_ip, "host_port": p.host_port, "container_port": p.container_port}
                for p in c.ports
            ],
        }
        for c in containers
    ]


def up_document(result: UpResult) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "command": "up",
        "environment": result.name,
        "elapsed_seconds": round(result.elapsed, 3),
        "containers": _containers_doc(result.containers),
        "endpoints": asdict(result.endpoints),
        "database": result.database,
        "redis_index": result.redis_index,
        "notes": list(result.notes),
    }


def reset_document(result: ResetResult) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "command": "db reset",
        "environment": result.environment,
        "database": result.database,
        "dry_run": result.dry_run,
        "strategy": result.strategy,
        "template": result.template,
        "template_built": result.template_built,
        "copied_by": result.copied_by,
        "flushed_keys": result.flushed_keys,
        "redis_indexes": list(result.redis_indexes),
        "seconds": round(result.seconds, 3),
        "guards": [asdict(v) for v in result.verdicts],
    }


def setup_document(result: SetupResult) -> dict[str, Any]:
    return {
        "command": "test setup",
        "environment": result.up.name,
        "up": up_document(result.up),
        "reset": reset_document(result.reset),
    }


def change_document(command: str, environment: str | None, **facts: Any) -> dict[str, Any]:
    """A command's document of what it did: ``down``, ``db snapshot``, ``db restore``."""
    return {"command": command, "environment": environment, **facts}
