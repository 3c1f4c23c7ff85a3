"""Real pods from deploy/'s manifests, one per database, under podman.

Each pod starts with empty volumes, takes two backups through the sidecar API, stops gracefully
(``podman pod stop -t 60``: the database shut down cleanly), loses its data volume, and is played
again: the sidecar restores the newest backup before the database starts, and the data is there
at the first query. Then the older backup is restored online through the API (the database stops
and comes back with the old data) and ``brs verify`` runs inside the sidecar.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kube_to_podman import convert
from pod_harness import REPO, Images, LogLine, Pod, Session, link_names, manifest, secret
from pod_queries import RETHINKDB_PASSWORD, rethinkdb_read, rethinkdb_write, timescaledb_read, timescaledb_write

pytestmark = pytest.mark.server("podman")

DEPLOY = REPO / "deploy"
#: brs and its Python in every pod: the image's venv, or the provisioned bundle in the emptyDir.
BRS = "/opt/brs/bin/brs"
PYTHON = "/opt/brs/bin/python"


@dataclass
class Database:
    """How a test talks to one kind of database inside its pod."""

    name: str
    #: The manifest in deploy/ and how to derive this database's pod from it.
    manifest: str
    #: The local image for every image the manifest names.
    images: Callable[[Images], dict[str, str]]
    write: Callable[[Pod, str], None]
    read: Callable[[Pod], str]
    #: The database's own first log line when it starts, and its last one on a clean shutdown.
    started: str
    shut_down: str
    secrets: Callable[[str], list[dict[str, Any]]] = lambda key: []
    adapt: Callable[[list[dict[str, Any]]], None] = lambda documents: None
    #: The container of the database (the pod's first container).
    container: str = ""
    after_stop: Callable[[Session, Pod], None] | None = None
    #: An unmodified database image: brs comes from the provisioning image.
    stock: bool = False

    def __post_init__(self) -> None:
        self.container = self.container or self.name


# --- PostgreSQL ---------------------------------------------------------------------------------


def _psql(pod: Pod, sql: str) -> str:
    return pod.exec("postgres", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-tA", "-c", sql).strip()


def _pg_write(pod: Pod, value: str) -> None:
    _psql(pod, f"CREATE TABLE IF NOT EXISTS marker (value text); DELETE FROM marker; INSERT INTO marker VALUES ('{value}')")


def _pg_controldata(session: Session, pod: Pod) -> None:
    """After the graceful stop the cluster's control file says ``shut down``, not ``in production``."""
    data = pod.volumes[0]
    out = session.podman.run(
        session.images.database,
        "pg_controldata",
        "/var/lib/postgresql/data/pgdata",
        volumes=[f"{data}:/var/lib/postgresql/data"],
        user="999:999",
    )
    assert re.search(r"Database cluster state:\s+shut down\n", out), out


# --- Redis and Valkey ---------------------------------------------------------------------------


def _cli(program: str) -> tuple[Callable[[Pod, str], None], Callable[[Pod], str]]:
    def write(pod: Pod, value: str) -> None:
        assert pod.exec(pod_container(pod), program, "set", "marker", value).strip() == "OK"

    def read(pod: Pod) -> str:
        return pod.exec(pod_container(pod), program, "get", "marker").strip()

    return write, read


def pod_container(pod: Pod) -> str:
    return str(pod.documents[-1]["spec"]["containers"][0]["name"])


def _as_valkey(documents: list[dict[str, Any]]) -> None:
    """deploy/redis-local.yaml serves Valkey with valkey-server and ``db: valkey`` (as its header says).

    The Valkey pod also stores plain tar, so that the pods restore every compression method.
    """
    for document in documents:
        if document["kind"] == "ConfigMap":
            config = document["data"]["config.yaml"].replace("db: redis", "db: valkey")
            document["data"]["config.yaml"] = config.replace("compression-method: tarlz4", "compression-method: tar")
        if document["kind"] == "StatefulSet":
            container = document["spec"]["template"]["spec"]["containers"][0]
            container["command"] = [a.replace("redis-server", "valkey-server") for a in container["command"]]
            document["metadata"]["name"] = "valkey"


