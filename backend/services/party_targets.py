"""The desk's Add party / Transfer picker, live: operators' states and the groups' routable
counts pushed over the desk's WebSocket instead of polled.

A desk on a call subscribes (it sends "targets" on its socket) and gets the whole list once
(`services.parties.targets`, from the read view); after that, every change of an operator that
the process's change feed folds in marks that operator, and the subscribed sockets get, at
most every PUSH_INTERVAL_S, the marked operators as they now stand in the view with every
group's routable count. No read per change, and one message per interval whatever the number
of changes: the cost per change is a set insertion.
"""

from __future__ import annotations

import asyncio
from typing import Any

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.documents import Doc
from backend.domain.model import Operator
from backend.settings import Settings

# Desks on a call see a change of a colleague's state within this.
PUSH_INTERVAL_S = 0.5


def target_entry(op: Operator) -> dict[str, Any]:
    """One operator as the picker lists them."""
    return {
        "login": op.login,
        "presence": op.presence.value,
        "activity": op.activity.value,
        "routable": op.routable,
        "groups": list(op.group_names),
    }


class PartyTargets:
    """The changes since the last push, for the subscribed desks (see the module)."""

    def __init__(self, settings: Settings, feed: ChangeFeed) -> None:
        self.settings = settings
        self.feed = feed
        self.changed = asyncio.Event()
        self._changed_logins: set[str] = set()
        feed.listeners.append(self._on_change)

    def _on_change(self, coll: str, doc: Doc, foreign: bool) -> None:
        if coll == "operators":
            self._changed_logins.add(str(doc["_id"]))
            self.changed.set()

    def mark_all_seen(self) -> None:
        """Ask for a push of whatever changed (a new subscriber may have missed a change that
        came between its whole list and its subscription)."""
        if self._changed_logins:
            self.changed.set()

    def delta(self) -> dict[str, Any] | None:
        """The operators changed since the last push, as they are now; None if none."""
        if not self._changed_logins:
            return None
        logins, self._changed_logins = sorted(self._changed_logins), set()
        view = self.feed.view
        groups = [g.name for g in self.settings.config.groups]
        operators, removed = [], []
        for login in logins:
            op = view.operators.get(login)
            # Listed as the whole list lists them: members of a configured group.
            if op is not None and any(g in groups for g in op.group_names):
                operators.append(target_entry(op))
            else:
                removed.append(login)
        return {
            "type": "targets",
            "operators": operators,
            "removed": removed,
            "groups": [{"name": g, "routable": view.routable_count(g)} for g in groups],
        }
