"""Commands of the ``brs`` CLI and its error boundary."""

from __future__ import annotations

import json
from collections.abc import Sequence
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, ClassVar

import click

import brs
from brs.cli import sidecar as sidecar_cli
from brs.cli.context import (
    BrsCommand,
    build_engine,
    compression_option,
    core_options,
    database_options,
    lock_option,
    restore_options,
)
from brs.engine import Engine
from brs.errors import BrsError
from brs.interfaces import Role
from brs.legacy import FORMAT, LegacyBackup
from brs.plugins import list_plugins
from brs.units import format_size

__all__ = ["cli", "main"]


def _version_message() -> str:
    lines = [f"brs {brs.__version__}"]
    for row in list_plugins(check=False):
        lines.append(f"  {row.role}/{row.name}: {row.distribution} {row.version}")
    return "\n".join(lines)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # click's own version option cannot list the installed plugins.
    if value and not ctx.resilient_parsing:
        click.echo(_version_message())
        ctx.exit()


class _Group(click.Group):
    """The command group, with the verbs of backup-restore-sidecar as hidden aliases."""

    ALIASES: ClassVar[dict[str, str]] = {"create-backup": "backup"}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.ALIASES.get(cmd_name, cmd_name))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version, help="Show core and plugin versions."
)
def cli() -> None:
    """Automatic backup and recovery for databases on Kubernetes."""


class _ProgressLine:
    """A live progress line on a terminal; silent when stderr is not a terminal (logs)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _ProgressLine:
        if sys.stderr.isatty():
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            p = self._engine.progress
            elapsed = max(time.monotonic() - p.started, 1e-6)
            total = f" of {p.total / 2**20:,.0f} MiB" if p.total else ""
            sys.stderr.write(f"\r{p.phase}: {p.done / 2**20:,.0f} MiB{total} ({p.done / 2**20 / elapsed:,.0f} MiB/s)  ")
            sys.stderr.flush()

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


@cli.command(cls=BrsCommand)
@core_options
@database_options
@compression_option
@lock_option
@sidecar_cli.server_options
@click.pass_context
def backup(ctx: click.Context, /, **_: Any) -> None:
    """Take one backup now and print its version."""
    if sidecar_cli.remote(ctx, "backup"):
        return
    engine, _params = build_engine(ctx, need_db=True)
    engine.session.call(Role.STORAGE, "brs_storage_ensure")
    with _ProgressLine(engine):
        manifest = engine.backup()
    click.echo(manifest.backup_id)


@cli.group()
def backups() -> None:
    """Inspect stored backups."""


@backups.command("list", cls=BrsCommand)
@core_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@sidecar_cli.server_options
@click.pass_context
def backups_list(ctx: click.Context, /, as_json: bool, **_: Any) -> None:
    """List backups, newest first."""
    _show_backups(ctx, as_json)


def _show_backups(ctx: click.Context, as_json: bool) -> None:
    listing = sidecar_cli.remote_backups(ctx)
    if listing is None:
        engine, _params = build_engine(ctx)
        catalog = engine.catalog()
        listing = {"backups": [entry.summary() for entry in catalog.entries], "unreadable_manifests": len(catalog.unreadable)}
    rows: list[dict[str, Any]] = listing["backups"]
    for row in rows:
        if row.get("status") in ("tampered", "unencrypted"):
            click.echo(f"brs: warning: {row['status_reason']}", err=True)
    unreadable = int(listing.get("unreadable_manifests") or 0)
    if unreadable:
        click.echo(f"brs: warning: {unreadable} manifests could not be read and are not listed (see the log)", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no backups", err=True)
        return
    header = ("VERSION", "CREATED (UTC)", "SIZE", "COMPRESSION", "ENCRYPTED", "DB", "FORMAT", "HOST", "STATUS")
    table = [header] + [
        (
            r["version"],
            r["created_at"].replace("T", " ")[:19],
            format_size(r["size"]),
            r["compression"],
            "yes" if r["encrypted"] else "no",
            r["db"],
            "old" if r.get("format") == FORMAT else "brs",
            (r.get("identity") or {}).get("host") or "-",
            r.get("status") or "usable",
        )
        for r in rows
    ]
    _print_table(table)
    if any(r.get("format") == FORMAT for r in rows):
        click.echo(f"old: written by {FORMAT}; no checksum, no integrity proof; retention never deletes them", err=True)


@backups.command("delete", cls=BrsCommand)
@core_options
@click.argument("version")
@click.option("--force", is_flag=True, help="Also delete the only remaining backup.")
@click.pass_context
def backups_delete(ctx: click.Context, /, **_: Any) -> None:
    """Delete backup VERSION (its manifest first, then its data)."""
    engine, params = build_engine(ctx)
    manifest = engine.delete(params["version"], allow_last=params["force"])
    click.echo(f"deleted {manifest.backup_id}")


#: ``restore list-versions`` and ``restore ls`` listed backups in backup-restore-sidecar.
_OLD_LIST_VERBS = ("list-versions", "ls")


@cli.command(cls=BrsCommand)
@core_options
@database_options
@restore_options
@click.argument("version", required=False, default="latest")
@click.option(
    "--discard-previous", is_flag=True, help="Delete the previous data once the restore is in place (default: keep it aside)."
)
@click.option(
    "--ignore-running-server",
    is_flag=True,
    help="Restore locally even though the database server answers (it will keep writing to the old files).",
)
@lock_option
@sidecar_cli.server_options
@click.pass_context
def restore(ctx: click.Context, /, **_: Any) -> None:
    """Restore VERSION (default: latest) into the data directory.

    The backup is verified completely before the data directory is touched; its previous
    content is moved aside next to it, not deleted. With --server, the sidecar stops the
    database (through brs wait) for the restore and starts it again. Without --server, a
    restore into a data directory with data refuses while the database server answers.
    """
    if ctx.params.get("version") in _OLD_LIST_VERBS:
        _show_backups(ctx, as_json=False)
        return
    if sidecar_cli.remote(ctx, "restore"):
        return
    engine, params = build_engine(ctx, need_db=True)
    if not params["ignore_running_server"]:
        engine.refuse_running_server()
    with _ProgressLine(engine):
        result = engine.restore(params["version"], keep_previous=not params["discard_previous"])
    click.echo(result.manifest.backup_id)
    if result.previous is not None:
        click.echo(f"previous content kept at {result.previous}", err=True)


@cli.command(cls=BrsCommand)
@core_options
@click.argument("version", required=False, default="latest")
@sidecar_cli.server_options
@click.pass_context
def verify(ctx: click.Context, /, **_: Any) -> None:
    """Download, decrypt, decompress and check VERSION (default: latest) without restoring it."""
    if sidecar_cli.remote(ctx, "verify"):
        return
    engine, params = build_engine(ctx)
    with _ProgressLine(engine):
        result = engine.verify(params["version"])
    click.echo(
        sidecar_cli.verify_message(
            result.manifest.backup_id,
            result.members,
            result.raw_bytes,
            result.manifest.sha256,
            legacy=isinstance(result.manifest, LegacyBackup),
        )
    )


@cli.command(cls=BrsCommand)
@core_options
@click.argument("version")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Where to write the tar archive ('-': standard output; a FIFO or device is written into).",
)
@click.pass_context
def download(ctx: click.Context, /, **_: Any) -> None:
    """Write the decrypted, decompressed tar archive of VERSION (or 'latest') to a file."""
    engine, params = build_engine(ctx)
    output = None if str(params["output"]) == "-" else Path(params["output"])
    with _ProgressLine(engine):
        manifest = engine.download(params["version"], output)
    # Standard output may be the archive itself: the confirmation goes to stderr then.
    to_file = output is not None and output.is_file() and not output.is_symlink()
    click.echo(f"{manifest.backup_id} -> {output or 'standard output'}", err=not to_file)


sidecar_cli.register(cli)


@cli.group()
def plugins() -> None:
    """Inspect installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--no-check", is_flag=True, help="Do not import the plugins to check that they load.")
