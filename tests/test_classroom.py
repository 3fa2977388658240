"""A class (issue 24): codes, nicknames, the board in SQLite, teacher powers, the page's tick that
follows the teacher, and the teacher's run that every student's page plays and keeps; then the
new events attacked over HTTP as a stranger would."""
import sqlite3
import time
import uuid
from types import SimpleNamespace

import gradio as gr
import httpx
import pytest
from conftest import HOSTILE, call_event, served_app

from classifier.core.settings import TrainSettings
from classifier.serving import class_store, classroom
from classifier.serving.class_store import ClassStore
from classifier.serving.classroom import ALPHABET, ClassError, Classroom
from classifier.serving.session import Session
from classifier.training.run import run_training
from classifier.ui import class_tab, common, words


@pytest.fixture
def rooms(tmp_path):
    return Classroom(ClassStore(tmp_path / "classes.sqlite"))


def test_a_class_code_is_eight_unambiguous_characters_and_a_long_secret(rooms):
    codes = {rooms.start(f"net{i % 5}").code for i in range(40)}  # 5 networks, 8 each
    assert len(codes) == 40
    for code in codes:
        assert len(code) == 8 and set(code) <= set(ALPHABET)
    for pair in ("0O", "1I", "5S", "6G", "8B", "2Z"):  # never both of a look-alike pair
        assert not set(pair) <= set(ALPHABET), pair
    assert not set("0O1I") & set(ALPHABET)
    teacher = rooms.start("net9")
    assert teacher.teacher and len(teacher.secret) >= 24 and teacher.nickname == classroom.TEACHER
    # the store keeps a hash of the secret, never the secret
    raw = sqlite3.connect(rooms.store.path).execute("SELECT secret_hash FROM classes").fetchall()
    assert all(teacher.secret not in row[0] for row in raw)


def test_students_join_with_the_code_as_typed_and_a_plain_nickname(rooms):
    teacher = rooms.start("school")
    typed = f" {teacher.code[:4].lower()}-{teacher.code[4:]} "
    ann = rooms.join(typed, "  Ann   B. ", "school")
    assert (ann.code, ann.nickname, ann.teacher) == (teacher.code, "Ann B.", False)
    for bad, said in [("", "1 to 20"), ("x" * 21, "1 to 20"), ("a\u202eb", "control"),
                      ("a\x00b", "control"), (None, "1 to 20"), (["a"], "1 to 20"),
                      ("teacher", "the teacher's name")]:
        with pytest.raises(ClassError, match=said):
            rooms.join(teacher.code, bad, "school")


def test_wrong_codes_are_counted_per_network_and_an_ended_class_is_not_a_guess(rooms, monkeypatch):
    teacher = rooms.start("school")
    for i in range(classroom.MAX_WRONG_CODES):
        with pytest.raises(ClassError, match="no class has that code|8 letters"):
            rooms.join("ABCDEFGH" if i % 2 else "12", "Eve", "stranger")
    with pytest.raises(ClassError, match="too many wrong class codes"):
        rooms.join(teacher.code, "Eve", "stranger")  # even the right one, for a while
    assert rooms.join(teacher.code, "Ann", "school").code == teacher.code  # others are not held
    # a class that ended says so, and its pages remembering it are not taken for guesses
    with sqlite3.connect(rooms.store.path) as db:
        db.execute("UPDATE classes SET ends = ? WHERE code = ?", (time.time() - 1, teacher.code))
    for _ in range(classroom.MAX_WRONG_CODES + 5):
        with pytest.raises(ClassError, match="has ended"):
            rooms.join(teacher.code, "Ann", "school")
    assert not rooms._wrong.full("school")


def test_a_network_starts_a_bounded_number_of_classes(rooms):
    for _ in range(classroom.MAX_NEW_CLASSES):
        rooms.start("busy")
    with pytest.raises(ClassError, match="started 10 classes within the hour"):
        rooms.start("busy")
    assert rooms.start("elsewhere").teacher


def test_teacher_powers_need_the_secret(rooms):
    teacher = rooms.start("school")
    student = rooms.join(teacher.code, "Ann", "school")
    forged = classroom.Membership(teacher.code, "Teacher", teacher=True, secret="guess")
    for who in (student, forged, None):
        with pytest.raises(ClassError):
            rooms.move(who, "predict")
        with pytest.raises(ClassError):
            rooms.clear(who)
    with pytest.raises(ClassError, match="not right"):
        rooms.lead(teacher.code, "guess", "school")
    again = rooms.lead(teacher.shown_code, teacher.secret, "home")  # the teacher's link elsewhere
    assert rooms.move(again, "predict") == 1
    assert rooms.state(student).step == "predict"
    with pytest.raises(ClassError, match="can go to"):
        rooms.move(teacher, "../admin")


