"""Mutation testing of backend/services/ against a real database server (`make mutation-services`).

The services are the shell: only tests against a real SecantusDB server reach them. mutmut forks
one pytest session per mutant; each would start its own database server (the session fixture)
unless MONGODB_URL names one, so this starts ONE server for the whole run and points the tests
at it (each test still makes and drops its own database). mutmut then runs, per mutant, only the
tests that reached the mutated function in its first, traced run, fastest first.

mutmut reads its options from `[tool.mutmut]` of the pyproject.toml in the folder it runs in and
works in `mutants/` there, so this runs it in var/mutation-services/ (kept between runs: mutmut
resumes where it stopped and keeps each mutant's result until the mutant is named again):
a copy of pyproject.toml with the `[tool.mutmut]` below instead of the fast one, and links to
backend/, tests/ and the files the tests read.

    python bench/mutation_services.py 'backend.services.engine*'   # one file
    python bench/mutation_services.py NAME NAME ...                 # these mutants again
    python bench/mutation_services.py --fresh                       # all of services, anew
    python bench/mutation_services.py --sample 150 --seed 1         # a random sample: the score

All of services is about 8,900 mutants, days of work on a 2-core machine, so its score is
estimated from a simple random sample (every services mutant equally likely, the seed printed
and kept): killed / sampled, with a 95 % Wilson interval. Every mutant of the sample counts,
whatever its outcome: one no test reaches ("no tests") and one stopped at the time budget
below count as not killed, so the estimate errs low, never high.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutation-services"
MUTMUT = Path(sys.executable).parent / "mutmut"

# The tests that reach services in a single process. Left out: the ones that start backend or
# database processes of their own (a mutant in this process is not active there, and they
# take seconds), the load tests and the 1,500 generated requests (minutes per surviving mutant;
# they prove cost and validation, which the other tests cover for the services).
SLOW_OR_OUT_OF_PROCESS = [
    "tests/integration/test_multiprocess.py",
    "tests/integration/test_flat_cost.py",
    "tests/integration/test_openapi.py",
    "tests/integration/test_connection_limit.py",
    "tests/integration/test_startup.py",
    "tests/integration/test_embedded_db.py",
    "tests/integration/test_embedded_durability.py",
    "tests/integration/test_embedded_process.py",
]
DESELECTED = [
    "tests/integration/test_read_view.py::test_a_process_started_with_1000_waiting_calls_routes_them",
]

SELECTION = (
    ["tests/unit", "tests/integration"]
    + [f"--ignore={path}" for path in SLOW_OR_OUT_OF_PROCESS]
    + [f"--deselect={node}" for node in DESELECTED]
)

MUTMUT_CONFIG = f"""\
[tool.mutmut]
# Written by bench/mutation_services.py (the fast configuration is the repository's own).
source_paths = ["backend"]
only_mutate = ["backend/services/*"]
pytest_add_cli_args_test_selection = {json.dumps(SELECTION)}
pytest_add_cli_args = ["-p", "no:cacheprovider"]
also_copy = ["bench/", "config/", "README.md"]
# The time budget of a mutant: (estimated seconds of its tests + 60) / 4 of wall time, twice that
# of CPU time (mutmut: CPU limit 2 x multiplier x that sum, wall limit half of it), so at least
# 15 s, room for a test waiting out its 10 s `eventually`. A survivor otherwise runs every test
# that reached its function, up to 180 of them (6 minutes) where the background loops run; most
# kills come from the first, fastest tests. A mutant stopped here is counted as NOT killed.
timeout_multiplier = 0.25
timeout_constant = 60.0
"""

# What the tests read through backend.settings.ROOT (mutants/ during a run) or from the
# current folder; web_client/ is linked into mutants/ rather than copied (its node_modules).
LINKED = ["backend", "tests", "bench", "config", "README.md"]


def pyproject() -> str:
    """The repository's pyproject.toml with its [tool.mutmut] table replaced by MUTMUT_CONFIG."""
    kept: list[str] = []
    skipping = False
    for line in (ROOT / "pyproject.toml").read_text().splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip() == "[tool.mutmut]"
        if not skipping:
            kept.append(line)
    return "".join(kept).rstrip("\n") + "\n\n" + MUTMUT_CONFIG


def prepare(fresh: bool) -> None:
    if fresh and WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "mutants").mkdir(parents=True, exist_ok=True)
    (WORK / "pyproject.toml").write_text(pyproject())
    for name in LINKED:
        link = WORK / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    web = WORK / "mutants" / "web_client"
    if not web.is_symlink():
        web.symlink_to(ROOT / "web_client")


GENERATE = """
from mutmut.__main__ import (
    copy_also_copy_files, copy_src_dir, create_mutants, set_mutant_under_test, setup_source_paths,
)
set_mutant_under_test("mutant_generation")
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
create_mutants(2)
"""

KILLED = frozenset({1, 3, 37})  # a test failed (3: pytest's internal error), the type check
BUDGET = frozenset({24, -24, 36, 152, 255})  # SIGXCPU: stopped at the time budget
NO_TESTS = frozenset({5, 33})


