"""The plugin template renders a database plugin that installs next to brs, passes the database
contract, and backs up and restores through the real CLI.

The rendered distribution is installed into a folder of its own (``pip install --target``) and
reaches brs through ``PYTHONPATH``, the way a user's extra package does: brs finds it by its
entry point in the installed metadata, and the shared environment stays as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import copier
import pytest

from brs.testing import DatabaseContract, LocalStoreCLI, assert_ok, assert_one_line_error, cleared_special_bits, make_tree
from brs.testing import run_brs, tree_snapshot

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "brs-plugin"
NAME = "file-tree"  # a dash in the name: flags, variables and the module name must all follow it
SKIPPED = "cache"


@dataclass(frozen=True)
class Installed:
    """The rendered project and the folder it was installed into."""

    project: Path
    site: Path

    @property
    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.site)}

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python ARGS`` in the rendered project, with the installed copy on the path."""
        return subprocess.run(
            [sys.executable, *args],
            cwd=self.project,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("template")
    project = root / f"brs-{NAME}"
    copier.run_copy(
        str(TEMPLATE),
        project,
        data={"name": NAME, "description": "brs database plugin for a directory tree"},
        defaults=True,
        quiet=True,
    )
    site = root / "site"
    # Built in an isolated environment from the project's own build requirements, as any user's
    # pip builds it; --no-deps: brs itself is the one under test, already importable.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(project)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return Installed(project, site)


def _pyproject(project: Path) -> dict[str, object]:
    return tomllib.loads((project / "pyproject.toml").read_text())


def test_the_template_renders_a_separate_distribution_pinned_to_this_brs_series(installed: Installed) -> None:
    project = _pyproject(installed.project)["project"]
    assert isinstance(project, dict)
    major, minor = tomllib.loads((REPO / "core" / "pyproject.toml").read_text())["project"]["version"].split(".")[:2]
    assert project["name"] == f"brs-{NAME}"
    assert project["dependencies"] == [f"brs>={major}.{minor},<{major}.{int(minor) + 1}"]
    assert project["entry-points"] == {"brs.database": {NAME: "brs_file_tree:FileTree"}}
    # Installed beside brs, not into the environment that runs this test.
    assert (installed.site / "brs_file_tree" / "testing.py").is_file()
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution(f"brs-{NAME}")


def test_the_rendered_plugin_passes_the_database_contract(installed: Installed, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    result = installed.python("-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}")
    assert result.returncode == 0, result.stdout + result.stderr
    cases = ElementTree.parse(report).getroot().iter("testcase")
    passed = {case.get("name", "") for case in cases if not any(child.tag in ("failure", "error", "skipped") for child in case)}
    contract = {name for name in dir(DatabaseContract) if name.startswith("test_")}
    assert contract <= {name.split("[", 1)[0] for name in passed}, f"contract tests that did not pass: {contract - passed}"
    # The plugin's own tests ran too, and from the installed copy, not from src/.
    assert "test_brs_finds_the_plugin_and_reads_its_options_by_their_flag_names" in passed


@pytest.mark.parametrize(
    "check",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff", "ruff-format", "mypy-strict"],
)
def test_the_rendered_code_passes_the_projects_own_checks(installed: Installed, check: list[str]) -> None:
    # The rendered pyproject.toml configures both (mypy --strict); the tools are brs's lint tools.
    result = installed.python("-m", *check)
    assert result.returncode == 0, result.stdout + result.stderr


def test_brs_lists_the_installed_plugin(installed: Installed) -> None:
    rows = json.loads(assert_ok(run_brs("plugins", "list", "--check", "--json", env=installed.env)))
    ours = [row for row in rows if row["name"] == NAME]
    assert ours == [
        {"role": "database", "name": NAME, "distribution": f"brs-{NAME}", "version": "0.1.0", "status": "ok", "error": ""}
    ]
    help_text = assert_ok(run_brs("backup", "--db", NAME, "--help", env=installed.env))
    for derived in ("--file-tree-marker", "BRS_FILE_TREE_MARKER", "--file-tree-exclude", "BRS_FILE_TREE_EXCLUDE"):
        assert derived in help_text


def _data(root: Path) -> Path:
    make_tree(root, big_file_size=1 << 20)
    (root / "VERSION").write_text("1\n")
    (root / SKIPPED).mkdir()
    (root / SKIPPED / "scratch").write_text("left out of backups")
    return root


def test_backup_and_restore_through_the_cli(installed: Installed, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    expected = {path: entry for path, entry in cleared_special_bits(tree_snapshot(data)).items() if not path.startswith(SKIPPED)}
    cli = LocalStoreCLI(tmp_path)
    # The marker comes from its BRS_* variable, the exclusion from its flag.
    env: Mapping[str, str] = {**installed.env, "BRS_FILE_TREE_MARKER": "VERSION"}
    version = assert_ok(cli.run("backup", "--file-tree-exclude", SKIPPED, db=NAME, data_dir=data, env=dict(env)))

    # An option the plugin rejects: one line, nothing stored, the stored backup untouched.
    refused = cli.run("backup", "--file-tree-marker", "../VERSION", db=NAME, data_dir=data, env=installed.env)
    assert_one_line_error(refused, "--file-tree-marker", "inside the data directory", exit_code=2)
    assert [backup["version"] for backup in cli.listed()] == [version]

    shutil.rmtree(data)
    assert_ok(cli.run("restore", "latest", db=NAME, data_dir=data, env=dict(env)))
    assert tree_snapshot(data) == expected
