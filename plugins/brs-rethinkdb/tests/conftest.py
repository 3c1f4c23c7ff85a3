"""Test setup: make the helpers module next to this file importable."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest's importlib mode does not put the tests directory on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
