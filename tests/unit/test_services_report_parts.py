"""The pure parts of the reports' services, each compared whole: the floor's levels at their
thresholds, the report's view of an ended call document, the day's voicemail and callback
counts, the default resolution of a range and the CSV of a report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend.domain.rollup import EndedCall
from backend.services.floor import level
from backend.services.report_summary import default_by, to_csv
from backend.services.reports import tasks_figures
from backend.services.rollup import ended_call

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_a_level_turns_at_each_threshold_itself() -> None:
    # Higher is worse (a wait): amber from 30, red from 90.
    waits = [(None, "ok"), (29.9, "ok"), (30.0, "amber"), (89.9, "amber"), (90.0, "red")]
    for value, expected in waits:
        assert level(value, 30, 90, higher_is_worse=True) == expected, value
    # Lower is worse (a service level): amber under 0.8, red under 0.6.
    levels = [(None, "ok"), (0.8, "ok"), (0.799, "amber"), (0.6, "amber"), (0.599, "red")]
    for value, expected in levels:
        assert level(value, 0.8, 0.6, higher_is_worse=False) == expected, value


def test_an_ended_call_as_the_reports_see_it() -> None:
    doc: dict[str, Any] = {
        "_id": "c1",
        "state": "ended",
        "group": "sales",
        "created_at": T0,
        "enqueued_at": T0 + timedelta(seconds=3),
        "connected_at": T0 + timedelta(seconds=9),
        "ended_at": T0 + timedelta(seconds=99),
        "outcome": "answered",
        "operator": "ann",
        "hold_s": 12,
        "transfers": [{"to": "bob"}, {"to": "cid"}],
        "parties": [
            "not a party",
            {"kind": "caller"},
            {"kind": "operator", "login": "ann"},  # the operator who answered: no help
            {"kind": "operator", "login": "bob"},
            {"kind": "external"},
            {"kind": "supervisor", "login": "sue"},
        ],
    }
    assert ended_call(doc) == EndedCall(
        group="sales",
        created_at=T0,
        enqueued_at=T0 + timedelta(seconds=3),
        ended_at=T0 + timedelta(seconds=99),
        outcome="answered",
        operator="ann",
        connected_at=T0 + timedelta(seconds=9),
        hold_s=12.0,
        transfers=2,
        help_requests=2,
    )
    # Counted help requests win over the parties; a count of transfers is taken as it is.
    assert ended_call({**doc, "help_requests": 3, "transfers": 4}) == EndedCall(
        "sales",
        T0,
        T0 + timedelta(seconds=3),
        T0 + timedelta(seconds=99),
        "answered",
        "ann",
        T0 + timedelta(seconds=9),
        12.0,
        4,
        3,
    )
    # Never queued, nobody answered, nothing held, transferred or helped.
    bare = {
        "state": "ended",
        "group": "default",
        "created_at": T0,
        "enqueued_at": None,
        "ended_at": T0 + timedelta(seconds=5),
        "outcome": "abandoned",
        "hold_s": None,
        "transfers": None,
        "parties": None,
    }
    assert ended_call(bare) == EndedCall(
        "default", T0, T0, T0 + timedelta(seconds=5), "abandoned", None, None, 0.0, 0, 0
    )
    # Not ended yet, or ended without a time or an outcome: not a report's call.
    for missing in ({"state": "connected"}, {"ended_at": None}, {"outcome": None}):
        assert ended_call({**doc, **missing}) is None, missing


def test_the_days_voicemails_and_callbacks() -> None:
    calls: list[dict[str, Any]] = [
        {"voicemail_url": "u1", "outcome": "voicemail"},
        {"voicemail_url": "u2", "outcome": "abandoned"},
        {"voicemail_url": "u3", "outcome": "voicemail"},
        {"callback_number": "+1", "outcome": "callback"},
        {"callback_number": "+2", "outcome": "callback", "end_reason": "callback_failed"},
        {"callback_number": "+3", "task": "callback_failed"},
        {"callback_number": "+4", "task": "callback_failed", "outcome": "abandoned"},
        {"callback_number": "+5", "outcome": "callback", "end_reason": "hung_up"},
        {"outcome": "answered"},
    ]
    assert tasks_figures(calls) == {
        "voicemails": {"left": 3, "handled": 2},
        "callbacks": {"requested": 5, "completed": 2, "failed": 2},
    }
    assert tasks_figures([]) == {
        "voicemails": {"left": 0, "handled": 0},
        "callbacks": {"requested": 0, "completed": 0, "failed": 0},
    }


def test_the_default_resolution_by_the_length_of_the_range() -> None:
    second = timedelta(seconds=1)
    for span, by in [
        (timedelta(hours=6), "15min"),
        (timedelta(hours=6) + second, "hour"),
        (timedelta(days=2), "hour"),
        (timedelta(days=2) + second, "day"),
    ]:
        assert default_by(T0, T0 + span) == by, span


def _figures(calls: int, **more: Any) -> dict[str, Any]:
    return {
        "calls": calls,
        "answered": more.get("answered", 0),
        "abandoned": 0,
        "abandoned_short": 0,
        "service_level": more.get("service_level"),
        "asa_s": None,
        "aht_s": None,
        "abandon_rate": None,
        "occupancy": None,
        "transfers": 0,
        "help_requests": 0,
        "overflowed": 0,
        "outcomes": more.get("outcomes", {}),
    }


def test_a_group_reports_csv_names_its_total_row_all_as_the_intervals_table_does() -> None:
    report = {
        "group": "sales",
        **_figures(2, answered=1, service_level=0.5, outcomes={"answered": 1, "failed": 1}),
        "groups": [
            {
                "group": "sales",
                **_figures(2, answered=1, outcomes={"answered": 1, "failed": 1}),
            }
        ],
    }
    assert to_csv(report, "groups").split("\r\n") == [
        "group,calls,answered,abandoned,abandoned_short,service_level,asa_s,aht_s,abandon_rate,"
        "occupancy,transfers,help_requests,overflowed,outcome_answered,outcome_failed",
        "sales,2,1,0,0,,,,,,0,0,0,1,1",
        "all,2,1,0,0,0.5,,,,,0,0,0,1,1",
        "",
    ]