def test_the_board_is_best_first_bounded_hideable_and_outlives_the_server(rooms, monkeypatch):
    teacher = rooms.start("school")
    ann, bo = (rooms.join(teacher.code, n, "school") for n in ("Ann", "Bo"))
    other = rooms.join(rooms.start("school").code, "Cy", "school")
    rooms.record(ann, "MLP", "Fashion-MNIST", "5 epochs, batch 64", 0.84, 9.0)
    rooms.record(bo, "Quick CNN", "Fashion-MNIST", "30 s, batch 128", 0.89, 30.0)
    rooms.record(ann, "Quick CNN", "Fashion-MNIST", "5 epochs, batch 128", 0.89, 20.0)
    rooms.record(other, "MLP", "MNIST", "1 epochs, batch 64", 0.95, 3.0)  # another class
    board = rooms.board(bo)
    assert [(r.nickname, r.accuracy, r.seconds) for r in board] == [
        ("Ann", 0.89, 20.0), ("Bo", 0.89, 30.0), ("Ann", 0.84, 9.0)]  # ties: the faster first
    before = rooms.state(bo).board_version
    assert rooms.hide(teacher, "Ann") == 2
    assert [r.nickname for r in rooms.board(bo)] == ["Bo"]
    assert rooms.state(bo).board_version > before  # the pages redraw
    assert "Ann" in rooms.nicknames(teacher)  # hidden, still listed for the teacher
    # a new server on the same file: the class and its board are still there
    reborn = Classroom(ClassStore(rooms.store.path))
    assert [r.nickname for r in reborn.board(bo)] == ["Bo"] and reborn.still_on(bo)
    monkeypatch.setattr(class_store, "MAX_RUNS", 5)
    for i in range(12):
        rooms.record(bo, "MLP", "Fashion-MNIST", "1 epochs", i / 100, 1.0)
    rows = sqlite3.connect(rooms.store.path).execute(
        "SELECT COUNT(*) FROM runs WHERE code = ?", (bo.code,)).fetchone()[0]
    assert rows <= 6  # the best five and the latest
    assert rooms.clear(teacher) == rows and rooms.board(bo) == []
    assert [r.nickname for r in rooms.board(other)] == ["Cy"]


def test_what_is_stored_is_nicknames_and_run_figures_only(rooms):
    teacher = rooms.start("203.0.113.0/24")
    rooms.record(rooms.join(teacher.code, "Ann", "203.0.113.0/24"), "MLP", "Fashion-MNIST",
                 "5 epochs", 0.8, 5.0)
    dump = "\n".join(sqlite3.connect(rooms.store.path).iterdump())
    assert "203.0.113" not in dump and teacher.secret not in dump
    columns = {row[1] for t in ("classes", "runs")
               for row in sqlite3.connect(rooms.store.path).execute(f"PRAGMA table_info({t})")}
    assert columns == {"code", "secret_hash", "created", "ends", "step", "step_version",
                       "board_version", "id", "nickname", "model", "dataset", "settings",
                       "accuracy", "seconds", "finished", "hidden"}


# ------------------------------------------------------------------ the tab's handlers
@pytest.fixture
def pages(rooms, monkeypatch):
    """The Class tab's handlers on a classroom of the test's own."""
    monkeypatch.setattr(class_tab, "CLASSES", rooms)
    monkeypatch.setattr(common, "CLASSES", rooms)
    from classifier.ui import train_tab
    monkeypatch.setattr(train_tab, "CLASSES", rooms)
    return rooms


def _page(client="school") -> Session:
    return Session(client=client)


def _request(**query):
    return SimpleNamespace(query_params=query, session_hash=uuid.uuid4().hex[:8])


def test_a_teacher_starts_students_join_and_follow_the_teacher(pages):
    teacher_page, ann_page, bo_page = _page(), _page(), _page()
    kept, outside, inside, where, teacher_row, _, timer, *_ = class_tab.start_class(teacher_page, None)
    member = teacher_page.membership
    assert member.teacher and kept["code"] == member.code and kept["secret"] == member.secret
    assert inside["visible"] and not outside["visible"] and teacher_row["visible"] and timer.active
    assert member.shown_code in where and member.secret in where  # the teacher's own link
    class_tab.join_class(ann_page, member.shown_code, "Ann", None)
    out = class_tab.join_class(bo_page, member.code, "<b>Bo</b>[x](h://e)", None)
    assert "&lt;b&gt;Bo&lt;/b&gt;" in out[3] and "<b>Bo</b>" not in out[3]  # plain text
    with pytest.raises(gr.Error, match="(?i)No class has that code"):
        class_tab.join_class(_page(), "ZZZZ-ZZZZ", "Cy", None)

    class_tab.move_class(teacher_page, "predict")
    ann = class_tab.follow(ann_page, True)
    assert ann[1].selected == "predict"  # Ann's page opens Predict
    bo = class_tab.follow(bo_page, False)  # Bo opted out
    assert bo[1] == gr.skip()
    assert class_tab.follow(ann_page, True)[1] == gr.skip()  # once, not every tick
    with pytest.raises(gr.Error, match="(?i)only the class's teacher"):
        class_tab.move_class(ann_page, "dataset")
    with pytest.raises(gr.Error, match="(?i)can go to"):
        class_tab.move_class(teacher_page, {"tab": "predict"})


