"""Plugin options, declared once.

A plugin declares its options as one frozen dataclass that subclasses :class:`PluginOptions`,
one field per option, made with :func:`option` or :func:`secret`::

    @dataclass(frozen=True)
    class PostgresOptions(PluginOptions):
        prefix: ClassVar[str] = "postgres"

        host: str = option("127.0.0.1", "Server host name or socket directory.")
        port: int = option(5432, "Server port.", minimum=1, maximum=65535)
        password: str | None = secret("Password of --postgres-user.")

From that one declaration brs derives everything else: the click options of every command
(``--postgres-host``), the environment variables (``BRS_POSTGRES_HOST``), the config-file keys
(``postgres-host``), the ``--help`` text, the generated reference docs, and the validated,
typed object the driver receives as ``self.settings`` (cross-field rules go in
``__post_init__`` and raise :class:`~brs.errors.ConfigError`).

Dataclass field metadata is the whole mechanism: pydantic-settings would fit too, but its
import alone costs more than the start-up budget of ``brs --help`` (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from brs.errors import ConfigError

if TYPE_CHECKING:
    import click

__all__ = [
    "NoOptions",
    "OptionSpec",
    "PluginOptions",
    "env_name",
    "option",
    "secret",
]

_KEY = "brs"
Options = TypeVar("Options", bound="PluginOptions")


def env_name(param: str) -> str:
    """The ``BRS_*`` variable of a click parameter name or long flag (``s3-region`` -> ``BRS_S3_REGION``)."""
    return "BRS_" + param.upper().replace("-", "_")


@dataclass(frozen=True)
class OptionSpec:
    """How one field appears outside Python (filled in by :func:`option` and :func:`secret`)."""

    help: str
    flag: str | None = None  #: long flag without the prefix; default: the field name with dashes
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False  #: a password or token: gets a ``-file`` twin and never appears in ``repr``
    metavar: str | None = None


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: Sequence[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    metavar: str | None = None,
) -> Any:
    """One option: its default (``None``: unset), help text and constraints.

    The type comes from the field's annotation (``str``, ``int``, ``float``, ``bool``, ``Path``,
    each optionally ``| None``; ``tuple[str, ...]`` for a repeatable option). A ``bool`` that
    defaults to true becomes ``--x/--no-x``.
    """
    spec = OptionSpec(help, flag, tuple(choices) if choices else None, minimum, maximum, False, metavar)
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata={_KEY: spec})
    return dataclasses.field(default=default, metadata={_KEY: spec})


def secret(help: str, *, flag: str | None = None) -> Any:
    """A secret (password, token, connection string): ``--x`` and ``--x-file``, hidden from ``repr``.

    Prefer the file (a mounted Kubernetes secret) or ``BRS_<NAME>``: values on a command line
    are visible in process listings.
    """
    spec = OptionSpec(help, flag, secret=True)
    return dataclasses.field(default=None, repr=False, metadata={_KEY: spec})


@dataclass(frozen=True)
class Declared:
    """One declared option with its derived names."""

    field: str  #: attribute on the options object (``host``)
    flag: str  #: long flag without dashes in front (``postgres-host``)
    kind: type  #: str, int, float, bool, Path or tuple
    optional: bool
    default: Any
    spec: OptionSpec

    @property
    def param(self) -> str:
        """click's parameter name, also the key of merged option values (``postgres_host``)."""
        return self.flag.replace("-", "_")

    @property
    def env(self) -> str:
        return env_name(self.flag)

    @property
    def file_flag(self) -> str:
        return self.flag + "-file"


class PluginOptions:
    """Base of a plugin's options dataclass (subclass it with ``@dataclass(frozen=True)``)."""

    #: Put before every flag of the class (``postgres`` gives ``--postgres-host``).
    prefix: ClassVar[str] = ""

    @classmethod
    def declared(cls) -> tuple[Declared, ...]:
        """Every option of the class, in declaration order."""
        return _declared(cls)

    @classmethod
    def click_options(cls) -> list[click.Option]:
        """The options as click options (secrets with their ``-file`` twin), env variables attached."""
        return [built for item in cls.declared() for built in _click_options(item)]

    @classmethod
    def params(cls) -> set[str]:
        """The click parameter names this class reads (also its config keys, with underscores)."""
        return {
            name
            for item in cls.declared()
            for name in ((item.param, item.param + "_file") if item.spec.secret else (item.param,))
        }

    @classmethod
    def from_values(cls: type[Options], values: Mapping[str, Any]) -> Options:
        """The validated options object from merged values keyed by click parameter name.

        Only this class's own keys are read; everything else in ``values`` (core's options, the
        encryption key, other plugins' options) is ignored.

        :raises ConfigError: a value of the wrong type or outside its choices, an unreadable
            secret file, or a rule of the class's ``__post_init__``.
        """
        arguments: dict[str, Any] = {}
        for item in cls.declared():
            if item.spec.secret:
                value: Any = _read_secret(values, item)
            else:
                value = values.get(item.param)
            if value is None or value == "" or (value == () and item.kind is tuple):
                continue  # unset; an empty value from a config file or variable means unset too
            arguments[item.field] = _convert(item, value)
        return cls(**arguments)

    def describe(self) -> dict[str, Any]:
        """The values for logs and ``--json`` output, secrets shown as set or not."""
        shown: dict[str, Any] = {}
        for item in self.declared():
            value = getattr(self, item.field)
            shown[item.flag] = ("(set)" if value else None) if item.spec.secret else value
        return shown


