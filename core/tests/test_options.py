"""One options declaration gives the flags, variables, config keys and the validated object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import click
import pytest

from brs.errors import ConfigError
from brs.options import PluginOptions, option, secret


@dataclass(frozen=True)
class ExampleOptions(PluginOptions):
    prefix: ClassVar[str] = "example"

    host: str = option("127.0.0.1", "Server host.")
    port: int = option(5432, "Server port.", minimum=1, maximum=65535)
    method: str = option("fast", "How to copy.", flag="copy-method", choices=("fast", "safe"))
    store: Path | None = option(None, "Where copies go.")
    create: bool = option(True, "Create what is missing.")
    verbose: bool = option(False, "Say more.")
    password: str | None = secret("Password of the server.")

    def __post_init__(self) -> None:
        if self.method == "safe" and self.store is None:
            raise ConfigError("--example-copy-method safe needs --example-store")


def test_flags_variables_and_help_derive_from_the_declaration() -> None:
    options = {o.name: o for o in ExampleOptions.click_options()}
    assert set(options) == {
        "example_host", "example_port", "example_copy_method", "example_store", "example_create", "example_verbose",
        "example_password", "example_password_file",
    }  # fmt: skip
    assert options["example_port"].envvar == "BRS_EXAMPLE_PORT" and options["example_port"].default == 5432
    assert isinstance(options["example_copy_method"].type, click.Choice)
    assert options["example_create"].secondary_opts == ["--no-example-create"]
    assert options["example_verbose"].is_flag and not options["example_verbose"].secondary_opts
    assert options["example_password_file"].envvar == "BRS_EXAMPLE_PASSWORD_FILE"
    assert "Prefer --example-password-file" in str(options["example_password"].help)
    assert ExampleOptions.params() == set(options)


def test_values_are_read_converted_and_only_the_classes_own(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("s3cret\n")
    values = {
        "example_port": "6000",
        "example_store": str(tmp_path),
        "example_create": "false",
        "example_password_file": str(secret_file),
        "encryption_key": "never-read",
        "other_plugin_option": "never-read",
    }
    parsed = ExampleOptions.from_values(values)
    assert (parsed.port, parsed.store, parsed.create, parsed.password) == (6000, tmp_path, False, "s3cret")
    assert parsed.host == "127.0.0.1" and parsed.method == "fast"
    assert "s3cret" not in repr(parsed)


def test_an_empty_value_means_unset() -> None:
    parsed = ExampleOptions.from_values({"example_store": "", "example_port": "", "example_host": ""})
    assert (parsed.store, parsed.port, parsed.host) == (None, 5432, "127.0.0.1")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"example_port": "http"}, "--example-port takes a whole number, not 'http'"),
        ({"example_port": 0}, "--example-port must be at least 1, not 0"),
        ({"example_copy_method": "slow"}, "--example-copy-method must be one of fast, safe, not 'slow'"),
        ({"example_copy_method": "safe"}, "--example-copy-method safe needs --example-store"),
        ({"example_password": "a", "example_password_file": "/x"}, "are both set; use one"),
        ({"example_password_file": "/nonexistent/pw"}, "cannot read --example-password-file /nonexistent/pw"),
    ],
)
def test_bad_values_are_one_line_config_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ExampleOptions.from_values(values)
    assert message in str(caught.value) and "\n" not in str(caught.value)
