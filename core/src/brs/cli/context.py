"""Shared options of the commands and the wiring from options to an :class:`~brs.engine.Engine`.

Options are resolved in two passes. The first pass reads core's options (which plugins to use,
where the data lives). Only then are the selected plugins imported, and their own options (for
example ``--postgres-host``) are parsed from the remaining arguments, ``BRS_*`` variables and
the config file. This keeps unselected plugins unimported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from brs import defaults, loglevels
from brs.errors import BrsError, ConfigError

if TYPE_CHECKING:
    from brs.interfaces import Role
    from brs.retention import Policy
    from brs import crypto
    from brs.engine import Engine

# The engine, the plugin machinery and the config reader are imported where they are used:
# ``brs --help`` and the command tree need none of them (docs/performance.md: start-up).

__all__ = [
    "BrsCommand",
    "build_engine",
    "common_options",
    "compression_option",
    "lock_option",
    "rate_limit_options",
    "restore_options",
    "retention_options",
    "selected_plugin_options",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Lets plugin options through the first pass.
PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}
_CONFIG_KEY = "brs_config"
_OLD_ENV_KEY = "brs_old_env"
#: Options that take several values; an old variable holds one per line.
_MULTIPLE = ("pre_exec_cmds", "post_exec_cmds", "decryption_key_file")


def _env(name: str) -> str:
    return "BRS_" + name.upper().replace("-", "_")


def _load_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from brs.config import load_config
    from brs.legacy.config import old_environment, translate

    config = load_config(value)
    old_env = translate(old_environment())
    for name in _MULTIPLE:
        if name in old_env:
            old_env[name] = [line for line in old_env[name].splitlines() if line.strip()]
    ctx.meta[_CONFIG_KEY] = config
    ctx.meta[_OLD_ENV_KEY] = old_env
    # click consults default_map after flags and environment variables: exactly the precedence
    # we want (flag > BRS_* > BACKUP_RESTORE_SIDECAR_* > config file > default).
    ctx.default_map = {**(ctx.default_map or {}), **config, **old_env}
    return value


def _option(name: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(f"--{name}", envvar=_env(name), show_envvar=True, **kwargs)


def _common_option_decorators() -> list[Callable[[F], F]]:
    return [
        click.option(
            "--config",
            envvar="BRS_CONFIG",
            is_eager=True,
            expose_value=False,
            callback=_load_config,
            type=click.Path(dir_okay=False),
            help="YAML file with option values (keys are the long option names). Default: /etc/brs/config.yaml if present.",
        ),
        _option("log-level", default="info", type=click.Choice(loglevels.LEVELS, case_sensitive=False), help="Log level."),
        _option(
            "log-format", default="auto", type=click.Choice(["auto", "json", "text"]), help="auto: text on a terminal, else JSON."
        ),
        click.option("--json", "as_json", is_flag=True, default=False, help="Print the result as JSON (docs/cli.md: schemas)."),
        _option("db", default=None, help="Database plugin (brs plugins list)."),
        # A string, not a Path: Path("") is ".", and an empty setting must not mean the current directory.
        _option("db-data-directory", default=None, type=click.Path(file_okay=False), help="Data directory."),
        _option("backup-provider", default=defaults.STORAGE, show_default=True, help="Storage plugin (brs plugins list)."),
        _option("object-prefix", default="", help="Folder for this database's backups inside the storage."),
        _option(
            "allow-unencrypted",
            is_flag=True,
            default=False,
            help="Restore and verify unencrypted backups although an encryption key is configured.",
        ),
        _option("encryption-key", default=None, help="32 ASCII characters; encrypts new backups. Prefer --encryption-key-file."),
        _option("encryption-key-file", default=None, type=click.Path(dir_okay=False), help="File holding the encryption key."),
        _option(
            "decryption-key-file",
            multiple=True,
            type=click.Path(dir_okay=False),
            help="Extra key files for reading backups made with older keys (repeatable).",
        ),
        _option(
            "allow-other-identity",
            is_flag=True,
            default=False,
            help="Let latest and the automatic restore pick backups recorded by another database on this prefix (adopt them).",
        ),
        _option(
            "server",
            default=None,
            metavar="URL",
            help="Act through the sidecar API at URL (e.g. http://127.0.0.1:8000) instead of locally.",
        ),
        _option(
            "api-token-file",
            default=None,
            type=click.Path(dir_okay=False),
            help="File holding the sidecar API's bearer token (brs start requires it for changes, --server sends it).",
        ),
    ]


def common_options(func: F) -> F:
    """Options every command accepts, after or before the subcommand (:mod:`brs.cli.globals`)."""
    for decorate in reversed(_common_option_decorators()):
        func = decorate(func)
    return func


class _ParsedType(click.ParamType[Any]):
    """An option written as text (``1y5m``, ``50MiB``) and read by ``parse``, whose ValueError
    becomes click's usage error (the parsers are imported on use: ``--help`` needs none)."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str | int):
            return value  # parsed already
        try:
            return self._parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _duration(text: str) -> Any:
    from brs.retention import parse_duration

    return parse_duration(text)


