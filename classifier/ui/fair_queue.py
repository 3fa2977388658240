"""Gradio's event queue, made fair between clients (the Gradio side of `clients.py`).

Gradio runs events first come, first served, at most 40 at a time, and anyone can join any
event under any number of session ids. Left so, one script takes the room: 40 webcam streams
that send nothing hold every worker for 5 minutes, 66 unread map requests fill the queue.
`FairQueue` is Gradio's queue with:
- a bigger pool of events in progress (`pool`): a waiting training or a webcam stream holds a
  place there while it waits (cheaply: both wait without a thread), so a class fits;
- limits on what one session and one client (a network: `clients.py`) may have queued or in
  progress, and on webcam streams, checked as an event joins: past them it is refused at once
  with a message (HTTP 400, which the page shows), never queued to wait for nothing;
- waiting events ordered round-robin between clients: a client's k-th waiting event after
  every other client's (k-1)-th, so a visitor's event never waits behind a stranger's pile;
- a webcam stream that sends no frame for `stream_idle` seconds after its last answer is closed;
- an event whose caller is not listening (an API call whose result nobody reads) is dropped
  once it has waited `unread_grace` seconds, instead of taking a core for nobody;
- events of a session the server released (idle for long) are refused with a message that
  says so, so a tab that comes back knows to reload.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from gradio import queueing
from gradio.server_messages import ProcessCompletedMessage, ProcessGeneratingMessage

from ..serving.clients import client_of_request
from ..serving.traffic import OPEN_STREAMS


@dataclass
class Limits:
    pool: int = 400  # events in progress at once, all clients (Gradio's own: 40)
    session_waiting: int = 4  # a session's events waiting for their turn
    session_events: int = 12  # a session's events waiting or in progress
    client_waiting: int = 60  # a client's (a class's) events waiting
    client_events: int = 200  # a client's events waiting or in progress
    session_streams: int = 2  # webcam streams: a page has two webcams
    client_streams: int = 45  # a class of 40, each with a webcam on
    streams: int = 120  # all clients
    stream_idle: float = 5.0  # s without a frame: the stream is closed (a page sends 3 a second)
    unread_grace: float = 5.0  # s an event may wait with nobody listening before it is dropped


class Released:
    """Session ids the server let go of (idle for long), for a while, to tell a returning tab."""

    def __init__(self, keep: int = 20_000):
        self.keep, self._ids = keep, OrderedDict()

    def add(self, session_hash: str, why: str) -> None:
        self._ids[session_hash] = why
        self._ids.move_to_end(session_hash)
        while len(self._ids) > self.keep:
            self._ids.popitem(last=False)

    def why(self, session_hash: str | None) -> str | None:
        return self._ids.get(session_hash) if session_hash else None


RELEASED = Released()
ANALYTICS_EVERY = 1000  # events between two of Gradio's monitoring summaries (Gradio's own: 1)


class FairQueue(queueing.Queue):
    """Gradio's queue with per-session and per-client limits and a fair order (module doc)."""

    limits = Limits()

    @classmethod
    def install(cls, blocks, limits: Limits | None = None) -> "FairQueue":
        """Replace `blocks`' queue (made by `blocks.queue(...)`) with a fair one, same settings."""
        old = blocks._queue
        fair = cls(live_updates=old.live_updates, concurrency_count=old.max_thread_count,
                   update_intervals=old.update_intervals, max_size=old.max_size, blocks=blocks,
                   default_concurrency_limit=old.default_concurrency_limit)
        if limits is not None:
            fair.limits = limits
        # Gradio's monitoring summary (a DataFrame of the last 10,000 events, grouped) is made
        # anew after every event by default: a class's many small events paid for it (section
        # 16 of BENCHMARKS.md); this app shows no monitoring page, so it is made rarely
        fair.ANAYLTICS_CACHE_FREQUENCY, fair.ANALYTICS_MAX_EVENTS = ANALYTICS_EVERY, 2000
        blocks._queue = fair
        return fair

    def start(self):
        self.max_thread_count = max(self.max_thread_count, self.limits.pool)
        super().start()
        queueing.run_coro_in_background(self._watch)

    async def push(self, body, request, username):
        if body.fn_index is not None and self.blocks.fns.get(body.fn_index) is not None:
            refusal = self.refusal(body.session_hash, client_of_request(request),
                                   self.blocks.fns[body.fn_index].connection == "stream")
            if refusal:  # "error": HTTP 400 with the message, which the page shows as it is
                return False, refusal, "error"  # (a 503 shows only Gradio's "currently busy")
        ok, event_id, state = await super().push(body, request, username)
        event = self.event_ids_to_events.get(event_id) if ok else None
        if event is not None:
            event.client = client_of_request(request)
            self._fair_order(self.event_queue_per_concurrency_id[event.concurrency_id].queue)
        return ok, event_id, state

    def send_message(self, event, message, *args, **kwargs):
        if isinstance(message, ProcessCompletedMessage):
            event.done = True  # answered: no longer counts, though Gradio keeps it a moment
        elif event.streaming and isinstance(message, ProcessGeneratingMessage):
            event.answered = (event.data, time.monotonic())  # this frame answered, now
        return super().send_message(event, message, *args, **kwargs)

    def busy_sessions(self) -> set[str]:
        """Sessions with an event waiting or in progress (Gradio's own per-session list keeps
        finished events' ids while the page stays open, so it cannot tell)."""
        return {e.session_hash for e in list(self.event_ids_to_events.values())
                if not getattr(e, "done", False)}

    def refusal(self, session: str | None, client: str, stream: bool) -> str | None:
        """Why an event of `session` from `client` cannot join now, or None."""
        why = RELEASED.why(session)
        if why:
            return why
        limits, waiting = self.limits, {id(e) for q in self.event_queue_per_concurrency_id.values()
                                        for e in q.queue}
        counts = dict.fromkeys(("s_wait", "s_all", "c_wait", "c_all", "s_str", "c_str", "str"), 0)
        for event in list(self.event_ids_to_events.values()):
            if getattr(event, "done", False):
                continue
            mine, ours = session is not None and event.session_hash == session, \
                getattr(event, "client", None) == client
            queued = id(event) in waiting
            streaming = event.streaming and not event.closed
            counts["s_wait"] += mine and queued
            counts["s_all"] += mine
            counts["c_wait"] += ours and queued
            counts["c_all"] += ours
            counts["s_str"] += mine and streaming
            counts["c_str"] += ours and streaming
            counts["str"] += streaming
        if counts["s_wait"] >= limits.session_waiting or counts["s_all"] >= limits.session_events:
            return ("This page has too many requests waiting; wait for them to finish, then "
                    "try again.")
        if counts["c_wait"] >= limits.client_waiting:
            return (f"{counts['c_wait']} requests from your network are already waiting, the "
                    "most one network may have: try again in a moment.")
        if counts["c_all"] >= limits.client_events:
            return (f"{counts['c_all']} requests from your network are already waiting or "
                    "running, the most one network may have: try again in a moment.")
        if stream and counts["s_str"] >= limits.session_streams:
            return "This page's webcam is already streaming: stop it before starting another."
        if stream and counts["c_str"] >= limits.client_streams:
            return (f"{counts['c_str']} webcams on your network are streaming to this server, "
                    "the most one network may have: try again when one has stopped.")
        if stream and counts["str"] >= limits.streams:
            return "Too many webcams are streaming to this server now: try again in a minute."
        return None

    @staticmethod
    def _fair_order(waiting: list) -> None:
        """Sort `waiting` so that each client's k-th event comes after every client's (k-1)-th,
        in order of arrival otherwise (stable: a client's own events keep their order)."""
        seen: dict = {}
        keys = {}
        for event in sorted(waiting, key=lambda e: e.enqueue_time):
            client = getattr(event, "client", None)
            seen[client] = seen.get(client, 0) + 1
            keys[id(event)] = (seen[client], event.enqueue_time)
        waiting.sort(key=lambda e: keys[id(e)])

    async def _watch(self, every: float = 0.5) -> None:
        """Close webcam streams that stopped sending; drop waiting events nobody listens to."""
        while not self.stopped:
            await asyncio.sleep(every)
            try:
                self._close_idle_streams()
                await self._drop_unread()
            except Exception as exc:  # never let the watcher die; say why in the log
                print(f"fair queue watcher: {type(exc).__name__}: {exc}", flush=True)

    def _close_idle_streams(self) -> None:
        """A stream whose latest frame was answered over `stream_idle` s ago and which sent none
        since is closed. (A page sends its next frame only once the last one is answered: a
        frame the server is still working on never counts against the page.)"""
        now = time.monotonic()
        for job in list(self.active_jobs):
            for event in job or []:
                if not event.streaming or event.closed or not hasattr(event, "answered"):
                    continue
                answered, when = event.answered
                if answered is event.data and now - when > self.limits.stream_idle:
                    event.run_time, event.closed = math.inf, True  # as /stream/<id>/close does
                    event.signal.set()

    async def _drop_unread(self) -> None:
        if not OPEN_STREAMS.installed:
            return
        now = time.monotonic()
        async with self.delete_lock:
            for events in self.event_queue_per_concurrency_id.values():
                unread = [e for e in events.queue if now - e.enqueue_time > self.limits.unread_grace
                          and not OPEN_STREAMS.listening(e.session_hash)]
                for event in unread:
                    events.queue.remove(event)
                    self.event_ids_to_events.pop(event._id, None)
                    self.pending_event_ids_session.get(event.session_hash, set()).discard(event._id)
                    self.send_message(event, ProcessCompletedMessage(
                        output={"error": "dropped unanswered: nobody was reading its result"},
                        success=False))
