"""Fair shares between clients, unit by unit (issue 22): who a request is from, the training
line's round-robin and slot share, the upload meter, the memory budget, the queue's order and
limits. The same defences against the running app are in test_strangers.py."""
from types import SimpleNamespace

import pytest

from classifier.core.memory import MemoryBudget
from classifier.serving import admission
from classifier.serving.admission import Admission, Refused
from classifier.serving.clients import client_of
from classifier.serving.traffic import Meter
from classifier.ui.fair_queue import FairQueue, Limits, Released


# ---------------------------------------------------------------- who a request is from
def test_a_client_is_its_network_and_a_proxy_is_seen_through():
    assert client_of("203.0.113.7", {}) == "203.0.113.7"
    # straight from a public address: what it writes in X-Forwarded-For does not count
    assert client_of("203.0.113.7", {"x-forwarded-for": "198.51.100.1"}) == "203.0.113.7"
    # behind a proxy (a private peer): the rightmost public address the proxy appended
    assert client_of("10.16.3.80", {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}) == "203.0.113.9"
    assert client_of("10.16.3.80", {"x-forwarded-for": "203.0.113.9, 10.0.0.2"}) == "203.0.113.9"
    # a client's own made-up entries stand left of the real one
    assert client_of("127.0.0.1", [(b"x-forwarded-for", b"1.2.3.4, 5.6.7.8, 203.0.113.9")]) == "203.0.113.9"
    assert client_of("127.0.0.1", {"x-forwarded-for": "nonsense, ::ffff:203.0.113.9"}) == "203.0.113.9"
    assert client_of("127.0.0.1", {}) == "127.0.0.1"  # a local test: loopback is the client
    # IPv6: one /64 is one client (a stranger cannot be a thousand clients from one line)
    a = client_of("2001:db8:1:2::1", {})
    assert a == client_of("2001:db8:1:2:ffff::9", {}) == "2001:db8:1:2::/64"
    assert a != client_of("2001:db8:1:3::1", {})
    assert client_of(None, {}) == client_of("not an address", {}) == "unknown"


# ---------------------------------------------------------------- the training line
@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(admission.time, "monotonic", lambda: now[0])
    return now


def test_a_stranger_with_free_session_ids_shares_the_trainers_round_robin(clock):
    """Ten places from one network, then a visitor from another: the visitor's run is next,
    and the slots alternate between the two networks after that."""
    line = Admission(slots=2, stale=3600)
    stranger = [line.enter(f"s{i}", "198.51.100.1") for i in range(10)]
    clock[0] += 1
    visitor = line.enter("v", "203.0.113.9")
    assert [p.running for p in stranger[:2]] == [True, True]
    assert visitor.ahead() == 0 and stranger[2].ahead() == 1
    stranger[0].leave()
    assert visitor.check() and not stranger[2].check()
    second = line.enter("v2", "203.0.113.9")  # one run each going: the network that used
    assert second.ahead() == 0 and stranger[2].ahead() == 1  # less slot time goes first
    stranger[1].leave()  # the stranger has none going now, the visitors one: the stranger's turn
    assert stranger[2].check() and not second.check() and second.ahead() == 0
    assert line.held_by("198.51.100.1") == 8 and line.held_by("203.0.113.9") == 2


def test_a_network_with_less_recent_slot_time_goes_first(clock):
    line = Admission(slots=1, stale=3600)
    a = line.enter("a1", "A")
    clock[0] += 100
    b = line.enter("b1", "B")
    a.leave()  # A used 100 s
    assert b.check()
    a2, c = line.enter("a2", "A"), line.enter("c1", "C")  # A arrived first, but C used nothing
    clock[0] += 10
    b.leave()
    assert c.check() and not a2.check()


def test_the_line_fits_a_class_and_never_shuts_out_another_network():
    line = Admission(slots=2, limit=40, per_client=40, newcomers=20)
    school = [line.enter(f"student{i}", "school") for i in range(40)]  # a class of 40: all in
    with pytest.raises(Refused, match="40 trainings from your network"):
        line.enter("student40", "school")
    assert line.enter("visitor", "home").ahead() == 0  # the line is full, but not for a newcomer
    with pytest.raises(Refused, match="server is busy"):
        line.enter("visitor2", "home")  # a second one from a network already in a full line
    for i in range(19):
        line.enter(f"other{i}", f"net{i}")
    with pytest.raises(Refused, match="server is busy"):  # 40 + 20 newcomers: 60 places in all
        line.enter("late", "elsewhere")
    assert sum(p.running for p in school) == 2


