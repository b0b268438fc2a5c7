"""How many processors this process may run on."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The processors this process may be scheduled on (its affinity where the system has one,
    e.g. `taskset` or a container's cpuset), not every core of the machine."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