def services_mutants() -> dict[str, int | None]:
    """Every services mutant mutmut generated, with its exit code (None: not run yet)."""
    codes: dict[str, int | None] = {}
    for meta in sorted((WORK / "mutants" / "backend" / "services").glob("*.py.meta")):
        codes.update(json.loads(meta.read_text()).get("exit_code_by_key", {}))
    return codes


def draw(size: int, seed: int) -> list[str]:
    """A simple random sample of the services mutants (generated first; nothing is run)."""
    subprocess.run([sys.executable, "-c", GENERATE], cwd=WORK, check=True, capture_output=True)
    names = sorted(services_mutants())
    sample = sorted(random.Random(seed).sample(names, min(size, len(names))))
    (WORK / f"sample-{seed}-{len(sample)}.txt").write_text("\n".join(sample) + "\n")
    print(f"mutation-services: sample of {len(sample)} from {len(names)} mutants, seed {seed}")
    return sample


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sample_report(sample: list[str]) -> str:
    """The sample's score, its interval, and per file what happened; the survivors' names."""
    codes = services_mutants()
    by_file: dict[str, list[str]] = {}
    outcomes: dict[str, str] = {}
    for name in sample:
        code = codes.get(name)
        outcomes[name] = (
            "killed"
            if code in KILLED
            else "budget"
            if code in BUDGET
            else "no tests"
            if code in NO_TESTS
            else "survived"
            if code == 0
            else "not run"
        )
        by_file.setdefault(name.split(".")[2], []).append(name)
    killed = sum(1 for o in outcomes.values() if o == "killed")
    low, high = wilson(killed, len(sample))
    lines = [
        f"sample: {killed}/{len(sample)} killed = {100 * killed / max(1, len(sample)):.1f} % "
        f"(95 % interval {100 * low:.1f} to {100 * high:.1f} %)",
        "| file | sampled | killed | survived | budget | no tests | not run |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for file, names in sorted(by_file.items(), key=lambda item: -len(item[1])):
        count = {o: sum(1 for n in names if outcomes[n] == o) for o in set(outcomes.values())}
        lines.append(
            f"| {file}.py | {len(names)} | {count.get('killed', 0)} | {count.get('survived', 0)} "
            f"| {count.get('budget', 0)} | {count.get('no tests', 0)} | {count.get('not run', 0)} |"
        )
    lines.append("")
    lines += [f"{outcomes[n]:8} {n}" for n in sample if outcomes[n] != "killed"]
    return "\n".join(lines)


def seconds_per_mutant(names: list[str]) -> tuple[int, float]:
    """(mutants run, mean wall seconds) from mutmut's per-file results, for the names given."""
    durations: list[float] = []
    for meta in (WORK / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name, seconds in data.get("durations_by_key", {}).items():
            if not names or any(_matches(name, pattern) for pattern in names):
                durations.append(float(seconds))
    return len(durations), (sum(durations) / len(durations) if durations else 0.0)


def _matches(name: str, pattern: str) -> bool:
    from fnmatch import fnmatch

    return fnmatch(name, pattern)


def run(names: list[str]) -> int:
    from backend.adapters.embedded_db import EmbeddedMongo

    env = dict(os.environ)
    log = WORK / "mutants" / "run.log"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="switchboard-mutation-db-") as tmp:
        server = EmbeddedMongo(Path(tmp) / "data", log_path=Path(tmp) / "secantus.log")
        if "MONGODB_URL" not in env:  # else the tests use that server, as they always do
            env["MONGODB_URL"] = server.start()
        try:
            with log.open("w") as out:
                code = subprocess.call(
                    [str(MUTMUT), "run", "--max-children", "1", *names],
                    cwd=WORK,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
        finally:
            server.stop()
    elapsed = time.monotonic() - started
    if code != 0:
        sys.stdout.write(log.read_text()[-5000:])
        return code
    count, mean = seconds_per_mutant(names)
    print(f"mutation-services: {elapsed:.0f} s in all; {count} mutants timed, {mean:.1f} s each")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mutants", nargs="*", help="mutant names or globs (default: all)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results first")
    parser.add_argument("--sample", type=int, metavar="N", help="run a random sample of N")
    parser.add_argument("--seed", type=int, default=1, help="the sample's random seed")
    parser.add_argument(
        "--again", action="store_true", help="with --sample: run every mutant of it again"
    )
    parser.add_argument(
        "--report", action="store_true", help="with --sample: only report what is kept, run nothing"
    )
    args = parser.parse_args(argv)
    prepare(args.fresh)
    if args.sample:
        kept = WORK / f"sample-{args.seed}-{args.sample}.txt"
        sample = kept.read_text().split() if kept.exists() else draw(args.sample, args.seed)
        # A verdict stands (killed, survived, no tests); the rest run: not run yet, or stopped at
        # an earlier, smaller budget. --again runs the whole sample (after new tests).
        codes = services_mutants()
        todo = [n for n in sample if args.again or codes.get(n) is None or codes[n] in BUDGET]
        code = 0 if args.report or not todo else run(todo)
        print(sample_report(sample))
        return code
    code = run(args.mutants)
    report = [
        sys.executable,
        str(ROOT / "bench" / "mutation_report.py"),
        "--mutants",
        str(WORK / "mutants"),
        "--survivors",
    ]
    return code or subprocess.call(report)


if __name__ == "__main__":
    sys.exit(main())
