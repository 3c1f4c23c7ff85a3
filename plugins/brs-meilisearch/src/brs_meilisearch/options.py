"""The plugin's options."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from brs.options import PluginOptions, option, secret

__all__ = ["DEFAULT_URL", "MeiliOptions", "default_previous_binary"]

DEFAULT_URL = "http://localhost:7700"
#: Name of the folder (next to the data directory) that keeps the binary that wrote the data.
PREVIOUS_BINARY_DIR = "previous-binary"


@dataclass(frozen=True)
class MeiliOptions(PluginOptions):
    """Options of the meilisearch plugin."""

    prefix: ClassVar[str] = "meilisearch"

    url: str = option(DEFAULT_URL, "URL of the running Meilisearch server.")
    api_key: str | None = secret("Master key or an API key allowed to create dumps and read tasks.")
    dump_dir: Path | None = option(
        None, "The server's --dump-dir as mounted in the sidecar (backups read the dump file from there).", metavar="DIRECTORY"
    )
    binary: str = option("meilisearch", "Meilisearch binary used for restores and upgrades (a path or a name on PATH).")
    previous_binary: Path | None = option(
        None,
        "Where backups keep a copy of the binary that wrote the data, for upgrades. "
        "Default: DATA_DIR/../previous-binary/meilisearch "
        "(DATA_DIR/.brs-previous-binary/meilisearch when DATA_DIR is a mount point).",
        metavar="FILE",
    )
    timeout: float = option(3600.0, "Seconds to wait for a dump task, a dump import or a temporary server.", minimum=1)
    keep_pre_upgrade_data: bool = option(
        False, "Keep the data directory as it was before an upgrade (moved aside next to it) instead of deleting it."
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))


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
