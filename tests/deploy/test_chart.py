"""The Helm chart: lint, every combination renders, secure defaults, known brs options."""

from __future__ import annotations

import base64
import importlib.util
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import NO_GLIBC, Render, render, tool

from brs.cli.sidecar import start
from brs.interfaces import Role
from brs.plugins import driver_class

pytestmark = pytest.mark.tools("helm")

CHART = render.CHART


def _containers(statefulset: dict[str, Any]) -> list[dict[str, Any]]:
    spec = statefulset["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_helm_lint_strict(renders: list[Render]) -> None:
    for r in renders:
        code, output = r.lint
        if r.error:  # lint reports the chart's refusal (as information: helm lint exits 0 on `fail`)
            assert "needs a glibc-based database image" in output, r.name
            continue
        assert code == 0 and "0 chart(s) failed" in output, f"{r.name}: {output}"


def test_every_combination_renders(renders: list[Render]) -> None:
    assert len(renders) == 8 * 4 * 2
    for r in renders:
        if r.model == "provision" and r.db in NO_GLIBC:
            # A clear refusal instead of a pod that cannot run the provisioned Python.
            assert "needs a glibc-based database image" in r.error, r.name
            continue
        assert not r.error, f"{r.name}: {r.error}"
        kinds = sorted(d["kind"] for d in r.documents)
        assert kinds.count("StatefulSet") == 1 and kinds.count("ConfigMap") == 2, (r.name, kinds)
        assert {"Service", "ServiceAccount", "NetworkPolicy", "PrometheusRule", "ServiceMonitor"} <= set(kinds)


def test_provision_accepts_a_glibc_image_for_etcd() -> None:
    values = render.combination("etcd", "local", "provision")
    values["database"]["image"] = {"repository": "registry.example.com/etcd-debian", "tag": "3.5"}
    docs = render.documents(render.helm_template(values))
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/etcd-debian:3.5"


def test_bad_values_are_refused_by_the_schema() -> None:
    for bad, message in (
        ({"database": {"type": "mysql"}}, "database.type"),
        ({"storage": {"type": "ftp"}}, "storage.type"),
        ({"backup": {"schedule": "hourly"}}, "backup.schedule"),
        ({"backup": {"keep": 0}}, "backup.keep"),
        ({"backup": {"uploadRateLimit": "fast"}}, "backup.uploadRateLimit"),
        ({"backup": {"compressionLevel": "max"}}, "backup.compressionLevel"),
        ({"databse": {}}, "databse"),
    ):
        with pytest.raises(RuntimeError, match=message):
            render.helm_template(bad)


def test_every_container_is_restricted(good_renders: list[Render]) -> None:
    for r in good_renders:
        sts = r.one("StatefulSet")
        pod = sts["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, r.name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
        assert r.one("ServiceAccount")["automountServiceAccountToken"] is False
        mounts_by_path: dict[str, str] = {}
        for container in _containers(sts):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (r.name, container["name"])
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(container["resources"]) == {"requests", "limits"}
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            mounts_by_path.update(mounts)
            if container["name"] != "provision-brs":
                # A read-only root: the writable places are volumes.
                assert "/tmp" in mounts, (r.name, container["name"])
        volumes = {v["name"]: v for v in pod["volumes"]}
        claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
        assert set(mounts_by_path.values()) <= set(volumes) | claims, r.name
        if r.db == "postgres":
            assert volumes[mounts_by_path["/run/postgresql"]]["emptyDir"] == {}


def test_secrets_are_files_never_environment(good_renders: list[Render]) -> None:
    for r in good_renders:
        sts = r.one("StatefulSet")
        for container in _containers(sts):
            for variable in container.get("env", []):
                assert "valueFrom" not in variable, (r.name, container["name"], variable)
            assert "envFrom" not in container
        secrets = [v for v in sts["spec"]["template"]["spec"]["volumes"] if "secret" in v]
        assert secrets, r.name
        for volume in secrets:
            assert volume["secret"]["defaultMode"] == 0o400, (r.name, volume)
        config = _config(r)
        for key, value in config.items():
            if any(word in key for word in ("password", "key", "secret", "connection-string")):
                assert str(value).startswith("/secrets/"), (r.name, key)
                assert key.endswith(("-file", "passwordfile")), (r.name, key)


def _config_of(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The brs config file that the chart's ConfigMap among ``documents`` holds."""
    (config_map,) = [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-config")]
    return dict(yaml.safe_load(config_map["data"]["config.yaml"]))


def _config(r: Render) -> dict[str, Any]:
    return _config_of(r.kind("ConfigMap"))


def _config_file(values: dict[str, Any]) -> dict[str, Any]:
    return _config_of(render.documents(render.helm_template(values)))


def _known_options(db: str, storage: str, compression: str) -> set[str]:
    """Config keys brs start accepts with these plugins: brs's own option declarations."""
    params = list(start.params)
    for role, name in ((Role.DATABASE, db), (Role.STORAGE, storage), (Role.COMPRESSION, compression)):
        params += driver_class(role, name).Options.click_options()
    return {str(p.name).replace("_", "-") for p in params if p.name}


def test_config_keys_are_brs_options(good_renders: list[Render]) -> None:
    for r in good_renders:
        config = _config(r)
        assert config["db"] == r.db and config["backup-provider"] == r.storage
        known = _known_options(r.db, r.storage, config["compression-method"])
        unknown = set(config) - known
        assert not unknown, f"{r.name}: {sorted(unknown)} are not options of brs start or its plugins"


def test_extra_config_reaches_the_config_file() -> None:
    values = render.combination("postgres", "s3")
    values["brs"] = {"extraConfig": {"postgres-backup-method": "dumpall", "s3-lifecycle-days": 30}}
    config = _config_file(values)
    assert config["postgres-backup-method"] == "dumpall" and config["s3-lifecycle-days"] == 30
    assert set(config) <= _known_options("postgres", "s3", "tarzst")


def test_rate_limits_reach_the_config_file_as_brs_takes_them() -> None:
    from brs.units import parse_rate

    values = render.combination("redis", "s3")
    assert not {"disk-rate-limit", "upload-rate-limit"} & set(_config_file(values))  # unset: unpaced
    values["backup"] = {"diskRateLimit": "50MiB", "uploadRateLimit": "20MB/s"}
    config = _config_file(values)
    assert parse_rate(config["disk-rate-limit"]) == 50 << 20 and parse_rate(config["upload-rate-limit"]) == 20_000_000
    assert set(config) <= _known_options("redis", "s3", "tarzst")


def test_a_compression_level_of_zero_is_a_level_not_unset() -> None:
    values = render.combination("etcd", "gcs")
    assert "compression-level" not in _config_file(values)
    values["backup"] = {"compression": "tarlz4", "compressionLevel": 0}
    assert _config_file(values)["compression-level"] == 0
    values["backup"] = {"compression": "tarzst", "compressionLevel": 19}
    config = _config_file(values)
    assert config["compression-level"] == 19 and set(config) <= _known_options("etcd", "gcs", "tarzst")


def test_network_policy_admits_only_the_database_and_metrics_ports(good_renders: list[Render]) -> None:
    for r in good_renders:
        policy = r.one("NetworkPolicy")["spec"]
        assert policy["policyTypes"] == ["Ingress"]
        ports = sorted(p["port"] for rule in policy["ingress"] for p in rule["ports"])
        containers = r.one("StatefulSet")["spec"]["template"]["spec"]["containers"]
        declared = sorted(p["containerPort"] for c in containers for p in c.get("ports", []))
        assert ports == declared, r.name
        assert 2112 in ports and 8000 not in ports, r.name


def test_storage_credentials_follow_each_clouds_pattern() -> None:
    cases = {
        ("s3", "irsa"): ({"roleArn": "arn:aws:iam::1:role/brs"}, {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/brs"}),
        ("gcs", "workloadIdentity"): (
            {"serviceAccountEmail": "b@p.iam.gserviceaccount.com"},
            {"iam.gke.io/gcp-service-account": "b@p.iam.gserviceaccount.com"},
        ),
        ("azure", "workloadIdentity"): (
            {"clientId": "00000000-0000-0000-0000-000000000001", "accountUrl": "https://acct.blob.core.windows.net"},
            {"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000001"},
        ),
    }
    for (storage, auth), (settings, expected) in cases.items():
        values = render.combination("postgres", storage)
        values["storage"][storage] = {"auth": auth, **settings}
        docs = render.documents(render.helm_template(values))
        by_kind = {d["kind"]: d for d in docs}
        assert by_kind["ServiceAccount"]["metadata"]["annotations"] == expected
        volumes = by_kind["StatefulSet"]["spec"]["template"]["spec"]["volumes"]
        assert "storage-secret" not in {v["name"] for v in volumes}, (storage, auth)
        if storage == "azure":
            assert by_kind["StatefulSet"]["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        # The identity is required: no silent fallback to anonymous access.
        values["storage"][storage] = {"auth": auth}
        with pytest.raises(RuntimeError, match="is required"):
            render.helm_template(values)


def test_static_keys_come_from_the_named_secret(good_renders: list[Render]) -> None:
    expected = {"s3": "brs-s3", "azure": "brs-azure"}
    for r in good_renders:
        volumes = {v["name"]: v for v in r.one("StatefulSet")["spec"]["template"]["spec"]["volumes"]}
        if r.storage in expected:
            assert volumes["storage-secret"]["secret"]["secretName"] == expected[r.storage]
        else:
            assert "storage-secret" not in volumes


def test_the_encryption_key_is_created_once_and_kept() -> None:
    first = [d for d in render.documents(render.helm_template({})) if d["kind"] == "Secret"]
    (secret,) = first
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    key = base64.b64decode(secret["data"]["encryption-key"]).decode()
    assert len(key) == 32 and key.isascii()
    # The template reads an existing Secret back (lookup) instead of generating a new key.
    template = (CHART / "templates" / "secret-encryption-key.yaml").read_text()
    assert 'lookup "v1" "Secret"' in template
    with_existing = render.documents(render.helm_template({"encryption": {"existingSecret": "mine"}}))
    assert not [d for d in with_existing if d["kind"] == "Secret"]
    (sts,) = [d for d in with_existing if d["kind"] == "StatefulSet"]
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["encryption-key"]["secret"]["secretName"] == "mine"


def test_models_run_brs_from_the_right_place(good_renders: list[Render]) -> None:
    for r in good_renders:
        pod = r.one("StatefulSet")["spec"]["template"]["spec"]
        database, sidecar = pod["containers"]
        assert database["command"][1] == "wait" and sidecar["command"][1] == "start", r.name
        if r.model == "provision":
            (init,) = pod["initContainers"]
            assert database["command"][0] == sidecar["command"][0] == "/opt/brs/bin/brs"
            assert "brs-provision" in init["image"]
            assert database["image"] == sidecar["image"] and "brs-" not in database["image"].rsplit("/", 1)[-1]
        else:
            assert "initContainers" not in pod
            assert database["command"][0] == "brs"
            assert database["image"] == sidecar["image"] == f"registry.example.com/brs-{r.db}:" + database["image"].split(":")[-1]


def test_notes_name_the_secrets_to_create(tmp_path: Path) -> None:
    # helm prints NOTES only for an install, which needs a cluster: render the same text
    # (templates/_notes.tpl, which NOTES.txt includes) through a template in a copy of the chart.
    chart = tmp_path / "brs"
    shutil.copytree(CHART, chart)
    probe = '{{ dict "kind" "Notes" "text" (include "brs.notes" .) | toJson }}'
    (chart / "templates" / "notes-probe.yaml").write_text(probe)
    result = subprocess.run(
        [tool("helm"), "template", "shop", str(chart), "--namespace", "prod", "--show-only", "templates/notes-probe.yaml",
         "--set", "database.type=redis", "--set", "database.auth.enabled=true", "--set", "storage.type=s3"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notes = yaml.safe_load(result.stdout)["text"]
    assert "kubectl -n prod create secret generic shop-brs-db" in notes
    assert "redis.conf=" in notes
    assert "kubectl -n prod create secret generic shop-brs-s3" in notes
    assert "shop-brs-encryption-key" in notes
    assert (CHART / "templates" / "NOTES.txt").read_text().strip() == '{{ include "brs.notes" . }}'


def _kube_to_podman() -> Any:
    spec = importlib.util.spec_from_file_location("kube_to_podman", render.ROOT / "scripts" / "kube_to_podman.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("db", "model"), [("postgres", "image"), ("redis", "image"), ("redis", "provision")])
def test_renders_convert_to_podman_pods(db: str, model: str) -> None:
    """The pod tests play renders through scripts/kube_to_podman.py: it must take them as they are."""
    converter = _kube_to_podman()
    values = render.combination(db, "local", model)
    values["encryption"] = {"existingSecret": "brs-encryption-key"}
    docs = render.documents(render.helm_template(values))
    secrets = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
        for name, data in (("brs-encryption-key", {"encryption-key": "k" * 32}), ("brs-db", {"password": "pw"}))
    ]
    images = {f"registry.example.com/brs-{db}": "localhost/brs:test", "registry.example.com/brs-provision": "localhost/p:test"}
    images[f"docker.io/library/{db}"] = "localhost/stock:test"
    played = converter.convert(docs + secrets, volume_suffix="-t", image_map=images)
    (pod,) = [d for d in played if d["kind"] == "Pod"]
    assert pod["metadata"]["name"] == "brs-0"
    assert [c["name"] for c in pod["spec"]["containers"]] == [db, "brs"]
    assert converter.claim_names(played) == ["data-brs-0-t", "backup-brs-0-t"]
    config_maps = {d["metadata"]["name"] for d in played if d["kind"] == "ConfigMap"}
    assert "brs-config" in config_maps and "brs-encryption-key-secret" in config_maps
    assert ("brs-db-secret" in config_maps) == (db == "postgres")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["encryption-key"]["configMap"]["defaultMode"] == 0o400