def test_a_long_run_gives_its_trainer_up_while_others_wait(clock):
    line = Admission(slots=1, share=180, stale=3600)
    long_run = line.enter("long", "A")
    clock[0] += 500
    assert not long_run.overdue()  # nobody waits: it may go on
    waiting = line.enter("next", "B")
    assert long_run.overdue()  # someone waits and it has held the trainer over 180 s
    long_run.leave()
    assert waiting.check() and not waiting.overdue()
    clock[0] += 60
    assert waiting.wait_estimate() is None  # running, not waiting
    third = line.enter("third", "C")
    assert third.wait_estimate() == pytest.approx(120)  # the 500 s run counts as 180 s


def test_a_network_holding_every_trainer_gives_one_up_to_a_waiting_one_after_a_grace(clock):
    line = Admission(slots=2, share=180, grace=30, stale=3600)
    first, second = line.enter("s1", "stranger"), line.enter("s2", "stranger")
    clock[0] += 5
    third = line.enter("s3", "stranger")
    assert not first.overdue()  # only its own network waits
    visitor = line.enter("v", "visitor")
    assert not first.overdue() and not second.overdue()  # under the grace
    clock[0] += 30
    assert not second.overdue()  # the network's oldest run gives way, once
    assert first.overdue() and not first.overdue()
    first.leave()
    assert visitor.check() and not third.check()
    clock[0] += 100
    assert not second.overdue()  # one each now: fair until its share is spent
    clock[0] += 60
    assert second.overdue()


def test_a_place_nobody_touches_is_dropped(clock):
    line = Admission(slots=1, stale=30)
    line.enter("a", "A")
    gone = line.enter("b", "B")
    clock[0] += 31
    assert line.enter("c", "C").check()  # a and b went stale; c runs
    with pytest.raises(Refused, match="lost its place"):
        gone.check()


# ---------------------------------------------------------------- uploads, memory
def test_uploads_are_metered_per_network_and_in_all(monkeypatch):
    from classifier.serving import traffic
    now = [0.0]
    monkeypatch.setattr(traffic.time, "monotonic", lambda: now[0])
    meter = Meter(capacity=100, rate=1, total_capacity=250, total_rate=10)
    assert meter.take("A", 60) is None and meter.take("A", 40) is None
    assert "your network uploaded" in meter.take("A", 1)
    assert meter.take("B", 100) is None
    assert "all the uploads it can" in meter.take("C", 60)  # 250 in all: 200 taken
    now[0] += 30  # A gets 30 back, everyone 300
    assert meter.take("A", 30) is None and meter.take("A", 1) is not None
    assert meter.take("C", 60) is None


class _Holder(SimpleNamespace):
    def nbytes(self):
        return self.size


def test_the_memory_budget_refuses_past_its_ceiling_and_past_a_networks_share():
    budget = MemoryBudget(limit=1000, client_share=0.5)
    a1, a2, b = _Holder(client="A", size=300), _Holder(client="A", size=100), _Holder(client="B", size=400)
    for owner in (a1, a2, b):
        budget.add(owner)
    assert budget.used() == 800 and budget.used("A") == 400 and budget.pressure() == 0.8
    assert budget.room(a1, 100) is None
    assert "your network hold 400 MB" not in (budget.room(a1, 101) or "")  # MB: rounded
    assert "the most one network may hold" in budget.room(a1, 101)
    assert "memory for everyone's images and models is full" in budget.room(b, 201)
    with pytest.raises(ValueError, match="is full"):
        budget.check(b, 201)
    budget.discard(b)
    assert budget.used() == 400 and budget.room(b, 201) is None


# ---------------------------------------------------------------- the queue
def _event(client, t, session=None, stream=False):
    return SimpleNamespace(client=client, enqueue_time=t, session_hash=session or f"s{t}",
                           streaming=stream, closed=False)


