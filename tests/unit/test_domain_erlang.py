"""The Erlang C reference itself, against the published figures of anchors §4.2."""

from __future__ import annotations

import math

import pytest

from backend.domain.erlang import ErlangC, erlang_c


def erlang_c_by_sums(traffic: float, servers: int) -> float:
    """The textbook form: [A^N/N!·N/(N-A)] / [Σ_{k<N} A^k/k! + A^N/N!·N/(N-A)]."""
    top = traffic**servers / math.factorial(servers) * servers / (servers - traffic)
    below = sum(traffic**k / math.factorial(k) for k in range(servers))
    return top / (below + top)


@pytest.mark.parametrize(("traffic", "servers"), [(48, 55), (5, 7), (22.92, 28), (0.5, 1)])
def test_stable_recursion_equals_the_sum_form(traffic: float, servers: int) -> None:
    assert erlang_c(traffic, servers) == pytest.approx(erlang_c_by_sums(traffic, servers))


def test_an_overloaded_queue_always_waits() -> None:
    assert erlang_c(55, 55) == 1.0


def test_published_worked_example() -> None:
    """360 calls per 30 min, AHT 240 s, 55 agents: P_wait 0.239, ASA 8.2 s, SL15 84.6 %."""
    q = ErlangC(360 / 1800, 240, 55)
    assert q.traffic == pytest.approx(48)
    assert round(q.p_wait, 3) == 0.239
    assert round(q.asa_s, 1) == 8.2
    assert round(q.service_level(15), 3) == 0.846


@pytest.mark.parametrize(
    ("servers", "p_wait", "sl15", "sl20", "asa"),
    [
        (52, 0.4660, 0.637, 0.666, 27.96),
        (53, 0.3765, 0.725, 0.752, 18.07),
        (54, 0.3013, 0.793, 0.817, 12.05),
        (55, 0.2387, 0.846, 0.867, 8.18),
        (56, 0.1872, 0.887, 0.904, 5.61),
        (57, 0.1452, 0.917, 0.931, 3.87),
        (58, 0.1114, 0.940, 0.952, 2.67),
    ],
)
def test_table_for_48_erlangs(
    servers: int, p_wait: float, sl15: float, sl20: float, asa: float
) -> None:
    q = ErlangC(0.2, 240, servers)
    # Published to 4, 3 and 2 places. The table rounds N=56's SL15 (0.88649) up to 88.7 %,
    # so the percentages get a whole unit of the last place.
    assert q.p_wait == pytest.approx(p_wait, abs=5e-5)
    assert q.service_level(15) == pytest.approx(sl15, abs=1e-3)
    assert q.service_level(20) == pytest.approx(sl20, abs=1e-3)
    assert q.asa_s == pytest.approx(asa, abs=5e-3)


@pytest.mark.parametrize(
    ("servers", "p_wait", "sl20", "asa"),
    [
        (6, 0.5875, 0.474, 105.8),
        (7, 0.3241, 0.740, 29.2),
        (8, 0.1673, 0.880, 10.0),
        (9, 0.0805, 0.948, 3.6),
        (10, 0.0361, 0.979, 1.3),
    ],
)
def test_table_for_a_small_center(servers: int, p_wait: float, sl20: float, asa: float) -> None:
    q = ErlangC(100 / 3600, 180, servers)
    assert q.p_wait == pytest.approx(p_wait, abs=5e-5)
    assert q.service_level(20) == pytest.approx(sl20, abs=5e-4)
    assert q.asa_s == pytest.approx(asa, abs=5e-2)


def test_staffing_checkpoint_250_calls_an_hour() -> None:
    """AHT 330 s, 80 % in 30 s: 27 agents give 78.2 %, 28 give 85.7 %."""
    assert ErlangC(250 / 3600, 330, 27).service_level(30) == pytest.approx(0.782, abs=5e-4)
    assert ErlangC(250 / 3600, 330, 28).service_level(30) == pytest.approx(0.857, abs=5e-4)
