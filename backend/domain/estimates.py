"""Queue position and estimated wait, for the caller's announcements."""

from __future__ import annotations

import math


def estimated_wait_s(position: int, staffed: int, handle_time_s: float) -> int:
    """Calls ahead (including this one) share the staffed operators, each taking one handle time.

    With nobody staffed the estimate is one handle time per call ahead: an honest
    "we do not know better" rather than zero.
    """
    if position <= 0:
        return 0
    servers = max(1, staffed)
    return int(math.ceil(position / servers) * handle_time_s)