def test_waiting_events_are_ordered_round_robin_between_networks():
    waiting = [_event("A", t) for t in range(6)] + [_event("B", 10), _event("C", 11), _event("B", 12)]
    FairQueue._fair_order(waiting)
    assert [(e.client, e.enqueue_time) for e in waiting] == [
        ("A", 0), ("B", 10), ("C", 11), ("A", 1), ("B", 12), ("A", 2), ("A", 3), ("A", 4), ("A", 5)]


def test_the_queue_refuses_past_a_session_a_network_and_the_webcam_limits():
    queue = FairQueue.__new__(FairQueue)
    queue.limits = Limits(session_waiting=2, session_events=3, client_waiting=4, client_events=6,
                          session_streams=1, client_streams=2, streams=3)
    waiting = [_event("A", 1, "page"), _event("A", 2, "page")]
    queue.event_queue_per_concurrency_id = {"x": SimpleNamespace(queue=waiting)}
    queue.event_ids_to_events = {str(i): e for i, e in enumerate(waiting)}
    assert "This page has too many requests waiting" in queue.refusal("page", "A", False)
    assert queue.refusal("other-page", "A", False) is None
    for i in range(2):
        waiting.append(_event("A", 3 + i))
        queue.event_ids_to_events[f"w{i}"] = waiting[-1]
    assert "4 requests from your network" in queue.refusal("another", "A", False)
    assert queue.refusal("another", "B", False) is None  # another network is not held up
    queue.event_ids_to_events.update(cam1=_event("B", 9, "cam-page", stream=True))
    assert "already streaming" in queue.refusal("cam-page", "B", True)
    queue.event_ids_to_events.update(cam2=_event("B", 9, "cam-page2", stream=True))
    assert "2 webcams on your network" in queue.refusal("cam-page3", "B", True)
    queue.event_ids_to_events.update(cam3=_event("C", 9, "cam-page4", stream=True))
    assert "Too many webcams" in queue.refusal("cam-page5", "D", True)
    assert queue.refusal("cam-page5", "D", False) is None


def test_a_released_session_is_told_so_and_the_list_is_bounded():
    released = Released(keep=3)
    for i in range(5):
        released.add(f"s{i}", f"idle {i}")
    assert released.why("s0") is None and released.why("s4") == "idle 4"
    assert released.why(None) is None


def test_loads_under_way_count_until_they_end():
    """Five zips read at once cannot each pass the check made before any of them landed."""
    budget = MemoryBudget(limit=1000, client_share=0.5)
    page = _Holder(client="A", size=0)
    budget.add(page)
    with budget.holding(page, 300):
        with budget.holding(page, 200):
            assert budget.used() == 500 == budget.used("A")
            with pytest.raises(ValueError, match="the most one network may hold"):
                with budget.holding(page, 1):
                    pass
    assert budget.used() == 0


def test_a_body_without_content_length_is_counted_as_it_arrives():
    """A chunked body (no Content-Length): past the cap it gets 413, past the network's upload
    share 429, each before the app answers; within them the app reads it all."""
    import asyncio

    from classifier.serving.traffic import Meter, TrafficMiddleware

    async def app(scope, receive, send):
        got = 0
        while True:
            message = await receive()
            got += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(got).encode()})

    def call(path, chunks, middleware):
        sent, body = [], iter([{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                               for i, c in enumerate(chunks)])

        async def receive():
            return next(body)

        async def send(message):
            sent.append(message)
        scope = {"type": "http", "method": "POST", "path": path, "headers": [],
                 "query_string": b"", "client": ("203.0.113.5", 1)}
        asyncio.run(middleware(scope, receive, send))
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    uploads = Meter(capacity=3000, rate=0.0, total_capacity=10**9, total_rate=0.0)
    middleware = TrafficMiddleware(app, max_body=2500, uploads=uploads)
    assert call("/gradio_api/queue/join", [b"x" * 1000] * 2, middleware) == (200, b"2000")
    assert call("/gradio_api/queue/join", [b"x" * 1000] * 3, middleware)[0] == 413
    assert call("/gradio_api/upload", [b"x" * 1000] * 2, middleware) == (200, b"2000")
    status, said = call("/gradio_api/upload", [b"x" * 1000] * 2, middleware)  # 4,000 > 3,000
    assert status == 429 and b"uploaded" in said
