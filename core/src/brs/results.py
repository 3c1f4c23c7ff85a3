"""The documents that describe results: ``--json`` output and the sidecar API's answers.

One function per result, used by the CLI and by the API alike, so that a command prints the same
thing whether it ran locally or through ``--server``. The schemas are documented in docs/cli.md
("Machine output"); fields are only ever added.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from brs.catalog import Catalog, Entry, RetentionPlan
from brs.manifest import Manifest, parse_time

if TYPE_CHECKING:
    from brs.failures import Failure
    from brs.engine import RestoreResult, VerifyResult

__all__ = ["backup_details", "backup_row", "deleted", "downloaded", "failed", "listing", "pruned", "restored", "verified"]

#: ``format`` of brs's own backups in verify results (old ones say ``backup-restore-sidecar``).
OWN_FORMAT = "brs"


def backup_row(item: Manifest | Entry) -> dict[str, Any]:
    """One backup as listed (``backups list``, ``backup``): the summary (with its standing when
    judged by a catalog) plus derived fields."""
    row = item.summary()  # "format" only for backups of backup-restore-sidecar
    manifest = item if isinstance(item, Manifest) else item.manifest
    method = manifest.extra.get("method")
    row["method"] = method if isinstance(method, str) and 0 < len(method) <= 64 else manifest.db
    row["duration"] = _duration(manifest)
    row["verified_at"] = item.verified_at if isinstance(item, Entry) else None
    return row


def listing(catalog: Catalog) -> dict[str, Any]:
    """``GET /v1/backups``: every listed backup and the count of manifests that could not be read."""
    return {"backups": [backup_row(entry) for entry in catalog.entries], "unreadable_manifests": len(catalog.unreadable)}


def backup_details(item: Manifest | Entry) -> dict[str, Any]:
    """Everything known about one backup (``backups show``): the row and the whole manifest."""
    manifest = item if isinstance(item, Manifest) else item.manifest
    return {**backup_row(item), "manifest": asdict(manifest)}


def verified(result: VerifyResult) -> dict[str, Any]:
    manifest = result.manifest
    row = backup_row(manifest)
    return {
        "version": manifest.backup_id,
        "intact": True,
        "format": row.get("format", OWN_FORMAT),
        "integrity": row.get("integrity", _integrity(manifest)),
        "members": result.members,
        "raw_bytes": result.raw_bytes,
        "digest": row.get("digest"),
        "sha256": manifest.sha256 or None,
        "duration": round(result.duration, 3),
    }


def _integrity(manifest: Manifest) -> str:
    algorithm = manifest.digest[0]
    return f"{algorithm}+aead" if manifest.encrypted else algorithm


def restored(result: RestoreResult) -> dict[str, Any]:
    return {
        "version": result.manifest.backup_id,
        "data_directory": str(result.data_dir),
        "previous": None if result.previous is None else str(result.previous),
        "duration": round(result.duration, 3),
    }


def downloaded(manifest: Manifest, output: Path | None) -> dict[str, Any]:
    return {"version": manifest.backup_id, "output": "-" if output is None else str(output)}


def deleted(manifests: list[Manifest], *, dry_run: bool = False) -> dict[str, Any]:
    return {"deleted": [m.backup_id for m in manifests], "dry_run": dry_run}


def pruned(plan: RetentionPlan, *, dry_run: bool) -> dict[str, Any]:
    """``backups prune``: what is kept (and by which rules), what is (or would be) deleted, and
    what retention leaves alone and why (``notes``)."""
    decision = plan.decision
    created = {s.id: s.created.isoformat().replace("+00:00", "Z") for s in decision.keep}
    return {
        "dry_run": dry_run,
        "keep": [{"version": s.id, "created_at": created[s.id], "reasons": decision.reasons[s.id]} for s in decision.keep],
        "deleted": [m.backup_id for m in plan.delete],
        "notes": plan.notes,
    }


def failed(records: list[Failure]) -> list[dict[str, Any]]:
    """``backups failures``: the recorded failed backups, newest first."""
    return [msgspec.structs.asdict(record) for record in records]


def _duration(manifest: Manifest) -> float | None:
    try:
        return round((parse_time(manifest.finished_at) - manifest.created).total_seconds(), 3)
    except (ValueError, TypeError):
        return None
