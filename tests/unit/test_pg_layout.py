"""PostgreSQL 18's data layout: the pre-18 mount path on an 18+ image, found before start."""

from __future__ import annotations

from dashenv.facts import ComposeService
from dashenv.plan.derive import image_major, line_of, old_data_mount, postgres_major
from dashenv.steps.pg_layout import is_floating


def db(mount: str, **environment: str) -> ComposeService:
    return ComposeService(
        "db",
        None,
        image="postgres:18",
        mounts=[("volume", "pgdata", mount, False)],
        environment=environment,
    )


def test_the_major_version_from_the_tag() -> None:
    assert postgres_major("postgres:18-alpine") == 18
    assert postgres_major("pgvector/pgvector:pg17") == 17
    assert postgres_major("postgis/postgis:17-3.5") == 17
    assert postgres_major("postgres:latest") is None
    assert postgres_major("postgres") is None
    assert postgres_major("timescale/timescaledb:2.17.2-pg16") == 16
    assert postgres_major("timescale/timescaledb-ha:pg17-ts2.17") == 17
    assert postgres_major("postgres:9.6") == 9
    # a project's own image versions itself: its major is the local image's PG_MAJOR
    assert postgres_major("acme/shop-postgres:1.2") is None
    assert postgres_major("acme/shop-postgres:2024.05") is None  # nor is a date


def test_the_major_version_from_a_local_image_s_environment() -> None:
    assert image_major({"PG_MAJOR": "18", "PGDATA": "/var/lib/postgresql/18/docker"}) == 18
    assert image_major({"PATH": "/usr/lib/postgresql/17/bin:/usr/bin"}) == 17
    assert image_major({"PGDATA": "/var/lib/postgresql/19/docker"}) == 19
    assert image_major({"PGDATA": "/var/lib/postgresql/data", "PATH": "/usr/bin"}) is None
    assert image_major({}) is None


def test_the_old_path_is_refused_on_18_and_later_only() -> None:
    found = old_data_mount(db("/var/lib/postgresql/data"), 18)
    assert found is not None and found.source == "pgdata" and found.major == 18
    assert old_data_mount(db("/var/lib/postgresql/data/"), 19) is not None
    assert old_data_mount(db("/var/lib/postgresql/data"), 17) is None
    assert old_data_mount(db("/var/lib/postgresql/data"), None) is None  # unknown: nothing said
    assert old_data_mount(db("/var/lib/postgresql"), 18) is None  # 18's own layout
    # a PGDATA of the project's own is not the image's default: the image does not refuse it
    assert (
        old_data_mount(db("/var/lib/postgresql/data", PGDATA="/var/lib/postgresql/data"), 18)
        is None
    )
    same = db("/var/lib/postgresql/data", PGDATA="/var/lib/postgresql/18/docker")
    assert old_data_mount(same, 18) is not None


def test_the_line_that_mounts_it_is_named() -> None:
    text = (
        "services:\n"
        "  cache:\n"
        "    volumes:\n"
        "      # - x:/var/lib/postgresql/data\n"
        "  db:\n"
        "    image: postgres:18\n"
        "    volumes:\n"
        "      - pgdata:/var/lib/postgresql/data\n"
    )
    assert line_of({"compose.yml": text}, "db", "/var/lib/postgresql/data") == ("compose.yml", 8)
    assert line_of({"a.yml": "x: 1\n"}, "db", "/var/lib/postgresql/data") is None


def test_the_floating_official_image() -> None:
    assert is_floating("postgres") and is_floating("postgres:latest")
    assert is_floating("docker.io/library/postgres:latest")
    assert not is_floating("postgres:18") and not is_floating("postgis/postgis:latest")
    assert not is_floating("localhost:5000/postgres:17")
