"""Memory on a long-running server: few malloc arenas, freed heap given back, and a budget for
what sessions hold (`MemoryBudget`), so a hundred strangers cannot fill a Space's memory."""
from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
import weakref

import numpy as np


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


def machine_memory() -> int:
    """Bytes this process may use: the container's limit (cgroup v2 or v1), else the machine's."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path).read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 50:  # "max", or v1's "no limit" number
            return int(text)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def array_bytes(*things) -> int:
    """Bytes of the numpy arrays in `things`, looking into lists, tuples, dicts and objects'
    array fields (a Dataset, a TestMap); anything else counts 0."""
    total, stack, seen = 0, list(things), set()
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            total += item.nbytes
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(getattr(item, name, None) for name in item.__dataclass_fields__)
    return total


class MemoryBudget:
    """A ceiling on what sessions hold (their images, uploaded datasets, kept weights, maps),
    for the whole server and for one client (a network: a class, or a stranger with many
    session ids). Sessions register themselves; `check` refuses what would cross a ceiling,
    with a message for the person asking. Each owner has `.nbytes()` and `.client`."""

    def __init__(self, limit: int, client_share: float = 0.5):
        self.limit, self.client_share = int(limit), client_share
        self._owners: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id -> owner
        self._lock = threading.Lock()
        self._reserving = threading.Lock()  # a check and its hold, one at a time
        self._pending: dict[int, tuple[str | None, int]] = {}  # loads under way: (client, bytes)

    @classmethod
    def from_environment(cls) -> "MemoryBudget":
        """CLASSIFIER_MEMORY_MB if set, else 35% of the machine's (or container's) memory:
        the rest is the app itself, its trainers and the shared datasets."""
        mb = os.environ.get("CLASSIFIER_MEMORY_MB")
        return cls(int(float(mb) * 2**20) if mb else int(machine_memory() * 0.35))

    def add(self, owner) -> None:
        with self._lock:
            self._owners[id(owner)] = owner

    def discard(self, owner) -> None:
        with self._lock:
            if self._owners.get(id(owner)) is owner:
                del self._owners[id(owner)]

    def owners(self) -> list:
        with self._lock:
            return list(self._owners.values())

    def used(self, client: str | None = None) -> int:
        """Bytes held by every registered owner, or by `client`'s, and by loads under way."""
        with self._lock:
            pending = sum(b for c, b in self._pending.values() if client is None or c == client)
        return pending + sum(o.nbytes() for o in self.owners() if client is None or o.client == client)

    def room(self, owner, extra: int) -> str | None:
        """None if `owner` may hold `extra` more bytes, else why not (for the person asking)."""
        if extra <= 0:
            return None
        client = getattr(owner, "client", None)
        total = self.used()
        if total + extra > self.limit:
            return (f"the server's memory for everyone's images and models is full "
                    f"({total / 2**20:,.0f} of {self.limit / 2**20:,.0f} MB): try again in a few "
                    "minutes, when idle pages have been let go, or delete some images")
        mine = self.used(client) if client is not None else 0
        if mine + extra > self.limit * self.client_share:
            return (f"pages on your network hold {mine / 2**20:,.0f} MB of images and models, "
                    f"the most one network may hold here ({self.limit * self.client_share / 2**20:,.0f}"
                    " MB): delete some, or close pages you no longer use")
        return None

    def check(self, owner, extra: int) -> None:
        """ValueError with `room`'s message unless `owner` may hold `extra` more bytes."""
        why = self.room(owner, extra)
        if why:
            raise ValueError(why)

    @contextlib.contextmanager
    def holding(self, owner, extra: int):
        """`check`, then count `extra` bytes for `owner` until the block ends (a load under way,
        whose arrays count once it is done): concurrent loads cannot all pass one check."""
        with self._reserving:
            self.check(owner, extra)
            token = object()
            with self._lock:
                self._pending[id(token)] = (getattr(owner, "client", None), max(int(extra), 0))
        try:
            yield
        finally:
            with self._lock:
                del self._pending[id(token)]

    def pressure(self) -> float:
        """How full the budget is, 0 to 1 and beyond."""
        return self.used() / self.limit if self.limit else 1.0
