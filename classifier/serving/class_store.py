"""What a class leaves behind, in one SQLite file that outlives the server: each class (its code,
a hash of its teacher's secret, when it ends, the tab the teacher moved it to) and its board (one
row a finished run: nickname, model, dataset, settings, test accuracy, seconds, when). Nothing
else: no addresses, no images. `CLASSIFIER_DB` says where the file is. No Gradio.

Every call opens its own short connection (SQLite serialises writers; WAL lets the board's
readers go on meanwhile), so the store is safe from any thread or process.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    created REAL NOT NULL,
    ends REAL NOT NULL,
    step TEXT NOT NULL DEFAULT '',
    step_version INTEGER NOT NULL DEFAULT 0,
    board_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    nickname TEXT NOT NULL,
    model TEXT NOT NULL,
    dataset TEXT NOT NULL,
    settings TEXT NOT NULL,
    accuracy REAL NOT NULL,
    seconds REAL NOT NULL,
    finished REAL NOT NULL,
    hidden INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_class ON runs(code, accuracy DESC);
"""
MAX_RUNS = 1000  # a class's board keeps its best this many runs (and its latest one)
KEPT_AFTER = 7 * 86400.0  # s an ended class's code is kept (its board goes at once): a page
# that remembers it is told the class ended, and is not taken for someone guessing codes


def default_path() -> Path:
    """`CLASSIFIER_DB`, else a file in the user's cache (a Space: its persistent /data if set)."""
    if os.environ.get("CLASSIFIER_DB"):
        return Path(os.environ["CLASSIFIER_DB"])
    base = Path("/data") if Path("/data").is_dir() and os.access("/data", os.W_OK) \
        else Path.home() / ".cache" / "classifier"
    return base / "classes.sqlite"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class BoardRun:
    """One finished run on a class's board."""
    id: int
    nickname: str
    model: str
    dataset: str
    settings: str
    accuracy: float
    seconds: float
    finished: float


@dataclass(frozen=True)
class ClassState:
    """What a class's pages poll: where the teacher moved it, and whether its board changed."""
    step: str
    step_version: int
    board_version: int


class ClassStore:
    """The classes and their boards in the SQLite file at `path` (made on first use)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)  # autocommit; BEGIN below
        db.execute("PRAGMA foreign_keys = ON")
        if not self._ready:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
            self._ready = True
        return db

    def _run(self, fn):
        """`fn(db)` in one transaction on a fresh connection."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            out = fn(db)
            db.execute("COMMIT")
            return out
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # ------------------------------------------------------------------ classes
    def add_class(self, code: str, secret: str, hours: float) -> bool:
        """Store a new class; False if `code` is taken by a live class. Ended classes go first."""
        now = time.time()

        def add(db):
            db.execute("DELETE FROM classes WHERE ends <= ?", (now - KEPT_AFTER,))
            db.execute("DELETE FROM runs WHERE code IN (SELECT code FROM classes WHERE ends <= ?)",
                       (now,))
            try:
                db.execute("INSERT INTO classes (code, secret_hash, created, ends) VALUES (?, ?, ?, ?)",
                           (code, secret_hash(secret), now, now + hours * 3600))
            except sqlite3.IntegrityError:
                return False
            return True
        return self._run(add)

    def live_classes(self) -> int:
        return self._run(lambda db: db.execute("SELECT COUNT(*) FROM classes WHERE ends > ?",
                                               (time.time(),)).fetchone()[0])

    def exists(self, code: str) -> bool:
        return self.status(code) == "on"

    def status(self, code: str) -> str | None:
        """"on" for a live class, "ended" for one that ended (kept KEPT_AFTER), else None."""
        row = self._run(lambda db: db.execute(
            "SELECT ends FROM classes WHERE code = ?", (code,)).fetchone())
        return None if row is None else "on" if row[0] > time.time() else "ended"

    def teacher_hash(self, code: str) -> str | None:
        """The hash of class `code`'s teacher secret, or None when there is no such live class."""
        row = self._run(lambda db: db.execute(
            "SELECT secret_hash FROM classes WHERE code = ? AND ends > ?", (code, time.time())).fetchone())
        return row[0] if row else None

    def ends(self, code: str) -> float | None:
        row = self._run(lambda db: db.execute(
            "SELECT ends FROM classes WHERE code = ? AND ends > ?", (code, time.time())).fetchone())
        return row[0] if row else None

    def state(self, code: str) -> ClassState | None:
        """Where class `code` is (None once it has ended or never was)."""
        row = self._run(lambda db: db.execute(
            "SELECT step, step_version, board_version FROM classes WHERE code = ? AND ends > ?",
            (code, time.time())).fetchone())
        return ClassState(*row) if row else None

    def move(self, code: str, step: str) -> int:
        """Send class `code` to `step` (a tab's id); returns the new step version."""
        def move(db):
            db.execute("UPDATE classes SET step = ?, step_version = step_version + 1 WHERE code = ?",
                       (step, code))
            return db.execute("SELECT step_version FROM classes WHERE code = ?", (code,)).fetchone()[0]
        return self._run(move)

    # ------------------------------------------------------------------ the board
    def add_run(self, code: str, nickname: str, model: str, dataset: str, settings: str,
                accuracy: float, seconds: float) -> None:
        """A finished run on class `code`'s board (past MAX_RUNS, its worst runs go)."""
        def add(db):
            db.execute("INSERT INTO runs (code, nickname, model, dataset, settings, accuracy, "
                       "seconds, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (code, nickname, model, dataset, settings, float(accuracy), float(seconds),
                        time.time()))
            db.execute("DELETE FROM runs WHERE code = ? AND id NOT IN (SELECT id FROM runs WHERE "
                       "code = ? ORDER BY accuracy DESC, id LIMIT ?) AND id != last_insert_rowid()",
                       (code, code, MAX_RUNS))
            self._changed(db, code)
        self._run(add)

    def board(self, code: str, limit: int = 100) -> list[BoardRun]:
        """Class `code`'s shown runs, best test accuracy first (then the faster, then the older)."""
        rows = self._run(lambda db: db.execute(
            "SELECT id, nickname, model, dataset, settings, accuracy, seconds, finished FROM runs "
            "WHERE code = ? AND hidden = 0 ORDER BY accuracy DESC, seconds, id LIMIT ?",
            (code, int(limit))).fetchall())
        return [BoardRun(*row) for row in rows]

    def nicknames(self, code: str) -> list[str]:
        """The nicknames on class `code`'s board, shown or hidden, alphabetically."""
        rows = self._run(lambda db: db.execute(
            "SELECT DISTINCT nickname FROM runs WHERE code = ? ORDER BY nickname COLLATE NOCASE",
            (code,)).fetchall())
        return [row[0] for row in rows]

    def hide(self, code: str, nickname: str) -> int:
        """Hide `nickname`'s runs from class `code`'s board; returns how many."""
        def hide(db):
            n = db.execute("UPDATE runs SET hidden = 1 WHERE code = ? AND nickname = ?",
                           (code, nickname)).rowcount
            self._changed(db, code)
            return n
        return self._run(hide)

    def clear(self, code: str) -> int:
        """Empty class `code`'s board; returns how many runs went."""
        def clear(db):
            n = db.execute("DELETE FROM runs WHERE code = ?", (code,)).rowcount
            self._changed(db, code)
            return n
        return self._run(clear)

    @staticmethod
    def _changed(db, code: str) -> None:
        db.execute("UPDATE classes SET board_version = board_version + 1 WHERE code = ?", (code,))
