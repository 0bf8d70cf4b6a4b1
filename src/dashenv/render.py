"""Output: Rich tables for people, versioned JSON documents for scripts.

Rich is imported here and only here, so commands pay for it when they print.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def console(stderr: bool = False) -> Console:
    return Console(
        stderr=stderr,
        no_color=bool(os.environ.get("NO_COLOR")),
        highlight=False,
        soft_wrap=False,
    )


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


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


def environments(doc: dict[str, Any]) -> None:
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
        table(
            None, ["environment", "role", "compose files", "env file", "project", "ports"], rows
        )
    )


def config(doc: dict[str, Any]) -> None:
    out = console()
    rows = [[k, v["value"], v["source"]] for k, v in doc["settings"].items()]
    out.print(table(f"dashenv settings: {doc['environment']}", ["setting", "value", "from"], rows))
    rows = [[k, v["value"], v["source"]] for k, v in doc["app"].items()]
    note = " (secrets masked; --reveal shows them)" if doc["masked"] else ""
    out.print(table(f"application settings{note}", ["key", "value", "from"], rows))
