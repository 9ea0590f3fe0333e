"""Replications of the simulation, in parallel processes, pooled into contact-center figures."""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from backend.domain.model import Skill
from tests.simulation.sim import Params, Run, Simulation


@dataclass(frozen=True, slots=True)
class Figures:
    """Service level (answered within sl_within_s of entering the queue), ASA and P(wait).

    ASA is the mean time from entering the queue to being connected, over answered calls
    (all calls here: nobody abandons). P(wait) is the share that found no routable operator.
    """

    calls: int
    sl_within_s: float
    service_level: float
    asa_s: float
    p_wait: float
    runs: tuple[Run, ...]

    @property
    def offers(self) -> int:
        return sum(r.offers for r in self.runs)

    @property
    def misses(self) -> int:
        return sum(r.misses for r in self.runs)

    @property
    def bans(self) -> int:
        return sum(r.bans for r in self.runs)

    def stderr(self, figure: str) -> float:
        """Standard error of a figure from the spread between independent replications."""
        per_run: list[float] = [getattr(_figures(r, self.sl_within_s), figure) for r in self.runs]
        if len(per_run) < 2:
            return math.nan
        return statistics.stdev(per_run) / math.sqrt(len(per_run))


@dataclass(frozen=True, slots=True)
class _Point:
    service_level: float
    asa_s: float
    p_wait: float


def _figures(run: Run, within_s: float) -> _Point:
    waits = run.counted_waits_s
    n = len(waits)
    answered_in_time = sum(w <= within_s for w in waits)
    return _Point(answered_in_time / n, sum(waits) / n, sum(run.waited[run.warmup :]) / n)


def _one(params: Params, seed: int) -> Run:
    return Simulation(params, seed).run()


def simulate(
    arrival_rate: float,
    handle_time_s: float,
    operators: int | Sequence[tuple[Skill, ...]],
    calls: int,
    seed: int,
    ring_s: float = 0.0,
    no_answer_prob: float = 0.0,
    wrap_up_s: int = 0,
    *,
    replications: int = 1,
    workers: int | None = None,
    **options: Any,
) -> Figures:
    """Run `replications` independent simulations of `calls` calls each (seeds seed, seed+1, …).

    Options are the rest of Params (ring_timeout_s, no_answer_pause_s, sl_within_s,
    warmup_calls, strategy, mix, ...). `calls` includes each replication's first
    `warmup_calls`, which are simulated but not counted in the figures.
    """
    params = Params(
        arrival_rate,
        handle_time_s,
        operators,
        calls,
        ring_s=ring_s,
        no_answer_prob=no_answer_prob,
        wrap_up_s=wrap_up_s,
        **options,
    )
    seeds = [seed + i for i in range(replications)]
    workers = min(workers or os.cpu_count() or 1, replications)
    if workers == 1:
        runs = [_one(params, s) for s in seeds]
    else:
        # A fork server rather than a plain fork: the test process may have threads.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            runs = list(pool.map(_one, [params] * len(seeds), seeds))
    return pool_runs(params, runs)


def pool_runs(params: Params, runs: Sequence[Run]) -> Figures:
    waits = [w for r in runs for w in r.counted_waits_s]
    waited = sum(sum(r.waited[r.warmup :]) for r in runs)
    n = len(waits)
    within = params.sl_within_s
    return Figures(
        calls=n,
        sl_within_s=within,
        service_level=sum(w <= within for w in waits) / n,
        asa_s=sum(waits) / n,
        p_wait=waited / n,
        runs=tuple(runs),
    )


def scaled(calls: int) -> int:
    """SIM_SCALE=10 runs ten times the calls, for a more precise (and slower) check."""
    return int(calls * float(os.environ.get("SIM_SCALE", "1")))
