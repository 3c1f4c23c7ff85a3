"""brs.processes: what a child's environment holds and what a logged command shows."""

from __future__ import annotations

import pytest

from brs import processes


def test_children_get_no_brs_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRS_ENCRYPTION_KEY", "k" * 32)
    monkeypatch.setenv("BRS_DB", "postgres")
    monkeypatch.setenv("PGPASSWORD_FOR_TOOLS", "kept")
    env = processes.child_env({"EXTRA": "1"})
    assert not [name for name in env if name.startswith("BRS_")]
    assert env["EXTRA"] == "1" and env["PGPASSWORD_FOR_TOOLS"] == "kept" and "PATH" in env
    out = processes.run(["sh", "-c", "env"], capture_output=True, text=True, check=True).stdout
    assert "BRS_" not in out and "PGPASSWORD_FOR_TOOLS=kept" in out


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["redis-server", "--requirepass", "s3cr3t-value"], ["redis-server", "--requirepass", "***"]),
        (["tool", "--password=s3cr3t-value"], ["tool", "--password=***"]),
        (["tool", "--key-file", "/etc/key"], ["tool", "--key-file", "/etc/key"]),
        (["tool", "-u", "user:s3cr3t-value@host"], ["tool", "-u", "user:***@host"]),
        (["postgres", "-D", "/data"], ["postgres", "-D", "/data"]),
    ],
)
def test_logged_commands_hide_secrets(monkeypatch: pytest.MonkeyPatch, argv: list[str], shown: list[str]) -> None:
    monkeypatch.setenv("APP_PASSWORD", "s3cr3t-value")
    assert processes.redact(argv) == shown


def test_every_child_is_started_through_brs_processes() -> None:
    """A direct subprocess call would hand the child brs's environment, secrets included."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    sources = [*repo.glob("core/src/brs/**/*.py"), *repo.glob("plugins/*/src/**/*.py")]
    direct = re.compile(r"subprocess\.(run|Popen|call|check_call|check_output)\(|os\.(system|exec\w+|spawn\w+|popen)\(")
    offenders = [
        f"{path.relative_to(repo)}:{number}"
        for path in sources
        if path.name not in ("processes.py", "testing.py") and "testing" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []
