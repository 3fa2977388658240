"""A class: a teacher starts one and gets a short code and a secret; students join with the code
and a nickname. The class's board (class_store.py) lists its finished runs; the teacher moves the
class to a tab, hides a nickname, clears the board, and trains one run the whole class watches
(`LiveRun`: what the teacher's page shows, kept for the students' pages to show too, and the
model it ends with, for each student to use). A class lasts a day. No Gradio.

Against strangers: a code is 8 characters of a 28-letter alphabet (about 3.8e11 codes), wrong
codes are counted per network (`MAX_WRONG_CODES` in `WRONG_CODE_WINDOW` s), a network starts at
most `MAX_NEW_CLASSES` classes an hour and the server holds at most `MAX_CLASSES`; teacher powers
need the secret (compared in constant time); nicknames are short plain text.
"""
from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field

from . import walkthrough
from .class_store import BoardRun, ClassState, ClassStore, secret_hash

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ3479"  # one of each look-alike pair at most (read out to
# a room, typed by a class): no O, 0, I, 1; S, G, B, Z without 5, 6, 8, 2
CODE_LENGTH = 8
CLASS_HOURS = 24.0
MAX_NICKNAME = 20
MAX_WRONG_CODES, WRONG_CODE_WINDOW = 50, 600.0  # per network: a class mistyping gets in
MAX_NEW_CLASSES, NEW_CLASS_WINDOW = 10, 3600.0  # per network
MAX_CLASSES = 2000  # live classes on the server
TEACHER = "Teacher"  # the teacher's runs on the board
STEPS = {"dataset": "Dataset", "train": "Train", "predict": "Predict", "inside": "Inside the network",
         "evaluate": "Evaluate", "compare": "Compare", "class": "Class",  # where a class can go:
         **{f"walk:{s.key}": f"walk-through step {i}: {s.title}"  # a tab, or a step
            for i, s in enumerate(walkthrough.STEPS, 1)}}


class ClassError(ValueError):
    """A class action that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Membership:
    """A session's place in a class."""
    code: str
    nickname: str
    teacher: bool = False
    secret: str = ""  # the teacher's, for their own page's links

    @property
    def shown_code(self) -> str:
        return show_code(self.code)


def show_code(code: str) -> str:
    """ABCDEFGH as ABCD-EFGH (easier to read out to a room)."""
    return f"{code[:4]}-{code[4:]}"


def read_code(text) -> str:
    """A typed class code as stored (upper case, no spaces or dashes); ClassError if it cannot be one."""
    if not isinstance(text, str) or len(text) > 40:
        raise ClassError("a class code is 8 letters and digits, such as ABCD-EFGH")
    code = re.sub(r"[\s\-_.]", "", text).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise ClassError("a class code is 8 letters and digits, such as ABCD-EFGH: check it "
                         "with your teacher")
    return code


def read_nickname(text) -> str:
    """A nickname as shown: trimmed, spaces collapsed, 1 to MAX_NICKNAME printable characters."""
    if not isinstance(text, str) or len(text) > 200:
        raise ClassError(f"a nickname is 1 to {MAX_NICKNAME} characters")
    name = " ".join(text.split())
    if any(unicodedata.category(c)[0] == "C" for c in name):
        raise ClassError("a nickname is letters, digits and punctuation: no control characters")
    if not name or len(name) > MAX_NICKNAME:
        raise ClassError(f"a nickname is 1 to {MAX_NICKNAME} characters")
    return name


@dataclass
class LiveRun:
    """The teacher's latest shared run: what their page shows (`shown`, opaque here: the UI's
    own values), a version that moves with each change, and once it ends the model (`model`:
    (its name, what each student keeps)). Readers take `snapshot()`."""
    title: str = ""
    version: int = 0
    shown: tuple = ()
    ended: bool = False
    model: tuple | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, title: str, shown: tuple) -> None:
        with self._lock:
            self.title, self.shown, self.ended, self.model = title, shown, False, None
            self.version += 1

    def show(self, shown: tuple) -> None:
        with self._lock:
            self.shown = shown
            self.version += 1

    def end(self, shown: tuple, model: tuple | None) -> None:
        with self._lock:
            self.shown, self.ended, self.model = shown, True, model
            self.version += 1

    def snapshot(self) -> tuple[int, str, tuple, bool, tuple | None]:
        with self._lock:
            return self.version, self.title, self.shown, self.ended, self.model


def _wide(client: str) -> str:
    """An IPv6 /64 client as its /48 (an IPv4 address stays itself)."""
    if client.endswith("/64"):
        try:
            return str(ipaddress.IPv6Network(client).supernet(new_prefix=48))
        except ValueError:
            pass
    return client


class _Counter:
    """Events per key within a sliding window (bounded: the oldest keys go first)."""

    def __init__(self, most: int, window: float, keys: int = 10_000):
        self.most, self.window, self.keys = most, window, keys
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def full(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key)) >= self.most

    def add(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(time.monotonic())
            while len(self._seen) > self.keys:
                del self._seen[next(iter(self._seen))]

    def _recent(self, key: str) -> deque:
        times = self._seen.setdefault(key, deque())
        while times and time.monotonic() - times[0] > self.window:
            times.popleft()
        return times


class Classroom:
    """Every class on this server: the store, the limits against guessing, the live runs."""

    def __init__(self, store: ClassStore | None = None):
        self.store = store or ClassStore()
        self._wrong = _Counter(MAX_WRONG_CODES, WRONG_CODE_WINDOW)
        self._new = _Counter(MAX_NEW_CLASSES, NEW_CLASS_WINDOW)
        self._live: dict[str, LiveRun] = {}
        self._lock = threading.Lock()

    def start(self, client: str = "") -> Membership:
        """A new class; its teacher's membership (with the secret for the teacher's link)."""
        client = _wide(client)  # IPv6 networks come by the thousand: a /48 here
        if self._new.full(client):
            raise ClassError(f"your network started {MAX_NEW_CLASSES} classes within the hour: "
                             "use one of them, or try again later")
        if self.store.live_classes() >= MAX_CLASSES:
            raise ClassError("this server holds as many classes as it can: try again tomorrow")
        secret = secrets.token_urlsafe(18)
        for _ in range(8):
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if self.store.add_class(code, secret, CLASS_HOURS):
                self._new.add(client)
                return Membership(code, TEACHER, teacher=True, secret=secret)
        raise ClassError("could not make a new class code: try again")

    def join(self, code, nickname, client: str = "") -> Membership:
        """Student `nickname` in class `code`; ClassError if the code is wrong (counted against
        the network) or the network has tried too many wrong codes lately."""
        if self._wrong.full(client):
            raise ClassError("too many wrong class codes from your network lately: wait ten "
                             "minutes, and check the code with your teacher")
        nickname = read_nickname(nickname)
        try:
            code = read_code(code)
        except ClassError:
            self._wrong.add(client)
            raise
        status = self.store.status(code)
        if status == "ended":
            raise ClassError("that class has ended (a class lasts a day): ask your teacher for "
                             "today's code")
        if status is None:
            self._wrong.add(client)
            raise ClassError("no class has that code: check it with your teacher")
        if nickname.casefold() == TEACHER.casefold():
            raise ClassError(f"{TEACHER!r} is the teacher's name on the board: pick another nickname")
        return Membership(code, nickname)

    def lead(self, code, secret, client: str = "") -> Membership:
        """The teacher of class `code`, from the teacher's link; ClassError if the secret is wrong."""
        if self._wrong.full(client):
            raise ClassError("too many wrong class codes from your network lately: wait ten minutes")
        code = read_code(code)
        if self.store.status(code) == "ended":  # not a guess: a page that remembers it
            raise ClassError("this class has ended (a class lasts a day): start a new one")
        stored = self.store.teacher_hash(code)
        given = secret_hash(secret) if isinstance(secret, str) and len(secret) <= 100 else ""
        if stored is None or not hmac.compare_digest(stored, given):
            self._wrong.add(client)
            raise ClassError("this teacher's link is not right, or its class has ended")
        return Membership(code, TEACHER, teacher=True, secret=secret)

    def still_on(self, member: Membership | None) -> bool:
        return member is not None and self.store.exists(member.code)

    def state(self, member: Membership) -> ClassState | None:
        return self.store.state(member.code)

    def ends(self, member: Membership) -> float | None:
        return self.store.ends(member.code)

    # ------------------------------------------------------------------ the board
    def record(self, member: Membership, model: str, dataset: str, settings: str,
               accuracy: float, seconds: float) -> None:
        """A finished run of `member` on the class's board."""
        self.store.add_run(member.code, member.nickname, model, dataset, settings, accuracy, seconds)

    def board(self, member: Membership) -> list[BoardRun]:
        return self.store.board(member.code)

    def nicknames(self, member: Membership) -> list[str]:
        return self.store.nicknames(member.code)

    # ------------------------------------------------------------------ teacher powers
    def _check_teacher(self, member: Membership | None) -> Membership:
        if member is None or not member.teacher:
            raise ClassError("only the class's teacher can do that")
        stored = self.store.teacher_hash(member.code)
        if stored is None or not hmac.compare_digest(stored, secret_hash(member.secret)):
            raise ClassError("this class has ended")
        return member

    def move(self, member: Membership | None, step) -> int:
        member = self._check_teacher(member)
        if not isinstance(step, str) or step not in STEPS:
            raise ClassError(f"the class can go to {', '.join(STEPS.values())}")
        return self.store.move(member.code, step)

    def hide(self, member: Membership | None, nickname) -> int:
        member = self._check_teacher(member)
        if not isinstance(nickname, str) or nickname not in self.store.nicknames(member.code):
            raise ClassError("pick a nickname from the board")
        return self.store.hide(member.code, nickname)

    def clear(self, member: Membership | None) -> int:
        return self.store.clear(self._check_teacher(member).code)

    # ------------------------------------------------------------------ the run the class watches
    def live(self, member: Membership) -> LiveRun:
        """Class `member.code`'s shared run (made on first use; live runs of ended classes go)."""
        with self._lock:
            if member.code not in self._live and len(self._live) >= 200:
                for code in [c for c in self._live if not self.store.exists(c)]:
                    del self._live[code]
            return self._live.setdefault(member.code, LiveRun())

    def sharing(self, member: Membership | None) -> LiveRun | None:
        """The live run a teacher's training should show to the class (None for students)."""
        if member is None or not member.teacher:
            return None
        return self.live(member)
