"""'Nothing written', checked field by field: snapshot the routing collections, compare later.

    before = await Snapshot.take(b.store)
    ...a request that must be refused...
    await before.assert_unchanged(b.store)

Every document of `operators`, `calls`, `contacts`, `groups` and `routing_settings` (the
groups' settings and the context rules) is kept whole; the comparison names each document
added, removed or changed, and each changed field with its old and new value, so a refused
update that bumps a `rev`, stamps `updated_at` or appends to a call's log fails as surely as a
refused create that inserts a document.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backend.adapters.mongo import Store

COLLECTIONS = ("operators", "calls", "contacts", "groups", "routing_settings")

Docs = dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class Snapshot:
    docs: Docs

    @classmethod
    async def take(cls, store: Store, *, exclude_operators: Iterable[str] = ()) -> Snapshot:
        return cls(await _read(store, set(exclude_operators)))

    def differences(self, other: Snapshot) -> list[str]:
        out: list[str] = []
        for coll in COLLECTIONS:
            old, new = self.docs[coll], other.docs[coll]
            out += [f"{coll}[{k}] added" for k in sorted(new.keys() - old.keys())]
            out += [f"{coll}[{k}] removed" for k in sorted(old.keys() - new.keys())]
            for key in sorted(old.keys() & new.keys()):
                out += _field_changes(f"{coll}[{key}]", old[key], new[key])
        return out

    async def assert_unchanged(
        self, store: Store, *, exclude_operators: Iterable[str] = ()
    ) -> None:
        now = Snapshot(await _read(store, set(exclude_operators)))
        changes = self.differences(now)
        assert not changes, "written although refused:\n  " + "\n  ".join(changes)


async def _read(store: Store, exclude_operators: set[str]) -> Docs:
    out: Docs = {}
    for coll in COLLECTIONS:
        docs = await store.db[coll].find({}).to_list(None)
        out[coll] = {
            str(d["_id"]): d
            for d in docs
            if not (coll == "operators" and d["_id"] in exclude_operators)
        }
    return out


def _field_changes(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for name in sorted(old.keys() | new.keys(), key=str):
        a, b = old.get(name, "<absent>"), new.get(name, "<absent>")
        if a != b:
            out.append(f"{where}.{name}: {_short(a)} -> {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