def test_the_page_tick_redraws_the_board_only_when_it_changed(pages):
    teacher_page, ann_page = _page(), _page()
    class_tab.start_class(teacher_page, None)
    class_tab.join_class(ann_page, teacher_page.membership.code, "Ann", None)
    assert class_tab.follow(ann_page, True)[2] == gr.skip()
    pages.record(ann_page.membership, "MLP", "Fashion-MNIST", "5 epochs", 0.84, 9.0)
    out = class_tab.follow(ann_page, True)
    table, chart = out[2], out[3]
    assert list(table["Nickname"]) == ["Ann"] and table["Test accuracy"][0] == "84.0%"
    assert chart.type == "matplotlib"
    again = class_tab.follow(teacher_page, True)
    assert again[3] is chart  # drawn once for every page
    assert class_tab.follow(ann_page, True)[2] == gr.skip()
    class_tab.hide_nickname(teacher_page, "Ann")
    assert len(class_tab.follow(ann_page, True)[2]) == 0
    with pytest.raises(gr.Error, match="(?i)pick a nickname"):
        class_tab.hide_nickname(teacher_page, "'; DROP TABLE runs; --")
    # the class ends: the page stops ticking
    with sqlite3.connect(pages.store.path) as db:
        db.execute("UPDATE classes SET ends = ?", (time.time() - 1,))
    timer, *_ = class_tab.follow(ann_page, True)
    assert not timer.active and ann_page.membership is None


def test_a_link_or_the_browser_s_memory_brings_a_page_into_its_class(pages):
    teacher_page = _page()
    out = class_tab.arrive(teacher_page, None, _request(**{"class": "new"}))
    teacher = teacher_page.membership
    assert teacher.teacher and out[-1].selected == "class"
    remembered = out[0]
    # the teacher's page reloads: the browser remembers the class and the secret
    again = _page()
    class_tab.arrive(again, remembered, _request())
    assert again.membership == teacher
    # a student's join link, with a nickname this browser remembers
    ann = _page()
    class_tab.arrive(ann, {"nickname": "Ann"}, _request(**{"class": teacher.code}))
    assert (ann.membership.code, ann.membership.nickname) == (teacher.code, "Ann")
    # a student's join link in a new browser: the code is filled in, the Class tab shown
    new = _page()
    out = class_tab.arrive(new, None, _request(**{"class": teacher.shown_code}))
    assert new.membership is None and out[10]["value"] == teacher.shown_code
    assert out[-1].selected == "class"
    # hostile memories: not a class, a forged secret, odd types: nothing joined, nothing raised
    for memory in ({"code": teacher.code, "secret": "forged"}, {"code": 7, "nickname": ["x"]},
                   "not a dict", {"code": "A" * 10_000, "nickname": "Eve"}):
        page = _page()
        class_tab.arrive(page, memory, _request())
        assert page.membership is None
    link = class_tab.arrive(_page(), None, _request(**{"class": teacher.code, "teacher": "forged"}))
    assert link[0]["code"] == ""


def _tiny_run(tiny, seconds=None):
    return run_training(tiny, "mlp", TrainSettings(epochs=2, batch_size=16, validation_split=0.25))


