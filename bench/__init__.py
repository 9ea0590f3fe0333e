"""Benchmarks (run as scripts: bench/dispatch.py, bench/parties.py)."""
