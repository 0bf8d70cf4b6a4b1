"""PostgreSQL, through psycopg 3. The only module importing psycopg.

Returns dashenv's own small dataclasses; connection failures become ``Unreachable``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dashenv.errors import OperationFailed, Unreachable

if TYPE_CHECKING:
    from dashenv.plan.copying import CopyMethod, ServerCopyFacts
    from dashenv.plan.tripwire import PostgresReading

STAMP_SCHEMA = "dashenv"
STAMP_TABLE = "metadata"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", STAMP_SCHEMA)
# the tripwire's one query (Alembic's table read only where it exists)
TRIPWIRE_SQL = """
SELECT
  ARRAY(SELECT datname::text FROM pg_database ORDER BY 1),
  ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1),
  (SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database
   WHERE datname = current_database()),
  (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()
   AND pid <> pg_backend_pid() AND backend_type = 'client backend'),
  CASE WHEN to_regclass('alembic_version') IS NOT NULL THEN (xpath('//v/text()', query_to_xml(
    'SELECT string_agg(version_num, '','' ORDER BY version_num) AS v FROM alembic_version',
    false, true, '')))[1]::text END
"""


@dataclass(frozen=True)
class DatabaseState:
    exists: bool
    stamp: dict[str, str] | None
    user_tables: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    owner: str
    size_bytes: int
    connections: int


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    rows: int  # an estimate: the statistics' live rows, or the planner's after a clone


def failure_line(message: str) -> str:
    """The line of libpq's connection error that says what happened: the last attempt's
    (one per address tried), without the indented explanations libpq adds below it
    ("This probably means the server terminated abnormally...")."""
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    said = [ln for ln in lines if not ln[:1].isspace()]
    return (said or lines or ["no answer"])[-1].strip()


class Postgres:
    """One PostgreSQL server, reached as one role."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str | None,
        *,
        timeout: float = 5,
        keep: bool = False,
        home: str = "postgres",
    ):
        self.host, self.port, self.user, self.password = host, port, user, password
        self.timeout = timeout
        # the database of the maintenance connection, which reads what is the server's
        # (shared catalogs, settings): "postgres", or for an observer the database it reads
        # anyway, so that one connection does (one that drops or renames it must not)
        self.home = home
        # the reused autocommit connections: to ``home`` always, to every database with
        # ``keep`` (an observer's: one that drops or renames databases must not hold them)
        self._kept: dict[str, Any] = {}
        self.keep = keep
        self._copy_facts: ServerCopyFacts | None = None
        # whether the data directory's filesystem clones files (steps.copying probes it)
        self.clones: bool | None = None

    def close(self) -> None:
        kept, self._kept = self._kept, {}
        for conn in kept.values():
            conn.close()

    def __enter__(self) -> Postgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @contextmanager
    def connect(self, database: str | None = None, autocommit: bool = True) -> Iterator[Any]:
        """A connection (to ``database``, by default ``home``); the maintenance one (``home``,
        autocommit) is kept and reused."""
        import psycopg

        database = database or self.home
        reuse = autocommit and (database == self.home or self.keep)
        kept = self._kept.get(database) if reuse else None
        if kept is not None and not kept.closed:
            try:
                yield kept
            except psycopg.OperationalError as exc:
                self.close()
                raise Unreachable(f"lost PostgreSQL at {self.where}: {exc}".strip()) from None
            except psycopg.Error as exc:
                raise OperationFailed(f"PostgreSQL at {self.where}: {exc}".strip()) from None
            return
        try:
            conn = psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                dbname=database,
                autocommit=autocommit,
                connect_timeout=max(1, int(self.timeout)),
                client_encoding="utf8",
                application_name="dashenv",
            )
        except psycopg.OperationalError as exc:
            reason = failure_line(str(exc))
            raise Unreachable(
                f"cannot reach PostgreSQL at {self.where} (database {database}): {reason}",
                hint="is the environment up? 'dashenv status' shows it",
            ) from None
        if reuse:
            self._kept[database] = conn
        try:
            yield conn
        except psycopg.OperationalError as exc:
            raise Unreachable(f"lost PostgreSQL at {self.where}: {exc}".strip()) from None
        except psycopg.Error as exc:
            raise OperationFailed(f"PostgreSQL at {self.where}: {exc}".strip()) from None
        finally:
            if not reuse:
                conn.close()

    def answers(self) -> bool:
        """Whether the server accepts connections over TCP, as ``pg_isready`` asks it
        (libpq's ``PQping``, through psycopg): one that would refuse this role still
        answers; one still initialising (the official image's first start listens on its
        socket only), starting up or shutting down does not."""
        from psycopg import pq
        from psycopg.conninfo import make_conninfo

        conninfo = make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname="postgres",
            connect_timeout=max(1, int(self.timeout)),
        )
        return pq.PGconn.ping(conninfo.encode()) == pq.Ping.OK

    # -- observing -------------------------------------------------------------------

    def database_names(self) -> list[str]:
        """The databases one can connect to: not those an interrupted ``DROP DATABASE`` left
        invalid (``datconnlimit = -2``, PostgreSQL 15.4 and later), see ``invalid_databases``."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datconnlimit <> -2 ORDER BY datname"
            ).fetchall()
        return [r[0] for r in rows]

    def invalid_databases(self) -> list[str]:
        """Databases an interrupted ``DROP DATABASE`` left behind: they can only be dropped."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datconnlimit = -2 ORDER BY datname"
            ).fetchall()
        return [r[0] for r in rows]

    def state(self, database: str) -> DatabaseState:
        if database not in self.database_names():
            return DatabaseState(False, None, ())
        with self.connect(database) as conn:
            tables = conn.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE' AND table_schema <> ALL(%s)"
                " ORDER BY 1",
                (list(SYSTEM_SCHEMAS),),
            ).fetchall()
            stamp = self._read_stamp(conn)
        return DatabaseState(True, stamp, tuple(r[0] for r in tables))

    def _read_stamp(self, conn: Any) -> dict[str, str] | None:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (STAMP_SCHEMA, STAMP_TABLE),
        ).fetchone()
        if not exists:
            return None
        from psycopg import sql

        rows = conn.execute(
            sql.SQL("SELECT key, value FROM {}.{}").format(
                sql.Identifier(STAMP_SCHEMA), sql.Identifier(STAMP_TABLE)
            )
        ).fetchall()
        return {k: v for k, v in rows}

    def alembic_current(self, database: str) -> tuple[str, ...] | None:
        """The revision(s) in Alembic's ``alembic_version``; None when there is no such table."""
        with self.connect(database) as conn:
            exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()[0]
            if exists is None:
                return None
            rows = conn.execute("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()
        return tuple(str(r[0]) for r in rows)

    def tripwire_reading(self, database: str) -> PostgresReading:
        """What a leak into ``database`` would change, in one query on a connection of its
        own (the statistics snapshot taken fresh): the server's databases, its tables, its
        Alembic revision, the rows written to it, the other clients connected to it."""
        from dashenv.plan.tripwire import PostgresReading

        with self.connect(database, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(TRIPWIRE_SQL).fetchone()
        return PostgresReading(tuple(row[0]), tuple(row[1]), row[4], int(row[2] or 0), row[3])

    def server_settings(self, database: str, names: list[str]) -> dict[str, str]:
        """The settings as ``SHOW`` gives them (``current_setting``), in one query."""
        with self.connect(database) as conn:
            rows = conn.execute(
                "SELECT n, current_setting(n) FROM unnest(%s::text[]) AS n", (names,)
            ).fetchall()
        return {str(n): str(v) for n, v in rows}

    def version(self) -> str:
        with self.connect() as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])

    def databases(self) -> list[DatabaseInfo]:
        """The databases one can connect to, with their size; one dropped while this reads
        (a reset's swap, a pruned snapshot) is left out: its size is NULL by then."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT d.datname, pg_get_userbyid(d.datdba), pg_database_size(d.oid),"
                " (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)"
                " FROM pg_database d WHERE NOT d.datistemplate AND d.datallowconn"
                " AND d.datconnlimit <> -2 ORDER BY d.datname"
            ).fetchall()
        return [DatabaseInfo(r[0], r[1], int(r[2]), int(r[3])) for r in rows if r[2] is not None]

    def tables(self, database: str) -> list[TableInfo]:
        """User tables with an estimate of their rows, as cheap as the statistics views.

        The statistics of a freshly cloned database are empty (they are kept per database,
        not copied with a template); until anything touches a table, the planner's estimate
        (``pg_class.reltuples``, copied with the template, which is analysed when built)
        speaks for it instead.
        """
        with self.connect(database) as conn:
            rows = conn.execute(
                "SELECT s.schemaname, s.relname,"
                " CASE WHEN s.n_tup_ins + s.n_tup_upd + s.n_tup_del = 0"
                "  AND s.last_analyze IS NULL AND s.last_autoanalyze IS NULL"
                "  THEN greatest(c.reltuples, 0)::bigint ELSE s.n_live_tup END"
                " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " ORDER BY s.schemaname, s.relname"
            ).fetchall()
        return [TableInfo(r[0], r[1], int(r[2])) for r in rows]

    def analyze(self, database: str) -> None:
        """Refresh the planner's statistics (row estimates) of every table."""
        with self.connect(database) as conn:
            conn.execute("ANALYZE")

    def row_counts(self, database: str) -> dict[str, int]:
        """Exact row counts of every user table (schema.table -> rows)."""
        from psycopg import sql

        counts = {}
        with self.connect(database) as conn:
            tables = conn.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname <> ALL(%s)",
                (list(SYSTEM_SCHEMAS),),
            ).fetchall()
            for schema, table in tables:
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
                counts[f"{schema}.{table}"] = int(conn.execute(query).fetchone()[0])
        return counts

    # -- changing (callers have passed the guards) ---------------------------------------

    def copy_facts(self) -> ServerCopyFacts:
        """What choosing a copy method depends on (cached: server flags). The data directory
        and the cluster's identifier need a superuser (or pg_read_all_settings and
        pg_control_system's grant); without them they are None."""
        from dashenv.plan.copying import ServerCopyFacts, parse_size

        if self._copy_facts is None:
            with self.connect() as conn:
                version, fsync, shared = conn.execute(
                    "SELECT current_setting('server_version_num')::int,"
                    " current_setting('fsync'), current_setting('shared_buffers')"
                ).fetchone()
                where = ident = None
                try:
                    with conn.transaction():
                        where, ident = conn.execute(
                            "SELECT current_setting('data_directory'),"
                            " (SELECT system_identifier::text FROM pg_control_system())"
                        ).fetchone()
                except Exception:  # not permitted: the probe's answer cannot be remembered
                    where = ident = None
            self._copy_facts = ServerCopyFacts(
                int(version), str(fsync) == "on", parse_size(str(shared)), where, ident
            )
        return self._copy_facts

    def database_size(self, name: str) -> int | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT pg_database_size(oid) FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def copy_method(self, template: str, size_bytes: int | None = None) -> CopyMethod:
        """How a copy of ``template`` goes on this server (``clones``: what the probe of its
        data directory found, set by the caller; None copies without cloning)."""
        from dashenv.plan.copying import choose

        facts = self.copy_facts()
        if (
            not facts.fsync
            or facts.version_num < 150000
            or (self.clones and facts.version_num >= 180000)
        ):
            return choose(facts, self.clones, size_bytes)
        if size_bytes is None:
            size_bytes = self.database_size(template)
        return choose(facts, self.clones, size_bytes, self.pending_checkpoint_bytes())

    def run_on_server(self, command: str) -> str | None:
        """Output of a short shell command run by the server itself, as its OS user in its
        data directory's machine (``COPY ... FROM PROGRAM``, into a temporary table that
        goes with the transaction). None where the role may not (it needs a superuser or
        pg_execute_server_program) or the command failed."""
        from psycopg import sql

        with self.connect() as conn:
            try:
                with conn.transaction():
                    conn.execute("CREATE TEMP TABLE dashenv_probe (line text) ON COMMIT DROP")
                    conn.execute(
                        sql.SQL(
                            "COPY dashenv_probe FROM PROGRAM {} WITH (DELIMITER E'\\x1f')"
                        ).format(sql.Literal(command))
                    )
                    rows = conn.execute("SELECT line FROM dashenv_probe").fetchall()
            except Exception:  # not permitted, or the program failed: the caller asks docker
                return None
        return "\n".join(str(r[0]) for r in rows)

    def pending_checkpoint_bytes(self) -> int | None:
        """The WAL written since the last checkpoint's redo point: what the next checkpoint
        has to make durable. None where the role may not read the control data."""
        with self.connect() as conn:
            try:
                with conn.transaction():
                    row = conn.execute(
                        "SELECT pg_current_wal_lsn()"
                        " - (SELECT redo_lsn FROM pg_control_checkpoint())"
                    ).fetchone()
            except Exception:  # not permitted (pg_control_checkpoint needs a superuser)
                return None
        return max(0, int(row[0])) if row and row[0] is not None else None

    def create_database(
        self,
        name: str,
        template: str | None = None,
        *,
        hold_template: bool = False,
        method: CopyMethod | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Create ``name``, empty or as a copy of ``template`` (no dump: PostgreSQL copies the
        files). ``hold_template`` keeps new connections off the template for the moment of
        the copy (a live database, such as dev's: its app's pool reconnects after).

        The copy goes by ``method`` (by default ``copy_method``: plan.copying says which
        and why). ``progress`` is called with the bytes copied so far, about twice a
        second, from a thread of its own (its own connection) while the copy runs.
        """
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        with self.connect() as conn:
            if template is None:
                conn.execute(query)
                return
            method = method or self.copy_method(template)
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            if method.strategy is not None:
                query += sql.SQL(" STRATEGY {}").format(sql.SQL(method.strategy))
            if method.file_copy_method is not None:
                conn.execute(
                    sql.SQL("SET file_copy_method = {}").format(
                        sql.Literal(method.file_copy_method)
                    )
                )
            watch = _CopyWatch(self, progress) if progress is not None else None
            try:
                if hold_template:
                    self.allow_connections(template, False)
                try:
                    if hold_template:
                        self._terminate(conn, template)
                    if watch is not None:
                        watch.start()
                    conn.execute(query)
                finally:
                    if watch is not None:
                        watch.stop()
                    if hold_template:
                        self.allow_connections(template, True)
            finally:
                if method.file_copy_method is not None and not conn.closed:
                    try:
                        conn.execute("RESET file_copy_method")
                    except Exception:  # an interrupted copy's connection: what ended it shows
                        conn.close()

    def copied_bytes(self, conn: Any, known: list[str]) -> int:
        """Bytes in the database directories under ``base/`` that are not in ``known``
        (a copy being made: its directory exists before its catalog row commits)."""
        row = conn.execute(
            "SELECT coalesce(sum((pg_stat_file('base/' || d || '/' || f, true)).size), 0)"
            " FROM pg_ls_dir('base') d, LATERAL pg_ls_dir('base/' || d, true, false) f"
            " WHERE d <> ALL(%s)",
            (known,),
        ).fetchone()
        return int(row[0])

    def allow_connections(self, name: str, allowed: bool) -> None:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                    sql.Identifier(name), sql.SQL("true" if allowed else "false")
                )
            )

    def set_comment(self, name: str, comment: str) -> None:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(comment)
                )
            )

    def databases_with_comments(
        self, prefix: str, *, sizes: bool = True
    ) -> list[tuple[str, str | None, int]]:
        """Valid databases named ``prefix...``: name, comment and size in bytes (0 without
        ``sizes``: reading them walks every file); one dropped while this reads it is left
        out (``pg_database_size`` is NULL by then)."""
        size = "pg_database_size(oid)" if sizes else "0"
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT datname, shobj_description(oid, 'pg_database'), {size}"
                " FROM pg_database WHERE starts_with(datname, %s) AND datconnlimit <> -2"
                " ORDER BY datname",
                (prefix,),
            ).fetchall()
        return [(r[0], r[1], int(r[2])) for r in rows if r[2] is not None]

    def read_stamp(self, database: str) -> dict[str, str] | None:
        with self.connect(database) as conn:
            return self._read_stamp(conn)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.connect() as conn:
            self._terminate(conn, name)
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def _terminate(self, conn: Any, name: str) -> None:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )

    def swap(self, current: str, new: str, old: str) -> bool:
        """Atomically put ``new`` in place of ``current`` (kept as ``old``).

        Both renames run in one transaction: an interruption leaves either the old or the
        new database under ``current``, never neither. Returns whether ``current`` existed.
        """
        from psycopg import errors, sql

        with self.connect() as conn:
            for attempt in range(20):
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (current,)
                ).fetchone()
                try:
                    if exists:
                        self._terminate(conn, current)
                    with conn.transaction():
                        if exists:
                            conn.execute(
                                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                    sql.Identifier(current), sql.Identifier(old)
                                )
                            )
                        conn.execute(
                            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                sql.Identifier(new), sql.Identifier(current)
                            )
                        )
                    return bool(exists)
                except errors.ObjectInUse:
                    if attempt == 19:
                        raise
        return False

    def rename(self, name: str, to: str) -> None:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(name), sql.Identifier(to)
                )
            )

    def stamp(self, database: str, values: dict[str, str]) -> None:
        from psycopg import sql

        schema, table = sql.Identifier(STAMP_SCHEMA), sql.Identifier(STAMP_TABLE)
        with self.connect(database, autocommit=False) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.{} (key text PRIMARY KEY, value text NOT NULL)"
                ).format(schema, table)
            )
            for key, value in values.items():
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.{} (key, value) VALUES (%s, %s)"
                        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                    ).format(schema, table),
                    (key, value),
                )
            conn.commit()

    def set_database_option(self, database: str, key: str, value: str) -> None:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(database), sql.Identifier(key), sql.Literal(value)
                )
            )

    def execute_script(self, database: str, script: str) -> None:
        with self.connect(database, autocommit=False) as conn:
            conn.execute(script)
            conn.commit()

    def truncate_all(self, database: str) -> int:
        """TRUNCATE every user table (the benchmark's comparison strategy)."""
        from psycopg import sql

        with self.connect(database, autocommit=False) as conn:
            rows = conn.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname <> ALL(%s)",
                (list(SYSTEM_SCHEMAS),),
            ).fetchall()
            if rows:
                names = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in rows)
                conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))
            conn.commit()
        return len(rows)


class _CopyWatch:
    """Reports a running copy's bytes from a thread of its own, on its own connection, about
    twice a second; reading the directory listing needs a superuser (or pg_ls_dir's grant):
    without it, nothing is reported."""

    INTERVAL = 0.5

    def __init__(self, pg: Postgres, report: Callable[[int], None]):
        self.pg, self.report = pg, report
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        self.known: list[str] = []
        self.conn: Any = None

    def start(self) -> None:
        import psycopg

        try:
            self.conn = psycopg.connect(
                host=self.pg.host, port=self.pg.port, user=self.pg.user,
                password=self.pg.password, dbname="postgres", autocommit=True,
                connect_timeout=max(1, int(self.pg.timeout)), application_name="dashenv",
            )  # fmt: skip
            self.known = [r[0] for r in self.conn.execute("SELECT pg_ls_dir('base')")]
        except psycopg.Error:
            self._close()
            return
        self.thread = threading.Thread(target=self._run, name="dashenv-copy-watch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psycopg

        while not self.done.wait(self.INTERVAL):
            try:
                self.report(self.pg.copied_bytes(self.conn, self.known))
            except psycopg.Error:
                return

    def stop(self) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self._close()

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
