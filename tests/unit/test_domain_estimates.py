"""Queue position → estimated wait, as the scenario announces it."""

from __future__ import annotations

import pytest

from backend.domain.estimates import estimated_wait_s


@pytest.mark.parametrize(
    ("position", "staffed", "expected"),
    [
        (0, 5, 0),
        (-1, 5, 0),
        (1, 5, 36),
        (5, 5, 180),
        (6, 5, 216),
        (11, 5, 396),
        (1, 60, 3),
        # Nobody staffed: one handle time per call ahead, never zero.
        (3, 0, 540),
    ],
)
def test_estimate_is_position_times_handle_time_over_staffed_operators(
    position: int, staffed: int, expected: int
) -> None:
    assert estimated_wait_s(position, staffed, 180) == expected


def test_estimate_is_whole_seconds() -> None:
    assert estimated_wait_s(1, 1, 90.7) == 91
