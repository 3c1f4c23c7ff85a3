"""Pod tests: real containers under podman (see tests/pods/podman.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The manifest converter is a script of the repository, importable as a module.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
