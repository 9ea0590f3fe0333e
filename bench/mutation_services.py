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
"""

from __future__ import annotations

import argparse
import json
import os
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
    args = parser.parse_args(argv)
    prepare(args.fresh)
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
