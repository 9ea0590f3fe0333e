"""agents_needed at its edges: no traffic, short handle times, a target met exactly, the cap."""

from __future__ import annotations

from backend.domain.erlang import ErlangC, agents_needed, erlang_b


def test_no_traffic_blocks_nothing() -> None:
    assert erlang_b(0.0, 3) == 0.0


def test_short_handle_times_still_need_operators() -> None:
    # 2 calls a second of half a second each: 1 Erlang.
    n = agents_needed(2.0, 0.5, 0.8, 20)
    assert n == 2
    assert ErlangC(2.0, 0.5, n).service_level(20) >= 0.8
    assert ErlangC(2.0, 0.5, n - 1).service_level(20) < 0.8


def test_a_target_met_exactly_is_met() -> None:
    exact = ErlangC(0.05, 60, 5).service_level(20)
    assert ErlangC(0.05, 60, 4).service_level(20) < exact
    assert agents_needed(0.05, 60, exact, 20) == 5


def test_more_than_the_cap_answers_the_cap() -> None:
    assert agents_needed(20_000.0, 1.0, 0.8, 20) == 10_000
    assert agents_needed(1.0, 50.0, 0.8, 20, limit=10) == 10
