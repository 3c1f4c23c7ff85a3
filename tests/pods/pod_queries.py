"""What the RethinkDB and TimescaleDB pods hold: several tables (with a secondary index, or
compressed hypertable chunks) that all carry one marker value.

``write(pod, value)`` replaces the data; ``read(pod)`` returns the marker only when every table is
complete and of the expected shape, and otherwise a description of what it found, so that a
half-restored database never reads as the marker.
"""

from __future__ import annotations

from pod_harness import Pod

#: brs's Python in the sidecar: the rethinkdb driver comes with brs-rethinkdb.
PYTHON = "/opt/brs/bin/python"
RETHINKDB_PASSWORD = "pod-test-password"
#: Rows per table: small, but several per table and more than one hypertable chunk.
ROWS = 200

_RETHINKDB = f"""
import sys
from rethinkdb import RethinkDB
r = RethinkDB()
password = open("/secrets/rethinkdb/password", encoding="utf-8").read().strip()
conn = r.connect("127.0.0.1", 28015, user="admin", password=password, timeout=30)
app = r.db("app")
tables = ("users", "events", "marker")
if sys.argv[1] == "write":
    if "app" not in r.db_list().run(conn):
        r.db_create("app").run(conn)
    for table in tables:
        if table not in app.table_list().run(conn):
            app.table_create(table).run(conn)
    if "kind" not in app.table("events").index_list().run(conn):
        app.table("events").index_create("kind").run(conn)
        app.table("events").index_wait("kind").run(conn)
    for table in tables:
        app.table(table).delete().run(conn)
    value = sys.argv[2]
    app.table("users").insert([{{"id": i, "name": f"user {{i}}", "value": value}} for i in range({ROWS})]).run(conn)
    app.table("events").insert([{{"id": i, "kind": f"k{{i % 5}}", "value": value}} for i in range({ROWS})]).run(conn)
    app.table("marker").insert({{"id": 1, "value": value}}).run(conn)
else:
    # After a start the tables answer only once they are ready.
    app.wait(wait_for="all_replicas_ready", timeout=60).run(conn)
    found = {{t: app.table(t).count().run(conn) for t in app.table_list().run(conn)}}
    values = set(app.table("users")["value"].run(conn)) | set(app.table("events")["value"].run(conn))
    kinds = app.table("events").get_all("k3", index="kind").count().run(conn)
    (marker,) = app.table("marker")["value"].run(conn)
    if found == {{"users": {ROWS}, "events": {ROWS}, "marker": 1}} and values == {{marker}} and kinds == {ROWS // 5}:
        print(marker)
    else:
        print(f"tables {{found}}, values {{sorted(values)}}, marker {{marker!r}}, events of kind k3 by index {{kinds}}")
"""


def rethinkdb_write(pod: Pod, value: str) -> None:
    pod.exec("brs", PYTHON, "-c", _RETHINKDB, "write", value)


def rethinkdb_read(pod: Pod) -> str:
    return pod.exec("brs", PYTHON, "-c", _RETHINKDB, "read").strip()


def _psql(pod: Pod, sql: str) -> str:
    return pod.exec("postgres", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-tA", "-c", sql).strip()


def timescaledb_write(pod: Pod, value: str) -> None:
    """A hypertable of daily rows in 30-day chunks (7 or 8), every chunk compressed."""
    _psql(
        pod,
        "CREATE EXTENSION IF NOT EXISTS timescaledb;"
        " DROP TABLE IF EXISTS metrics;"
        " CREATE TABLE metrics (time timestamptz NOT NULL, device int, value text);"
        " SELECT create_hypertable('metrics', 'time', chunk_time_interval => interval '30 days');"
        f" INSERT INTO metrics SELECT timestamptz '2026-01-01' + n * interval '1 day', n % 4, '{value}'"
        f"   FROM generate_series(1, {ROWS}) n;"
        " ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');"
        " SELECT count(compress_chunk(c)) FROM show_chunks('metrics') c;",
    )


def timescaledb_read(pod: Pod) -> str:
    return _psql(
        pod,
        "SELECT CASE WHEN count(*) = "
        f"{ROWS} AND count(DISTINCT value) = 1 AND c.compressed = c.chunks AND c.chunks > 1"
        " THEN min(value) ELSE format('%s rows, values %s, %s of %s chunks compressed',"
        "   count(*), string_agg(DISTINCT value, ','), c.compressed, c.chunks) END"
        " FROM metrics, (SELECT count(*) FILTER (WHERE is_compressed) AS compressed, count(*) AS chunks"
        "   FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics') c"
        " GROUP BY c.compressed, c.chunks",
    )
