"""The plugin contract and the options stay documented."""

from __future__ import annotations

import inspect
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import click
import pytest

from brs import hookspecs
from brs.cli.app import cli
from brs.errors import EXIT_CODES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _hookspecs() -> list[tuple[str, object]]:
    return [(name, member) for name, member in inspect.getmembers(hookspecs.LifecycleSpecs, inspect.isfunction)]


@pytest.mark.parametrize("name,spec", _hookspecs(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_hook_is_documented(name: str, spec: object) -> None:
    doc = inspect.getdoc(spec) or ""
    assert doc.splitlines()[0].endswith("."), f"{name} needs a one-line summary"
    assert name in (DOCS / "writing-plugins.md").read_text(), f"{name} is missing from docs/writing-plugins.md"


def _options(group: click.Group) -> set[str]:
    found: set[str] = set()
    for command in group.commands.values():
        if isinstance(command, click.Group):
            found |= _options(command)
        else:
            found |= {max(p.opts, key=len) for p in command.params if isinstance(p, click.Option) and not p.hidden}
    return found


def test_every_core_option_is_in_the_configuration_reference() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = sorted(flag for flag in _options(cli) if f"`{flag}`" not in text)
    assert not missing, f"run scripts/options_table.py and update docs/configuration.md: {missing}"


def test_the_configuration_reference_table_is_generated_from_the_code() -> None:
    script = runpy.run_path(str(DOCS.parent / "scripts" / "options_table.py"))
    text = (DOCS / "configuration.md").read_text()
    assert script["document_with_table"](text) == text, "run scripts/options_table.py --write"


@pytest.mark.parametrize("document", ["README.md", "docs/cli.md"])
def test_every_exit_status_is_documented(document: str) -> None:
    text = (DOCS.parent / document).read_text()
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in text, f"{document} lacks the row of exit status {code}"


def test_the_generated_reference_pages_are_current() -> None:
    script = runpy.run_path(str(DOCS.parent / "scripts" / "reference_docs.py"))
    for name, render in script["PAGES"].items():
        assert (DOCS / "reference" / name).read_text() == render(), "run scripts/reference_docs.py"


def test_the_site_builds_offline_with_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    assert mkdocs.exists(), "mkdocs is missing: make dev installs it (core[test])"
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=DOCS.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
    assert "--keep-within" in (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()


def _package_map() -> set[str]:
    """Every path the map in docs/architecture.md names (directories without their slash)."""
    text = (DOCS / "architecture.md").read_text()
    block = text.split("## Packages", 1)[1].split("```", 2)[1]
    named: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent, name = len(line) - len(line.lstrip()), line.split()[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "".join(part for _, part in stack) + name
        named.add(path.rstrip("/"))
        if name.endswith("/"):
            stack.append((indent, name))
    return named


def test_the_package_map_names_every_module_and_plugin_and_nothing_else() -> None:
    root = DOCS.parent
    core = root / "core" / "src" / "brs"
    modules = {f"core/src/brs/{path.relative_to(core)}" for path in core.rglob("*.py") if path.name != "__init__.py"}
    plugins = {f"plugins/{path.parent.name}" for path in (root / "plugins").glob("*/pyproject.toml")}
    named = _package_map()
    assert not (modules | plugins) - named, f"add to the map in docs/architecture.md: {sorted((modules | plugins) - named)}"
    assert not {path for path in named if not (root / path).exists()}, "the map names paths that do not exist"


def _excerpts(document: str) -> list[tuple[str, str]]:
    """``(path, code)`` of every code block of ``document`` titled with a file of the repository."""
    text = (DOCS / document).read_text()
    return re.findall(r'^```\w+ title="([^"]+)"\n(.*?)^```$', text, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("path,code", _excerpts("tutorial-database-plugin.md"), ids=lambda value: value[:60])
def test_the_tutorials_excerpts_are_the_plugins_real_code(path: str, code: str) -> None:
    source = DOCS.parent / path
    assert source.is_file(), f"the tutorial quotes {path}, which does not exist"
    text = source.read_text()
    # A line "..." separates excerpts of one file; each must be found as it is.
    for part in re.split(r"^\.\.\.\n", code, flags=re.MULTILINE):
        assert part in text, f"docs/tutorial-database-plugin.md quotes {path} as it no longer is:\n{part}"


def test_the_modules_the_tutorial_names_exist() -> None:
    plugin = DOCS.parent / "plugins" / "brs-meilisearch"
    text = (DOCS / "tutorial-database-plugin.md").read_text()
    named = set(re.findall(r"`(\w+\.py)`", text))
    assert named, "the tutorial names no module of the plugin"
    missing = sorted(name for name in named if not list(plugin.rglob(name)))
    assert not missing, f"docs/tutorial-database-plugin.md names modules brs-meilisearch no longer has: {missing}"
