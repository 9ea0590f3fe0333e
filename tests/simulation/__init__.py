"""Discrete-event simulation of the routing core (no I/O), checked against Erlang C.

`SIM_SCALE=5 pytest tests/simulation -s` runs five times the calls and prints the figures.
"""
