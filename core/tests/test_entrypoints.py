"""brs reads entry points itself (start-up time); it must see exactly what importlib.metadata sees."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from brs.entrypoints import entry_points, version_of

_GROUPS = ("brs.database", "brs.storage", "brs.compression", "brs.hooks", "console_scripts")


def test_the_same_entry_points_as_importlib_metadata() -> None:
    ours = {(ep.group, ep.name, ep.value, ep.dist, ep.version) for ep in entry_points() if ep.group in _GROUPS}
    theirs = {
        (ep.group, ep.name, ep.value, ep.dist.name, ep.dist.version)
        for group in _GROUPS
        for ep in metadata.entry_points(group=group)
        if ep.dist is not None
    }
    assert ours == theirs
    assert {("brs.database", "localfs"), ("brs.storage", "local")} <= {(g, n) for g, n, *_ in ours}


def test_versions_and_loading() -> None:
    assert version_of("brs") == metadata.version("brs")
    assert version_of("BRS_localfs") == metadata.version("brs-localfs")  # names compare canonically
    assert version_of("no-such-distribution") is None
    tar = next(ep for ep in entry_points() if ep.group == "brs.compression" and ep.name == "tar")
    assert tar.load().__name__ == "PlainTar"


def test_a_distribution_on_the_path_is_found_and_its_module_loaded(tmp_path: Path) -> None:
    info = tmp_path / "brs_probe-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brs-probe\nVersion: 1.2\n\nlong description: Name: x\n")
    (info / "entry_points.txt").write_text("[brs.hooks]\nprobe = brs_probe_hooks\n# a comment\n")
    (tmp_path / "brs_probe_hooks.py").write_text("VALUE = 42\n")
    probe = (
        "from brs.entrypoints import entry_points\n"
        "ep = next(e for e in entry_points() if e.group == 'brs.hooks' and e.name == 'probe')\n"
        "print(ep.dist, ep.version, ep.load().VALUE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env={"PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["brs-probe", "1.2", "42"]