# --- etcd ---------------------------------------------------------------------------------------


def _etcd_write(pod: Pod, value: str) -> None:
    assert pod.exec("etcd", "env", "ETCDCTL_API=3", "etcdctl", "put", "marker", value).strip() == "OK"


def _etcd_read(pod: Pod) -> str:
    return pod.exec("etcd", "env", "ETCDCTL_API=3", "etcdctl", "get", "marker", "--print-value-only").strip()


# --- Meilisearch --------------------------------------------------------------------------------

MEILI_KEY = "a-master-key-of-sixteen-bytes-or-more"
_MEILI = """
import json, sys, time, urllib.request
def call(method, path, body=None):
    r = urllib.request.Request("http://127.0.0.1:7700" + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + sys.argv[1], "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=30) as resp:
        return json.loads(resp.read())
if sys.argv[2] == "write":
    task = call("POST", "/indexes/markers/documents", [{"id": 1, "value": sys.argv[3]}])
    while call("GET", f"/tasks/{task['taskUid']}")["status"] not in ("succeeded", "failed"):
        time.sleep(0.2)
    assert call("GET", f"/tasks/{task['taskUid']}")["status"] == "succeeded"
else:
    print(call("GET", "/indexes/markers/documents/1")["value"])
"""


def _meili_write(pod: Pod, value: str) -> None:
    pod.exec("brs", PYTHON, "-c", _MEILI, MEILI_KEY, "write", value)


def _meili_read(pod: Pod) -> str:
    return pod.exec("brs", PYTHON, "-c", _MEILI, MEILI_KEY, "read").strip()


# --- localfs ------------------------------------------------------------------------------------


def _file_write(pod: Pod, value: str) -> None:
    pod.exec("localfs", "sh", "-c", f"echo {value} > /data/marker.txt")


def _file_read(pod: Pod) -> str:
    return pod.exec("localfs", "cat", "/data/marker.txt").strip()


def _brs_image(pick: Callable[[Images], str]) -> Callable[[Images], dict[str, str]]:
    """The manifests' images with brs inside (registry.example.com/brs-*), built locally."""

    def images(built: Images) -> dict[str, str]:
        names = ("postgres", "redis", "etcd", "meilisearch", "localfs")
        return {f"registry.example.com/brs-{n}": pick(built) for n in names}

    return images


def _stock_redis(built: Images) -> dict[str, str]:
    return {"registry.example.com/brs-provision": built.provision, "docker.io/library/redis": built.stock_redis}


def _with_timescaledb(documents: list[dict[str, Any]]) -> None:
    """deploy/postgres-local.yaml with TimescaleDB preloaded, as its server's command line."""
    for document in documents:
        if document["kind"] == "StatefulSet":
            document["metadata"]["name"] = "timescaledb"
            container = document["spec"]["template"]["spec"]["containers"][0]
            container["command"] += ["-c", "shared_preload_libraries=timescaledb"]


_redis_write, _redis_read = _cli("redis-cli")
_valkey_write, _valkey_read = _cli("valkey-cli")

