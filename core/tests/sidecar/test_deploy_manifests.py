"""The example manifests in deploy/ are valid Kubernetes objects and alert on real series."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from brs.sidecar.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
#: Kinds without a schema in kubernetes-validate (custom resources); checked structurally.
CUSTOM = {"PrometheusRule"}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                out.append((f"{path.name}:{document['kind']}/{document['metadata']['name']}", document))
    return out


def test_there_are_manifests() -> None:
    assert {p.name for p in MANIFESTS} >= {"postgres-local.yaml", "prometheusrule.yaml"}


_BUILTIN = [(n, d) for n, d in _documents() if d["kind"] not in CUSTOM]


@pytest.mark.parametrize(("name", "document"), _BUILTIN, ids=[n for n, _ in _BUILTIN])
def test_manifest_is_valid(name: str, document: dict[str, Any]) -> None:
    import kubernetes_validate  # installed by make deploy-tools; missing means failing, never skipping

    # Offline and strict (unknown fields fail) against a Kubernetes version clusters still run.
    assert kubernetes_validate.validate(document, "1.29.0", strict=True)


def _exported_series() -> set[str]:
    names = set()
    for metric in Metrics("db", "storage").registry.collect():
        for sample in metric.samples:
            names.add(sample.name)
    return names


def test_alert_rules_use_exported_series() -> None:
    rules = [d for _, d in _documents() if d["kind"] == "PrometheusRule"]
    assert rules
    exported = _exported_series()
    alerts = {}
    for rule in rules:
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        for group in rule["spec"]["groups"]:
            for entry in group["rules"]:
                alerts[entry["alert"]] = entry["expr"]
                for series in re.findall(r"\bbrs_[a-z_]+", entry["expr"]):
                    assert series in exported, f"{entry['alert']} uses {series}, which brs does not export"
    assert "BrsNoRecentBackup" in alerts


def test_sidecar_config_uses_known_options() -> None:
    from brs.cli.sidecar import start

    config_maps = [d for _, d in _documents() if d["kind"] == "ConfigMap"]
    known = {opt.lstrip("-") for p in start.params for opt in getattr(p, "opts", [])}
    plugin_prefixes = ("postgres-", "redis-", "etcd-", "meilisearch-", "rethinkdb-", "local-provider-")
    for config_map in config_maps:
        config = yaml.safe_load(config_map["data"]["config.yaml"])
        for key in config:
            assert key in known or key.startswith(plugin_prefixes), f"{config_map['metadata']['name']}: unknown option {key}"
