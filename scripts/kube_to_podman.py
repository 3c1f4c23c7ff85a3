"""Turn Kubernetes manifests into what ``podman kube play`` (4.3) accepts.

``podman kube play`` stands in for a kubelet in the pod tests, but it refuses or mishandles
parts of ordinary manifests. This module rewrites them, and nothing else:

* a StatefulSet becomes the Pod its first replica would be (``<name>-0``), and each of its
  ``volumeClaimTemplates`` a ``persistentVolumeClaim`` volume named like Kubernetes names the
  claim (``<template>-<name>-0``); podman creates a missing claim as a named volume;
* PersistentVolumeClaim documents are dropped (podman fails on one whose volume exists; a claim
  a pod names is created anyway);
* Secrets become ConfigMaps named ``<secret>-secret`` (a ConfigMap may have the Secret's name),
  and every reference to them (volumes, ``secretKeyRef``, ``envFrom.secretRef``) follows:
  consuming a Secret is broken in podman 4.3;
* a pod with init containers gets ``restartPolicy: OnFailure``: under ``Always`` podman 4.3
  restarts an init container that exited 0 over and over, and the other containers never start;
* container ports are removed (refused without a network: pods run with ``--network none`` and
  their containers talk over the pod's loopback), and so are probes (they need systemd);
* images are replaced through ``image_map`` (exact reference first, then the repository without
  tag), with ``imagePullPolicy: Never``, so that nothing is ever pulled;
* kinds podman does not play (Service, ServiceAccount, NetworkPolicy, monitoring resources, ...)
  are dropped, and so are ConfigMaps no pod uses.

Use it as a library (``convert``) or as a program::

    python scripts/kube_to_podman.py --volume-suffix=-t1 --image postgres:16=localhost/brs-pg:test \\
        deploy/postgres-local.yaml > pod.yaml
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConversionError", "claim_names", "convert", "main", "secret_config_map"]

#: Kinds ``podman kube play`` runs; ConfigMaps and Secrets are handled separately.
WORKLOADS = ("Pod", "Deployment", "StatefulSet")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


class ConversionError(ValueError):
    """A manifest that cannot be played: an unmapped image, a malformed document."""


def convert(
    documents: Iterable[Mapping[str, Any] | None],
    *,
    volume_suffix: str = "",
    image_map: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Return the documents ``podman kube play --network none`` accepts, ConfigMaps first.

    ``volume_suffix`` is appended to every claim name, so that several plays of one manifest
    get their own volumes. ``image_map`` maps image references (``postgres:16``) or
    repositories (``postgres``) to local tags; an image it does not map is an error, since
    podman would try to pull it. ``None`` leaves images as they are.
    """
    workloads: list[dict[str, Any]] = []
    config_maps: dict[str, dict[str, Any]] = {}
    secrets: set[str] = set()
    for document in documents:
        if not document:
            continue
        kind = document.get("kind")
        name = _name(document)
        if kind in ("ConfigMap", "Secret"):
            config_map = copy.deepcopy(dict(document)) if kind == "ConfigMap" else _secret_to_config_map(document)
            map_name = config_map["metadata"]["name"]
            if map_name in config_maps:
                raise ConversionError(f"two ConfigMaps named {map_name!r} (Secret S becomes ConfigMap S-secret)")
            config_maps[map_name] = config_map
            if kind == "Secret":
                secrets.add(name)
        elif kind in WORKLOADS:
            workloads.append(_workload(document, volume_suffix, image_map))
    used: set[str] = set()
    for workload in workloads:
        spec = _pod_spec(workload)
        _replace_secret_references(spec, secrets)
        used |= _config_maps_used(spec)
    return [config_maps[n] for n in sorted(used & config_maps.keys())] + workloads


def secret_config_map(secret: str) -> str:
    """The name of the ConfigMap a Secret becomes."""
    return f"{secret}-secret"


