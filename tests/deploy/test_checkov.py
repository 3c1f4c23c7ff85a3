"""checkov on every render: nothing of the Pod Security Standard "restricted" fails.

Checks that fail and are accepted (they are counted in docs/kubernetes.md, not skipped):

* CKV_K8S_43 "Image should use digest": the chart takes the tag the user pins; a digest is a
  value away (image.tag: "0.1.0@sha256:...").
* CKV_K8S_15 "Image Pull Policy should be Always": IfNotPresent keeps a restarting pod
  independent of the registry, which matters most for the pod that restores the database.
* CKV_K8S_40 "Containers should run as a high UID": 999 is the user the official database
  images own their data as (postgres, redis); podSecurityContext.runAsUser changes it.
* CKV_K8S_116..119 (etcd TLS arguments, etcd only): the etcd member serves the pod's loopback
  and the NetworkPolicy; TLS is configured with database.extraArgs and the etcd-* brs options.
* CKV_K8S_8, CKV_K8S_9 (liveness and readiness probes, localfs only): a plain directory has no
  server to probe; database.livenessProbe / readinessProbe add one for the program that writes it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml
from deploy_support import Render, render, tool

pytestmark = pytest.mark.tools("checkov")

#: The checks behind the Pod Security Standards (baseline and restricted).
PSS_RESTRICTED = {
    "CKV_K8S_16": "privileged",
    "CKV_K8S_17": "hostPID",
    "CKV_K8S_18": "hostIPC",
    "CKV_K8S_19": "hostNetwork",
    "CKV_K8S_20": "allowPrivilegeEscalation",
    "CKV_K8S_23": "runAsNonRoot",
    "CKV_K8S_25": "added capabilities",
    "CKV_K8S_26": "hostPort",
    "CKV_K8S_27": "docker socket (hostPath)",
    "CKV_K8S_28": "NET_RAW",
    "CKV_K8S_29": "pod and container securityContext",
    "CKV_K8S_30": "container securityContext",
    "CKV_K8S_31": "seccomp RuntimeDefault",
    "CKV_K8S_37": "capabilities drop ALL",
    "CKV_K8S_39": "CAP_SYS_ADMIN",
}
#: What this project requires on top: resources, read-only root, secrets as files, no API token.
REQUIRED = {
    **PSS_RESTRICTED,
    "CKV_K8S_10": "cpu requests",
    "CKV_K8S_11": "cpu limits",
    "CKV_K8S_12": "memory requests",
    "CKV_K8S_13": "memory limits",
    "CKV_K8S_14": "fixed image tag",
    "CKV_K8S_22": "read-only root file system",
    "CKV_K8S_35": "secrets as files",
    "CKV_K8S_38": "service account token",
}
#: Accepted failures (see above) and the database types they may occur with.
ACCEPTED = {
    "CKV_K8S_43": set(render.DATABASES),
    "CKV_K8S_15": set(render.DATABASES),
    "CKV_K8S_40": set(render.DATABASES),
    **{f"CKV_K8S_{n}": {"etcd"} for n in (116, 117, 118, 119)},
    "CKV_K8S_8": {"localfs"},
    "CKV_K8S_9": {"localfs"},
}
DOCS = render.ROOT / "docs" / "kubernetes.md"


@pytest.fixture(scope="module")
def checkov_failures(good_renders: list[Render], tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    """(render, check id, resource) of every failed check; one checkov run over all renders."""
    directory = tmp_path_factory.mktemp("checkov")
    for r in good_renders:
        (directory / f"{r.name}.yaml").write_text(yaml.safe_dump_all(r.documents))
    result = subprocess.run(
        [tool("checkov"), "--skip-download", "--framework", "kubernetes", "--directory", str(directory),
         "--output", "json", "--quiet", "--compact"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failures = []
    for report in reports:
        for check in report["results"]["failed_checks"]:
            failures.append((Path(check["file_path"]).stem, check["check_id"], check["resource"]))
    return failures


def test_no_restricted_or_required_check_fails(checkov_failures: list[tuple[str, str, str]]) -> None:
    bad = [f for f in checkov_failures if f[1] in REQUIRED]
    assert not bad, "\n".join(f"{name}: {check} ({REQUIRED[check]}) on {resource}" for name, check, resource in bad)


def test_every_failure_is_an_accepted_one(checkov_failures: list[tuple[str, str, str]]) -> None:
    unexpected = sorted(
        {(name, check) for name, check, _ in checkov_failures if name.split("-")[0] not in ACCEPTED.get(check, ())}
    )
    assert not unexpected, f"new checkov failures: {unexpected}"


def test_the_failure_count_in_the_docs_is_current(checkov_failures: list[tuple[str, str, str]]) -> None:
    default = Counter(check for name, check, _ in checkov_failures if name == "postgres-local-image")
    everything = len(checkov_failures)
    match = re.search(
        r"checkov (\d+\.\d+\.\d+) reports (\d+) failed checks? for the default release .* and (\d+)", DOCS.read_text()
    )
    assert match, "docs/kubernetes.md must state the checkov failure count"
    assert (int(match.group(2)), int(match.group(3))) == (sum(default.values()), everything), (default, everything)
