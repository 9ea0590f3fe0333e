"""Groups and context rules live in the database, seeded once from the configuration.

They are one document (`routing_settings`, `_id` "groups_and_rules"): a change is checked
against every group and rule together (names, references, loops of group actions), so it is
written as one replace guarded by the `rev` it was checked against. Two administrators saving
at once cannot together make a loop that neither alone was allowed: the second write misses,
is checked again against the first, and is refused if it now makes one.

Every process follows the document through its change stream (adapters/change_feed.py) and
swaps its engine's settings when it changes: routing reads them from memory, never a query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from backend.adapters.documents import Doc
from backend.adapters.mongo import Store
from backend.services.engine import Contention, Engine
from backend.settings import AppConfig, GroupConfig, RuleConfig, check_groups_and_rules

log = logging.getLogger(__name__)

DOC_ID = "groups_and_rules"
SEEDED_BY = "configuration"
ATTEMPTS = 5

Groups = tuple[GroupConfig, ...]
Rules = tuple[RuleConfig, ...]
# Given the groups and rules in force, the proposed ones (or an ApiError-like refusal).
Change = Callable[[Groups, Rules], tuple[Groups | list[Any], Rules | list[Any]]]


def group_out(g: GroupConfig) -> Doc:
    return g.model_dump(mode="json")


def rule_out(r: RuleConfig) -> Doc:
    return r.model_dump(mode="json", exclude_none=True)


def document(groups: Groups, rules: Rules, rev: int, now: datetime, by: str) -> Doc:
    return {
        "_id": DOC_ID,
        "groups": [group_out(g) for g in groups],
        "rules": [rule_out(r) for r in rules],
        "rev": rev,
        "at": now,
        "by": by,
    }


def parse(doc: Doc) -> tuple[Groups, Rules]:
    return (
        tuple(GroupConfig.model_validate(g) for g in doc.get("groups", ())),
        tuple(RuleConfig.model_validate(r) for r in doc.get("rules", ())),
    )


async def seed(store: Store, config: AppConfig, now: datetime) -> bool:
    """On the first start with this database, the configuration's groups and rules become the
    database's; afterwards the database is the truth and the configuration's are not read.
    Whether this call seeded them."""
    doc = document(config.groups, config.rules, 1, now, SEEDED_BY)
    del doc["_id"]
    try:
        res = await store.routing_settings.update_one(
            {"_id": DOC_ID}, {"$setOnInsert": doc}, upsert=True
        )
    except DuplicateKeyError:  # another process seeded it in the same instant
        return False
    return res.upserted_id is not None


def differs_from_config(doc: Doc, config: AppConfig) -> list[str]:
    """What the configuration says differently from the database (warned about at start)."""
    groups, rules = parse(doc)
    out = []
    if tuple(g.name for g in groups) != tuple(g.name for g in config.groups) or groups != (
        config.groups
    ):
        out.append("groups")
    if rules != config.rules:
        out.append("rules")
    return out


def apply(engine: Engine, doc: Doc) -> None:
    """The stored groups and rules become this process's (from its stream or its own write)."""
    old = engine.settings
    groups, rules = parse(doc)
    new = old.with_groups_and_rules(groups, rules)
    engine.settings = new
    # Routable operators are filed in their group's strategy order: a new strategy files the
    # group's members again (an administrator's change, never the hot path).
    # All of them out first: the old keys and the new do not compare with each other.
    view = engine.view
    for g in groups:
        if old.policy(g.name).strategy is not new.policy(g.name).strategy:
            members = view.members(g.name)
            for op in members:
                view.drop_operator(op.login)
            for op in members:
                view.put_operator(op)


async def change(
    engine: Engine, by: str, proposed: Change
) -> tuple[tuple[Groups, Rules], tuple[Groups, Rules]]:
    """Read the stored groups and rules, let `proposed` say the new ones, check them as start-up
    does, write them with one replace guarded by rev. Before and after; raises
    InvalidGroupsOrRules (nothing written) or Contention (it kept changing under us)."""
    store = engine.store
    for _ in range(ATTEMPTS):
        current = await store.routing_settings.find_one({"_id": DOC_ID})
        if current is None:
            raise Contention("the groups and rules are not seeded yet")
        before = parse(current)
        groups, rules = proposed(*before)
        checked = check_groups_and_rules(engine.settings.config, groups, rules)
        now = engine.clock()
        doc = document(checked.groups, checked.rules, int(current["rev"]) + 1, now, by)
        res = await store.routing_settings.replace_one({"_id": DOC_ID, "rev": current["rev"]}, doc)
        if res.matched_count:
            engine.feed.local_routing_settings(doc)
            return before, (checked.groups, checked.rules)
    raise Contention("the groups and rules kept changing")


async def stored_group_names(store: Store) -> set[str]:
    """The groups as stored, read from the database (not this process's view)."""
    doc = await store.routing_settings.find_one({"_id": DOC_ID})
    return {g["name"] for g in (doc or {}).get("groups", ())}


def users_of(engine: Engine, name: str) -> tuple[list[str], int]:
    """Who keeps a group from being deleted: its operators (up to 5 logins) and its calls not
    ended (how many). From the read view: no query (an index on the operators' groups would
    cost every operator write), and it is what routing itself goes by."""
    view = engine.view
    logins = sorted(op.login for op in view.members(name))[:5]
    calls = sum(1 for call in view.calls.values() if call.group == name)
    return logins, calls
