"""An optional bucket lifecycle rule as a second safety net behind brs's own retention."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from brs.errors import ConfigError

from brs_storage_s3.errors import error_code

__all__ = ["install_rule", "rule_id"]


def rule_id(prefix: str) -> str:
    """The ID of brs's rule for ``prefix``; one rule per prefix, so sidecars never clash."""
    return f"brs-{prefix}-expire"


def install_rule(client: Any, bucket: str, prefix: str, days: int) -> bool:
    """Expire objects below ``prefix/`` after ``days`` days, keeping every other rule.

    Rules are replaced by ID only, and rules without an ID are kept as they are (the original
    dropped them). Returns ``True`` when the configuration changed.
    """
    if not prefix:
        # A lifecycle filter cannot say "top level only": an empty prefix would expire every
        # other sidecar's backups in the bucket too.
        raise ConfigError("--s3-lifecycle-days needs an --object-prefix")
    try:
        rules: list[dict[str, Any]] = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as error:
        if error_code(error) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    wanted = {
        "ID": rule_id(prefix),
        "Status": "Enabled",
        "Filter": {"Prefix": f"{prefix}/"},
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    others = [rule for rule in rules if rule.get("ID") != wanted["ID"]]
    if len(others) < len(rules) and any(rule == wanted for rule in rules):
        return False
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [*others, wanted]})
    return True
