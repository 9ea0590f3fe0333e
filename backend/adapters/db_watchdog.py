"""`python -m backend.adapters.db_watchdog PARENT CHILD`: end CHILD once PARENT is gone.

The embedded database must never outlive the backend that started it (an orphan keeps the
folder's lock, and the next start fails). On Linux PR_SET_PDEATHSIG already does this; this
watchdog covers the rest (macOS, or a parent thread that ended). It exits with the child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

POLL_S = 0.25
HAS_PROC = os.path.isdir("/proc/self")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if HAS_PROC:
        # A zombie (dead, not yet reaped) is gone for our purpose; a reused pid is not ours.
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    return False
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return b"secantus" in f.read()
        except OSError:
            return False
    return True


def watch(parent: int, child: int) -> None:
    while _alive(child):
        if os.getppid() != parent:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(child) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(child):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            return
        time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(argv[1]), int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
