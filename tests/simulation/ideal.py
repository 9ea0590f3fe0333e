"""The ideal FCFS M/M/N queue on given arrivals and handle times (Kiefer-Wolfowitz recursion)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence


def fcfs_waits(
    arrivals_s: Sequence[float], handles_s: Sequence[float], servers: int
) -> list[float]:
    """Each call, in arrival order, starts when it arrives or when the first server frees up."""
    free_at = [float("-inf")] * servers
    waits = []
    for arrived, handle in zip(arrivals_s, handles_s, strict=True):
        start = max(arrived, heapq.heappop(free_at))
        heapq.heappush(free_at, start + handle)
        waits.append(start - arrived)
    return waits
