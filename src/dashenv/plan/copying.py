"""How PostgreSQL copies a database (``CREATE DATABASE ... TEMPLATE``), chosen from facts.

Three ways, fastest first where each is possible:

- **clone**: ``STRATEGY FILE_COPY`` with ``file_copy_method = clone`` (PostgreSQL 18), on a
  data directory whose filesystem shares extents between files (Btrfs, XFS with reflink,
  ZFS, APFS): the copy shares the files' blocks, in a fraction of a second at any size and
  almost without space. Whether the filesystem can is probed on the server (a file cloned
  with ``cp --reflink=always`` in the data directory), not guessed: on ext4 the same setting
  makes a plain copy.
- **file copy**: ``STRATEGY FILE_COPY``: the files copied as they are, between two
  checkpoints. The checkpoints are a fixed cost (at most the dirty part of
  ``shared_buffers`` to write), the copy itself streams.
- **WAL log**: ``STRATEGY WAL_LOG`` (PostgreSQL 15's default): every block written through
  the WAL, so it grows with the data (the data written twice) but needs no checkpoint.

With fsync off (test servers) the checkpoints cost next to nothing: file copy. With fsync on,
WAL log wins only while the database is smaller than what the checkpoints would have to
write (the WAL pending since the last one, and their own fixed cost); above it file copy does
(benchmarks/snapshot.py --size prints both at 80 MB, 1 GB and 4 GB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLONE, FILE_COPY, WAL_LOG = "clone", "file copy", "WAL log"

MB = 2**20
HEADROOM = 64 * MB  # what a copy needs besides its data: catalog rows, WAL of its own records
DEFAULT_SHARED_BUFFERS = 128 * MB
# a checkpoint's own cost besides the writes it flushes (fsyncs of every file, the control
# file), as bytes a WAL_LOG copy writes in the same time (benchmarks/snapshot.py)
CHECKPOINT_COST = 32 * MB

# One ``sh`` run in the PostgreSQL container: can the data directory's filesystem clone a
# file, and how much room is left on it. Removes what it wrote; prints two lines.
PROBE_SCRIPT = r"""
dir="${1:-$PGDATA}"
f="$dir/.dashenv_clone_probe_$$"
if head -c 65536 /dev/zero > "$f" 2>/dev/null; then
  if out=$(cp --reflink=always "$f" "$f.clone" 2>&1); then echo "clone yes"
  else echo "clone no $out" | head -n 1; fi
else echo "clone unknown cannot write in $dir"; fi
rm -f "$f" "$f.clone"
df -Pk "$dir" | tail -n 1
"""


@dataclass(frozen=True)
class ServerCopyFacts:
    """What the choice depends on, read from the server (one query)."""

    version_num: int  # server_version_num, 170000 for 17.0
    fsync: bool
    shared_buffers: int  # bytes
    data_directory: str | None  # None where the role may not read it
    system_identifier: str | None  # the cluster's, from pg_control_system()

    @property
    def key(self) -> str | None:
        """What a probe's answer is remembered by: the cluster and its data directory (a new
        volume is a new cluster: initdb gives it a new identifier)."""
        if self.data_directory is None or self.system_identifier is None:
            return None
        return f"{self.system_identifier}:{self.data_directory}"


@dataclass(frozen=True)
class Probe:
    """What the probe found on the server's data directory."""

    clones: bool | None  # None: it could not tell
    detail: str  # the evidence, in a few words
    free_bytes: int | None = None
    total_bytes: int | None = None


@dataclass(frozen=True)
class CopyMethod:
    name: str  # CLONE, FILE_COPY or WAL_LOG
    why: str
    strategy: str | None  # the STRATEGY clause, None before PostgreSQL 15 (no clause)
    file_copy_method: str | None = None  # "clone" where the session sets it

    def space_needed(self, size_bytes: int) -> int:
        """Free space a copy of ``size_bytes`` needs up front on the server's volume."""
        if self.name == CLONE:
            return HEADROOM
        if self.name == WAL_LOG:  # the data, and its WAL until a checkpoint recycles it
            return 2 * size_bytes + HEADROOM
        return size_bytes + HEADROOM

    def as_dict(self) -> dict[str, str | None]:
        return {"method": self.name, "why": self.why}


