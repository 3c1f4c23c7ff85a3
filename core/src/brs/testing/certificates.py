"""Test certificates made with ``openssl``: a CA and a server and a client certificate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["make_certificates"]


def make_certificates(directory: Path) -> Path:
    """A test CA and a server and a client certificate for 127.0.0.1 (files NAME.crt/NAME.key).

    Writes ``ca``, ``server`` and ``client`` ``.crt``/``.key`` into ``directory`` and returns it;
    both leaf certificates may serve and authenticate clients. A missing ``openssl`` fails the
    test rather than skipping it.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not found (run scripts/install-system-deps.sh)", pytrace=False)
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=brs-test-ca")
    for name in ("server", "client"):
        (directory / f"{name}.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
        )
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")  # fmt: skip
    return directory
