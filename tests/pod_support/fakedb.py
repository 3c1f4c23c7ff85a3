"""A tiny long-running "database" for the pod simulation tests.

Usage: fakedb.py DATA_DIR INBOX_DIR REPORT_FILE READY_FILE

At start it records what ``DATA_DIR/data.txt`` holds (one JSON line in REPORT_FILE), then
serves: every file dropped into INBOX_DIR becomes a line appended to data.txt (with its
SHA-256 in data.txt.sha256). SIGTERM/SIGINT end it gracefully (recorded in the report).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

data_dir, inbox, report, ready = (Path(arg) for arg in sys.argv[1:5])
stopping: list[int] = []


def record(event: dict[str, object]) -> None:
    with open(report, "a") as out:
        out.write(json.dumps({**event, "pid": os.getpid(), "time": time.time()}) + "\n")
        out.flush()
        os.fsync(out.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, _f: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _f: stopping.append(signum))
    data_dir.mkdir(parents=True, exist_ok=True)
    inbox.mkdir(parents=True, exist_ok=True)
    data = data_dir / "data.txt"
    content = data.read_text() if data.exists() else ""
    record({"event": "start", "lines": content.splitlines()})
    ready.write_text(str(os.getpid()))
    while not stopping:
        for item in sorted(inbox.glob("*.txt")):
            content += item.read_text().strip() + "\n"
            write_atomically(data, content.encode())
            write_atomically(data_dir / "data.txt.sha256", hashlib.sha256(content.encode()).hexdigest().encode())
            item.unlink()
        time.sleep(0.05)
    ready.unlink(missing_ok=True)
    record({"event": "stop", "signal": signal.Signals(stopping[0]).name})


if __name__ == "__main__":
    main()
