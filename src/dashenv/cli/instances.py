"""Instances across checkouts: instances, gc."""

from typing import Annotated

import typer

from dashenv.cli.params import JsonOpt
from dashenv.cli.state import state


def register(app: typer.Typer) -> None:
    app.command("instances")(instances)
    app.command("gc")(gc)


def instances(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List every dashenv instance the engine runs, with its checkout and ports.

    Owners (the checkout that first started an environment keeps its default project) and
    named instances (other worktrees and clones), from Compose's and dashenv's labels and the
    machine-wide registry; a checkout that no longer exists is marked, for 'dashenv gc'.
    """
    from dashenv.render import console, print_json, table
    from dashenv.workflows.instances import list_instances

    rows = list_instances(state(ctx))
    if as_json:
        print_json({"instances": [r.as_dict() for r in rows]})
        return
    if not rows:
        typer.echo("no dashenv instances on this engine")
        return
    console().print(
        table(
            None,
            ["project", "environment", "instance", "checkout", "containers", "ports"],
            [
                [
                    r.project,
                    r.environment or "-",
                    r.instance or "(owner)",
                    (r.checkout or "?") + ("" if r.checkout_exists else "  (gone)"),
                    f"{r.running}/{r.containers} running",
                    ", ".join(map(str, r.ports)) or "-",
                ]
                for r in rows
            ],
        )
    )


def gc(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; remove nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
    include_protected: Annotated[
        bool,
        typer.Option(
            "--include-protected",
            help="Also remove the volumes of protected (or unknown) instances whose checkout "
            "is gone.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove what removed checkouts and killed runs left: instances, leases, databases.

    Instances whose checkout no longer exists (containers, networks, volumes), expired port
    leases, and in this checkout's running test environments the reset's scratch databases,
    stale templates and worker databases no run holds, and automatic snapshots beyond
    snapshot_keep. Each is listed with its size; gc asks first (--yes does not), and without
    a terminal it refuses unless --yes. An environment whose compose project another
    checkout started (same directory name) is left alone, and named on stderr.
    """
    from dashenv.cli.params import asker
    from dashenv.guards import Consent, require_consent
    from dashenv.render import size
    from dashenv.workflows.instances import collect

    found = collect(
        state(ctx),
        include_protected=include_protected,
        say=lambda line: typer.echo(line, err=True),
    )

    def document(removed: bool) -> None:
        from dashenv.render import change_document, print_json

        print_json(change_document(
            "gc", None, dry_run=dry_run, removed=removed,
            items=[{"kind": g.kind, "what": g.what, "size_bytes": g.size_bytes, "why": g.why,
                    "skipped": g.skipped} for g in found],
            total_bytes=sum(g.size_bytes or 0 for g in found),
        ))  # fmt: skip

    if not found or (dry_run and as_json):
        if as_json:
            document(False)
        else:
            typer.echo("nothing to collect")
        return
    total = 0
    for g in found:
        shown = size(g.size_bytes) if g.size_bytes is not None else "-"
        total += g.size_bytes or 0
        if as_json:  # the list is the document's; the question goes to stderr
            continue
        typer.echo(f"{g.kind:9} {g.what}  [{shown}]  {g.why}")
        if g.skipped:
            typer.echo(f"{'':9} {g.skipped}")
    if dry_run:
        typer.echo(f"dry run: {len(found)} to collect, {size(total)}; nothing removed")
        return
    consent = Consent(
        question=f"remove these {len(found)} ({size(total)})?",
        refused="gc removes the above and there is no terminal to confirm it",
        refused_hint="run 'dashenv gc --yes' to remove them, or --dry-run to list only",
        kept="nothing was removed",
        kept_hint="--dry-run lists them",
    )
    require_consent(consent, yes=yes, ask=asker())
    from dashenv.adapters import audit

    st = state(ctx)
    for g in found:
        g.remove()
        audit.record(st.audit_path(), environment=g.what.split(":")[0], action=f"gc {g.kind}",
                     target=g.what, guards=[], outcome="done", details={"why": g.why})  # fmt: skip
    if as_json:
        document(True)
        return
    typer.echo(f"collected {len(found)} ({size(total)})")
