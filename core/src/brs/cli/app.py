"""Commands of the ``brs`` CLI and its error boundary."""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import click

import brs
from brs.cli import sidecar as sidecar_cli
from brs.cli import output
from brs.cli.context import (
    BrsCommand,
    build_engine,
    common_options,
    compression_option,
    lock_option,
    rate_limit_options,
    restore_options,
    retention_options,
)
from brs.cli.globals import GlobalGroup
from brs.errors import BrsError, ConfigError

if TYPE_CHECKING:
    from brs.engine import Engine

__all__ = ["cli", "main"]


def _version_message() -> str:
    from brs.plugins import list_plugins

    lines = [f"brs {brs.__version__}"]
    for row in list_plugins(check=False):
        lines.append(f"  {row.role}/{row.name}: {row.distribution} {row.version}")
    return "\n".join(lines)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # click's own version option cannot list the installed plugins.
    if value and not ctx.resilient_parsing:
        click.echo(_version_message())
        ctx.exit()


class _Group(GlobalGroup):
    """The command group, with the verbs of backup-restore-sidecar as hidden aliases."""

    ALIASES: ClassVar[dict[str, str]] = {"create-backup": "backup"}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.ALIASES.get(cmd_name, cmd_name))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version, help="Show core and plugin versions."
)
@common_options
def cli(**_: Any) -> None:
    """Automatic backup and recovery for databases on Kubernetes."""


