"""Print the Markdown table of every core option, for docs/configuration.md.

Run with the development venv: ``.venv/bin/python scripts/options_table.py``.
"""

from __future__ import annotations

import click

from brs.cli.app import cli


def _rows(group: click.Group, prefix: str = "") -> dict[str, tuple[click.Option, list[str]]]:
    found: dict[str, tuple[click.Option, list[str]]] = {}
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            for key, (option, commands) in _rows(command, full + " ").items():
                found.setdefault(key, (option, []))[1].extend(commands)
            continue
        for param in command.params:
            if isinstance(param, click.Option) and param.name and not param.hidden:
                flag = max(param.opts, key=len)
                found.setdefault(flag, (param, []))[1].append(full)
    return found


def main() -> None:
    print("| option | environment | default | commands | meaning |")
    print("|---|---|---|---|---|")
    for flag, (option, commands) in sorted(_rows(cli).items()):
        envvar = option.envvar if isinstance(option.envvar, str) else ""
        unset = option.default in (None, (), False, "") or callable(option.default) or type(option.default).__name__ == "Sentinel"
        default = "" if unset or str(option.default).startswith("Sentinel") else f"`{option.default}`"
        meaning = (option.help or "").replace("|", "\\|")
        environment = f"`{envvar}`" if envvar else ""
        print(f"| `{flag}` | {environment} | {default} | {', '.join(sorted(set(commands)))} | {meaning} |")


if __name__ == "__main__":
    main()