@dataclass(frozen=True)
class NoOptions(PluginOptions):
    """The options of a plugin that has none."""


_DECLARED: dict[type[PluginOptions], tuple[Declared, ...]] = {}


def _declared(cls: type[PluginOptions]) -> tuple[Declared, ...]:
    if cls not in _DECLARED:
        _DECLARED[cls] = _read_declaration(cls)
    return _DECLARED[cls]


def _read_declaration(cls: type[PluginOptions]) -> tuple[Declared, ...]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__qualname__} must be a dataclass")
    hints = typing.get_type_hints(cls)
    items = []
    for item in dataclasses.fields(cls):
        spec = item.metadata.get(_KEY)
        if spec is None:
            continue
        kind, optional = _kind(hints[item.name])
        name = spec.flag or item.name.replace("_", "-")
        flag = f"{cls.prefix}-{name}" if cls.prefix else name
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = None
        items.append(Declared(item.name, flag, kind, optional, default, spec))
    return tuple(items)


def _kind(hint: Any) -> tuple[type, bool]:
    """``(base type, optional)`` of an annotation such as ``int | None``."""
    optional = False
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        members = [member for member in typing.get_args(hint) if member is not NoneType]
        optional = len(members) < len(typing.get_args(hint))
        if len(members) != 1:
            raise TypeError(f"option type {hint} is not one type (or one type | None)")
        hint = members[0]
    if typing.get_origin(hint) is tuple:
        return tuple, optional
    if hint not in (str, int, float, bool, Path):
        raise TypeError(f"option type {hint} is not str, int, float, bool, Path or tuple[str, ...]")
    return hint, optional


def _click_options(item: Declared) -> Iterator[click.Option]:
    import click

    spec = item.spec
    common: dict[str, Any] = {"envvar": item.env, "show_envvar": True, "metavar": spec.metavar}
    if spec.secret:
        yield click.Option([f"--{item.flag}"], default=None, help=f"{spec.help} Prefer --{item.file_flag}.", **common)
        yield click.Option(
            [f"--{item.file_flag}"],
            default=None,
            type=click.Path(dir_okay=False),
            envvar=env_name(item.file_flag),
            show_envvar=True,
            help=f"File that holds the {_lowered_first(spec.help.rstrip('.'))}.",
        )
        return
    show_default = item.default not in (None, (), "")
    if item.kind is bool:
        flags = [f"--{item.flag}/--no-{item.flag}"] if item.default else [f"--{item.flag}"]
        yield click.Option(flags, is_flag=True, default=bool(item.default), show_default=show_default, help=spec.help, **common)
        return
    click_type: Any
    if spec.choices:
        click_type = click.Choice(spec.choices)
    elif item.kind is int:
        click_type = click.IntRange(_int(spec.minimum), _int(spec.maximum))
    elif item.kind is float:
        click_type = click.FloatRange(spec.minimum, spec.maximum)
    elif item.kind is Path:
        click_type = click.Path()
    else:
        click_type = click.STRING
    yield click.Option(
        [f"--{item.flag}"],
        default=item.default if item.kind is not tuple else (),
        type=click_type,
        multiple=item.kind is tuple,
        show_default=show_default,
        help=spec.help,
        **common,
    )


def _int(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


def _convert(item: Declared, value: Any) -> Any:
    """Bring a value from a flag, a variable, the config file or a test to the declared type."""
    spec = item.spec
    try:
        if item.kind is bool:
            converted: Any = value if isinstance(value, bool) else _boolean(str(value))
        elif item.kind is tuple:
            converted = (value,) if isinstance(value, str) else tuple(str(part) for part in value)
        elif item.kind is Path:
            converted = Path(value)
        else:
            converted = item.kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--{item.flag} takes {_article(item.kind)}, not {value!r}") from None
    if spec.choices and converted not in spec.choices:
        raise ConfigError(f"--{item.flag} must be one of {', '.join(spec.choices)}, not {value!r}")
    if spec.minimum is not None and converted < spec.minimum:
        raise ConfigError(f"--{item.flag} must be at least {_number(spec.minimum)}, not {value!r}")
    if spec.maximum is not None and converted > spec.maximum:
        raise ConfigError(f"--{item.flag} must be at most {_number(spec.maximum)}, not {value!r}")
    return converted


def _lowered_first(text: str) -> str:
    """``Password of ...`` -> ``password of ...``; an acronym stays (``API key``, ``S3 access key``)."""
    first = text.split(" ", 1)[0]
    return text if (len(first) > 1 and first[1:2].isupper()) or first[1:2].isdigit() else text[:1].lower() + text[1:]


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _article(kind: type) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false", Path: "a path"}.get(kind, "text")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _read_secret(values: Mapping[str, Any], item: Declared) -> str | None:
    """A secret from its option or its ``-file`` twin (a mounted Kubernetes secret)."""
    value = values.get(item.param)
    path = values.get(item.param + "_file")
    if value and path:
        raise ConfigError(f"--{item.flag} and --{item.file_flag} are both set; use one")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as error:
            raise ConfigError(f"cannot read --{item.file_flag} {path}: {error.strerror or error}") from error
    return str(value) if value else None
