"""Summarise a `mutmut run`: the mutation score per package and per file, and the survivors.

mutmut keeps one `<file>.py.meta` (JSON) per mutated file under mutants/, mapping each mutant's
name to the exit code of the tests run against it. Killed means the tests failed (or ran out of
time) with the mutant in place; "no tests" means no selected test reached the mutated function.

    python bench/mutation_report.py                 # the table
    python bench/mutation_report.py --survivors     # and the names of the surviving mutants
    python bench/mutation_report.py --only backend/domain/calls.py --require backend/domain/=90
                                                    # those files only; exit 1 under 90 % killed
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"

# mutmut's exit codes (mutmut/stats.py), folded into the four outcomes that matter here.
KILLED_CODES = frozenset({1, 3, 36, 37, 24, -24, 152, 255})  # failed, type check, time-out
SURVIVED_CODES = frozenset({0})
NO_TESTS_CODES = frozenset({5, 33})


def outcome(exit_code: int | None) -> str:
    if exit_code is None:
        return "not run"
    if exit_code in KILLED_CODES:
        return "killed"
    if exit_code in SURVIVED_CODES:
        return "survived"
    if exit_code in NO_TESTS_CODES:
        return "no tests"
    return "other"


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, result: str) -> None:
        self.counts[result] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def killed(self) -> int:
        return self.counts["killed"]

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0

    def row(self, name: str) -> str:
        c = self.counts
        return (
            f"| {name} | {self.killed}/{self.total} | {self.score:.1f} % | {c['survived']} "
            f"| {c['no tests']} | {c['not run'] + c['other']} |"
        )


def results(mutants: Path) -> Iterator[tuple[str, str, str]]:
    """(file, mutant name, outcome) for every mutant that mutmut generated."""
    for meta in sorted(mutants.rglob("*.py.meta")):
        source = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            yield source, name, outcome(code)


def package_of(source: str) -> str:
    return source.rsplit("/", 1)[0] + "/"


def table(
    rows: Iterable[tuple[str, str, str]],
) -> tuple[list[str], list[str], dict[str, Tally]]:
    by_package: dict[str, Tally] = {}
    by_file: dict[str, Tally] = {}
    survivors: list[str] = []
    for source, name, result in rows:
        by_package.setdefault(package_of(source), Tally()).add(result)
        by_file.setdefault(source, Tally()).add(result)
        if result == "survived":
            survivors.append(name)
    header = [
        "| package / file | killed/total | score | survived | no tests | not run |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines = list(header)
    for package in sorted(by_package):
        lines.append(by_package[package].row(f"**{package}**"))
        for source in sorted(s for s in by_file if package_of(s) == package):
            lines.append(by_file[source].row(source.removeprefix(package)))
    return lines, survivors, by_package


def requirement(text: str) -> tuple[str, float]:
    package, sep, percent = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected PACKAGE=PERCENT")
    return package.rstrip("/") + "/", float(percent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    parser.add_argument("--mutants", type=Path, default=MUTANTS, help="mutmut's working folder")
    parser.add_argument(
        "--only", nargs="+", metavar="FILE", help="count these source files only (as in git)"
    )
    parser.add_argument(
        "--require",
        type=requirement,
        action="append",
        default=[],
        metavar="PACKAGE=PERCENT",
        help="exit 1 when the package's score is under PERCENT (a package with no mutant passes)",
    )
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        print(f"no {args.mutants}: run `make mutation` first", file=sys.stderr)
        return 1
    rows = results(args.mutants)
    if args.only:
        wanted = set(args.only)
        rows = (row for row in rows if row[0] in wanted)
    lines, survivors, by_package = table(rows)
    print("\n".join(lines))
    if args.survivors:
        print()
        print("\n".join(survivors))
    failed = [
        f"{package}: {by_package[package].score:.1f} % killed, under the required {percent:g} %"
        for package, percent in args.require
        if package in by_package and by_package[package].score < percent
    ]
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