REDIS = Database(
    "redis",
    "redis-local.yaml",
    _brs_image(lambda images: images.database),
    _redis_write,
    _redis_read,
    started=r"Redis version=",
    shut_down=r"Redis is now ready to exit",
    secrets=lambda key: [secret("redis-brs", **{"encryption-key": key})],
)
DATABASES = [
    Database(
        "postgres",
        "postgres-local.yaml",
        _brs_image(lambda images: images.database),
        _pg_write,
        lambda pod: _psql(pod, "SELECT value FROM marker"),
        started=r"starting PostgreSQL 15",
        shut_down=r"database system is shut down",
        secrets=lambda key: [secret("postgres", password="pod-test-password"), secret("postgres-brs", **{"encryption-key": key})],
        after_stop=_pg_controldata,
    ),
    REDIS,
    dataclasses.replace(
        REDIS,
        name="valkey",
        write=_valkey_write,
        read=_valkey_read,
        started=r"Valkey version=",
        shut_down=r"Valkey is now ready to exit",
        adapt=_as_valkey,
        container="redis",
    ),
    Database(
        "etcd",
        "etcd-local.yaml",
        _brs_image(lambda images: images.etcd),
        _etcd_write,
        _etcd_read,
        started=r"etcd Version: ",
        shut_down=r"stopped serving|closed etcd server|skipped leadership transfer",
        secrets=lambda key: [secret("etcd-brs", **{"encryption-key": key})],
    ),
    Database(
        "meilisearch",
        "meilisearch-local.yaml",
        _brs_image(lambda images: images.meilisearch),
        _meili_write,
        _meili_read,
        started=r"Database path:",
        # Meilisearch keeps no state in memory (LMDB is crash-safe) and has no SIGTERM handler:
        # it ends by the signal itself (128+15), within the grace time, not by SIGKILL (137).
        shut_down=r"meilisearch exited with 143",
        secrets=lambda key: [
            secret("meilisearch-brs", **{"encryption-key": key}),
            secret("meilisearch", **{"master-key": MEILI_KEY}),
        ],
    ),
    Database(
        "localfs",
        "localfs-local.yaml",
        _brs_image(lambda images: images.database),
        _file_write,
        _file_read,
        started=r"started sh",
        shut_down=r"sh exited with 0",
        secrets=lambda key: [secret("localfs-brs", **{"encryption-key": key})],
    ),
    Database(
        "rethinkdb",
        "rethinkdb-local.yaml",
        lambda images: {"registry.example.com/brs-rethinkdb": images.rethinkdb},
        rethinkdb_write,
        rethinkdb_read,
        started=r"Running rethinkdb 2\.4\.4",
        shut_down=r"Storage engine shut down\.",
        secrets=lambda key: [
            secret("rethinkdb-brs", **{"encryption-key": key}),
            secret("rethinkdb", password=RETHINKDB_PASSWORD),
        ],
    ),
    # The unmodified redis image; brs comes from the provisioning image's init container.
    dataclasses.replace(
        REDIS, name="redis-provisioned", manifest="redis-provision.yaml", images=_stock_redis, container="redis", stock=True
    ),
]

# TimescaleDB in the postgres pod: compressed hypertable chunks survive the physical backup and
# both restores.
DATABASES.append(
    dataclasses.replace(
        next(d for d in DATABASES if d.name == "postgres"),
        name="timescaledb",
        write=timescaledb_write,
        read=timescaledb_read,
        adapt=_with_timescaledb,
        container="postgres",
    )
)


@pytest.fixture
def play(pods_session: Session, key: str, tmp_path: Path) -> Iterator[Callable[[Database], Pod]]:
    """Convert a deploy/ manifest for podman and return the (not yet played) pod; removed afterwards."""
    made: list[Pod] = []

    def make(database: Database) -> Pod:
        documents = manifest(DEPLOY / database.manifest) + database.secrets(key)
        database.adapt(documents)
        images = database.images(pods_session.images)
        converted = convert(documents, volume_suffix=f"-{pods_session.suffix}", image_map=images)
        pod = Pod(pods_session.podman, converted, tmp_path)
        pods_session.pods.append(pod.name)
        made.append(pod)
        return pod

    yield make
    for pod in made:
        pod.remove()
        for volume in pod.volumes:
            pods_session.podman("volume", "rm", "-f", volume, check=False)


def _after(line: LogLine, other: LogLine, what: str) -> None:
    assert line.time > other.time, f"{what}: {line.time} {line.text!r} is not after {other.time} {other.text!r}"


