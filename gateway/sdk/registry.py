"""A simulator's registration book: what it registered, in an embedded SQLite database, as a national system keeps it.

One row per idempotency key (declarant, LRN, function code, content digest, the customs reference, the answer
given, how many times it was registered and replayed) and the number series (registration, assessment...) in
the same file, so a restarted simulator replays, counts and numbers on. Each registration is one small
transaction (WAL journal): the cost of a write does not grow with the book. Answers are stored compressed.

The book also holds the rule customs systems apply to the trader's reference: an LRN is unique per declarant.
A second original (function code 9) under a (declarant, LRN) already registered with other content is refused
(:meth:`RegistrationBook.conflict`); amendments and cancellations (13) under a registered LRN are not::

    book = RegistrationBook(path)                  # None: in memory
    earlier = book.replay(key)                     # a redelivery: its first answer, counted as a replay
    if earlier is None:
        taken = book.conflict(declarant, lrn, function_code, digest)
        if taken is not None:
            ...                                    # refuse: the reference is taken (taken.reference)
        book.register(key, declarant=..., lrn=..., function_code=..., digest=digest, reference=..., answer=body)
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ORIGINAL", "Registered", "RegistrationBook", "content_digest"]

ORIGINAL = "9"
"""The function code of an original declaration (13 is an amendment or cancellation)."""
_APPLICATION_ID = 0x4F434F53  # "OCOS": marks the file as a simulator's book
_SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    id INTEGER PRIMARY KEY,
    key TEXT UNIQUE,
    declarant TEXT NOT NULL,
    lrn TEXT NOT NULL,
    function_code TEXT NOT NULL,
    digest TEXT NOT NULL,
    reference TEXT NOT NULL,
    answer BLOB NOT NULL,
    registrations INTEGER NOT NULL DEFAULT 1,
    replays INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS originals ON registrations (declarant, lrn) WHERE function_code = '9';
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_COLUMNS = "key, declarant, lrn, function_code, digest, reference, answer, registrations, replays"


def content_digest(document: bytes) -> str:
    """Return the digest under which the book compares two declarations' content (SHA-256, hex).

    Args:
        document: the declaration as received.
    """
    return hashlib.sha256(document).hexdigest()


@dataclass(frozen=True, slots=True)
class Registered:
    """One registration as the book holds it.

    Attributes:
        key: the idempotency key (None: registered without one).
        declarant: the declarant's id in the document.
        lrn: the trader's reference.
        function_code: 9 original, 13 amendment or cancellation.
        digest: :func:`content_digest` of the document.
        reference: the customs reference the system gave it.
        answer: the answer sent, replayed on redelivery.
        registrations: how many times the key was registered (1).
        replays: how many redeliveries got the answer again.
    """

    key: str | None
    declarant: str
    lrn: str
    function_code: str
    digest: str
    reference: str
    answer: bytes
    registrations: int = 1
    replays: int = 0


class RegistrationBook:
    """The registrations and number series of one simulated system, in a SQLite file (or in memory).

    Safe to share between threads (one connection, behind a lock); each method is one transaction.

    Args:
        path: the database file, created when missing; None keeps the book in memory.

    Raises:
        ValueError: ``path`` exists but is not a registration book (an old JSON state file, another
            database...); the message names the file.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", check_same_thread=False,
                                       isolation_level=None)
        except sqlite3.Error as exc:
            raise ValueError(f"{self.path} cannot be opened as a registration book: {exc}") from exc
        try:
            self._open()
        except sqlite3.DatabaseError as exc:  # "file is not a database": JSON, text, anything else
            self._db.close()
            raise ValueError(f"{self.path} is not a simulator registration book (SQLite): {exc}; an old JSON "
                             "state file cannot be read, start with a new file") from exc
        except ValueError:
            self._db.close()
            raise

    def _open(self) -> None:
        db = self._db
        application = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application != _APPLICATION_ID and tables:
            raise ValueError(f"{self.path} is a SQLite database of something else (application id "
                             f"{application:#x}), not a simulator registration book")
        if self.path is not None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; a simulator, not a ledger
        db.executescript(f"PRAGMA application_id={_APPLICATION_ID};{_SCHEMA}")

    def replay(self, key: str) -> Registered | None:
        """Return the registration of ``key``, counting this redelivery as a replay; None when unknown.

        Args:
            key: an idempotency key.
        """
        with self._lock:
            self._db.execute("UPDATE registrations SET replays = replays + 1 WHERE key = ?", (key,))
            return self._one("key = ?", (key,))

    def get(self, key: str) -> Registered | None:
        """Return the registration of ``key`` without counting anything; None when unknown.

        Args:
            key: an idempotency key.
        """
        with self._lock:
            return self._one("key = ?", (key,))

    def conflict(self, declarant: str, lrn: str, function_code: str, digest: str) -> Registered | None:
        """Return the original that makes this declaration a duplicate reference, or None when it may be registered.

        An original (function code 9) is refused when an original with other content is registered under the
        same declarant and LRN; an amendment or cancellation never is.

        Args:
            declarant: the declarant's id in the document.
            lrn: the trader's reference.
            function_code: of the declaration now arriving.
            digest: :func:`content_digest` of its document.
        """
        if function_code != ORIGINAL:
            return None
        with self._lock:
            return self._one("declarant = ? AND lrn = ? AND function_code = ? AND digest != ?",
                             (declarant, lrn, ORIGINAL, digest))

    def register(self, key: str | None, *, declarant: str, lrn: str, function_code: str, digest: str,
                 reference: str, answer: bytes) -> Registered:
        """Record a registration (one row, one transaction) and return it.

        Args:
            key: the idempotency key; None registers without one (nothing to replay).
            declarant: the declarant's id in the document.
            lrn: the trader's reference.
            function_code: 9 original, 13 amendment or cancellation.
            digest: :func:`content_digest` of the document.
            reference: the customs reference given.
            answer: the answer sent.

        Raises:
            ValueError: ``key`` is already registered (replay it instead).
        """
        with self._lock:
            try:
                self._db.execute(f"INSERT INTO registrations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0)",
                                 (key, declarant, lrn, function_code, digest, reference, zlib.compress(answer)))
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"idempotency key {key!r} is already registered") from exc
        return Registered(key, declarant, lrn, function_code, digest, reference, answer)

    def count(self, key: str) -> int:
        """Return how many times ``key`` was registered: 0 or 1 (what ``/control/registrations?key=`` shows).

        Args:
            key: an idempotency key.
        """
        with self._lock:
            row = self._db.execute("SELECT registrations FROM registrations WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def next_number(self, series: str) -> int:
        """Return the next number of a series (1, 2...), kept in the book so it survives a restart.

        Args:
            series: the series' name (``registration:2026``...).
        """
        with self._lock:
            row = self._db.execute("INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) "
                                   "DO UPDATE SET value = value + 1 RETURNING value", (series,)).fetchone()
        return int(row[0])

    def bump(self, series: str) -> None:
        """Count one event in a series without using the number (refusals...).

        Args:
            series: the series' name (``refused:duplicate-lrn``...).
        """
        self.next_number(series)

    def counters(self) -> dict[str, int]:
        """Return every series' last number, by name."""
        with self._lock:
            return {name: int(value) for name, value in self._db.execute("SELECT name, value FROM counters "
                                                                         "ORDER BY name")}

    def totals(self) -> dict[str, Any]:
        """Return what ``GET /control/registrations`` without a key shows: keys, registrations, replays, counters."""
        with self._lock:
            keys, total, replays = self._db.execute(
                "SELECT count(key), coalesce(sum(registrations), 0), coalesce(sum(replays), 0) "
                "FROM registrations").fetchone()
        return {"keys": int(keys), "total": int(total), "replays": int(replays), "counters": self.counters()}

    def close(self) -> None:
        """Close the database (the WAL is checkpointed into the file)."""
        with self._lock:
            self._db.close()

    def _one(self, where: str, parameters: tuple[Any, ...]) -> Registered | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM registrations WHERE {where} ORDER BY id LIMIT 1",
                               parameters).fetchone()
        if row is None:
            return None
        key, declarant, lrn, function_code, digest, reference, answer, registrations, replays = row
        return Registered(key, declarant, lrn, function_code, digest, reference, zlib.decompress(answer),
                          int(registrations), int(replays))
