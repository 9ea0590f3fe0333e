"""Queue position and estimated wait, for the caller's announcements."""

from __future__ import annotations

import math


def estimated_wait_s(position: int, staffed: int, handle_time_s: float) -> int:
    """The p-th caller in line waits for p operators to free up.

    With N staffed operators all busy, one frees up every AHT/N seconds on average (with
    exponential handle times exactly so), so position p waits about p·AHT/N. With nobody
    staffed the estimate is one handle time per call ahead: an honest "we do not know
    better" rather than zero.
    """
    if position <= 0:
        return 0
    servers = max(1, staffed)
    return math.ceil(position * handle_time_s / servers)
