"""The change stream's getMores follow time, not the writes to collections it does not follow.

The embedded server wakes a change stream's getMore on any write. The history's and the report
buckets' batches go out in parts, a burst of writes the stream does not follow: each would cost
an empty getMore if the feed asked again at once. It waits its batch window after an empty
batch as after a full one, so a burst costs about one getMore per window.
"""

from __future__ import annotations

import time

from backend.keys import FEED
from tests.conftest import Backend
from tests.support.commands import CAPTURE


async def test_a_burst_of_unfollowed_writes_costs_a_getmore_per_window(backend: Backend) -> None:
    b = backend
    feed = b.app[FEED]
    await feed.sync()
    writes = 100
    CAPTURE.watch(b.store.db.name)
    try:
        t0 = time.perf_counter()
        for i in range(writes):
            await b.store.status_log.insert_one({"operator": f"op{i}", "field": "presence"})
        elapsed = time.perf_counter() - t0
        await feed.sync()  # a followed change: the stream has moved past the burst
        commands = list(CAPTURE.commands)
    finally:
        CAPTURE.watch(None)
    inserts = [c for c in commands if c[0] == "insert" and c[1] == "status_log"]
    assert len(inserts) == writes
    getmores = [c for c in commands if c[0] == "getMore"]
    # One per window of the burst, and the sync's; never one per write (unless the writes
    # themselves were a window apart, which the bound allows).
    bound = elapsed / feed.batch_window_s + 3
    assert len(getmores) <= bound, (len(getmores), elapsed)