def claim_names(documents: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every ``persistentVolumeClaim`` a played document mounts: the named volumes podman creates."""
    names: list[str] = []
    for document in documents:
        if document.get("kind") in WORKLOADS:
            for volume in _pod_spec(document).get("volumes") or []:
                claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                if claim and claim not in names:
                    names.append(claim)
    return names


def _name(document: Mapping[str, Any]) -> str:
    try:
        return str(document["metadata"]["name"])
    except (KeyError, TypeError):
        raise ConversionError(f"a {document.get('kind', 'document')} without metadata.name") from None


def _pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "Pod":
        spec: dict[str, Any] = workload["spec"]
    else:
        spec = workload["spec"]["template"]["spec"]
    return spec


def _workload(document: Mapping[str, Any], suffix: str, image_map: Mapping[str, str] | None) -> dict[str, Any]:
    workload = copy.deepcopy(dict(document))
    if workload["kind"] == "StatefulSet":
        workload = _statefulset_to_pod(workload)
    spec = _pod_spec(workload)
    for volume in spec.get("volumes") or []:
        claim = volume.get("persistentVolumeClaim")
        if claim and claim.get("claimName"):
            claim["claimName"] = f"{claim['claimName']}{suffix}"
    if spec.get("initContainers") and spec.get("restartPolicy", "Always") == "Always":
        spec["restartPolicy"] = "OnFailure"
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        container.pop("ports", None)
        for probe in PROBES:
            container.pop(probe, None)
        if image_map is not None:
            container["image"] = _local_image(str(container.get("image", "")), image_map)
            container["imagePullPolicy"] = "Never"
    return workload


def _statefulset_to_pod(statefulset: dict[str, Any]) -> dict[str, Any]:
    name = _name(statefulset)
    spec = statefulset.get("spec") or {}
    template = spec.get("template") or {}
    pod_spec = copy.deepcopy(template.get("spec") or {})
    volumes = pod_spec.setdefault("volumes", [])
    for claim in spec.get("volumeClaimTemplates") or []:
        template_name = _name(claim)
        volumes.append({"name": template_name, "persistentVolumeClaim": {"claimName": f"{template_name}-{name}-0"}})
    metadata = {"name": f"{name}-0", "labels": dict((template.get("metadata") or {}).get("labels") or {})}
    annotations = (template.get("metadata") or {}).get("annotations")
    if annotations:
        metadata["annotations"] = dict(annotations)
    # The pod of a StatefulSet with a governing service is reachable as <pod>.<service>.
    pod_spec.setdefault("hostname", f"{name}-0")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def _local_image(image: str, image_map: Mapping[str, str]) -> str:
    if image in image_map:
        return image_map[image]
    repository = _repository(image)
    if repository in image_map:
        return image_map[repository]
    raise ConversionError(f"no local image for {image!r}: podman would try to pull it (give it in image_map)")


def _repository(image: str) -> str:
    """``registry:5000/a/b:tag@sha256:...`` -> ``registry:5000/a/b``."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _secret_to_config_map(secret: Mapping[str, Any]) -> dict[str, Any]:
    name = _name(secret)
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            raw = base64.b64decode(str(value), validate=True)
        except binascii.Error:
            raise ConversionError(f"Secret {name}: data.{key} is not base64") from None
        try:
            data[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = str(value)
    for key, value in (secret.get("stringData") or {}).items():
        data[key] = str(value)
    metadata: dict[str, Any] = {"name": secret_config_map(name)}
    if secret["metadata"].get("labels"):
        metadata["labels"] = dict(secret["metadata"]["labels"])
    config_map: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    if binary:
        config_map["binaryData"] = binary
    return config_map


def _containers(spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def _replace_secret_references(spec: dict[str, Any], secrets: set[str]) -> None:
    for volume in spec.get("volumes") or []:
        secret = volume.get("secret")
        if secret is not None and secret.get("secretName") in secrets:
            del volume["secret"]
            others = {k: v for k, v in secret.items() if k != "secretName"}
            volume["configMap"] = {"name": secret_config_map(secret["secretName"]), **others}
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get("secret") or {}).get("name") in secrets:
                source["configMap"] = _renamed(source.pop("secret"))
    for container in _containers(spec):
        for variable in container.get("env") or []:
            source = variable.get("valueFrom") or {}
            if (source.get("secretKeyRef") or {}).get("name") in secrets:
                source["configMapKeyRef"] = _renamed(source.pop("secretKeyRef"))
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name") in secrets:
                source["configMapRef"] = _renamed(source.pop("secretRef"))


def _renamed(reference: dict[str, Any]) -> dict[str, Any]:
    return {**reference, "name": secret_config_map(reference["name"])}


def _config_maps_used(spec: Mapping[str, Any]) -> set[str]:
    used: set[str] = set()
    for volume in spec.get("volumes") or []:
        if volume.get("configMap"):
            used.add(volume["configMap"]["name"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("configMap"):
                used.add(source["configMap"]["name"])
    for container in _containers(spec):
        for variable in container.get("env") or []:
            reference = (variable.get("valueFrom") or {}).get("configMapKeyRef")
            if reference:
                used.add(reference["name"])
        for source in container.get("envFrom") or []:
            if source.get("configMapRef"):
                used.add(source["configMapRef"]["name"])
    return used


def main(argv: list[str] | None = None) -> int:
    """``kube_to_podman.py [--volume-suffix S] [--image FROM=TO]... FILE...``: YAML on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", help="manifests ('-' reads stdin)")
    parser.add_argument("--volume-suffix", default="", help="appended to every claim (volume) name")
    parser.add_argument("--image", action="append", default=[], metavar="FROM=TO", help="local image for FROM (repeat)")
    args = parser.parse_args(argv)
    image_map: dict[str, str] | None = None
    if args.image:
        image_map = {}
        for pair in args.image:
            source, sep, target = pair.partition("=")
            if not sep or not source or not target:
                parser.error(f"--image {pair!r}: expected FROM=TO")
            image_map[source] = target
    documents: list[Mapping[str, Any] | None] = []
    for path in args.files:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        documents.extend(yaml.safe_load_all(text))
    try:
        out = convert(documents, volume_suffix=args.volume_suffix, image_map=image_map)
    except ConversionError as error:
        print(f"kube_to_podman: error: {error}", file=sys.stderr)
        return 1
    yaml.safe_dump_all(out, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
