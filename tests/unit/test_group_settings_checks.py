"""Groups and rules proposed by an administrator are checked exactly as start-up checks them,
and the refusal names the key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backend.services import group_settings
from backend.settings import (
    AppConfig,
    ConfigError,
    GroupConfig,
    InvalidGroupsOrRules,
    RuleConfig,
    check_groups_and_rules,
    load_settings,
)

BASE = AppConfig(
    groups=(GroupConfig(name="default"), GroupConfig(name="sales"), GroupConfig(name="support")),
    rules=(RuleConfig(group="sales", category="sales"),),
)


def _groups(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": g.name, **changes.get(g.name, {})} for g in BASE.groups]


@pytest.mark.parametrize(
    ("groups", "rules", "key", "words"),
    [
        (
            _groups(
                sales={"closed_action": "group:support"},
                support={"max_wait_s": 5, "max_wait_action": "group:sales"},
            ),
            [],
            "groups",
            "the group actions make a loop (sales -> support -> sales)",
        ),
        (
            _groups(sales={"no_agents_action": "group:vip"}),
            [],
            "groups.sales.no_agents_action",
            "no group named 'vip'",
        ),
        (
            _groups(sales={"spares": ["+15550001111"]}),
            [],
            "groups.sales.spares",
            "not in spare_numbers",
        ),
        (_groups(sales={"hours": ["someday"]}), [], "groups[1].hours", "expected like"),
        (_groups(), [{"group": "vip"}], "rules[0].group", "no group named 'vip'"),
        (_groups(), [{"group": "sales", "page": "("}], "rules[0].page", "regular expression"),
        ([{"name": "sales"}], [], "routing.default_group", "no group named 'default'"),
        ([{"name": "sales"}, {"name": "sales"}], [], "groups", "appears twice"),
    ],
)
def test_a_refusal_names_its_key(
    groups: list[dict[str, Any]], rules: list[dict[str, Any]], key: str, words: str
) -> None:
    with pytest.raises(InvalidGroupsOrRules) as refused:
        check_groups_and_rules(BASE, groups, rules)
    assert refused.value.key == key
    assert words in str(refused.value)


def test_the_same_loop_stops_start_up_with_the_same_words(tmp_path: Path) -> None:
    path = tmp_path / "loop.toml"
    path.write_text(
        'rules = []\n[[groups]]\nname = "default"\n[[groups]]\nname = "sales"\n'
        'closed_action = "group:support"\n[[groups]]\nname = "support"\n'
        'no_agents_action = "group:sales"\n'
    )
    with pytest.raises(ConfigError) as at_start:
        load_settings({"SWITCHBOARD_CONFIG": str(path)})
    proposed = _groups(
        sales={"closed_action": "group:support"}, support={"no_agents_action": "group:sales"}
    )
    with pytest.raises(InvalidGroupsOrRules) as in_admin:
        check_groups_and_rules(BASE, proposed, [])
    assert str(in_admin.value) == str(at_start.value)


def test_accepted_groups_and_rules_round_trip_through_the_stored_document() -> None:
    checked = check_groups_and_rules(
        BASE,
        _groups(sales={"strategy": "fewest_calls", "hours": ["mon-fri 09:00-18:00"]}),
        [{"group": "support", "headers": {"X-Tier": "gold"}}],
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    doc = group_settings.document(checked.groups, checked.rules, 3, now, "ada")
    assert (doc["rev"], doc["by"]) == (3, "ada")
    assert group_settings.parse(doc) == (checked.groups, checked.rules)
    assert group_settings.differs_from_config(doc, checked) == []
    assert group_settings.differs_from_config(doc, BASE) == ["groups", "rules"]
