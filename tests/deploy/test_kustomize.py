"""The kustomize base and overlays: current with the chart, and building exactly its renders."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml
from deploy_support import render, tool

pytestmark = pytest.mark.tools("kubectl")


def _canonical(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(d, sort_keys=True) for d in docs)


def test_generated_files_are_current() -> None:
    # deploy/kustomize, deploy/prometheusrule.yaml and the values reference in docs/kubernetes.md
    # are generated from the chart: a change to the chart without regenerating fails here.
    outdated = render.stale(render.generated_files())
    assert not outdated, f"run scripts/render_deploy.py: {[str(p.relative_to(render.ROOT)) for p in outdated]}"


def test_every_example_pair_has_an_overlay() -> None:
    overlays = {p.name for p in (render.KUSTOMIZE / "overlays").iterdir()}
    assert overlays == {f"{db}-{storage}" for db, storage in render.OVERLAYS}
    assert {s for _, s in render.OVERLAYS} == set(render.STORAGES)
    assert {d for d, _ in render.OVERLAYS} == set(render.DATABASES)


def test_overlays_build_the_charts_render() -> None:
    kubectl = tool("kubectl")

    def build(pair: tuple[str, str]) -> tuple[tuple[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
        db, storage = pair
        directory = render.KUSTOMIZE / "overlays" / f"{db}-{storage}"
        result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
        assert result.returncode == 0, f"{directory}: {result.stderr}"
        return pair, render.documents(result.stdout), render.render_kustomize_docs(db, storage)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for pair, built, expected in pool.map(build, render.OVERLAYS):
            assert _canonical(built) == _canonical(expected), pair


def test_monitoring_kustomization_builds() -> None:
    result = subprocess.run([tool("kubectl"), "kustomize", str(render.KUSTOMIZE / "monitoring")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(result.stdout) if d)
    assert kinds == ["ConfigMap", "PrometheusRule", "ServiceMonitor"]
