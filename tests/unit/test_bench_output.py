"""`make bench` writes its report outside tracked files: docs/benchmarks.md changes on purpose."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from backend.settings import ROOT


def test_the_bench_report_goes_to_an_ignored_file(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_dispatch", ROOT / "bench" / "dispatch.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    out = module.DEFAULT_OUT.relative_to(ROOT)
    assert out.parts[0] != "docs"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(out)], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0, f"{out} is not git-ignored"
