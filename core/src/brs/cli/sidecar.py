"""``brs start``, ``brs wait``, and ``--server`` for the one-shot commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from brs import loglevels
from brs.cli.context import (
    BrsCommand,
    build_engine,
    common_options,
    compression_option,
    rate_limit_options,
    restore_options,
    retention_options,
)

if TYPE_CHECKING:
    from brs.sidecar.client import SidecarClient

__all__ = ["register", "remote_client", "start", "wait"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_SERVER = "http://127.0.0.1:8000"


def remote_client(ctx: click.Context) -> SidecarClient | None:
    """The API client when ``--server`` was given, else None (run locally)."""
    server = ctx.params.get("server")
    if not server:
        return None
    from brs.sidecar.client import SidecarClient, read_token

    from brs import logs

    logs.configure(ctx.params.get("log_level") or "info", ctx.params.get("log_format") or "auto")
    return SidecarClient(server, read_token(ctx.params.get("api_token_file")))


class _CommandLine(click.types.StringParamType):
    """One command per value; in ``BRS_PRE_EXEC_CMDS`` one command per line (not per word)."""

    name = "command"
    envvar_list_splitter = "\n"


def _option(name: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(f"--{name}", envvar="BRS_" + name.upper().replace("-", "_"), show_envvar=True, **kwargs)


@click.command(cls=BrsCommand)
@common_options
@restore_options
@compression_option
@rate_limit_options
@retention_options
@_option(
    "pre-exec-cmds",
    multiple=True,
    type=_CommandLine(),
    help="Commands to run before anything else (repeatable; no shell; one per line in the variable).",
)
@_option(
    "backup-cron-schedule",
    default="*/3 * * * *",
    show_default=True,
    help="When to take backups (5-field cron, or @hourly, @daily, @weekly, @monthly, @yearly).",
)
@_option(
    "schedule-jitter",
    default=0.0,
    type=click.FloatRange(min=0),
    help="Delay each scheduled backup and drill by a random 0..N seconds (spreads many pods on one schedule).",
)
@_option(
    "verify-busy-wait",
    default=900.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds a restore drill that meets a running backup or restore waits for it before it is skipped.",
)
@_option(
    "verify-cron-schedule",
    default="",
    help="When to verify the newest backup as a restore drill (5-field cron or @daily etc.; default: never).",
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
    from brs.sidecar.client import read_token
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
        schedule_jitter=float(params.get("schedule_jitter") or 0.0),
        verify_busy_wait=float(params.get("verify_busy_wait") or 0.0),
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
@click.option("--log-level", envvar="BRS_LOG_LEVEL", default="info", type=click.Choice(loglevels.LEVELS, case_sensitive=False))
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
    from brs.config import load_config
    from brs.legacy.config import WAIT_KEYS, old_environment, wait_config, warn_deprecated
    from brs.sidecar.client import SidecarClient, read_token
    from brs.sidecar.exec import run_argv
    from brs.sidecar.waiter import Waiter

    from brs import logs

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
