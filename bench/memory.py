"""Where a brs process's memory goes before any data moves: the floor under every peak RSS figure.

``bench/pipeline.py`` and ``bench/storage.py`` report the peak RSS of whole backups and restores
against the 48 MiB target. This shows what that peak is made of: each layer of code a backup
loads is imported (and, for the storage plugins, its client built exactly as the plugin builds
it) in a fresh interpreter, and its ``VmHWM`` is printed with the step from the layer below it.
For the layer that every backup loads it also splits the resident memory into the mapped code of
the interpreter and the extension modules (file-backed) and the Python objects (anonymous).

A storage client's layer adds to "backup core" (the engine, the codecs, AES-GCM, BLAKE3); the
data in flight (pieces between the threads, a part or block being uploaded) comes on top of
every layer and is what ``bench/pipeline.py`` measures. Nothing is asserted: the figures go into
docs/performance.md.

    .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: Modules a local backup or restore loads whatever its method: the CLI, the engine and its
#: stages, the codecs, the cipher and the digest.
_CORE = """
import brs.cli, brs.engine, brs.crypto, brs.extract, brs.archive, brs.builtins.local_storage
import brs.builtins.compression.lz4, brs.builtins.compression.zstd, brs.builtins.compression.gzip
import blake3
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
AESGCM(bytes(32)).encrypt(bytes(12), b"x", None)
"""

_S3 = """
from brs_storage_s3.client import make_client
from brs_storage_s3.options import S3Options
make_client(S3Options.from_values({"s3_bucket_name": "b", "s3_access_key": "k", "s3_secret_key": "s",
                                   "s3_endpoint": "https://127.0.0.1:9"}))
"""

_GCS = """
import os
os.environ["STORAGE_EMULATOR_HOST"] = "http://127.0.0.1:9"  # no credential lookup
from brs_storage_gcs.client import make_client
from brs_storage_gcs.options import GcsOptions
make_client(GcsOptions.from_values({"gcp_bucket_name": "b", "gcp_project": "p"}))
"""

_AZURE = """
from brs_storage_azure.client import make_service
from brs_storage_azure.options import AzureOptions
key = "a2V5" * 22
make_service(AzureOptions.from_values({"azure_container": "backups", "azure_connection_string":
    f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={key};BlobEndpoint=http://127.0.0.1:9/a;"}))
"""

#: (name, code, the layer it adds to)
LAYERS: list[tuple[str, str, str | None]] = [
    ("interpreter", "pass", None),
    ("brs CLI (brs --help)", "import brs.cli", "interpreter"),
    ("backup core", _CORE, "brs CLI (brs --help)"),
    ("+ TLS (ssl, default context)", _CORE + "import ssl\nssl.create_default_context()", "backup core"),
    ("+ S3 client (botocore)", _CORE + _S3, "backup core"),
    ("+ GCS client (google-cloud-storage)", _CORE + _GCS, "backup core"),
    ("+ Azure client (azure-storage-blob)", _CORE + _AZURE, "backup core"),
]

#: Printed by every probe: its peak RSS, and its resident memory split by kind of mapping.
_REPORT = """
import json
def _kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
print(json.dumps({"hwm": _kib("VmHWM"), "anon": _kib("RssAnon"), "file": _kib("RssFile")}))
"""


def probe(code: str) -> dict[str, int]:
    """Run ``code`` in a fresh interpreter of this venv and return what :data:`_REPORT` prints."""
    script = textwrap.dedent(code) + "\n" + _REPORT
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"memory probe failed: {last}")
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    rounds = 3
    peaks: dict[str, int] = {}
    splits: dict[str, dict[str, int]] = {}
    for name, code, _ in LAYERS:
        samples = [probe(code) for _ in range(rounds)]
        peaks[name] = sorted(s["hwm"] for s in samples)[rounds // 2]
        splits[name] = samples[0]
    print(f"peak RSS (VmHWM) of a fresh interpreter per layer, median of {rounds}; MiB")
    print(f"{'layer':40s} {'peak':>6s} {'step':>6s}  from")
    for name, _, below in LAYERS:
        step = f"{(peaks[name] - peaks[below]) / 1024:+6.1f}" if below else f"{'':6s}"
        print(f"{name:40s} {peaks[name] / 1024:6.1f} {step}  {below or ''}")
    core = splits["backup core"]
    print(
        f"backup core resident: {core['file'] / 1024:.1f} MiB mapped code (interpreter, extension modules), "
        f"{core['anon'] / 1024:.1f} MiB Python objects and heap"
    )


if __name__ == "__main__":
    main()
