"""``brs start``, ``brs wait``, and ``--server`` for the one-shot commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from brs import logs
from brs.cli.context import BrsCommand, build_engine, compression_option, core_options, database_options, restore_options
from brs.config import load_config
from brs.errors import ConfigError
from brs.legacy import FORMAT as LEGACY_FORMAT
from brs.legacy.config import WAIT_KEYS, old_environment, wait_config, warn_deprecated
from brs.sidecar.exec import run_argv
from brs.sidecar.client import SidecarClient, read_token
from brs.sidecar.waiter import Waiter
from brs.units import format_size

__all__ = ["register", "remote_client", "server_options", "start", "verify_message", "wait"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_SERVER = "http://127.0.0.1:8000"


def server_options(func: F) -> F:
    """``--server`` and ``--api-token-file``: act through a running sidecar instead of locally."""
    func = click.option(
        "--api-token-file",
        envvar="BRS_API_TOKEN_FILE",
        show_envvar=True,
        default=None,
        type=click.Path(dir_okay=False),
        help="File holding the sidecar API's bearer token.",
    )(func)
    func = click.option(
        "--server",
        envvar="BRS_SERVER",
        show_envvar=True,
        default=None,
        metavar="URL",
        help="Act through the sidecar API at URL (e.g. http://127.0.0.1:8000) instead of locally.",
    )(func)
    return func


def remote_client(ctx: click.Context) -> SidecarClient | None:
    """The API client when ``--server`` was given, else None (run locally)."""
    server = ctx.params.get("server")
    if not server:
        return None
    logs.configure(ctx.params.get("log_level") or "info", ctx.params.get("log_format") or "auto")
    return SidecarClient(server, read_token(ctx.params.get("api_token_file")))


def remote(ctx: click.Context, action: str) -> bool:
    """Run ``action`` through the sidecar when ``--server`` is set; True when it did."""
    client = remote_client(ctx)
    if client is None:
        return False
    params = ctx.params
    if action == "backup":
        click.echo(client.backup()["version"])
    elif action == "restore":
        if params.get("discard_previous"):
            raise ConfigError("--discard-previous is not available with --server (the sidecar keeps the previous data aside)")
        result = client.restore(params.get("version") or "latest")
        click.echo(result["version"])
        if result.get("previous"):
            click.echo(f"previous content kept at {result['previous']}", err=True)
    elif action == "verify":
        result = client.verify(params.get("version") or "latest")
        click.echo(
            verify_message(
                result["version"],
                result["members"],
                result.get("raw_bytes"),
                result["sha256"],
                legacy=result.get("integrity") == "none",
            )
        )
    else:  # pragma: no cover - programming error
        raise ValueError(action)
    return True


def verify_message(version: str, members: int, raw_bytes: int | None, sha256: str, *, legacy: bool) -> str:
    """What ``brs verify`` says about a backup that passed (locally or through the sidecar)."""
    data = "" if raw_bytes is None else f", {format_size(raw_bytes)} of file data"
    if legacy:
        return (
            f"old backup {version} ({LEGACY_FORMAT} format) reads to its end: {members} archive members{data}. "
            "It carries no integrity proof (no checksum, no authentication): damage that still decompresses would go unnoticed"
        )
    return f"backup {version} is intact: {members} archive members{data}, SHA-256 {sha256[:16]}… matches"


def remote_backups(ctx: click.Context) -> dict[str, Any] | None:
    """``brs backups list --server``: the sidecar's listing (``backups``, ``unreadable_manifests``),
    or None to list locally."""
    client = remote_client(ctx)
    return None if client is None else client.list_backups()


class _CommandLine(click.types.StringParamType):
    """One command per value; in ``BRS_PRE_EXEC_CMDS`` one command per line (not per word)."""

    name = "command"
    envvar_list_splitter = "\n"


def _option(name: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(f"--{name}", envvar="BRS_" + name.upper().replace("-", "_"), show_envvar=True, **kwargs)


@click.command(cls=BrsCommand)
@core_options
@database_options
@restore_options
@compression_option
@_option(
    "pre-exec-cmds",
    multiple=True,
    type=_CommandLine(),
    help="Commands to run before anything else (repeatable; no shell; one per line in the variable).",
)
@_option("backup-cron-schedule", default="*/3 * * * *", show_default=True, help="When to take backups (5-field cron).")
@_option(
    "verify-cron-schedule",
    default="",
    help="When to verify the newest backup as a restore drill (5-field cron; default: never).",
)
@_option("bind-addr", default="127.0.0.1", show_default=True, help="Address of the HTTP API.")
@_option("port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port of the HTTP API.")
@_option("metrics-port", default=2112, show_default=True, type=click.IntRange(0, 65535), help="Prometheus port (0: off).")
@_option("metrics-bind-addr", default="0.0.0.0", show_default=True, help="Address of the metrics endpoint.")
@_option(
    "legacy-metrics",
    is_flag=True,
    default=False,
    help="Also export backup-restore-sidecar's metrics (backup_success, backup_total_backups, backup_errors, backup_size).",
)
@_option(
    "api-token-file", default=None, type=click.Path(dir_okay=False), help="Bearer token required for changes through the API."
)
@_option(
    "stop-ack-timeout",
    default=120.0,
    show_default=True,
    type=float,
    help="Seconds a restore waits for `brs wait` to stop the database.",
)
@_option("probe-interval", default=3.0, show_default=True, type=float, help="Seconds between database probes.")
@_option(
    "shutdown-grace", default=25.0, show_default=True, type=float, help="Seconds a running backup may take to finish on SIGTERM."
)
@click.pass_context
def start(ctx: click.Context, /, **_: Any) -> None:
    """Run the sidecar: restore if needed, let the database start, then back it up on schedule."""
    # Imported here: the runtime pulls in croniter and prometheus-client, which every other
    # command would otherwise pay for at start (croniter even spawns a process on import).
    from brs.sidecar.runtime import RuntimeConfig, SidecarRuntime
    from brs.sidecar.service import SidecarOptions

    engine, params = build_engine(ctx, need_db=True)
    commands = params.get("pre_exec_cmds") or ()
    if isinstance(commands, str):
        commands = (commands,)
    config = RuntimeConfig(
        schedule=str(params["backup_cron_schedule"]),
        verify_schedule=str(params.get("verify_cron_schedule") or ""),
        bind_addr=str(params["bind_addr"]),
        port=int(params["port"]),
        metrics_port=int(params["metrics_port"]),
        metrics_bind_addr=str(params["metrics_bind_addr"]),
        api_token=read_token(params.get("api_token_file")),
        pre_exec_cmds=tuple(commands),
        shutdown_grace=float(params["shutdown_grace"]),
        legacy_metrics=bool(params.get("legacy_metrics")),
        options=SidecarOptions(
            stop_ack_timeout=float(params["stop_ack_timeout"]), probe_interval=float(params["probe_interval"])
        ),
    )
    code = SidecarRuntime(engine, config).run()
    sys.exit(code)


@click.command(context_settings={"allow_interspersed_args": False})
@click.option(
    "--server",
    envvar="BRS_SERVER",
    show_envvar=True,
    default=DEFAULT_SERVER,
    show_default=True,
    metavar="URL",
    help="The sidecar API.",
)
@click.option(
    "--api-token-file",
    envvar="BRS_API_TOKEN_FILE",
    default=None,
    type=click.Path(dir_okay=False),
    help="Bearer token file of the API.",
)
@click.option(
    "--stop-timeout",
    envvar="BRS_STOP_TIMEOUT",
    default=30.0,
    show_default=True,
    type=float,
    help="Seconds between SIGTERM and SIGKILL.",
)
@click.option("--log-level", envvar="BRS_LOG_LEVEL", default="info", type=click.Choice(logs.LEVELS, case_sensitive=False))
@click.option("--log-format", envvar="BRS_LOG_FORMAT", default="auto", type=click.Choice(["auto", "json", "text"]))
@click.argument("command", nargs=-1, required=False, type=click.UNPROCESSED)
@click.pass_context
def wait(
    ctx: click.Context,
    server: str,
    api_token_file: str | None,
    stop_timeout: float,
    log_level: str,
    log_format: str,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND (the database) once the sidecar allows it; stop and restart it around restores.

    Use it as the database container's entry point: brs wait -- postgres -D /data. COMMAND runs
    without a shell; SIGTERM and SIGINT are forwarded to it and brs wait exits with its exit code.
    Without COMMAND, the config file's post-exec-cmds and initializer-endpoint are used, as
    backup-restore-sidecar did (every command but the last runs to completion first).
    """
    logs.configure(log_level, log_format)
    argv = list(command)
    if not argv:
        warn_deprecated({name: value for name, value in old_environment().items() if name in WAIT_KEYS})
        old = wait_config(load_config(os.environ.get("BRS_CONFIG")))
        if not old.commands:
            raise click.UsageError("give the database COMMAND (brs wait -- COMMAND), or post-exec-cmds in the config file")
        for before in old.commands[:-1]:
            run_argv(before, what="post-exec command")
        argv = old.commands[-1]
        if old.server and ctx.get_parameter_source("server") is click.core.ParameterSource.DEFAULT:
            server = old.server
    waiter = Waiter(SidecarClient(server, read_token(api_token_file)), argv, stop_timeout=stop_timeout)
    waiter.install_signal_handlers()
    sys.exit(waiter.run())


def register(group: click.Group) -> None:
    group.add_command(start)
    group.add_command(wait)
