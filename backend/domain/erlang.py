"""Erlang C (M/M/N, no abandonment): the simulation checks it, staffing advice uses it."""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(traffic: float, servers: int) -> float:
    """Blocking probability by the stable recursion B_k = A·B_{k-1} / (k + A·B_{k-1})."""
    b = 1.0
    for k in range(1, servers + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c(traffic: float, servers: int) -> float:
    """Probability that a call waits: C = N·B / (N - A·(1 - B)); 1 when the queue is unstable."""
    if servers <= traffic:
        return 1.0
    b = erlang_b(traffic, servers)
    return servers * b / (servers - traffic * (1 - b))


@dataclass(frozen=True, slots=True)
class ErlangC:
    arrival_rate: float  # calls per second
    handle_time_s: float
    servers: int

    @property
    def traffic(self) -> float:
        return self.arrival_rate * self.handle_time_s

    @property
    def p_wait(self) -> float:
        return erlang_c(self.traffic, self.servers)

    @property
    def asa_s(self) -> float:
        return self.p_wait * self.handle_time_s / (self.servers - self.traffic)

    def service_level(self, within_s: float) -> float:
        decay = math.exp(-(self.servers - self.traffic) * within_s / self.handle_time_s)
        return 1 - self.p_wait * decay


def agents_needed(
    arrival_rate: float, handle_time_s: float, target: float, within_s: float, limit: int = 10_000
) -> int:
    """The fewest operators for which Erlang C gives at least `target` answered within
    `within_s` (0 when no calls arrive)."""
    if arrival_rate <= 0 or handle_time_s <= 0:
        return 0
    n = max(1, math.floor(arrival_rate * handle_time_s) + 1)
    while n < limit:
        if ErlangC(arrival_rate, handle_time_s, n).service_level(within_s) >= target:
            return n
        n += 1
    return limit
