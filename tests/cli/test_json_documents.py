"""The JSON documents of instances and gc (--json), against their schemas in docs/, from the
same facts the whole-output tests use (no engine)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.cli.conftest import Run
from tests.conftest import REPO


def schema(name: str) -> dict:
    return json.loads((REPO / "docs" / f"{name}.schema.json").read_text())


def test_every_schema_is_a_valid_schema() -> None:
    for path in sorted((REPO / "docs").glob("*.schema.json")):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_instances_json(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashenv.workflows import instances

    rows = [
        instances.InstanceRow("dashtam-dev", "dev", "", "/src/dashtam", True, 4, 4, [5432], True),
        instances.InstanceRow("dashtam-test-feat", "test", "feat", "/src/feat", False, 4, 2, []),
    ]
    monkeypatch.setattr(instances, "list_instances", lambda *a, **k: rows)
    doc = json.loads(run("instances", "--json").stdout)
    jsonschema.validate(doc, schema("instances"))
    assert [i["project"] for i in doc["instances"]] == ["dashtam-dev", "dashtam-test-feat"]


def test_gc_json(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashenv.workflows import instances

    removed: list[str] = []
    found = [
        instances.Garbage(
            "instance",
            "dashtam-test-feat",
            None,
            "its checkout is gone",
            remove=lambda: removed.append("feat"),
        ),
        instances.Garbage(
            "database",
            "dashtam_test__new_9",
            8_000_000,
            "a reset's scratch",
            remove=lambda: removed.append("db"),
        ),
    ]
    monkeypatch.setattr(instances, "collect", lambda *a, **k: found)
    dry = run("gc", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.stdout)
    jsonschema.validate(doc, schema("gc"))
    assert (doc["dry_run"], doc["removed"], doc["total_bytes"]) == (True, False, 8_000_000)
    assert [i["what"] for i in doc["items"]] == ["dashtam-test-feat", "dashtam_test__new_9"]
    assert removed == []
    done = run("gc", "--yes", "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)  # the document alone on stdout
    jsonschema.validate(doc, schema("gc"))
    assert doc["removed"] is True and removed == ["feat", "db"]
    monkeypatch.setattr(instances, "collect", lambda *a, **k: [])
    empty = json.loads(run("gc", "--json").stdout)
    jsonschema.validate(empty, schema("gc"))
    assert empty["items"] == [] and empty["removed"] is False
