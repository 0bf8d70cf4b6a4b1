"""Whole outputs, sqlite-utils style: each command's output from its workflow's result
object, compared whole. The workflow is replaced by the result it would return, so no engine,
PostgreSQL or Redis is needed; what is tested is everything the user sees of that result."""

from __future__ import annotations

import pytest

from dashenv.facts import Container
from dashenv.guards import Verdict
from dashenv.plan.compose import Endpoints
from dashenv.plan.names import ResetNames
from dashenv.plan.reset import ResetPlan
from tests.cli.conftest import Run
from tests.conftest import REPO


def container(service: str) -> Container:
    return Container(
        f"id-{service}", f"dashtam-dev-{service}", "dashtam-dev", service, "running", "healthy"
    )


def test_up(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashenv.workflows import lifecycle

    result = lifecycle.UpResult(
        name="dev",
        endpoints=Endpoints(
            "https://localhost:8000",
            "https://localhost:8182",
            "127.0.0.1:5432",
            "redis://127.0.0.1:6379/0",
        ),
        containers=[container(s) for s in ("app", "callback", "postgres", "redis")],
        elapsed=12.34,
        database="dashtam",
        database_user="dashtam_user",
        redis_index=0,
    )
    monkeypatch.setattr(lifecycle, "up", lambda *a, **k: result)
    out = run("up", "dev")
    assert out.exit_code == 0, out.output
    assert out.stdout == UP


UP = """\
dev is up: 4 containers healthy in 12.3s
┏━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃service  ┃ endpoint                 ┃ notes                                ┃
┡━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│app      │ https://localhost:8000   │ health: https://localhost:8000/health│
│callback │ https://localhost:8182   │                                      │
│postgres │ 127.0.0.1:5432           │ database dashtam, user dashtam_user  │
│redis    │ redis://127.0.0.1:6379/0 │ index 0                              │
└─────────┴──────────────────────────┴──────────────────────────────────────┘
"""


def test_db_reset_dry_run(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashenv.workflows import reset

    names = ResetNames("dashtam_test", "0123456789abcdef")
    plan = ResetPlan(
        "test",
        names,
        "template",
        True,
        ("dashtam_test__new_1",),
        (
            "take the reset lock .dashenv/locks/reset-test.lock",
            "drop leftovers of earlier resets and stale templates: dashtam_test__new_1",
            f"reuse template {names.template} (migrations unchanged)",
        ),
    )
    verdicts = [
        Verdict("environment role", True, "role=testing, protected=False, ENVIRONMENT=testing"),
        Verdict("database name", True, "database=dashtam_test"),
        Verdict("stamp", True, "stamped for test"),
    ]
    result = reset.ResetResult(
        "test",
        "dashtam_test",
        "template",
        names.template,
        False,
        None,
        {},
        0.05,
        verdicts,
        True,
        plan,
        (1,),
    )
    monkeypatch.setattr(reset, "reset", lambda *a, **k: result)
    out = run("db", "reset", "test", "--dry-run")
    assert out.exit_code == 0, out.output
    assert out.stdout == RESET


RESET = """\
Dry run: reset of test (dashtam_test); nothing executed.
guards
┏━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━┓
┃guard            ┃ verdict ┃ saw                                                ┃ why┃
┡━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━┩
│environment role │ pass    │ role=testing, protected=False, ENVIRONMENT=testing │ -  │
│database name    │ pass    │ database=dashtam_test                              │ -  │
│stamp            │ pass    │ stamped for test                                   │ -  │
└─────────────────┴─────────┴────────────────────────────────────────────────────┴────┘
Plan (would run):
  1. take the reset lock .dashenv/locks/reset-test.lock
  2. drop leftovers of earlier resets and stale templates: dashtam_test__new_1
  3. reuse template dashtam_test__tpl_0123456789ab (migrations unchanged)
"""


def test_instances(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashenv.workflows import instances

    rows = [
        instances.InstanceRow(
            "dashtam-dev", "dev", "", "/src/dashtam", True, 4, 4, [5432, 6379, 8000, 8182], True
        ),
        instances.InstanceRow(
            "dashtam-test-feat", "test", "feat", "/src/feat", False, 4, 2, [20000, 20001]
        ),
    ]
    monkeypatch.setattr(instances, "list_instances", lambda *a, **k: rows)
    out = run("instances")
    assert out.exit_code == 0, out.output
    assert out.stdout == INSTANCES


INSTANCES = """\
┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┓
┃project           ┃ environment ┃ instance ┃ checkout          ┃ containers  ┃ ports                 ┃
┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━┩
│dashtam-dev       │ dev         │ (owner)  │ /src/dashtam      │ 4/4 running │ 5432, 6379, 8000, 8182│
│dashtam-test-feat │ test        │ feat     │ /src/feat  (gone) │ 2/4 running │ 20000, 20001          │
└──────────────────┴─────────────┴──────────┴───────────────────┴─────────────┴───────────────────────┘
"""


def test_gc_dry_run(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashenv.workflows import instances

    found = [
        instances.Garbage("instance", "dashtam-test-feat", None, "its checkout /src/feat is gone"),
        instances.Garbage(
            "database",
            "dashtam_test__new_9",
            8_000_000,
            "a reset's scratch database, left by one that did not end",
        ),
        instances.Garbage(
            "instance",
            "dashtam-dev-old",
            None,
            "its checkout /src/old is gone",
            skipped="its volumes stay: protected (--include-protected removes them)",
        ),
    ]
    monkeypatch.setattr(instances, "collect", lambda *a, **k: found)
    out = run("gc", "--dry-run")
    assert out.exit_code == 0, out.output
    assert out.stdout == GC


GC = """\
instance  dashtam-test-feat  [-]  its checkout /src/feat is gone
database  dashtam_test__new_9  [8.0 MB]  a reset's scratch database, left by one that did not end
instance  dashtam-dev-old  [-]  its checkout /src/old is gone
          its volumes stay: protected (--include-protected removes them)
dry run: 3 to collect, 8.0 MB; nothing removed
"""


def test_status(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """From a document captured of a real dev (``dashenv status dev --json``)."""
    import json

    import jsonschema

    from dashenv.workflows import status

    doc = json.loads((REPO / "tests" / "fixtures" / "status-dev.json").read_text())
    jsonschema.validate(doc, json.loads((REPO / "docs" / "status.schema.json").read_text()))
    monkeypatch.setattr(status, "status", lambda *a, **k: (doc, None))
    out = run("status", "dev")
    assert out.exit_code == 0, out.output
    __import__("pathlib").Path("/tmp/cap-STATUS").write_text(out.stdout)
    assert out.stdout == STATUS


STATUS = """\
dev (development, project dashtam-dev): up, healthy
┏━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━┓
┃service  ┃ container            ┃ state   ┃ health  ┃ ports                ┃ up   ┃
┡━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━┩
│app      │ dashtam-dev-app      │ running │ healthy │ 127.0.0.1:8000->8000 │ 0m02s│
│callback │ dashtam-dev-callback │ running │ healthy │ 127.0.0.1:8182->8182 │ 0m02s│
│postgres │ dashtam-dev-postgres │ running │ healthy │ 127.0.0.1:5432->5432 │ 0m05s│
│redis    │ dashtam-dev-redis    │ running │ healthy │ 127.0.0.1:6379->6379 │ 0m05s│
└─────────┴──────────────────────┴─────────┴─────────┴──────────────────────┴──────┘
  PostgreSQL 17.12 (Debian 17.12-0+deb13u1) at 127.0.0.1:5432: database dashtam, stamp dev, migrations latest (0003); fsync=on, full_page_writes=on, synchronous_commit=on
┏━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━┓
┃database ┃ owner        ┃ size   ┃ connections┃
┡━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━┩
│dashtam  │ dashtam_user │ 8.0 MB │ 1          │
│postgres │ dashtam_user │ 7.8 MB │ 1          │
└─────────┴──────────────┴────────┴────────────┘
┏━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┓
┃table                   ┃ rows (estimate)┃
┡━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━┩
│dashenv.metadata        │ 2              │
│public.alembic_version  │ 1              │
│public.provider_catalog │ 3              │
│public.providers        │ 0              │
│public.users            │ 0              │
└────────────────────────┴────────────────┘
  Redis 8.0.2 at 127.0.0.1:6379: index 0, 0 keys, 789.38K used
  App https://localhost:8000/health: HTTP 200 {'status': 'ok', 'environment': 'development', 'database': {'ok': True, 'database': 'dashtam'}, 'redis': {'ok': True, 'index': 0}}
"""
