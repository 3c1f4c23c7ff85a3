"""Every rendered document is a valid object of the oldest and the newest Kubernetes we support."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_support import Render, render

pytestmark = pytest.mark.tools("kubernetes-validate")

#: The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
VERSIONS = ("1.25.0", "1.37.0")
#: Custom resources of the Prometheus Operator: kubernetes-validate has no schema for them;
#: promtool and the monitoring tests check their content.
CUSTOM = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def _distinct(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Many renders share documents; validate each distinct one once."""
    seen: dict[str, dict[str, Any]] = {}
    for doc in docs:
        seen.setdefault(json.dumps(doc, sort_keys=True), doc)
    return list(seen.values())


def test_kube_version_floor_matches_the_chart() -> None:
    chart = (render.CHART / "Chart.yaml").read_text()
    assert f'kubeVersion: ">={VERSIONS[0]}-0"' in chart


@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_documents_are_valid(version: str, good_renders: list[Render]) -> None:
    docs = _distinct([d for r in good_renders for d in r.documents if d["kind"] not in CUSTOM])
    assert len(docs) > 100
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} ({version}): {error.message}")


def test_the_restore_job_in_the_docs_is_valid() -> None:
    text = (render.ROOT / "docs" / "kubernetes.md").read_text()
    block = text.split("<!-- restore-job:start -->", 1)[1].split("<!-- restore-job:end -->", 1)[0]
    job = yaml.safe_load(block.strip().removeprefix("```yaml").removesuffix("```"))
    assert job["kind"] == "Job"
    for version in VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)
    # The same hardening as the chart's containers, and the volume names the chart's StatefulSet uses.
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["command"][:3] == ["brs", "restore", "latest"]
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in job["spec"]["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"data-shop-brs-0", "backup-shop-brs-0"}
