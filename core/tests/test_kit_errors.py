"""brs.kit.errors: one line, secrets masked, the explaining cause found."""

from __future__ import annotations

from brs.errors import StorageError
from brs.kit.errors import cause_of, first_line, masked, one_line, storage_error

SAS_URL = "https://acct.blob.core.windows.net/c?sv=2024-01-01&sp=rl&sig=abc%2Bdef%3D"
CONNECTION = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net"


def test_a_storage_error_is_one_line_without_the_secrets_it_was_told_of() -> None:
    error = storage_error(
        "upload x", "s3://b/p/", "denied\n  for key wJalrXUtnFEMI/K7MDENG\n", secrets=("wJalrXUtnFEMI/K7MDENG", None)
    )
    assert isinstance(error, StorageError)
    assert str(error) == "cannot upload x in s3://b/p/: denied for key ***"


def test_credential_fields_are_masked_whatever_their_value() -> None:
    text = masked(f"GET {SAS_URL} failed; {CONNECTION}; X-Amz-Signature=0123abcd&x=1")
    assert "abc%2Bdef" not in text and "c2VjcmV0LWtleQ" not in text and "0123abcd" not in text
    assert "sig=***" in text and "AccountKey=***" in text and "X-Amz-Signature=***&x=1" in text
    assert "AccountName=acct" in text  # what is not a credential stays, for the reader


def test_the_longest_secret_is_masked_first() -> None:
    assert masked("url https://h/?a=1 and https://h/", ["https://h/", "https://h/?a=1"]) == "url *** and ***"


def test_one_line_and_first_line() -> None:
    assert one_line("a\n\tb   c\r\n", limit=3) == "a b"
    assert first_line(ValueError("first\nsecond")) == "first"
    assert first_line(ValueError("")) == "ValueError"


def test_cause_of_follows_causes_and_contexts() -> None:
    root = ConnectionError("refused")
    try:
        try:
            raise root
        except ConnectionError as error:
            raise RuntimeError("part failed") from error
    except RuntimeError as wrapped:
        try:
            raise ValueError("while uploading")
        except ValueError as outer:
            assert cause_of(outer, (ConnectionError,)) is root
            assert cause_of(wrapped, (KeyError,)) is None
