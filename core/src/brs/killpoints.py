"""Named points where the fault tests kill brs (``BRS_TEST_KILL_AT=<point>``).

A kill at a chosen instant (in the middle of a swap, while a temporary server runs) is the
only honest way to prove that the next start finishes or undoes what was interrupted. The
variable is read here and nowhere else; unset, :func:`reached` costs one dictionary lookup.
"""

from __future__ import annotations

import os

__all__ = ["VARIABLE", "reached"]

VARIABLE = "BRS_TEST_KILL_AT"


def reached(point: str) -> None:
    """SIGKILL this process when ``BRS_TEST_KILL_AT`` names ``point``."""
    if os.environ.get(VARIABLE) == point:
        import signal  # only when a test asked for the kill

        os.kill(os.getpid(), signal.SIGKILL)
