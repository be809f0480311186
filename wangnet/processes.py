"""Whether a process we started (the simulation, the lab's supervisor and daemons) still runs."""
from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone.

    PID 1 here does not reap orphans, so ``kill(pid, 0)`` alone would call an
    exited daemon alive until someone waits for it.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (not Linux): kill(0) said it exists
