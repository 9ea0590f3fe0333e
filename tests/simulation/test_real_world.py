"""With real ACD traits switched on, service level falls below Erlang C (anchors §4.2 caveats).

Ring time before each answer, a share of offers nobody answers (the scenario gives up after
ring_timeout_s, the operator is paused, three in a row ban them), and wrap-up after each
call all take operator time that Erlang C's handle time does not count. Only the direction
is asserted; `pytest -s` prints by how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import pytest

from tests.simulation.cases import CASES, Case
from tests.simulation.runner import Figures, scaled, simulate


class RealWorld(TypedDict):
    """simulate()'s options for the real-world traits (ring, no-answer, pause, wrap-up)."""

    ring_s: float
    no_answer_prob: float
    ring_timeout_s: int
    no_answer_pause_s: int
    wrap_up_s: int


REAL_WORLD: RealWorld = {
    "ring_s": 5.0,
    "no_answer_prob": 0.10,
    "ring_timeout_s": 20,
    "no_answer_pause_s": 30,
    "wrap_up_s": 15,
}
CALLS = 6_000
REPLICATIONS = 4


@dataclass(frozen=True, slots=True)
class Shortfall:
    case: str
    erlang_sl: float
    simulated: Figures

    @property
    def points_below(self) -> float:
        return (self.erlang_sl - self.simulated.service_level) * 100

    def __str__(self) -> str:
        got = self.simulated
        return (
            f"{self.case} with ring 5 s, 10 % no-answer (20 s, pause 30 s), wrap-up 15 s: "
            f"SL{got.sl_within_s:g} {got.service_level:.2%} ± {got.stderr('service_level'):.2%} "
            f"vs Erlang C {self.erlang_sl:.2%} ({self.points_below:.1f} points below); "
            f"ASA {got.asa_s:.1f} s; {got.offers} offers, {got.misses} missed, {got.bans} bans"
        )


def real_world_shortfall(case: Case) -> Shortfall:
    """Simulate the case with the real-world traits and compare with its Erlang C figure."""
    q = case.erlang
    figures = simulate(
        q.arrival_rate,
        q.handle_time_s,
        q.servers,
        scaled(CALLS) + case.warmup_calls,
        case.seed,
        replications=REPLICATIONS,
        warmup_calls=case.warmup_calls,
        sl_within_s=case.sl_within_s,
        **REAL_WORLD,
    )
    return Shortfall(case.name, q.service_level(case.sl_within_s), figures)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_service_level_falls_below_erlang_c(case: Case) -> None:
    shortfall = real_world_shortfall(case)
    print("\n" + str(shortfall))
    assert shortfall.simulated.misses > 0
    assert shortfall.simulated.service_level < shortfall.erlang_sl