def plugins_list(as_json: bool, no_check: bool) -> None:
    """Every installed plugin with role, name, distribution, version and load status."""
    rows = list_plugins(check=not no_check)
    if as_json:
        click.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    header = ("ROLE", "NAME", "DISTRIBUTION", "VERSION", "STATUS")
    table = [header] + [(r.role, r.name, r.distribution, r.version, r.status + (f": {r.error}" if r.error else "")) for r in rows]
    _print_table(table)


def _print_table(table: Sequence[Sequence[object]]) -> None:
    """Left-aligned columns, the first row as header."""
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


_SECRET_WORDS = ("key", "password", "secret", "token", "connection-string")


def _scrub_process_title(argv: list[str]) -> None:
    """Hide secret flag values from ``ps``: a key on the command line is visible to every user."""
    redacted, hide_next, changed = [], False, False
    for arg in argv:
        if hide_next:
            redacted.append("***")
            hide_next, changed = False, True
            continue
        name, sep, _value = arg.partition("=")
        secret = (
            name.startswith("--")
            and any(w in name for w in _SECRET_WORDS)
            and not name.endswith("-file")
            and name not in ("--object-max-keep",)
        )
        if secret and sep:
            redacted.append(f"{name}=***")
            changed = True
        else:
            redacted.append(arg)
            hide_next = secret and not sep
    if changed:
        try:
            import setproctitle

            setproctitle.setproctitle(" ".join(["brs", *redacted]))
        except ImportError:  # pragma: no cover - setproctitle is a dependency
            pass


def main(argv: list[str] | None = None) -> None:
    """Entry point: expected failures are one line (exit 1), bugs keep their traceback (exit 3)."""
    args = sys.argv[1:] if argv is None else argv
    _scrub_process_title(args)
    try:
        cli.main(args=args, prog_name="brs", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("brs: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except BrsError as error:
        message = " ".join(str(error).split())
        click.echo(f"brs: error: {message}", err=True)
        sys.exit(1)
    except Exception:  # noqa: BLE001 - a bug: show everything and exit 3
        traceback.print_exc()
        click.echo("brs: internal error (this is a bug; please report it with the traceback above)", err=True)
        sys.exit(3)
    sys.exit(0)
