"""Who may train now: a few trainer slots shared fairly between clients, a line that fits a class.

A client is a network (`clients.py`): a school's thirty students behind one address are one
client, and so is a stranger with free session ids. `Admission` decides before anything is
queued:
- a session holds at most one place, running or waiting;
- a client holds at most `per_client` places (a class of 40 fits); past `limit` places in all,
  only a client with none yet gets in (up to `limit + newcomers`): strangers filling the line
  cannot keep a visitor from another network out;
- a free slot goes to the waiting client with the fewest runs going, then the least slot time
  used lately, then the earliest arrival: round-robin between clients, first come first served
  within one;
- while anyone waits, a run that has held its slot for `share` seconds is asked to stop (it
  keeps what it learned), so nobody holds a trainer for long while others wait; and a network
  with two runs going more than a waiting network has gives one up after `grace` seconds.
A place whose owner stops touching it for `stale` seconds (a web handler the server stopped
running when its client left) is dropped, so it cannot hold the line. No Gradio.
"""
from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque

RECENT_RUNS = 20  # trainings whose lengths make the waiting estimate
USAGE_HALF_LIFE = 600.0  # s: slot time a client used this long ago counts half


class Refused(ValueError):
    """A training that cannot be admitted now; the message says why and what to do."""


class Place:
    """One training's place: in line until `wait` returns True, then in a slot until `leave`."""

    def __init__(self, admission: "Admission", key: str, client: str, arrived: float):
        self.admission, self.key, self.client = admission, key, client
        self.running = self.yielding = False  # yielding: asked to give its slot up
        self.touched = self.arrived = arrived
        self.started = 0.0  # when it got its slot
        self.reported: tuple[float, float] | None = None  # (its own seconds left, when said)

    def touch(self) -> None:
        """Say the owner is still there (while waiting, and every training step)."""
        self.touched = time.monotonic()

    def report(self, seconds_left) -> None:
        """A running training's own estimate of the seconds it has left (the waiting line's
        estimates use it rather than the typical run length)."""
        if isinstance(seconds_left, (int, float)) and math.isfinite(seconds_left):
            self.reported = (max(float(seconds_left), 0.0), time.monotonic())

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` s for a slot; True once this place holds one."""
        return self.admission._wait(self, timeout)

    def check(self) -> bool:
        """Without waiting: True once this place holds a slot; `Refused` if it lost its place."""
        return self.admission._wait(self, 0)

    def ahead(self) -> int:
        """Trainings that will get a slot before this one (0 when next, or running)."""
        return self.admission._ahead(self)

    def wait_estimate(self) -> float | None:
        """Seconds until this place is likely to get a slot (None before any run has ended)."""
        return self.admission._estimate(self)

    def overdue(self) -> bool:
        """True (once) when this run should stop and give its slot up: someone waits and it
        has held the slot for the admission's `share` seconds, or its network has two runs more
        going than a waiting network and it is its network's oldest, going `grace` seconds."""
        return self.admission._overdue(self)

    def leave(self) -> None:
        """Give up the slot or the place in line (safe to call twice)."""
        self.admission._leave(self)

    def __enter__(self) -> "Place":
        return self

    def __exit__(self, *exc) -> None:
        self.leave()


class Admission:
    """`slots` trainings at a time; `limit` places in all (and `newcomers` more for networks
    with none), `per_client` places a network, one place a session key."""

    def __init__(self, slots: int = 2, limit: int = 150, per_client: int = 48,
                 newcomers: int = 50, share: float = 180.0, grace: float = 30.0,
                 stale: float = 30.0):
        if slots < 1 or limit < 1 or per_client < 1 or newcomers < 0:
            raise ValueError(f"need slots, limit, per_client >= 1 and newcomers >= 0, got "
                             f"{slots}, {limit}, {per_client}, {newcomers}")
        self.slots, self.limit, self.per_client = slots, limit, per_client
        self.newcomers, self.share, self.grace, self.stale = newcomers, share, grace, stale
        self._cond = threading.Condition()
        self._line: list[Place] = []  # waiting, in the order they will get slots
        self._places: dict[str, Place] = {}
        self._usage: dict[str, tuple[float, float]] = {}  # client -> (slot seconds, when)
        self._lengths: deque[float] = deque(maxlen=RECENT_RUNS)  # seconds recent runs held a slot
        # seconds recent runs held their slot past their last word of time left: the test-set
        # evaluation and saving that follow training, which a run's own estimate leaves out
        self._tails: deque[float] = deque(maxlen=RECENT_RUNS)

    @property
    def running(self) -> int:
        with self._cond:
            return sum(p.running for p in self._places.values())

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._line)

    def in_line(self, key: str) -> bool:
        """True while session `key` waits for a trainer (False running, or with no place)."""
        with self._cond:
            place = self._places.get(key)
            return place is not None and place in self._line

    def held_by(self, client: str) -> int:
        """Places (running or waiting) that `client` holds."""
        with self._cond:
            return sum(p.client == client for p in self._places.values())

    def enter(self, key: str, client: str = "") -> Place:
        """A place for session `key` of `client`, or `Refused` saying why."""
        with self._cond:
            self._drop_stale()
            if key in self._places:
                raise Refused("you already have a training running or waiting: wait for it to "
                              "end, or press Stop, before starting another")
            mine = sum(p.client == client for p in self._places.values())
            if mine >= self.per_client:
                raise Refused(f"{mine} trainings from your network are running or waiting, the "
                              "most one network may have: try again when one has ended")
            full = len(self._places) >= self.limit
            if (full and mine > 0) or len(self._places) >= self.limit + self.newcomers:
                raise Refused(f"the server is busy: {self._busy()} trainings are running "
                              f"and {len(self._line)} are waiting; try again in a minute")
            now = time.monotonic()
            place = Place(self, key, client, now)
            self._places[key] = place
            self._line.append(place)
            self._promote()
            return place

    def _busy(self) -> int:
        return sum(p.running for p in self._places.values())

    def _free(self) -> int:
        return self.slots - self._busy()

    def _drop_stale(self) -> None:
        """Forget places nobody touched for `stale` s (call with the lock held)."""
        now = time.monotonic()
        for place in [p for p in self._places.values() if now - p.touched > self.stale]:
            self._remove(place, now)

    def _remove(self, place: Place, now: float) -> None:
        del self._places[place.key]
        if place in self._line:
            self._line.remove(place)
        if place.running:
            held = now - place.started
            self._lengths.append(held)
            if place.reported is not None:
                said, when = place.reported
                self._tails.append(max(now - when - said, 0.0))
            self._charge(place.client, held, now)
        place.running = False

    def _charge(self, client: str, seconds: float, now: float) -> None:
        self._usage[client] = (self._used(client, now) + seconds, now)
        if len(self._usage) > 1000:  # forget the clients that used least
            for gone in sorted(self._usage, key=lambda c: self._used(c, now))[:500]:
                del self._usage[gone]

    def _used(self, client: str, now: float) -> float:
        """Slot seconds `client` used, halved every USAGE_HALF_LIFE s."""
        seconds, when = self._usage.get(client, (0.0, now))
        return seconds * math.pow(0.5, (now - when) / USAGE_HALF_LIFE)

    def _order(self) -> None:
        """Put the line in the order slots will go: each client's k-th waiting place after
        every client's (k-1)-th, counting its runs going; then less recent use, then arrival."""
        now = time.monotonic()
        running: dict[str, int] = {}
        for p in self._places.values():
            if p.running:
                running[p.client] = running.get(p.client, 0) + 1
        seen: dict[str, int] = {}
        keys = {}
        for place in sorted(self._line, key=lambda p: p.arrived):
            k = seen.get(place.client, 0)
            seen[place.client] = k + 1
            keys[id(place)] = (k + running.get(place.client, 0), self._used(place.client, now),
                               place.arrived)
        self._line.sort(key=lambda p: keys[id(p)])

    def _promote(self) -> None:
        """Give free slots to the head of the line (call with the lock held)."""
        self._drop_stale()
        self._order()
        while self._line and self._free() > 0:
            place = self._line.pop(0)
            place.running, place.started = True, time.monotonic()
            self._cond.notify_all()
            self._order()

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

    def _overdue(self, place: Place) -> bool:
        with self._cond:
            if not place.running or place.yielding or not self._line:
                return False
            now = time.monotonic()
            held = now - place.started
            if held < self.share:
                going = [p for p in self._places.values() if p.running and not p.yielding]
                mine = [p for p in going if p.client == place.client]
                fewest = min(sum(p.client == w.client for p in going) for w in self._line)
                if held < self.grace or len(mine) - fewest < 2 or \
                        place is not min(mine, key=lambda p: p.started):
                    return False
            place.yielding = True
            return True

    def _leave(self, place: Place) -> None:
        with self._cond:
            if self._places.get(place.key) is not place:
                return
            self._remove(place, time.monotonic())
            self._promote()

    def _estimate(self, place: Place) -> float | None:
        """The runs ahead of `place` and the ones running, shared over the slots: a running
        one as long as it says it has left (`Place.report`) plus what recent runs held their
        slot past their last such word, or else the typical run's length less its time spent; one ahead, as long as recent runs' median (at most `share` s while
        others wait)."""
        with self._cond:
            if not self._lengths or place not in self._line:
                return None
            typical = min(statistics.median(self._lengths), self.share)
            tail = statistics.median(self._tails) if self._tails else 0.0
            now = time.monotonic()

            def left(p: Place) -> float:
                if p.reported is not None:
                    said, when = p.reported
                    return max(min(said + tail, self.share - (when - p.started)) - (now - when), 0.0)
                return max(typical - (now - p.started), 0.0)
            left = sorted(left(p) for p in self._places.values() if p.running)
            ends = (left + [0.0] * self.slots)[:self.slots]  # when each slot frees
            for _ in range(self._line.index(place)):  # those ahead take the earliest slots
                ends[ends.index(min(ends))] += typical
            return min(ends)
