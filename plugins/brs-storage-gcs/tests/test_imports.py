"""What loading the plugin costs a process, and what it leaves for other plugins."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_the_plugin_loads_without_grpc_and_leaves_it_importable() -> None:
    """grpc (26 MiB with its dependencies) is not loaded for a JSON API client, and a plugin
    that needs it afterwards in the same process (etcd's client) still imports it."""
    out = _run(
        "import sys, brs_storage_gcs\n"
        "print('grpc' in sys.modules, 'google.cloud.storage' in sys.modules)\n"
        "import grpc\n"
        "print(grpc.__name__)\n"
    )
    assert out.splitlines() == ["False True", "grpc"]


def test_grpc_loaded_before_the_plugin_stays_as_it_is() -> None:
    out = _run("import grpc, sys\nimport brs_storage_gcs\nprint(sys.modules['grpc'] is grpc)\n")
    assert out == "True"
