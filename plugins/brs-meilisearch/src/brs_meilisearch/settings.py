"""The plugin's options and the settings resolved from them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from brs.options import read_secret, secret_option

__all__ = ["DEFAULT_URL", "MeiliSettings", "plugin_options"]

DEFAULT_URL = "http://localhost:7700"
#: Name of the folder (next to the data directory) that keeps the binary that wrote the data.
PREVIOUS_BINARY_DIR = "previous-binary"


def plugin_options() -> list[click.Option]:
    """Click options of the ``meilisearch`` database plugin."""
    return [
        click.Option(
            ["--meilisearch-url"], default=DEFAULT_URL, show_default=True, help="URL of the running Meilisearch server."
        ),
        *secret_option("meilisearch-api-key", "Master key or an API key allowed to create dumps and read tasks."),
        click.Option(
            ["--meilisearch-dump-dir"],
            default=None,
            type=click.Path(file_okay=False, path_type=Path),
            help="The server's --dump-dir as mounted in the sidecar (backups read the dump file from there).",
        ),
        click.Option(
            ["--meilisearch-binary"],
            default="meilisearch",
            show_default=True,
            help="Meilisearch binary used for restores and upgrades (a path or a name on PATH).",
        ),
        click.Option(
            ["--meilisearch-previous-binary"],
            default=None,
            type=click.Path(dir_okay=False, path_type=Path),
            help="Where backups keep a copy of the binary that wrote the data, for upgrades. "
            "Default: DATA_DIR/../previous-binary/meilisearch "
            "(DATA_DIR/.brs-previous-binary/meilisearch when DATA_DIR is a mount point).",
        ),
        click.Option(
            ["--meilisearch-timeout"],
            default=3600.0,
            show_default=True,
            type=click.FloatRange(min=1),
            help="Seconds to wait for a dump task, a dump import or a temporary server.",
        ),
        click.Option(
            ["--meilisearch-keep-pre-upgrade-data"],
            is_flag=True,
            default=False,
            help="Keep the data directory as it was before an upgrade (moved aside next to it) instead of deleting it.",
        ),
    ]


@dataclass(frozen=True)
class MeiliSettings:
    """Resolved option values of one run."""

    url: str
    api_key: str | None
    dump_dir: Path | None
    binary: str
    previous_binary: Path | None
    timeout: float
    keep_pre_upgrade_data: bool

    @classmethod
    def from_options(cls, options: Mapping[str, Any], data_dir: Path | None) -> MeiliSettings:
        def get(name: str, default: Any) -> Any:
            value = options.get(name)
            return default if value is None else value

        previous = get("meilisearch_previous_binary", None)
        dump_dir = get("meilisearch_dump_dir", None)
        return cls(
            url=str(get("meilisearch_url", DEFAULT_URL)).rstrip("/"),
            api_key=read_secret(options, "meilisearch-api-key"),
            dump_dir=Path(dump_dir) if dump_dir is not None else None,
            binary=str(get("meilisearch_binary", "meilisearch")),
            previous_binary=Path(previous) if previous is not None else default_previous_binary(data_dir),
            timeout=float(get("meilisearch_timeout", 3600.0)),
            keep_pre_upgrade_data=bool(get("meilisearch_keep_pre_upgrade_data", False)),
        )


def default_previous_binary(data_dir: Path | None) -> Path | None:
    """``DATA_DIR/../previous-binary/meilisearch``: outside the data but on the same volume.

    When the data directory is itself the volume's mount point, its parent is another file
    system (often the container's), so the copy goes into a ``.brs-`` folder inside it, which
    brs ignores when it checks, backs up or swaps the data directory.
    """
    if data_dir is None:
        return None
    if os.path.ismount(data_dir):
        return data_dir / ".brs-previous-binary" / "meilisearch"
    return data_dir.parent / PREVIOUS_BINARY_DIR / "meilisearch"
