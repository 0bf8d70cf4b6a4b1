"""The machine-wide registry of instances: which checkout owns each default compose project,
each checkout's instance name, and the host-port leases. One JSON file under a file lock, so
two dashenv processes started at the same moment in two worktrees never take the same port.

It lives in ``$DASHENV_STATE_DIR`` (default ``$XDG_STATE_HOME/dashenv``, else
``~/.local/state/dashenv``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dashenv.plan.allocation import Lease


def state_dir() -> Path:
    explicit = os.environ.get("DASHENV_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dashenv"


@dataclass
class RegistryData:
    owners: dict[str, str] = field(default_factory=dict)  # default project -> checkout
    names: dict[str, str] = field(default_factory=dict)  # checkout -> instance name
    leases: list[Lease] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "owners": self.owners,
            "names": self.names,
            "leases": [asdict(lease) for lease in self.leases],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegistryData:
        leases = [Lease(**item) for item in data.get("leases") or []]
        return cls(dict(data.get("owners") or {}), dict(data.get("names") or {}), leases)


class Registry:
    def __init__(self, directory: Path | None = None):
        self.directory = directory or state_dir()
        self.path = self.directory / "registry.json"

    def read(self) -> RegistryData:
        """The registry as it stands (no lock: a snapshot for reading)."""
        try:
            return RegistryData.from_json(json.loads(self.path.read_text()))
        except (OSError, ValueError, TypeError):
            return RegistryData()

    @contextmanager
    def change(self) -> Iterator[RegistryData]:
        """The registry under its lock; what the block leaves in it is written back."""
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            data = self.read()
            before = json.dumps(data.to_json(), sort_keys=True)
            yield data
            if json.dumps(data.to_json(), sort_keys=True) == before:
                return  # nothing changed: nothing to write
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data.to_json(), indent=1, sort_keys=True))
            tmp.replace(self.path)
