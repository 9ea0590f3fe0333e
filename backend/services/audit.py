"""The administration audit log: who changed what, when, and the before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.adapters.documents import Doc
from backend.adapters.mongo import Store

ADMIN_TOKEN = "admin token"
# What an administrator sets on an operator (the password only as "changed").
AUDITED = ("name", "email", "role", "address", "groups", "absence")


def who(admin: Doc | None) -> str:
    """The administrator's login, or the ADMIN_TOKEN."""
    return str(admin["_id"]) if admin is not None else ADMIN_TOKEN


def operator_fields(doc: Doc | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: doc.get(k) for k in AUDITED}


async def record(
    store: Store,
    admin: Doc | None,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
    **extra: Any,
) -> None:
    await store.record_audit(
        {
            "at": now,
            "who": who(admin),
            "action": action,
            "target": target,
            "before": before,
            "after": after,
            **extra,
        }
    )