def _rate(text: str) -> int:
    from brs.units import parse_rate

    return parse_rate(text)


_KEEP_RULES = ("hourly", "daily", "weekly", "monthly", "yearly")


def retention_options(func: F) -> F:
    """Options of the commands that apply retention (restic's ``forget`` rules; docs/retention.md)."""
    decorators = [
        _option("keep-last", default=None, type=click.IntRange(min=1), help="Keep the N newest backups."),
        *(
            _option(
                f"keep-{rule}",
                default=None,
                type=click.IntRange(min=1),
                help=f"Keep the newest backup of each of the N newest {unit}s that have one (UTC).",
            )
            for rule, unit in zip(_KEEP_RULES, ("hour", "day", "ISO week", "month", "year"), strict=True)
        ),
        _option(
            "keep-within",
            default=None,
            type=_ParsedType("duration", _duration),
            help="Keep every backup younger than DURATION (1y5m7d2h: years, months, days, hours) counted from the newest.",
        ),
        _option(
            "object-max-keep",
            default=None,
            type=click.IntRange(min=1),
            help="Old name of --keep-last; without any --keep-* rule, 20 backups are kept.",
        ),
        _option(
            "object-days-max-keep",
            default=None,
            type=click.IntRange(min=1),
            help="Old name of --keep-within Nd: also keep every backup younger than N days, as the old S3 lifecycle rule did.",
        ),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


def restore_options(func: F) -> F:
    """Options of the commands that restore."""
    return _option(
        "keep-special-bits",
        is_flag=True,
        default=False,
        help="Restore setuid, setgid and sticky bits (by default they are cleared: a backup must not plant privileged files).",
    )(func)


def compression_option(func: F) -> F:
    """``--compression-method`` and ``--compression-level`` of new backups."""
    func = _option(
        "compression-level",
        default=None,
        type=int,
        help="Level of new backups: tarzst -7 to 22 (default 3), targz 0 to 3 (1), tarlz4 0 to 12 (0); higher: smaller, slower.",
    )(func)
    return _option(
        "compression-method",
        default=defaults.COMPRESSION,
        show_default=True,
        help="tar, targz, tarlz4 or tarzst (or a plugin's method).",
    )(func)


def rate_limit_options(func: F) -> F:
    """``--disk-rate-limit`` and ``--upload-rate-limit``: how fast a backup may read and upload (:mod:`brs.throttle`)."""
    for name, what in (  # applied last to first: --help lists them the other way round
        ("upload-rate-limit", "Send a backup to the storage at most this fast"),
        ("disk-rate-limit", "Read a backup's data at most this fast, before compression"),
    ):
        text = f"{what} (bytes per second: 50MiB, 200M, 1GB; 0: no limit)."
        func = _option(name, default=None, type=_ParsedType("rate", _rate), metavar="RATE", help=text)(func)
    return func


def lock_option(func: F) -> F:
    """``--lock-wait``: how long to wait for another process's backup, restore or retention."""
    return _option(
        "lock-wait",
        default=0.0,
        type=click.FloatRange(min=0),
        help="Seconds to wait while another brs process backs up or restores this data directory (default: fail at once).",
    )(func)


def _keyring(params: dict[str, Any]) -> crypto.Keyring:
    from brs import crypto

    key_text, key_file = params.get("encryption_key"), params.get("encryption_key_file")
    if key_text and key_file:
        raise ConfigError("--encryption-key and --encryption-key-file are both set; use one")
    key = None
    if key_text:
        key = crypto.parse_key(str(key_text), "--encryption-key")
    elif key_file:
        key = crypto.parse_key(_read(key_file, "--encryption-key-file"), str(key_file))
    extra = params.get("decryption_key_file") or ()
    if isinstance(extra, str):
        extra = [extra]
    decryption = [crypto.parse_key(_read(path, "--decryption-key-file"), str(path)) for path in extra]
    return crypto.Keyring(key, decryption)


def _policy(params: dict[str, Any]) -> Policy:
    """The policy from ``--keep-*``; ``--object-max-keep`` and ``--object-days-max-keep`` are the
    old names of ``--keep-last`` and ``--keep-within Nd`` (the new names win)."""
    counts = {rule: _optional_int(params.get(f"keep_{rule}")) or 0 for rule in _KEEP_RULES}
    within = params.get("keep_within")
    days = _optional_int(params.get("object_days_max_keep"))
    if within is None and days is not None:
        from brs.retention import Duration

        within = Duration(days=days)
    last = _optional_int(params.get("keep_last")) or _optional_int(params.get("object_max_keep"))
    if last is None and not any(counts.values()) and within is None:
        last = defaults.KEEP_LAST
    from brs.retention import Policy

    return Policy(last=last or 0, within=within, **counts)


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _read(path: str | Path, flag: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise ConfigError(f"cannot read {flag} {path}: {error.strerror or error}") from error


class BrsCommand(click.Command):
    """A command that remembers its raw arguments for the second option pass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", dict(PASSTHROUGH))
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_RAW_ARGS] = list(args)
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Core's options, then those of the plugins named on the command line or in ``BRS_*``."""
        super().format_options(ctx, formatter)
        from brs.interfaces import Role

        raw = ctx.meta.get(_RAW_ARGS, [])
        names = {p.name for p in self.params}
        for role, flag in ((Role.DATABASE, "db"), (Role.STORAGE, "backup-provider")):
            if flag.replace("-", "_") not in names:
                continue
            name = _peek(raw, f"--{flag}") or os.environ.get(_env(flag)) or (None if role is Role.DATABASE else defaults.STORAGE)
            if not name:
                continue
            try:
                options = _plugin_options(role, name)
            except BrsError:
                continue
            records = [record for option in options if (record := option.get_help_record(ctx)) is not None]
            if records:
                with formatter.section(f"Options of the {role.label} plugin {name!r}"):
                    formatter.write_dl(records)
        if "db" in names and not (_peek(raw, "--db") or os.environ.get(_env("db"))):
            formatter.write_paragraph()
            formatter.write_text("Add --db NAME (and --backup-provider NAME) before --help to see that plugin's options.")


_RAW_ARGS = "brs_raw_args"


def _peek(args: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` in raw arguments (``--flag value`` or ``--flag=value``), if present."""
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _plugin_options(role: Role, name: str) -> list[click.Option]:
    from brs.assembly import plugin_options

    return plugin_options(role, name)


def selected_plugin_options(args: Sequence[str]) -> list[click.Option]:
    """Options of the plugins that ``args`` select (``--db``, ``--backup-provider``, else ``BRS_*``).

    A selection made only in the config file is seen by the subcommand's second pass.
    """
    from brs.interfaces import Role

    options: list[click.Option] = []
    for role, flag, default in ((Role.DATABASE, "--db", None), (Role.STORAGE, "--backup-provider", defaults.STORAGE)):
        name = _peek(args, flag) or os.environ.get(_env(flag[2:])) or default
        if name:
            try:
                options.extend(_plugin_options(role, name))
            except BrsError:
                continue  # the subcommand reports an unknown plugin with its own message
    return options


def known_config_keys(ctx: click.Context) -> set[str]:
    """Every option name of every brs command, and the keys read outside options."""
    from brs.legacy.config import WAIT_KEYS

    keys = set(WAIT_KEYS)
    pending: list[click.Command] = [ctx.find_root().command]
    while pending:
        command = pending.pop()
        keys.update(str(p.name) for p in command.params if p.name)
        if isinstance(command, click.Group):
            pending.extend(command.commands.values())
    return keys


def _installed_plugin_keys(prefix_of: str | None = None) -> set[str]:
    """Option names of the installed plugins; with ``prefix_of``, only of those whose name starts
    that key (``s3`` for ``s3_region``): plugins name their options after themselves, and
    importing every plugin (cloud SDKs included) would cost seconds on every command."""
    from brs.plugins import driver_class, installed_names

    from brs.interfaces import Role

    keys: set[str] = set()
    for role in (Role.DATABASE, Role.STORAGE, Role.COMPRESSION):
        for name in installed_names(role):
            if prefix_of is not None and not prefix_of.startswith(name.replace("-", "_") + "_"):
                continue
            try:
                keys.update(driver_class(role, name).Options.params())
            except BrsError:
                continue
    return keys


def check_config_keys(ctx: click.Context, config: dict[str, Any], seen: set[str]) -> None:
    """Refuse a config key that no brs command and no installed plugin knows.

    A key of another command or of a plugin not selected now is fine (a config file is shared by
    every command); a typo is not, since the setting it meant would silently keep its default.
    """
    known = known_config_keys(ctx)
    unknown = [key for key in config if key not in seen and key not in known and key not in _installed_plugin_keys(key)]
    if not unknown:
        return
    everything = known | _installed_plugin_keys()
    for key in unknown:
        if key in everything:
            continue
        written = key.replace("_", "-")
        import difflib

        close = difflib.get_close_matches(key, everything, n=1)
        hint = f"; did you mean {close[0].replace('_', '-')}?" if close else ""
        raise ConfigError(f"config key {written} is not an option of brs or of any installed plugin{hint}")


def _reparse(ctx: click.Context, classes: Sequence[tuple[Role, str]]) -> dict[str, Any]:
    """Second pass: parse the command's arguments again, with the selected plugins' options.

    Parsing everything again (not just the leftovers) keeps positional arguments right when a
    plugin option with a value stands before them.
    """
    params: list[click.Parameter] = list(ctx.command.params)
    seen = {p.name for p in params}
    for role, name in classes:
        for option in _plugin_options(role, name):
            if option.name in seen:
                continue
            seen.add(option.name)
            params.append(option)
    command = click.Command(ctx.info_name or "brs", params=params, add_help_option=False)
    config = ctx.meta.get(_CONFIG_KEY, {})
    defaults = {**config, **ctx.meta.get(_OLD_ENV_KEY, {})}
    try:
        sub = command.make_context(ctx.info_name, list(ctx.meta.get(_RAW_ARGS, [])), default_map=defaults)
    except click.NoSuchOption as error:
        raise click.UsageError(
            f"no such option: {error.option_name} (not an option of brs or of the selected plugins)", ctx
        ) from None
    except click.BadParameter as error:
        raise click.UsageError(error.format_message(), ctx) from None
    if sub.args:
        raise click.UsageError(f"unexpected arguments: {' '.join(sub.args)}", ctx)
    check_config_keys(ctx, config, {str(name) for name in seen})
    return dict(sub.params)


def _data_directory(value: str | None) -> Path | None:
    """The data directory as an absolute path; a symlink to it is followed, so that backups
    hold its content and a restore replaces the directory it points to."""
    if value is None:
        return None
    if not str(value).strip():
        raise ConfigError("--db-data-directory is empty; set it to the database's data directory")
    path = Path(value).absolute()
    if path.is_symlink():
        real = Path(os.path.realpath(path))
        import logging

        logging.getLogger("brs.config").info("the data directory %s is a symlink; using %s", path, real)
        return real
    return path


def build_engine(ctx: click.Context, *, need_db: bool = False) -> tuple[Engine, dict[str, Any]]:
    """Select, configure and register the drivers a command needs.

    :returns: the engine and every option value of the command (core's and the plugins').
    """
    from brs.assembly import assemble
    from brs.engine import Settings
    from brs.legacy.config import warn_deprecated
    from brs.plugins import driver_class, require_installed

    params = dict(ctx.params)
    from brs import logs

    logs.configure(params.get("log_level") or "info", params.get("log_format") or "auto")
    warn_deprecated(ctx.meta.get(_OLD_ENV_KEY) or {})
    db = params.get("db")
    if need_db and not db:
        raise ConfigError("no database selected: set --db (or BRS_DB, or db: in the config file)")
    provider = params.get("backup_provider") or defaults.STORAGE
    compression = params.get("compression_method") or defaults.COMPRESSION
    from brs.interfaces import Role

    selected = [(Role.STORAGE, provider), *([(Role.DATABASE, db)] if db else []), (Role.COMPRESSION, compression)]
    for role, name in selected:
        # An unknown or broken plugin is reported before its options are parsed; a compression
        # method (no options) is imported only by the operation that uses it.
        require_installed(role, name) if role is Role.COMPRESSION else driver_class(role, name)
    params = _reparse(ctx, [(role, name) for role, name in selected if role is not Role.COMPRESSION])  # no options
    data_dir = params.get("db_data_directory")
    prefix = str(params.get("object_prefix") or "").strip("/")
    settings = Settings(
        db=db,
        data_dir=_data_directory(data_dir),
        backup_provider=provider,
        object_prefix=prefix,
        object_max_keep=int(params.get("object_max_keep") or defaults.KEEP_LAST),
        object_days_max_keep=_optional_int(params.get("object_days_max_keep")),
        retention_rules=_policy(params),
        allow_unencrypted=bool(params.get("allow_unencrypted")),
        compression_method=compression,
        compression_level=_optional_int(params.get("compression_level")),
        keyring=_keyring(params),
        keep_special_bits=bool(params.get("keep_special_bits")),
        lock_wait=float(params.get("lock_wait") or 0.0),
        allow_other_identity=bool(params.get("allow_other_identity")),
        retention_after_backup=not params.get("no_retention"),
        disk_rate_limit=int(params.get("disk_rate_limit") or 0),
        upload_rate_limit=int(params.get("upload_rate_limit") or 0),
    )
    return assemble(settings, params), params
