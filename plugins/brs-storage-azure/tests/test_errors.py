"""Permanent failures are one clear line from the real CLI (exit 1), naming container and prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from brs_storage_azure.testing import ACCOUNT_KEY, Azurite, unique_container
from brs.testing import assert_one_line_error, free_port
from brs.testing.storage import backup_small
from datetime import UTC

pytestmark = pytest.mark.server("azurite")


def test_a_wrong_account_key(tmp_path: Path, azurite: Azurite) -> None:
    env = azurite.env(tmp_path, unique_container(), prefix="prod/db")
    wrong = "A" * 86 + "=="
    Path(env["BRS_AZURE_CONNECTION_STRING_FILE"]).write_text(azurite.connection_string(key=wrong))
    # Azure answers 403 AuthenticationFailed, Azurite 403 AuthorizationFailure: both name the credentials.
    line = assert_one_line_error(backup_small(env), "credentials", "/prod/db/", secrets=(wrong, ACCOUNT_KEY))
    assert azurite.endpoint in line


def test_a_malformed_connection_string(tmp_path: Path, azurite: Azurite) -> None:
    env = azurite.env(tmp_path, unique_container(), prefix="prod/db")
    Path(env["BRS_AZURE_CONNECTION_STRING_FILE"]).write_text("AccountKey=secret-part-of-a-broken-string")
    assert_one_line_error(
        backup_small(env), "--azure-connection-string is malformed", secrets=("secret-part-of-a-broken-string",)
    )


def test_a_missing_container_with_creation_disabled(tmp_path: Path, azurite: Azurite) -> None:
    container = unique_container("missing")
    result = backup_small(azurite.env(tmp_path, container, prefix="prod/db"), BRS_AZURE_CREATE_CONTAINER="false")
    assert_one_line_error(result, f"container {container} does not exist", "prod/db", secrets=(ACCOUNT_KEY,))


def test_a_missing_container_without_permission_to_create_it(tmp_path: Path, azurite: Azurite) -> None:
    from datetime import datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    # A container SAS may work with blobs in its container but never create the container.
    container = unique_container("missing")
    sas = generate_container_sas(
        "devstoreaccount1",
        container,
        ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    env = {k: v for k, v in azurite.env(tmp_path, container, prefix="prod/db").items() if k != "BRS_AZURE_CONNECTION_STRING_FILE"}
    env["BRS_AZURE_ACCOUNT_URL"] = f"{azurite.endpoint}?{sas}"
    line = assert_one_line_error(backup_small(env), container, "prod/db", secrets=(sas,))
    assert "sig=" not in line


def test_a_wrong_endpoint(tmp_path: Path, azurite: Azurite) -> None:
    env = azurite.env(tmp_path, "some-container", prefix="prod/db")
    endpoint = f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    Path(env["BRS_AZURE_CONNECTION_STRING_FILE"]).write_text(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};BlobEndpoint={endpoint};"
    )
    result = backup_small(env, BRS_AZURE_MAX_RETRIES="1")
    assert_one_line_error(result, "cannot connect to the endpoint", f"{endpoint}/some-container/prod/db/", secrets=(ACCOUNT_KEY,))


@pytest.mark.parametrize("trusted", ["other", "right"])
def test_tls_with_a_custom_ca(tmp_path: Path, azurite_factory: Any, trusted: str) -> None:
    ca, other, cert, key = _pki(tmp_path / "pki")
    server = azurite_factory(tls=(cert, key))
    env = server.env(tmp_path, unique_container(), prefix="prod/db")
    result = backup_small(env, BRS_AZURE_TRUSTED_CA_CERT=str(ca if trusted == "right" else other), BRS_AZURE_MAX_RETRIES="0")
    if trusted == "right":
        assert result.returncode == 0, result.stderr
    else:
        assert_one_line_error(result, "TLS", "prod/db")


def _pki(directory: Path) -> tuple[Path, Path, Path, Path]:
    """A CA, an unrelated CA, and a certificate for 127.0.0.1 signed by the first."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def certificate(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    paths = []
    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    for filename, cert in (
        ("ca.pem", certificate("brs-test-ca", ca_key, "brs-test-ca", ca_key, True)),
        ("other.pem", certificate("brs-other-ca", other_key, "brs-other-ca", other_key, True)),
        ("server.pem", certificate("127.0.0.1", server_key, "brs-test-ca", ca_key, False)),
    ):
        (directory / filename).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths.append(directory / filename)
    (directory / "server.key").write_bytes(
        server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths[0], paths[1], paths[2], directory / "server.key"
