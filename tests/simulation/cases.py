"""The two Erlang C cases of the brief, with run sizes chosen for a ~60 s suite on 2 cores."""

from __future__ import annotations

from dataclasses import dataclass

from backend.domain.erlang import ErlangC
from tests.simulation.runner import Figures


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    erlang: ErlangC
    sl_within_s: float
    calls: int  # per replication, counted after the warm-up
    warmup_calls: int  # several relaxation times of the queue, from empty
    replications: int
    seed: int


CASES = (
    # 360 calls / 30 min, AHT 240 s, 55 operators: P_wait 0.239, ASA 8.2 s, SL15 84.6 %.
    Case("360_per_30min_55_ops", ErlangC(360 / 1800, 240, 55), 15, 50_000, 1_000, 8, 101),
    # 100 calls / h, AHT 180 s, 7 operators: P_wait 0.3241, ASA 29.2 s, SL20 74.0 %.
    Case("100_per_hour_7_ops", ErlangC(100 / 3600, 180, 7), 20, 20_000, 200, 8, 201),
)


def describe(label: str, got: Figures, case: Case) -> str:
    ref = case.erlang
    sl_ref = ref.service_level(case.sl_within_s)
    return (
        f"{case.name} {label}: {got.calls} calls in {len(got.runs)} runs | "
        f"SL{case.sl_within_s:g} {got.service_level:.2%} ± {got.stderr('service_level'):.2%} "
        f"(Erlang C {sl_ref:.2%}, {got.service_level - sl_ref:+.2%}) | "
        f"ASA {got.asa_s:.2f} s ± {got.stderr('asa_s'):.2f} (Erlang C {ref.asa_s:.2f}, "
        f"{got.asa_s / ref.asa_s - 1:+.1%}) | "
        f"P(wait) {got.p_wait:.4f} ± {got.stderr('p_wait'):.4f} (Erlang C {ref.p_wait:.4f})"
    )