def choose(
    facts: ServerCopyFacts,
    clones: bool | None,
    size_bytes: int | None,
    pending_bytes: int | None = None,
) -> CopyMethod:
    """The fastest way this server can copy a database of ``size_bytes`` (None: unknown).

    With fsync on and no clone, FILE_COPY's cost is its two checkpoints, which write what
    is pending since the last one (``pending_bytes``: the WAL written since its redo point)
    plus a fixed part (CHECKPOINT_COST), then a streamed copy; WAL_LOG writes the whole
    database through the WAL. So FILE_COPY wins once the database outweighs what the
    checkpoints would write. Where the pending WAL cannot be read, shared_buffers (the most
    a checkpoint can find dirty in memory) stands in for it.
    """
    if facts.version_num < 150000:
        return CopyMethod(FILE_COPY, "PostgreSQL 14 and older copy the files", None)
    if clones and facts.version_num >= 180000:
        return CopyMethod(
            CLONE,
            "PostgreSQL 18 on a filesystem that clones files (file_copy_method = clone)",
            "FILE_COPY",
            "clone",
        )
    why_not = ""
    if facts.version_num >= 180000 and clones is False:
        why_not = "; its filesystem cannot clone files"
    elif clones and facts.version_num < 180000:
        why_not = "; its filesystem could clone, PostgreSQL 18 would"
    if not facts.fsync:
        return CopyMethod(FILE_COPY, "fsync is off, so its checkpoints cost little" + why_not,
                          "FILE_COPY")  # fmt: skip
    if pending_bytes is not None:  # a moving figure: it stays out of the words
        debt = pending_bytes + CHECKPOINT_COST
        what = "what two checkpoints would write (the WAL pending since the last one)"
    else:
        debt = facts.shared_buffers or DEFAULT_SHARED_BUFFERS
        what = f"shared_buffers ({_mb(debt)})"
    if size_bytes is not None and size_bytes > debt:
        return CopyMethod(
            FILE_COPY,
            f"{_mb(size_bytes)} outweighs {what}, so two checkpoints cost less than "
            "writing it all to the WAL" + why_not,
            "FILE_COPY",
        )
    return CopyMethod(
        WAL_LOG,
        (f"{_mb(size_bytes)}, " if size_bytes is not None else "")
        + f"no more than {what} with fsync on: the WAL costs less than two checkpoints"
        + why_not,
        "WAL_LOG",
    )


def parse_probe(output: str) -> Probe:
    """The probe script's two lines (see PROBE_SCRIPT); anything else is 'could not tell'."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    clones: bool | None = None
    detail = "the probe printed nothing"
    free = total = None
    for line in lines:
        if line.startswith("clone "):
            answer, _, rest = line[len("clone ") :].partition(" ")
            clones = {"yes": True, "no": False}.get(answer)
            if clones:
                detail = "a file in the data directory cloned (cp --reflink=always)"
            elif clones is False:
                detail = "cp --reflink=always: " + (_last_words(rest) or "not supported")
            else:
                detail = rest or "the probe could not tell"
            continue
        fields = line.split()
        # df -Pk: Filesystem 1024-blocks Used Available Capacity Mounted-on
        if len(fields) >= 6 and fields[1].isdigit() and fields[3].isdigit():
            total, free = int(fields[1]) * 1024, int(fields[3]) * 1024
    return Probe(clones, detail, free, total)


def _last_words(text: str) -> str:
    # "cp: failed to clone 'b' from 'a': Operation not supported" -> "Operation not supported"
    return text.rsplit(": ", 1)[-1].strip()


def refusal(method: CopyMethod, size_bytes: int, free_bytes: int) -> str | None:
    """Why a copy of ``size_bytes`` cannot start with ``free_bytes`` left; None when it can."""
    needed = method.space_needed(size_bytes)
    if free_bytes >= needed:
        return None
    return (
        f"not enough free space on the database's volume for a copy of {_mb(size_bytes)} "
        f"({method.name}): it needs about {_mb(needed)}, {_mb(free_bytes)} is free"
    )


def parse_size(setting: str) -> int:
    """A memory setting as PostgreSQL shows it ('128MB', '1GB', '8kB') in bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*(kB|MB|GB|TB|B)?\s*", setting)
    if not m:
        return DEFAULT_SHARED_BUFFERS
    unit = {"B": 1, "kB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}[m.group(2) or "B"]
    return int(m.group(1)) * unit


def size(n: int) -> str:
    """Bytes in decimal units, as Rich shows them (1,990,000 bytes: 2.0 MB)."""
    from rich.filesize import decimal

    return str(decimal(n))


def _mb(n: int | None) -> str:
    """Bytes in decimal units, as size() (Rich) shows them."""
    if n is None:
        return "?"
    if n >= 10**9:
        return f"{n / 10**9:.1f} GB"
    return f"{max(n, 0) / 10**6:.0f} MB"
