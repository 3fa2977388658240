"""Memory a long-running server gives back: few malloc arenas, and freed heap returned."""
from __future__ import annotations

import ctypes
import gc


def limit_heap_arenas(arenas: int = 2) -> None:
    """Ask glibc for few malloc arenas (as MALLOC_ARENA_MAX=2 would): a server whose many threads
    each get an arena fragments its heap over a day of trainings (uptime +120 MB with 2 arenas,
    +140-155 MB without, in benchmarks/stress.py). Call before the server starts its threads."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass


def release_memory() -> None:
    """Collect what a finished run left and hand freed heap back to the system, so a server
    that trains all day does not grow (glibc keeps freed memory otherwise; see BENCHMARKS.md)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
