"""Every command the backend sends to one database, captured with PyMongo's command monitoring."""

from __future__ import annotations

import threading
from typing import Any

from pymongo import monitoring


class CommandCapture(monitoring.CommandListener):
    """Registered once per interpreter (PyMongo cannot unregister); switched on per database."""

    def __init__(self) -> None:
        self.database: str | None = None
        self.commands: list[tuple[str, str, dict[str, Any]]] = []  # (name, collection, command)
        self._lock = threading.Lock()

    def watch(self, database: str | None) -> None:
        with self._lock:
            self.database = database
            self.commands = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.database is None or event.database_name != self.database:
            return
        name = event.command_name
        target = event.command.get("collection" if name == "getMore" else name)
        with self._lock:
            self.commands.append((name, str(target), dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[tuple[str, str, dict[str, Any]]]:
        """The commands so far (the change stream's getMore left out), and start afresh."""
        with self._lock:
            out = [c for c in self.commands if c[0] != "getMore"]
            self.commands = []
        return out

    def filters(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(command, collection, filter) of every read or guarded write seen so far."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        with self._lock:
            seen = list(self.commands)
        for name, coll, command in seen:
            if name == "find":
                out.append((name, coll, dict(command.get("filter") or {})))
            elif name == "count":
                out.append((name, coll, dict(command.get("query") or {})))
            elif name == "update":
                out += [(name, coll, dict(u["q"])) for u in command.get("updates", [])]
            elif name == "delete":
                out += [(name, coll, dict(d["q"])) for d in command.get("deletes", [])]
            elif name == "aggregate":
                stages = command.get("pipeline", [])
                if stages and "$match" in stages[0] and coll != "1":
                    out.append((name, coll, dict(stages[0]["$match"])))
        return out


CAPTURE = CommandCapture()
monitoring.register(CAPTURE)
