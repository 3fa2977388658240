"""Who may train now: a few trainer slots, a short waiting line, one place in it per session.

A public app trains on a handful of cores; left to the web server's queue, one client could fill
it with trainings and lock everyone out. `Admission` decides before anything is queued:
a session (or API call) holds at most one place, running or waiting; past `max_waiting`
waiting trainings, new ones are refused at once with a message; the rest take the slots in
order of arrival. A place whose owner stops touching it for `stale` seconds (a web handler the
server stopped running when its client left) is dropped, so it cannot hold the line. No Gradio.
"""
from __future__ import annotations

import statistics
import threading
import time
from collections import deque

RECENT_RUNS = 20  # trainings whose lengths make the waiting estimate


class Refused(ValueError):
    """A training that cannot be admitted now; the message says why and what to do."""


class Place:
    """One training's place: in line until `wait` returns True, then in a slot until `leave`."""

    def __init__(self, admission: "Admission", key: str):
        self.admission, self.key, self.running = admission, key, False
        self.touched = time.monotonic()
        self.started = 0.0  # when it got its slot

    def touch(self) -> None:
        """Say the owner is still there (while waiting, and every training step)."""
        self.touched = time.monotonic()

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` s for a slot; True once this place holds one."""
        return self.admission._wait(self, timeout)

    def ahead(self) -> int:
        """Trainings waiting before this one (0 when next, or running)."""
        return self.admission._ahead(self)

    def wait_estimate(self) -> float | None:
        """Seconds until this place is likely to get a slot (None before any run has ended)."""
        return self.admission._estimate(self)

    def leave(self) -> None:
        """Give up the slot or the place in line (safe to call twice)."""
        self.admission._leave(self)

    def __enter__(self) -> "Place":
        return self

    def __exit__(self, *exc) -> None:
        self.leave()


class Admission:
    """`slots` trainings at a time, at most `max_waiting` more in line, one place per key."""

    def __init__(self, slots: int = 2, max_waiting: int = 8, stale: float = 30.0):
        if slots < 1 or max_waiting < 0:
            raise ValueError(f"need slots >= 1 and max_waiting >= 0, got {slots}, {max_waiting}")
        self.slots, self.max_waiting, self.stale = slots, max_waiting, stale
        self._cond = threading.Condition()
        self._line: deque[Place] = deque()
        self._places: dict[str, Place] = {}
        self._lengths: deque[float] = deque(maxlen=RECENT_RUNS)  # seconds recent runs held a slot

    @property
    def running(self) -> int:
        with self._cond:
            return sum(p.running for p in self._places.values())

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._line)

    def enter(self, key: str) -> Place:
        """A place for `key`, or `Refused` if it already has one or the line is full."""
        with self._cond:
            self._drop_stale()
            if key in self._places:
                raise Refused("you already have a training running or waiting: wait for it to "
                              "end, or press Stop, before starting another")
            if len(self._line) >= self.max_waiting and self._free() == 0:
                raise Refused(f"the server is busy: {self.slots} trainings are running and "
                              f"{len(self._line)} are waiting; try again in a minute")
            place = Place(self, key)
            self._places[key] = place
            self._line.append(place)
            self._promote()
            return place

    def _free(self) -> int:
        return self.slots - sum(p.running for p in self._places.values())

    def _drop_stale(self) -> None:
        """Forget places nobody touched for `stale` s (call with the lock held)."""
        now = time.monotonic()
        for place in [p for p in self._places.values() if now - p.touched > self.stale]:
            del self._places[place.key]
            if place in self._line:
                self._line.remove(place)
            place.running = False

    def _promote(self) -> None:
        """Give free slots to the head of the line (call with the lock held)."""
        self._drop_stale()
        while self._line and self._free() > 0:
            place = self._line.popleft()
            place.running, place.started = True, time.monotonic()
            self._cond.notify_all()

    def _wait(self, place: Place, timeout: float) -> bool:
        with self._cond:
            if self._places.get(place.key) is not place:
                raise Refused("this training waited too long unattended and lost its place")
            place.touch()
            self._promote()
            return self._cond.wait_for(lambda: place.running, timeout)

    def _ahead(self, place: Place) -> int:
        with self._cond:
            return self._line.index(place) if place in self._line else 0

    def _leave(self, place: Place) -> None:
        with self._cond:
            if self._places.get(place.key) is not place:
                return
            del self._places[place.key]
            if place in self._line:
                self._line.remove(place)
            if place.running:
                self._lengths.append(time.monotonic() - place.started)
            place.running = False
            self._promote()

    def _estimate(self, place: Place) -> float | None:
        """The runs ahead of `place` and the ones running, shared over the slots, each as long
        as recent runs' median; the running ones' time spent taken off."""
        with self._cond:
            if not self._lengths or place not in self._line:
                return None
            typical = statistics.median(self._lengths)
            now = time.monotonic()
            left = sorted(max(typical - (now - p.started), 0.0)
                          for p in self._places.values() if p.running)
            ends = (left + [0.0] * self.slots)[:self.slots]  # when each slot frees
            for _ in range(self._line.index(place)):  # those ahead take the earliest slots
                ends[ends.index(min(ends))] += typical
            return min(ends)
