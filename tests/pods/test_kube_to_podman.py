"""The manifest converter for ``podman kube play`` (scripts/kube_to_podman.py): fast, no podman."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube_to_podman import ConversionError, claim_names, convert, main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
IMAGES = {"registry.example.com/brs-postgres": "localhost/brs-postgres:test"}


def _secret(name: str, **data: bytes) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded}


def _postgres_documents() -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all((DEPLOY / "postgres-local.yaml").read_text()) if d]
    return [*documents, _secret("postgres", password=b"pw"), _secret("postgres-brs", **{"encryption-key": b"k" * 32})]


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        out.setdefault(document["kind"], []).append(document)
    return out


def test_statefulset_becomes_its_first_pod_with_one_volume_per_claim_template() -> None:
    out = _by_kind(convert(_postgres_documents(), volume_suffix="-t1", image_map=IMAGES))
    assert set(out) == {"ConfigMap", "Pod"}  # the Service is not played
    (pod,) = out["Pod"]
    assert pod["metadata"] == {"name": "postgres-0", "labels": {"app.kubernetes.io/name": "postgres"}}
    spec = pod["spec"]
    assert spec["securityContext"]["runAsUser"] == 999
    assert "restartPolicy" not in spec  # no init containers: as written
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"data": "data-postgres-0-t1", "backup": "backup-postgres-0-t1"}
    assert claim_names(out["Pod"]) == ["data-postgres-0-t1", "backup-postgres-0-t1"]


def test_ports_and_probes_go_and_images_are_local_and_never_pulled() -> None:
    (pod,) = _by_kind(convert(_postgres_documents(), image_map=IMAGES))["Pod"]
    for container in pod["spec"]["containers"]:
        assert not {"ports", "livenessProbe", "readinessProbe", "startupProbe"} & container.keys()
        assert container["image"] == "localhost/brs-postgres:test"
        assert container["imagePullPolicy"] == "Never"
        # everything else is kept as written
        assert container["command"][0] == "brs"
        assert container["volumeMounts"]


def test_secrets_become_config_maps_and_their_references_follow() -> None:
    out = convert(_postgres_documents(), image_map=IMAGES)
    maps = {d["metadata"]["name"]: d for d in out if d["kind"] == "ConfigMap"}
    # The Secret postgres-brs and the ConfigMap postgres-brs both exist: the Secret gets its own name.
    assert set(maps) == {"postgres-brs", "postgres-secret", "postgres-brs-secret"}
    assert maps["postgres-secret"]["data"] == {"password": "pw"}
    assert maps["postgres-brs-secret"]["data"] == {"encryption-key": "k" * 32}
    assert "config.yaml" in maps["postgres-brs"]["data"]
    (pod,) = [d for d in out if d["kind"] == "Pod"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert "secret" not in volumes["postgres-secrets"]
    assert volumes["postgres-secrets"]["configMap"] == {"name": "postgres-secret", "defaultMode": 0o400}
    assert volumes["brs-secrets"]["configMap"]["name"] == "postgres-brs-secret"
    assert volumes["brs-config"]["configMap"]["name"] == "postgres-brs"
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"] == {"configMapKeyRef": {"name": "postgres-secret", "key": "password"}}
    assert out[0]["kind"] == "ConfigMap"  # ConfigMaps before the pods that use them


def test_a_binary_secret_value_stays_base64_in_binary_data() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "c", "image": "x", "envFrom": [{"secretRef": {"name": "s"}}]}],
        },
    }
    out = convert([_secret("s", text=b"plain", blob=b"\xff\x00"), pod])
    assert out[0]["metadata"]["name"] == "s-secret"
    assert out[0]["data"] == {"text": "plain"}
    assert base64.b64decode(out[0]["binaryData"]["blob"]) == b"\xff\x00"
    assert out[1]["spec"]["containers"][0]["envFrom"] == [{"configMapRef": {"name": "s-secret"}}]
    assert out[1]["spec"]["containers"][0]["image"] == "x"  # no image_map: left alone


def test_unused_config_maps_claims_and_other_kinds_are_dropped_deployments_kept() -> None:
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "initContainers": [{"name": "i", "image": "docker.io/library/redis:7", "ports": [{"containerPort": 1}]}],
                    "containers": [{"name": "c", "image": "redis:7"}],
                    "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "claim"}}],
                },
            }
        },
    }
    documents: list[Any] = [
        {"kind": "ConfigMap", "metadata": {"name": "unused"}, "data": {}},
        {"kind": "PersistentVolumeClaim", "metadata": {"name": "claim"}},
        {"kind": "ServiceAccount", "metadata": {"name": "sa"}},
        None,
        deployment,
    ]
    images = {"docker.io/library/redis:7": "localhost/a", "redis": "localhost/b"}
    (out,) = convert(documents, volume_suffix="-x", image_map=images)
    spec = out["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == "localhost/a"  # exact reference first
    assert "ports" not in spec["initContainers"][0]
    assert spec["containers"][0]["image"] == "localhost/b"  # then the repository
    assert spec["restartPolicy"] == "OnFailure"  # init containers run once
    assert claim_names([out]) == ["claim-x"]
    original = deployment["spec"]["template"]["spec"]["volumes"][0]
    assert original["persistentVolumeClaim"]["claimName"] == "claim"  # the input is untouched


def test_an_image_without_a_local_tag_is_an_error_rather_than_a_pull() -> None:
    with pytest.raises(ConversionError, match=re.escape("no local image for 'registry.example.com/brs-postgres:0.1.0-pg15'")):
        convert(_postgres_documents(), image_map={"postgres": "localhost/x"})


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "Pod", "spec": {}},
        {"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"}},
        [{"kind": "ConfigMap", "metadata": {"name": "s-secret"}}, {"kind": "Secret", "metadata": {"name": "s"}}],
    ],
)
def test_malformed_documents_are_refused_with_a_reason(document: Any) -> None:
    with pytest.raises(ConversionError):
        convert(document if isinstance(document, list) else [document])


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump_all(_postgres_documents()))
    image = "registry.example.com/brs-postgres=localhost/brs-postgres:test"
    assert main(["--volume-suffix=-cli", "--image", image, str(manifest)]) == 0
    out = list(yaml.safe_load_all(capsys.readouterr().out))
    assert claim_names(out) == ["data-postgres-0-cli", "backup-postgres-0-cli"]
    assert main(["--image", "postgres=localhost/x", str(manifest)]) == 1
    assert "no local image" in capsys.readouterr().err
