"""Releases of the Helm chart (deploy/helm/brs) as real pods: PostgreSQL and Redis, local storage.

The chart is rendered with helm exactly as for a cluster (image model, restricted security
context, secrets as 0400 files, read-only root file system), converted by kube_to_podman and run
through the same cycle as the manifests in deploy/: empty start, backups through the API, a
graceful stop, the data volume deleted, the restore before the database starts, an online
restore of the older backup, and ``brs verify``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import pytest
import test_pods
from pod_harness import REPO, Pod, Session, secret

# play: the fixture that converts and plays a Database's documents (defined next to the cycle).
from test_pods import DATABASES, Database, play  # noqa: F401

pytestmark = pytest.mark.server("podman")

_spec = importlib.util.spec_from_file_location("render_deploy", REPO / "scripts" / "render_deploy.py")
assert _spec and _spec.loader
render = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("render_deploy", render)
_spec.loader.exec_module(render)

PASSWORD = "chart-pod-password"


def _release(db: str) -> Callable[[list[dict[str, Any]]], None]:
    """Replace deploy/'s manifest by the chart's render of ``db`` with local storage (keeping the
    test's Secrets, which the chart expects to exist)."""

    def adapt(documents: list[dict[str, Any]]) -> None:
        values = render.combination(db, "local")
        values["fullnameOverride"] = f"chart-{db}"
        values["encryption"] = {"existingSecret": f"chart-{db}-encryption-key"}
        if db == "postgres":
            # The chart sets POSTGRES_PASSWORD_FILE, which the official image's entry point reads;
            # the tests' stand-in for it (tests/pods/base/docker-entrypoint.sh) reads only
            # POSTGRES_PASSWORD. The same test password is in the Secret brs reads its file from,
            # so brs's connections prove the password file; this variable only seeds initdb.
            values["database"]["extraEnv"] = [{"name": "POSTGRES_PASSWORD", "value": PASSWORD}]
        rendered = render.documents(render.helm_template(values, namespace="pods"))
        documents[:] = rendered + [d for d in documents if d["kind"] == "Secret"]

    return adapt


def _secrets(db: str) -> Callable[[str], list[dict[str, Any]]]:
    def make(key: str) -> list[dict[str, Any]]:
        made = [secret(f"chart-{db}-encryption-key", **{"encryption-key": key})]
        if db == "postgres":
            made.append(secret(f"chart-{db}-db", password=PASSWORD))
        return made

    return make


CHART_DATABASES = [
    dataclasses.replace(d, name=f"chart-{d.name}", adapt=_release(d.name), secrets=_secrets(d.name), container=d.name)
    for d in DATABASES
    if d.name in ("postgres", "redis")
]


@pytest.mark.parametrize("database", CHART_DATABASES, ids=[d.name for d in CHART_DATABASES])
def test_chart_release_restores_before_start(database: Database, request: pytest.FixtureRequest, pods_session: Session) -> None:
    player: Callable[[Database], Pod] = request.getfixturevalue("play")
    test_pods.test_pod_backs_up_restores_before_start_and_restores_online(database, player, pods_session)
