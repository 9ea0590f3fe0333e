"""The picker's pushes (services/party_targets.py) over a read view, with no database: which
changes mark an operator, when the event is set, and each delta compared whole."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.mongo import Store
from backend.domain.model import Activity, Address, Operator, Presence, Skill, Strategy, TargetType
from backend.domain.view import ReadView
from backend.services.party_targets import PartyTargets, target_entry
from backend.settings import load_settings

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _op(login: str, groups: tuple[str, ...], presence: Presence = Presence.READY) -> Operator:
    return Operator(
        login=login,
        address=Address(TargetType.USER, login),
        groups=tuple(Skill(g, 1) for g in groups),
        presence=presence,
        presence_since=T0,
        activity=Activity.IDLE,
        activity_since=T0,
        idle_since=T0,
    )


def test_the_changed_operators_are_pushed_once_as_the_view_has_them(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('rules = []\n[[groups]]\nname = "default"\n[[groups]]\nname = "sales"\n')
    settings = load_settings({"SWITCHBOARD_CONFIG": str(config)})
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    ann, bea = _op("ann", ("default", "sales")), _op("bea", ("sales",), Presence.OFFLINE)
    for op in (ann, bea, _op("cid", ("elsewhere",))):
        view.put_operator(op)
    # The feed is never started: only its listeners and its view are used.
    feed = ChangeFeed(cast(Store, None), view)
    targets = PartyTargets(settings, feed)
    assert (targets.settings, targets.feed, feed.listeners) == (
        settings,
        feed,
        [targets._on_change],
    )

    targets.mark_all_seen()
    feed.listeners[0]("calls", {"_id": "ann"}, False)  # not an operator: nothing
    assert targets.delta() is None and not targets.changed.is_set()
    for login in ("bea", "gone", "cid", "ann", "bea"):
        feed.listeners[0]("operators", {"_id": login}, login == "ann")
        assert targets.changed.is_set()
        targets.changed.clear()
    targets.mark_all_seen()  # something is waiting: the event again
    assert targets.changed.is_set()
    assert targets.delta() == {
        "type": "targets",
        "operators": [
            {
                "login": "ann",
                "presence": "ready",
                "activity": "idle",
                "routable": True,
                "groups": ["default", "sales"],
            },
            target_entry(bea),
        ],
        # Gone from the view, or in no configured group: the picker drops them.
        "removed": ["cid", "gone"],
        "groups": [{"name": "default", "routable": 1}, {"name": "sales", "routable": 1}],
    }
    assert target_entry(bea) == {
        "login": "bea",
        "presence": "offline",
        "activity": "idle",
        "routable": False,
        "groups": ["sales"],
    }
    assert targets.delta() is None
    targets.changed.clear()
    targets.mark_all_seen()
    assert not targets.changed.is_set()