def test_the_teachers_run_plays_on_each_students_train_tab_and_becomes_their_model(pages, tiny):
    teacher_page, ann_page, bo_page = _page(), _page(), _page()
    class_tab.start_class(teacher_page, None)
    for page, name in ((ann_page, "Ann"), (bo_page, "Bo")):
        class_tab.join_class(page, teacher_page.membership.code, name, None)
    live = pages.sharing(teacher_page.membership)
    assert pages.sharing(ann_page.membership) is None  # a student's runs are their own
    live.start("MLP", ())
    assert class_tab.follow(ann_page, True)[5] == gr.skip()  # nothing to show yet
    live.show(("acc", "loss", "Epoch **1/2**", "heat"))
    out = class_tab.follow(ann_page, True)
    assert out[5:9] == ("acc", "loss", words.teacher_run_line("Epoch **1/2**"), "heat")
    assert class_tab.follow(ann_page, True)[5] == gr.skip()  # the same version once
    bo_page.new_stop()  # Bo's own run is going: the teacher's does not draw over it
    assert class_tab.follow(bo_page, True)[5] == gr.skip()
    bo_page.stop.set()
    # Gradio pops an update's value as it sends it: every page must get the curve's data
    frame = {"__type__": "update", "value": [1, 2], "x_lim": [0, 2]}
    live.show((frame, frame, "Epoch **2/2**", "heat"))
    for page in (ann_page, bo_page):
        sent = class_tab.follow(page, True)[5]
        assert sent.pop("value") == [1, 2]

    run = _tiny_run(tiny)
    name = teacher_page.add_run(run, take_home=False)
    live.end(("acc", "loss", "Done", "heat"), (name, teacher_page.trained[name]))
    out = class_tab.follow(ann_page, True)
    mine = f"Teacher's {name}"
    assert ann_page.active_model == mine and out[9]["value"] == mine and mine in out[9]["choices"]
    assert ann_page.predictor(mine) is teacher_page.predictor(name)  # shared, read-only
    # a student's own later run does not take the teacher's epoch weights away
    weights = teacher_page.epoch_weights(name)
    assert len(weights) == 2
    ann_page.add_run(_tiny_run(tiny), take_home=False)
    assert teacher_page.epoch_weights(name) is weights and len(weights) == 2
    assert class_tab.follow(ann_page, True)[9] == gr.skip()  # adopted once


def test_a_students_finished_run_lands_on_the_board(pages, tiny, monkeypatch):
    from classifier.ui import train_tab
    teacher_page, ann_page = _page(), _page()
    class_tab.start_class(teacher_page, None)
    class_tab.join_class(ann_page, teacher_page.membership.code, "Ann", None)
    run = _tiny_run(tiny)
    train_tab._on_the_board(ann_page, run)
    [row] = pages.board(ann_page.membership)
    assert (row.nickname, row.model, row.dataset) == ("Ann", "MLP (Flatten-Dense-128)", "Tiny")
    assert row.accuracy == pytest.approx(run.evaluation.accuracy)
    assert row.settings == "2 epochs, batch 16"
    train_tab._on_the_board(_page(), run)  # no class: nothing stored, nothing raised
    monkeypatch.setattr(pages.store, "path", pages.store.path.parent / "gone" / "x" / "y.sqlite")
    monkeypatch.setattr(pages.store, "_ready", True)
    train_tab._on_the_board(ann_page, run)  # a board out of reach: one log line, the run is kept


# ------------------------------------------------------------------ over HTTP, as a stranger
@pytest.fixture(scope="module")
def server():
    with served_app() as served:
        yield served


def test_the_class_events_called_by_strangers_with_hostile_values(server):
    """Every new event by name, with a fresh session (no page) and hostile values: a clear
    message or nothing, never a traceback, and the server goes on."""
    events = {"join_class": 4, "move_class": 2, "hide_nickname": 2, "clear_board": 1,
              "start_class": 2, "leave_class": 2, "follow": 2}
    for fn, arity in events.items():
        assert fn in server.fns, fn
        for value in HOSTILE:
            seen = call_event(server, fn, [value] * arity)
            done = seen[-1]
            assert done["msg"] == "process_completed", (fn, value, seen)
            if not done["success"]:
                said = done["output"].get("error") or ""
                assert said and "Traceback" not in said and "Error(" not in said, (fn, value, said)
    # teacher powers without a class: refused in words
    done = call_event(server, "move_class", [None, "predict"])[-1]
    assert not done["success"] and "Only the class's teacher" in done["output"]["error"]
    # the page still loads and predicts
    assert httpx.get(server.url).status_code == 200


def test_guessing_class_codes_stops_for_that_network_only(server):
    """A stranger trying codes through the join event is held after MAX_WRONG_CODES tries; a
    class on another network (behind the same proxy, as on a Space) still joins its class."""
    guesser, school = {"x-forwarded-for": "198.51.100.7"}, {"x-forwarded-for": "203.0.113.20"}
    started = call_event(server, "start_class", [None, None], headers=school)[-1]
    assert started["success"], started
    code = started["output"]["data"][0]["code"]
    said = []
    for i in range(classroom.MAX_WRONG_CODES + 3):
        guess = "".join(ALPHABET[(i * 7 + k) % len(ALPHABET)] for k in range(8))
        done = call_event(server, "join_class", [None, guess, "Eve", None], headers=guesser)[-1]
        assert not done["success"]
        said.append(done["output"]["error"])
    assert "too many wrong class codes" in said[-1].lower() and "no class has that code" in said[0].lower()
    held = call_event(server, "join_class", [None, code, "Eve", None], headers=guesser)[-1]
    assert not held["success"] and "too many wrong" in held["output"]["error"].lower()
    joined = call_event(server, "join_class", [None, code, "Ann", None], headers=school)[-1]
    assert joined["success"] and joined["output"]["data"][0]["nickname"] == "Ann"