class _ProgressLine:
    """A progress bar on a terminal (bytes, rate, and percentage and ETA when the size is known);
    nothing when stderr is not a terminal (logs and pipes get the log lines only).

    tqdm draws the bar; log records are written above it (``logging_redirect_tqdm``), never
    on the bar's line.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        import threading

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redirect: Any = None

    def __enter__(self) -> _ProgressLine:
        if sys.stderr.isatty():
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._redirect = logging_redirect_tqdm()
            self._redirect.__enter__()
            import threading

            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        from tqdm import tqdm

        with tqdm(unit="iB", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False, dynamic_ncols=True) as bar:
            while not self._stop.wait(0.25):
                progress = self._engine.progress
                bar.set_description_str(progress.phase, refresh=False)
                bar.total = progress.total
                bar.n = progress.done
                bar.refresh()

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._redirect is not None:
            self._redirect.__exit__(None, None, None)


@cli.command(cls=BrsCommand)
@common_options
@compression_option
@rate_limit_options
@lock_option
@retention_options
@click.option(
    "--no-retention", is_flag=True, help="Keep every backup this time: do not apply the retention policy after the backup."
)
@click.pass_context
def backup(ctx: click.Context, /, **_: Any) -> None:
    """Take one backup now and print its version (then apply retention, unless --no-retention)."""
    from brs import results

    client = sidecar_cli.remote_client(ctx)
    if client is not None:
        if ctx.params["no_retention"]:
            raise ConfigError("--no-retention is not available with --server (the sidecar applies its own policy)")
        output.emit(ctx, client.backup(), output.human_backup)
        return
    engine, _params = build_engine(ctx, need_db=True)
    engine.ensure_storage()
    with _ProgressLine(engine):
        manifest = engine.backup()
    output.emit(ctx, results.backup_row(manifest), output.human_backup)


@cli.group(cls=GlobalGroup)
@common_options
def backups(**_: Any) -> None:
    """Inspect, delete and prune stored backups."""


@backups.command("list", cls=BrsCommand)
@common_options
@click.pass_context
def backups_list(ctx: click.Context, /, **_: Any) -> None:
    """List backups, newest first."""
    _show_backups(ctx)


def _show_backups(ctx: click.Context) -> None:
    from brs import results

    client = sidecar_cli.remote_client(ctx)
    if client is not None:
        listing, where = client.list_backups(), client.base_url
    else:
        engine, _params = build_engine(ctx)
        listing, where = results.listing(engine.catalog()), engine.location()
    output.warn_about_listing(listing)
    output.emit(ctx, listing["backups"], lambda rows: output.human_backups(rows, where))


@backups.command("show", cls=BrsCommand)
@common_options
@click.argument("version")
@click.pass_context
def backups_show(ctx: click.Context, /, **_: Any) -> None:
    """Everything known about backup VERSION (or 'latest'): its listing and its whole manifest."""
    from brs import results

    client = sidecar_cli.remote_client(ctx)
    if client is not None:
        document = client.show_backup(ctx.params["version"])
    else:
        engine, params = build_engine(ctx)
        document = results.backup_details(engine.describe(params["version"]))
    output.emit(ctx, document, output.human_details)


@backups.command("failures", cls=BrsCommand)
@common_options
@click.pass_context
def backups_failures(ctx: click.Context, /, **_: Any) -> None:
    """List recent failed backups, newest first: when, in which stage, and the error."""
    from brs import results

    engine, _params = build_engine(ctx)
    output.emit(ctx, results.failed(engine.failures()), lambda rows: output.human_failures(rows, engine.location()))


@backups.command("delete", cls=BrsCommand)
@common_options
@click.argument("version")
@click.option("--force", is_flag=True, help="Also delete the only remaining backup.")
@click.pass_context
def backups_delete(ctx: click.Context, /, **_: Any) -> None:
    """Delete backup VERSION (its manifest first, then its data)."""
    from brs import results

    client = sidecar_cli.remote_client(ctx)
    if client is not None:
        document = client.delete_backup(ctx.params["version"], force=bool(ctx.params["force"]))
    else:
        engine, params = build_engine(ctx)
        document = results.deleted([engine.delete(params["version"], allow_last=params["force"])])
    output.emit(ctx, document, output.human_deleted)


@backups.command("prune", cls=BrsCommand)
@common_options
@retention_options
@lock_option
@click.option("--dry-run", is_flag=True, help="Only show what the policy keeps and deletes; delete nothing.")
@click.pass_context
def backups_prune(ctx: click.Context, /, **_: Any) -> None:
    """Apply the retention policy now: delete every backup that no --keep-* rule keeps.

    The newest backup is always kept, and so is a backup dated in the future. Old backups of
    backup-restore-sidecar are never deleted. With --server, the sidecar applies its own policy
    (the --keep-* options it was started with) while no other operation runs.
    """
    from brs import results

    client = sidecar_cli.remote_client(ctx)
    if client is not None:
        _refuse_local_policy(ctx)
        document = client.prune(bool(ctx.params["dry_run"]))
        output.emit(ctx, document, output.human_pruned)
        return
    engine, params = build_engine(ctx)
    plan = engine.prune(dry_run=bool(params["dry_run"]))
    output.emit(ctx, results.pruned(plan, dry_run=bool(params["dry_run"])), output.human_pruned)


def _refuse_local_policy(ctx: click.Context) -> None:
    """A --keep-* flag typed next to --server would be silently ignored: say so instead.

    Values from the config file or ``BRS_*`` variables are the shared configuration, not a
    request for this run, so they pass quietly.
    """
    for name, value in ctx.params.items():
        typed = ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        if typed and value is not None and (name.startswith("keep_") or (name.startswith("object_") and "keep" in name)):
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} is not available with --server (the sidecar applies the policy it was started with)")


#: ``restore list-versions`` and ``restore ls`` listed backups in backup-restore-sidecar.
_OLD_LIST_VERBS = ("list-versions", "ls")


@cli.command(cls=BrsCommand)
@common_options
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
@click.pass_context
def restore(ctx: click.Context, /, **_: Any) -> None:
    """Restore VERSION (default: latest) into the data directory.

    The backup is verified completely before the data directory is touched; its previous
    content is moved aside next to it, not deleted. With --server, the sidecar stops the
    database (through brs wait) for the restore and starts it again. Without --server, a
    restore into a data directory with data refuses while the database server answers.
    """
    from brs import results

    if ctx.params.get("version") in _OLD_LIST_VERBS:
        _show_backups(ctx)
        return
    client = sidecar_cli.remote_client(ctx)
    if client is not None:
        if ctx.params.get("discard_previous"):
            raise ConfigError("--discard-previous is not available with --server (the sidecar keeps the previous data aside)")
        output.emit(ctx, client.restore(ctx.params.get("version") or "latest"), output.human_restored)
        return
    engine, params = build_engine(ctx, need_db=True)
    if not params["ignore_running_server"]:
        engine.refuse_running_server()
    with _ProgressLine(engine):
        result = engine.restore(params["version"], keep_previous=not params["discard_previous"])
    output.emit(ctx, results.restored(result), output.human_restored)


@cli.command(cls=BrsCommand)
@common_options
@click.argument("version", required=False, default="latest")
@click.pass_context
def verify(ctx: click.Context, /, **_: Any) -> None:
    """Download, decrypt, decompress and check VERSION (default: latest) without restoring it."""
    from brs import results

    client = sidecar_cli.remote_client(ctx)
    if client is not None:
        output.emit(ctx, client.verify(ctx.params.get("version") or "latest"), output.human_verified)
        return
    engine, params = build_engine(ctx)
    with _ProgressLine(engine):
        result = engine.verify(params["version"])
    output.emit(ctx, results.verified(result), output.human_verified)


@cli.command(cls=BrsCommand)
@common_options
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
    from brs import results

    engine, params = build_engine(ctx)
    target = None if str(params["output"]) == "-" else Path(params["output"])
    with _ProgressLine(engine):
        manifest = engine.download(params["version"], target)
    # Standard output may be the archive itself: the confirmation goes to stderr then.
    to_file = target is not None and target.is_file() and not target.is_symlink()
    human = functools.partial(output.human_downloaded, err=not to_file)
    output.emit(ctx, results.downloaded(manifest, target), human, err=not to_file)


sidecar_cli.register(cli)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (docs/cli.md: where to put it)."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the three choices are click's own
    click.echo(completer(cli, {}, "brs", "_BRS_COMPLETE").source())


@cli.group(cls=GlobalGroup)
@common_options
def plugins(**_: Any) -> None:
    """Inspect installed plugins."""


@plugins.command("list", cls=BrsCommand)
@common_options
@click.option("--check", is_flag=True, help="Import every plugin to check that it loads (slower).")
@click.option("--no-check", is_flag=True, hidden=True, help="The default now; kept for scripts.")
@click.pass_context
def plugins_list(ctx: click.Context, /, check: bool, **_: Any) -> None:
    """Every installed plugin with role, name, distribution and version (--check: and load status)."""
    from brs.plugins import list_plugins

    rows = [row.__dict__ for row in list_plugins(check=check)]
    output.emit(ctx, rows, output.human_plugins)


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
    """Entry point: expected failures are one line (exit status by kind, brs.errors.EXIT_CODES),
    bugs keep their traceback (exit 3). With --json, a failure also prints a JSON object on stdout."""
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
        if "--json" in args:
            import json

            click.echo(json.dumps({"error": message, "type": type(error).__name__, "exit_code": error.exit_code}))
        sys.exit(error.exit_code)
    except Exception:  # noqa: BLE001 - a bug: show everything and exit 3
        import traceback

        traceback.print_exc()
        click.echo("brs: internal error (this is a bug; please report it with the traceback above)", err=True)
        sys.exit(3)
    sys.exit(0)


def run() -> NoReturn:
    """The ``brs`` program: :func:`main`, then an exit without the interpreter's teardown.

    Tearing down the modules and objects of a finished command took about 80 ms after a
    PostgreSQL backup, which is time the caller waits for nothing. Once only this thread is
    left, the exit handlers run (logging's flush, temporary files' finalizers), the standard
    streams are flushed and the process exits at once. With other threads still running,
    the interpreter's own exit waits for them as usual.
    """
    try:
        main()
        status: str | int | None = 0
    except SystemExit as exit_:
        status = exit_.code
    if threading.active_count() > 1:
        sys.exit(status)
    if status is None:
        code = 0
    elif isinstance(status, int):
        code = status
    else:  # sys.exit("text"): Python prints it and exits 1
        print(status, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # the handlers Py_Finalize would run; there is no public spelling
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            code = code or 120  # what Python exits with when the final flush fails
    os._exit(code)
