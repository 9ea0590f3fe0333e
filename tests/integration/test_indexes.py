"""Every query on the routing path is answered from an index, never by a collection scan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from backend.adapters.mongo import _QUEUE_SORT, _STRATEGY_SORT
from backend.domain.model import Strategy
from tests.conftest import Backend

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _stages(plan: dict[str, Any]) -> list[str]:
    out = [plan.get("stage", "")]
    for key in ("inputStage", "outerStage", "innerStage"):
        if key in plan:
            out += _stages(plan[key])
    for child in plan.get("inputStages", []):
        out += _stages(child)
    return out


ROUTING_QUERIES: list[tuple[str, str, dict[str, Any], list[tuple[str, int]] | None]] = [
    *(
        (
            f"routable operators ({s.value})",
            "operators",
            {"group_names": "default", "presence": "ready", "activity": "idle"},
            _STRATEGY_SORT[s],
        )
        for s in Strategy
    ),
    ("operator deadlines", "operators", {"activity_until": {"$lte": NOW}}, None),
    ("absent operators", "operators", {"presence": "ready", "last_seen": {"$lt": NOW}}, None),
    (
        "waiting calls",
        "calls",
        {"state": "queued", "preferred": "", "group": {"$in": ["default", "sales"]}},
        _QUEUE_SORT,
    ),
    ("calls waiting by name", "calls", {"state": "queued", "preferred": "ann"}, _QUEUE_SORT),
    (
        "a group's next call (sweep)",
        "calls",
        {"state": "queued", "preferred": "", "group": "default"},
        _QUEUE_SORT,
    ),
    ("call deadlines", "calls", {"deadline": {"$lte": NOW}}, None),
    ("repeated session", "calls", {"session_id": "s1"}, None),
    (
        "queue position",
        "calls",
        {"state": "queued", "group": "default", "priority": {"$gt": 50}},
        None,
    ),
    ("contacts of a manager", "contacts", {"manager": "ann"}, None),
]


@pytest.mark.parametrize(
    ("name", "collection", "query", "sort"), ROUTING_QUERIES, ids=[q[0] for q in ROUTING_QUERIES]
)
async def test_routing_query_uses_an_index(
    backend: Backend,
    name: str,
    collection: str,
    query: dict[str, Any],
    sort: list[tuple[str, int]] | None,
) -> None:
    command: dict[str, Any] = {"find": collection, "filter": query, "limit": 8}
    if sort:
        command["sort"] = dict(sort)
    explained = await backend.store.db.command("explain", command)
    stages = _stages(explained["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in stages and "IXSCAN" in stages, f"{name}: {stages}"
