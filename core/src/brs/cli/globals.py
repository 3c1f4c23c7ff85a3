"""Common options before the subcommand: ``brs --db postgres --log-level debug backups list``.

Every command declares the common options itself (:func:`brs.cli.context.common_options`), so
that ``--help`` shows them and their environment variables. A group accepts them too; the
tokens it parsed are handed to the subcommand in front of the subcommand's own arguments, so a
flag after the subcommand still wins (click keeps the last value of an option). A subcommand
that has no such option (``plugins list`` has no ``--db``) does not receive it: a common option
that does not apply is ignored quietly.
"""

from __future__ import annotations

import click

from brs.cli.context import selected_plugin_options

__all__ = ["GlobalGroup"]

_TOKENS = "brs_global_tokens"
_ARGS = "brs_group_args"


def _option_of(command: click.Command, token: str, ctx: click.Context | None = None) -> click.Option | None:
    name = token.split("=", 1)[0]
    params = command.params if ctx is None else command.get_params(ctx)
    for param in params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _split(ctx: click.Context, tokens: list[str]) -> list[list[str]]:
    """``tokens`` (options the group parsed) as one list per option occurrence."""
    groups: list[list[str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        option = _option_of(ctx.command, token, ctx)
        takes_value = option is not None and not option.is_flag and option.nargs != 0 and not option.count
        width = 2 if takes_value and "=" not in token and index + 1 < len(tokens) else 1
        groups.append(tokens[index : index + width])
        index += width
    return groups


def _foreign_option_before_subcommand(params: list[click.Parameter], args: list[str]) -> bool:
    """Whether an option that none of ``params`` declares comes before the first positional
    argument (the subcommand's name)."""
    options = {opt: p for p in params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}
    index = 0
    while index < len(args) and args[index].startswith("-"):
        name = args[index].split("=", 1)[0]
        option = options.get(name)
        if option is None:
            return True
        takes_value = not option.is_flag and option.nargs != 0 and not option.count and "=" not in args[index]
        index += 2 if takes_value else 1
    return False


def _accepts_plugin_options(command: click.Command) -> bool:
    return bool(command.context_settings.get("ignore_unknown_options", command.ignore_unknown_options))


class GlobalGroup(click.Group):
    """A group whose common options, and those of the plugins selected by them, may stand before
    the subcommand."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        args = ctx.meta.get(_ARGS, [])
        # Plugins are imported only when an option that is not core's stands before the subcommand.
        if not _foreign_option_before_subcommand(params, args):
            return params
        known = {p.name for p in params}
        return params + [p for p in selected_plugin_options(args) if p.name not in known]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        original = list(args)
        ctx.meta[_ARGS] = original
        rest = super().parse_args(ctx, args)
        # What the group did not consume is the subcommand's name and its arguments.
        used = len(original) - len(rest) - (1 if len(original) > len(rest) else 0)
        consumed = [token for token in original[:used] if token not in self.get_help_option_names(ctx)]
        ctx.meta.setdefault(_TOKENS, []).extend(_split(ctx, consumed))
        return rest

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not isinstance(command, click.Group):
            static = {name for p in super().get_params(ctx) for name in getattr(p, "opts", ())}
            forwarded = [
                token
                for group in ctx.meta.get(_TOKENS, [])
                if _option_of(command, group[0]) or (_accepts_plugin_options(command) and group[0].split("=", 1)[0] not in static)
                for token in group
            ]
            rest = [*forwarded, *rest]
        return name, command, rest