@pytest.mark.parametrize("database", DATABASES, ids=[d.name for d in DATABASES])
def test_pod_backs_up_restores_before_start_and_restores_online(
    database: Database, play: Callable[[Database], Pod], pods_session: Session
) -> None:
    started = time.monotonic()
    pod = play(database)
    data_volume = pod.volumes[0]
    assert data_volume.startswith("data-")
    db = database.container

    # 1. Empty volumes: the sidecar finds nothing to restore, the database starts empty.
    pod.play()
    pod.wait_ready()
    assert re.search(r"there are no backups .*in the storage: the database starts EMPTY", pod.log_text("brs"))
    # brs runs on the image's interpreter (Debian 12's), or the bundle's copy of it.
    assert pod.exec("brs", PYTHON, "-c", "import sys; print(sys.version.split()[0])").strip() == "3.11.2"
    if database.stock:  # the database image has no Python of its own
        assert pod.exec(db, "sh", "-c", "command -v python3 || echo none").strip() == "none"
    _check_hardening(pod)
    database.write(pod, "first")
    older = pod.backup()
    database.write(pod, "second")
    newer = pod.backup()
    assert database.read(pod) == "second"

    # 2. A graceful stop: the database gets SIGTERM through brs wait and shuts down cleanly.
    pod.stop(60)
    db_log = pod.log_text(db)
    assert re.search(database.shut_down, db_log), db_log[-3000:]
    assert re.search(r"\S+ exited with \d+", db_log), db_log[-3000:]  # by itself, after SIGTERM:
    assert "did not exit within" not in db_log  # brs wait did not have to kill it
    assert pod.state("brs")["ExitCode"] == 0, pod.log_text("brs")[-3000:]
    if database.after_stop:
        database.after_stop(pods_session, pod)

    # 3. The data volume is lost; the pod is played again from the same manifest.
    pod.remove()
    pod.remove_volume(data_volume)
    pod.play()
    pod.wait_ready()
    assert database.read(pod) == "second"  # at the first query
    restored = pod.first("brs", rf"restored backup {newer}")
    _after(pod.first(db, r"started \S+"), restored, "brs wait started the database after the restore")
    _after(pod.first(db, database.started), restored, "the database's first own log line")
    assert "initialised an empty database" not in pod.log_text(db)

    # 4. The older backup restored online through the API: the database stops and comes back.
    pod.restore(older)
    pod.wait_ready()
    assert database.read(pod) == "first"
    db_log = pod.log_text(db)
    assert re.search(r"the sidecar asked to stop the database \(generation \d+\)", db_log), db_log[-3000:]
    assert len(re.findall(database.started, db_log)) == 2, db_log[-3000:]
    assert re.search(database.shut_down, db_log)
    assert f"restored backup {older}" in pod.log_text("brs")

    # 5. brs verify inside the sidecar, on the image's Python (Debian 12: 3.11.2).
    verified = pod.exec("brs", BRS, "verify", "latest")
    assert "intact" in verified or "verified" in verified.lower(), verified
    listed = json.loads(pod.exec("brs", BRS, "backups", "list", "--json"))
    assert {b["version"] for b in listed} >= {older, newer}
    (config,) = [d["data"]["config.yaml"] for d in pod.documents if "config.yaml" in d.get("data", {})]
    method = re.search(r"compression-method: (\S+)", config)
    assert method and {b["compression"] for b in listed} == {method.group(1)}, listed
    assert all(b["encrypted"] for b in listed)
    pods_session.timings[f"pod {database.name}"] = round(time.monotonic() - started, 1)


def _check_hardening(pod: Pod) -> None:
    """Where the manifest asks for the restricted profile, the containers really run that way."""
    (spec,) = [d["spec"] for d in pod.documents if d["kind"] == "Pod"]
    for container in spec["containers"]:
        context = container.get("securityContext") or {}
        if not context.get("readOnlyRootFilesystem"):
            continue
        name = container["name"]
        assert pod.exec(name, "id", "-u").strip() == "999"
        status = pod.exec(name, "cat", "/proc/self/status")
        fields = dict(re.findall(r"^(\w+):\s+(.*)$", status, re.M))
        assert fields["CapEff"] == fields["CapPrm"] == "0000000000000000", status
        assert fields["NoNewPrivs"] == "1"
        assert fields["Seccomp"] == "2"  # a filter: RuntimeDefault
        denied = pod.exec(name, "sh", "-c", "touch /usr/probe 2>&1; echo $?", check=False)
        assert "Read-only file system" in denied, denied


def test_no_network_was_created(pods_session: Session) -> None:
    """Pods ran with --network none: no podman network, no bridge or veth device appeared."""
    assert pods_session.podman.networks() <= pods_session.networks_before
    new_links = link_names() - pods_session.links_before
    assert not [n for n in new_links if n.startswith(("cni-podman", "podman", "veth"))], new_links
