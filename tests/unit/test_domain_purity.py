"""The routing core stays pure: no I/O libraries, no clock, only the standard library and itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import backend.domain

DOMAIN = Path(backend.domain.__file__).parent
MODULES = sorted(DOMAIN.glob("*.py"))
FORBIDDEN = ("aiohttp", "pymongo", "motor", "bson", "apscheduler", "itsdangerous", "pydantic")
# The shell's clock and id source; the core gets `now` (and ids) as arguments.
CLOCK_MODULES = ("backend.clock", "time")
CLOCK_CALLS = ("now", "utcnow", "today", "time", "monotonic")


def imported(tree: ast.Module, module: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the domain package
                base = module.rsplit(".", node.level)[0]
                names.add(f"{base}.{node.module}" if node.module else base)
            else:
                names.add(node.module or "")
    return names


def test_the_domain_has_modules() -> None:
    assert {"model.py", "operators.py", "calls.py", "selection.py"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_module_imports_no_io_library_and_no_clock(path: Path) -> None:
    module = f"backend.domain.{path.stem}"
    for name in imported(ast.parse(path.read_text(), str(path)), module):
        root = name.split(".")[0]
        assert root not in FORBIDDEN, f"{path.name} imports {name}"
        assert name not in CLOCK_MODULES, f"{path.name} imports the clock ({name})"
        if root == "backend":
            assert name.startswith("backend.domain"), f"{path.name} imports {name} from the shell"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_module_never_reads_the_clock(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK_CALLS, (
                f"{path.name}:{node.lineno} calls .{node.func.attr}()"
            )
