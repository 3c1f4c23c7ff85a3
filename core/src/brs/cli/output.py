"""Printing results: JSON with ``--json``, else the human form, from the same document.

Every renderer takes the document of :mod:`brs.results` (or the sidecar API's answer, which is
the same), so a command prints the same thing locally and with ``--server``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from brs.units import format_size

__all__ = ["emit", "print_table"]

#: How listings name backups written by backup-restore-sidecar (brs.legacy.FORMAT).
_OLD_FORMAT = "backup-restore-sidecar"


def emit(ctx: click.Context, document: Any, human: Callable[[Any], None], *, err: bool = False) -> None:
    """Print ``document`` as JSON (``--json``) or through ``human``."""
    if ctx.params.get("as_json"):
        # ``err``: standard output carries data (download -o -), the result goes to stderr.
        import json

        click.echo(json.dumps(document, indent=2), err=err)
    else:
        human(document)


def print_table(table: Sequence[Sequence[object]]) -> None:
    """Left-aligned columns, the first row as header."""
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _when(text: str | None) -> str:
    return "-" if not text else text.replace("T", " ")[:19]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def human_backup(row: dict[str, Any]) -> None:
    click.echo(row["version"])


def warn_about_listing(listing: dict[str, Any]) -> None:
    """Say on stderr which listed backups cannot be trusted and how many manifests were unreadable."""
    for row in listing["backups"]:
        if row.get("status") in ("tampered", "unencrypted"):
            click.echo(f"brs: warning: {row['status_reason']}", err=True)
    unreadable = int(listing.get("unreadable_manifests") or 0)
    if unreadable:
        click.echo(f"brs: warning: {unreadable} manifests could not be read and are not listed (see the log)", err=True)


def human_backups(rows: list[dict[str, Any]], where: str) -> None:
    if not rows:
        click.echo(f"no backups in {where}", err=True)
        return
    header = ["VERSION", "CREATED (UTC)", "SIZE", "DURATION", "DB", "METHOD", "SERVER", "KEY", "VERIFIED", "FORMAT", "HOST"]
    table: list[Sequence[object]] = [[*header, "STATUS"]] + [
        (
            r["version"],
            _when(r["created_at"]),
            format_size(r["size"]),
            _seconds(r.get("duration")),
            r["db"],
            r.get("method") or "-",
            r.get("db_server_version") or "-",
            r.get("key_id") or ("-" if not r["encrypted"] else "?"),
            _when(r.get("verified_at")),
            "old" if r.get("format") == _OLD_FORMAT else "brs",
            (r.get("identity") or {}).get("host") or "-",
            r.get("status") or "usable",
        )
        for r in rows
    ]
    print_table(table)
    if any(r.get("format") == _OLD_FORMAT for r in rows):
        click.echo(f"old: written by {_OLD_FORMAT}; no checksum, no integrity proof; retention never deletes them", err=True)


def human_failures(rows: list[dict[str, Any]], where: str) -> None:
    if not rows:
        click.echo(f"no failed backups recorded in {where}", err=True)
        return
    rows_out = [[_when(r["failed_at"]), r["backup_id"], r["stage"], r["error"]] for r in rows]
    print_table([["FAILED (UTC)", "VERSION", "STAGE", "ERROR"], *rows_out])


def human_details(document: dict[str, Any]) -> None:
    manifest = dict(document.get("manifest") or {})
    extra = manifest.pop("extra", {}) or {}
    lines = [
        ("version", document["version"]),
        ("object", document["name"]),
        ("format", document.get("format", "brs")),
        ("created", _when(document["created_at"])),
        ("finished", _when(document.get("finished_at"))),
        ("duration", _seconds(document.get("duration"))),
        ("database", f"{document['db']} ({document.get('method') or document['db']})"),
        ("server version", document.get("db_server_version") or "-"),
        ("size", f"{format_size(document['size'])} stored, {_size(document.get('raw_size'))} raw"),
        ("compression", document["compression"]),
        ("encryption", f"key {document.get('key_id')}" if document["encrypted"] else "none"),
        ("digest", document.get("digest") or "-"),
        ("verified", _when(document.get("verified_at"))),
    ]
    shown = {"backup_id", "object_name", "created_at", "finished_at", "db", "db_server_version", "compression"}
    shown |= {"encryption", "raw_size", "stored_size", "sha256", "blake3"}
    lines += [(key.replace("_", " "), _plain(value)) for key, value in sorted(manifest.items()) if key not in shown]
    lines += [(key.replace("_", " "), _plain(value)) for key, value in sorted(extra.items())]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        click.echo(f"{name + ':':<{width + 1}} {value}")


def _size(value: int | None) -> str:
    return "?" if value is None else format_size(value)


def _plain(value: Any) -> str:
    import json

    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def human_verified(document: dict[str, Any]) -> None:
    if document.get("format") == _OLD_FORMAT:
        click.echo(
            f"old backup {document['version']} ({_OLD_FORMAT} format) reads to its end: {document['members']} archive "
            f"members, {format_size(document['raw_bytes'])} of file data. It carries no integrity proof (no checksum, "
            "no authentication): damage that still decompresses would go unnoticed"
        )
        return
    click.echo(
        f"backup {document['version']} is intact: {document['members']} archive members, "
        f"{format_size(document['raw_bytes'])} of file data, {_digest_label(document.get('digest'))} matches"
    )


def human_restored(document: dict[str, Any]) -> None:
    click.echo(document["version"])
    if document.get("previous"):
        click.echo(f"previous content kept at {document['previous']}", err=True)


def human_downloaded(document: dict[str, Any], err: bool = False) -> None:
    output = document["output"]
    click.echo(f"{document['version']} -> {'standard output' if output == '-' else output}", err=err)


def human_deleted(document: dict[str, Any]) -> None:
    verb = "would delete" if document.get("dry_run") else "deleted"
    for version in document["deleted"]:
        click.echo(f"{verb} {version}")


def human_plugins(rows: list[dict[str, Any]]) -> None:
    header = ("ROLE", "NAME", "DISTRIBUTION", "VERSION", "STATUS")
    table = [header] + [
        (r["role"], r["name"], r["distribution"], r["version"], r["status"] + (f": {r['error']}" if r.get("error") else ""))
        for r in rows
    ]
    print_table(table)


def human_pruned(document: dict[str, Any]) -> None:
    verb = "would delete" if document["dry_run"] else "deleted"
    for row in document["keep"]:
        click.echo(f"keep    {row['version']}  ({', '.join(row['reasons'])})")
    for version in document["deleted"]:
        click.echo(f"{verb:<7} {version}")
    for note in document.get("notes", []):
        click.echo(f"note: {note}", err=True)
    if not document["keep"] and not document["deleted"]:
        click.echo("no backups", err=True)


def _digest_label(digest: object) -> str:
    """``BLAKE3 0123456789abcdef…`` from ``blake3:<hex>``."""
    from brs.digests import NAMES

    algorithm, _, value = str(digest).partition(":")
    return f"{NAMES.get(algorithm, algorithm)} {value[:16]}…"
