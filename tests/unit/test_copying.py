"""Choosing how PostgreSQL copies a database, from the server's facts and the probe's output."""

from __future__ import annotations

import pytest

from dashenv.plan.copying import (
    CLONE,
    FILE_COPY,
    HEADROOM,
    WAL_LOG,
    ServerCopyFacts,
    choose,
    parse_probe,
    parse_size,
    refusal,
)

MB, GB = 10**6, 10**9


def facts(version: int = 180000, fsync: bool = True, shared: str = "128MB") -> ServerCopyFacts:
    return ServerCopyFacts(version, fsync, parse_size(shared), "/var/lib/pg", "7714960246")


def test_postgres_18_on_a_filesystem_that_clones_clones_at_any_size() -> None:
    for size in (None, 1 * MB, 4 * GB):
        m = choose(facts(), True, size)
        assert (m.name, m.strategy, m.file_copy_method) == (CLONE, "FILE_COPY", "clone")
    assert choose(facts(fsync=False), True, 10 * MB).name == CLONE


def test_without_cloning_fsync_on_weighs_the_data_against_the_checkpoints_debt() -> None:
    # a settled server (little WAL pending): FILE_COPY's checkpoints are cheap even at 80 MB
    settled = choose(facts(), False, 80 * MB, pending_bytes=2 * MB)
    assert (settled.name, settled.strategy) == (FILE_COPY, "FILE_COPY")
    assert settled.why.startswith("80 MB outweighs what two checkpoints would write")
    # a busy one (a gigabyte written since the last checkpoint): the WAL costs less
    busy = choose(facts(), False, 80 * MB, pending_bytes=GB)
    assert (busy.name, busy.strategy, busy.file_copy_method) == (WAL_LOG, "WAL_LOG", None)
    assert "its filesystem cannot clone files" in busy.why
    tiny = choose(facts(), False, 8 * MB, pending_bytes=0)  # under the checkpoints' fixed cost
    assert tiny.name == WAL_LOG
    assert choose(facts(), False, 4 * GB, pending_bytes=GB).name == FILE_COPY


def test_without_the_pending_wal_shared_buffers_stands_in() -> None:
    assert choose(facts(), False, 80 * MB).name == WAL_LOG
    big = choose(facts(), False, 1 * GB)
    assert big.name == FILE_COPY and "outweighs shared_buffers (134 MB)" in big.why
    assert choose(facts(shared="2GB"), False, 1 * GB).name == WAL_LOG
    assert choose(facts(), None, None).name == WAL_LOG  # size unknown: the small case


def test_fsync_off_copies_files_and_old_servers_have_no_clause() -> None:
    assert choose(facts(fsync=False), False, 1 * MB).strategy == "FILE_COPY"
    old = choose(facts(version=140000), True, 1 * GB)
    assert (old.name, old.strategy) == (FILE_COPY, None)
    seventeen = choose(facts(version=170000), True, 1 * MB)
    assert seventeen.name == WAL_LOG and "PostgreSQL 18 would" in seventeen.why


def test_the_probe_output_says_whether_it_clones_and_the_room_left() -> None:
    df = "/dev/loop0  2031616  146004  1885612  8% /var/lib/postgresql"
    yes = parse_probe(f"clone yes\n{df}\n")
    assert (yes.clones, yes.free_bytes, yes.total_bytes) == (True, 1885612 * 1024, 2031616 * 1024)
    no = parse_probe(
        "clone no cp: failed to clone '/d/.p.clone' from '/d/.p': Operation not supported\n" + df
    )
    assert no.clones is False and no.detail == "cp --reflink=always: Operation not supported"
    unknown = parse_probe("clone unknown cannot write in /d\n")
    assert unknown.clones is None and unknown.free_bytes is None
    assert parse_probe("sh: cp: not found").clones is None
    assert parse_probe("").detail == "the probe printed nothing"


def test_space_needed_and_the_refusal_names_both_sizes() -> None:
    clone, copy, wal = (choose(facts(), c, s) for c, s in ((True, GB), (False, GB), (False, MB)))
    assert clone.space_needed(4 * GB) == HEADROOM  # a clone shares the blocks
    assert copy.space_needed(GB) == GB + HEADROOM
    assert wal.space_needed(MB) == 2 * MB + HEADROOM  # the data and its WAL
    assert refusal(copy, GB, 2 * GB) is None
    why = refusal(copy, GB, 500 * MB)
    assert why == (
        "not enough free space on the database's volume for a copy of 1.0 GB (file copy): "
        "it needs about 1.1 GB, 500 MB is free"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("128MB", 128 * 2**20), ("1GB", 2**30), ("8kB", 8192), ("16384", 16384), ("odd", 128 * 2**20)],
)
def test_memory_settings_as_postgres_shows_them(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_the_remembered_answer_is_keyed_by_cluster_and_directory() -> None:
    assert facts().key == "7714960246:/var/lib/pg"
    assert ServerCopyFacts(180000, True, 1, None, "1").key is None


class _Terminal:
    """A stream that says it is a terminal (what a user's stderr is)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("not a real terminal")


def test_a_long_copy_shows_its_progress_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from dashenv import render

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(render, "PROGRESS_AFTER", 0.0)
    with render.copy_progress("Copying dashtam (file copy)", 10 * MB) as report:
        assert report is not None
        report(5 * MB)
    shown = "".join(terminal.parts)
    assert "Copying dashtam (file copy): 5.0 MB of 10.0 MB, " in shown and "B/s, 0 s" in shown
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe: nothing at all
    with render.copy_progress("Copying dashtam", 10 * MB) as report:
        assert report is None
