"""Helpers of the deployment tests: the chart's renders and the offline tools.

The chart, the kustomize overlays and the monitoring files are checked with the real offline
tools (helm, kubectl kustomize, kubernetes-validate, checkov, promtool) that
scripts/install-deploy-tools.sh installs. A missing tool fails the tests with that hint.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run scripts/install-deploy-tools.sh (make test does)"


def _load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_deploy", ROOT / "scripts" / "render_deploy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_deploy"] = module
    spec.loader.exec_module(module)
    return module


render = _load_render()


def tool(name: str) -> str:
    """A deployment tool by name; fails (never skips) when it is not installed."""
    if name in ("helm", "kubectl"):
        try:
            return str(render.tool(name))
        except SystemExit as error:
            pytest.fail(f"{error} ({INSTALL_HINT})")
    candidates = [
        os.environ.get(f"BRS_{name.upper()}"),
        str(Path(os.environ.get("BRS_TEST_ROOT", "/opt/brs-test")) / "deploy-tools" / "bin" / name),
        shutil.which(name),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(f"{name} is not installed: {INSTALL_HINT}")


@dataclass(frozen=True)
class Render:
    """One combination of values and what the chart made of it."""

    db: str
    storage: str
    model: str
    documents: list[dict[str, Any]]
    error: str = ""
    #: ``helm lint --strict`` of the same values: (exit code, output).
    lint: tuple[int, str] = (0, "")

    @property
    def name(self) -> str:
        return f"{self.db}-{self.storage}-{self.model}"

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        (document,) = self.kind(kind)
        return document


#: Official images the provision model cannot serve (no glibc userland): the chart refuses them.
NO_GLIBC = {"etcd", "meilisearch"}
COMBINATIONS = list(itertools.product(render.DATABASES, render.STORAGES, render.MODELS))


def _render(db: str, storage: str, model: str) -> Render:
    values = render.combination(db, storage, model)
    values["metrics"] = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}, "dashboard": {"enabled": True}}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(values, handle)
        handle.flush()
        linted = subprocess.run(
            [tool("helm"), "lint", "--strict", str(render.CHART), "--namespace", "shop", "-f", handle.name],
            capture_output=True,
            text=True,
        )
    lint = (linted.returncode, linted.stdout + linted.stderr)
    try:
        return Render(db, storage, model, render.documents(render.helm_template(values, namespace="shop")), lint=lint)
    except RuntimeError as error:
        return Render(db, storage, model, [], str(error), lint)


def render_all() -> list[Render]:
    """Every database x storage x model (helm runs in parallel threads: it is mostly I/O)."""
    tool("helm")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda c: _render(*c), COMBINATIONS))
