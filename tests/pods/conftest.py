"""Pod tests: real containers under podman, from images built with the repository's wheels.

One session builds everything once: the cached Debian base images (scripts/build-base-images.sh),
the wheels (``make wheels``) and the images of deploy/images. Every pod, volume and image the
session created is removed at its end.
"""

from __future__ import annotations

import fcntl
import secrets
from concurrent.futures import ThreadPoolExecutor
import subprocess
import time
from collections.abc import Iterator

import pytest

# The harness next to this file, and the manifest converter (a script of the repository).

from pod_harness import PODS_ROOT, REPO, Images, Podman, Session, link_names

#: Where the base images import to: PostgreSQL's programs on PATH, as in the official image.
BASE_PATH = "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WHEEL_PLUGINS = ("brs-postgres", "brs-redis", "brs-localfs", "brs-etcd", "brs-meilisearch", "brs-rethinkdb")


#: Seconds per set-up step and per pod, reported at the end of the run (CI time matters).
TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "pod test times")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{seconds:7.1f}s  {name}")


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = round(time.monotonic() - started, 1)


@pytest.fixture(scope="session")
def pods_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    podman = Podman()
    # One session at a time per storage: another one's pods and images are not leftovers.
    lock = (PODS_ROOT / "session.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    _remove_leftovers(podman)
    timings = TIMINGS
    networks_before, links_before = podman.networks(), link_names()
    images_before = podman.image_ids()
    volumes_before = set(podman("volume", "ls", "-q").stdout.split())
    suffix = secrets.token_hex(3)
    played: list[str] = []
    started = time.monotonic()
    # The wheels build while the base images are built (or taken from the cache) and imported.
    wheels_log = tmp_path_factory.mktemp("wheels") / "make-wheels.log"
    plugins = " ".join(f"plugins/{p}" for p in WHEEL_PLUGINS)
    with wheels_log.open("wb") as log:
        wheels = subprocess.Popen(
            ["nice", "-n", "10", "make", "-s", "-C", str(REPO), "wheels", f"WHEEL_PLUGINS={plugins}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        t = time.monotonic()
        out = subprocess.run(
            ["bash", str(REPO / "scripts" / "build-base-images.sh")], capture_output=True, text=True, timeout=1800
        )
        assert out.returncode == 0, f"build-base-images.sh failed:\n{out.stderr[-4000:]}"
        tars = dict(line.split("=", 1) for line in out.stdout.split())
        _timed(timings, "base images (mmdebstrap or cache)", t)
        t = time.monotonic()
        base = f"localhost/brs-test-base:{suffix}"
        stock = f"localhost/brs-test-stock-redis:{suffix}"
        podman("import", "--change", f"ENV PATH={BASE_PATH}", "--change", 'CMD ["/bin/bash"]', tars["brs-test-base"], base)
        stock_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        podman("import", "--change", f"ENV {stock_path}", "--change", 'CMD ["/bin/bash"]', tars["brs-test-stock-redis"], stock)
        _timed(timings, "podman import", t)
        t = time.monotonic()
        assert wheels.wait(900) == 0, f"make wheels failed:\n{wheels_log.read_text()[-4000:]}"
        _timed(timings, "make wheels (after the import)", t)
        images = Images(
            base,
            stock,
            database=f"localhost/brs-test-database:{suffix}",
            etcd=f"localhost/brs-test-etcd:{suffix}",
            meilisearch=f"localhost/brs-test-meilisearch:{suffix}",
            provision=f"localhost/brs-test-provision:{suffix}",
            rethinkdb=f"localhost/brs-test-rethinkdb:{suffix}",
        )
        builds = [  # (Containerfile directory, tag, build arguments)
            ("database", images.database, {"BASE": base, "PLUGINS": "brs-postgres brs-redis brs-localfs"}),
            ("etcd", images.etcd, {"BASE": base, "ETCD_IMAGE": base, "ETCD_BIN": "/usr/bin"}),  # Debian's etcd
            ("meilisearch", images.meilisearch, {"BASE": base, "MEILISEARCH_IMAGE": base}),
            ("provision", images.provision, {"BASE": base}),
            ("rethinkdb", images.rethinkdb, {"BASE": base}),
        ]
        t = time.monotonic()
        # Two at a time: each build is a pip install, half waiting for the disk.
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [
                pool.submit(podman.build, REPO / "deploy" / "images" / name / "Containerfile", tag, REPO, arguments)
                for name, tag, arguments in builds
            ]
            for future in done:
                future.result()
        _timed(timings, "build the images of deploy/images (2 at a time)", t)
        _timed(timings, "session set-up", started)
        session = Session(podman, images, suffix, networks_before, links_before, timings, played)
        yield session
    finally:
        if wheels.poll() is None:
            wheels.kill()
            wheels.wait()
        _clean_up(podman, played, images_before, volumes_before)
        for tag in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
            if tag.endswith(f":{suffix}"):
                podman("rmi", "--ignore", tag, check=False)
        lock.close()


def _remove_leftovers(podman: Podman) -> None:
    """The private storage belongs to these tests: a session that was killed left its pods there."""
    for pod in podman("pod", "ls", "-q").stdout.split():
        podman("pod", "rm", "-f", pod, check=False)
    for volume in podman("volume", "ls", "-q").stdout.split():
        podman("volume", "rm", "-f", volume, check=False)
    for tag in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        if tag.startswith("localhost/brs-test-"):
            podman("rmi", "--ignore", tag, check=False)


def _clean_up(podman: Podman, pods: list[str], images_before: set[str], volumes_before: set[str]) -> None:
    """Remove every pod, volume and image the session created (the pods first: they hold the rest)."""
    for pod in pods:
        podman("pod", "rm", "-f", "--ignore", pod, check=False)
    for volume in set(podman("volume", "ls", "-q").stdout.split()) - volumes_before:
        podman("volume", "rm", "-f", volume, check=False)
    for image in podman.image_ids() - images_before:
        podman("rmi", "-f", image, check=False)


@pytest.fixture(scope="session")
def key() -> str:
    """The encryption key of every pod's backups (32 ASCII characters)."""
    return secrets.token_hex(16)
