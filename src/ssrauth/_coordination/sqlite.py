"""The shared coordinator on one machine: a SQLite file every worker process opens.

One table of marks (lease, result, tombstone, superseded), each row keyed by (kind, digest) with
an expiry on the coordinator's clock. Writes run in ``BEGIN IMMEDIATE`` transactions, so a claim
or a settle is one atomic step across processes; WAL mode lets readers (the per-request
tombstone check) go on while a writer works; the busy timeout bounds how long a write waits for
the lock before the store counts as unavailable. Every write also purges a few expired rows.
Each sign-out is also appended to a log numbered in write order (``ssrauth_revocations``), the
feed every process follows to answer "signed out?" from memory (writes are serialised by
``BEGIN IMMEDIATE``, so sequence order is commit order and a reader never skips one).
Connections are per thread and per process (a forked worker opens its own); ``close`` closes
every one this process opened, from whichever thread shuts down.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Unpack

from .._core.clock import Clock
from .shared import SharedCoordinator, SharedOptions
from .store import (
    Answer,
    Claim,
    Claimed,
    IsMarked,
    Mark,
    Op,
    Release,
    Renew,
    Revocations,
    Revoke,
    RevokedSince,
    Settle,
    StoreUnavailable,
)

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SqliteCoordinator", "SqliteStore"]

#: How long a write waits for another process's transaction (each holds it for microseconds).
DEFAULT_BUSY_TIMEOUT = 2.0
#: Expired rows a write purges, so the table stays the size of the live marks without a sweeper.
_PURGE_BATCH = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ssrauth_marks (
    kind TEXT NOT NULL,     -- lease, result, tombstone, superseded
    key BLOB NOT NULL,      -- SHA-256 of the refresh token
    expires REAL NOT NULL,  -- on the coordinator's clock
    owner TEXT,             -- lease: who holds it
    has_tokens INTEGER,     -- result: tokens (1) or the provider's "no" (0)
    sealed BLOB,            -- result: the outcome, encrypted
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ssrauth_marks_expires ON ssrauth_marks (expires);
CREATE TABLE IF NOT EXISTS ssrauth_revocations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- write order, never reused
    key BLOB NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ssrauth_revocations_expires ON ssrauth_revocations (expires);
"""


class SqliteStore:
    def __init__(self, path: str | os.PathLike[str], *,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self._connections = threading.local()
        #: Every connection this process opened (the thread-locals cannot be listed), to close.
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._pid = os.getpid()
        #: Bumped by ``close``: a thread's connection from before is closed, not reused.
        self._generation = 0

    def run(self, op: Op) -> Answer:
        try:
            return _answer(self._connection(), op)
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable(f"SQLite store {self.path}: {error}") from None

    async def arun(self, op: Op) -> Answer:
        return await asyncio.to_thread(self.run, op)

    def close(self) -> None:
        """Close this process's connections (at shutdown: a request still using one would
        fail, and a later operation opens a new one). A forked child leaves its parent's."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._generation += 1
            mine = self._pid == os.getpid()
        for db in opened if mine else ():
            db.close()

    async def aclose(self) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        opened: tuple[int, int, sqlite3.Connection] | None = getattr(
            self._connections, "opened", None)
        if opened is not None and opened[:2] == (os.getpid(), self._generation):
            return opened[2]
        # Used by this thread only; closed by whichever thread closes the store.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                             check_same_thread=False)
        try:
            # The journal mode is kept in the file: switching needs the database to itself,
            # and SQLite answers "database is locked" at once (no busy wait) while another
            # worker has it open, so only the first opener of a new file switches.
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        with self._opened_lock:
            self._connections.opened = (os.getpid(), self._generation, db)
            if self._pid != os.getpid():  # a forked worker: its parent's are not ours
                self._pid, self._opened = os.getpid(), []
            self._opened.append(db)
        return db


class SqliteCoordinator(SharedCoordinator):
    """Refresh coordination for the worker processes of one machine, through a SQLite file.

    Give every worker the same ``path``; its directory must be writable (WAL files live beside
    it). Options are :class:`SharedCoordinator`'s.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        **options: Unpack[SharedOptions],
    ) -> None:
        super().__init__(SqliteStore(path, busy_timeout=busy_timeout), clock=clock, **options)


def _answer(db: sqlite3.Connection, op: Op) -> Answer:
    match op:
        case IsMarked(mark, key, now):
            return _marked(db, mark.value, key, now)
        case Claim(key, owner, now, lease_until):
            with _writing(db, now):
                if _marked(db, Mark.TOMBSTONE.value, key, now):
                    return Claimed.REVOKED
                stored = _result(db, key, now)
                if stored is not None:
                    return stored[1]
                taken = db.execute(
                    "INSERT INTO ssrauth_marks (kind, key, expires, owner)"
                    " VALUES ('lease', ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE"
                    " SET expires = excluded.expires, owner = excluded.owner"
                    " WHERE ssrauth_marks.expires <= ?",
                    (key, lease_until, owner, now),
                ).rowcount
                return Claimed.LEADER if taken == 1 else Claimed.BUSY
        case Settle(key, owner, now, sealed, has_tokens, until, superseded_until):
            with _writing(db, now):
                _release(db, key, owner)
                if _marked(db, Mark.TOMBSTONE.value, key, now):
                    return Claimed.REVOKED
                stored = _result(db, key, now)
                if stored is not None and (stored[0] or not has_tokens):
                    return stored[1]
                db.execute("INSERT OR REPLACE INTO ssrauth_marks (kind, key, expires, has_tokens,"
                           " sealed) VALUES ('result', ?, ?, ?, ?)",
                           (key, until, int(has_tokens), sealed))
                if superseded_until is not None:
                    _mark(db, Mark.SUPERSEDED.value, key, superseded_until)
                return sealed
        case Release(key, owner):
            with _writing(db, None):
                _release(db, key, owner)
            return None
        case Renew(key, owner, _, lease_until):
            with _writing(db, None):
                db.execute("UPDATE ssrauth_marks SET expires = ? WHERE kind = 'lease'"
                           " AND key = ? AND owner = ?", (lease_until, key, owner))
            return None
        case Revoke(key, now, until):
            with _writing(db, now):
                db.execute("DELETE FROM ssrauth_marks WHERE kind = 'result' AND key = ?", (key,))
                _mark(db, Mark.TOMBSTONE.value, key, until)
                db.execute("INSERT INTO ssrauth_revocations (key, expires) VALUES (?, ?)",
                           (key, until))
            return None
        case RevokedSince(cursor, now, _, limit):
            # No waiting: a read is a few microseconds, the follower paces itself.
            rows = db.execute("SELECT seq, key, expires FROM ssrauth_revocations WHERE seq > ?"
                              " ORDER BY seq LIMIT ?", (int(cursor or 0), limit)).fetchall()
            return Revocations(tuple((bytes(key), until) for _, key, until in rows if until > now),
                               str(rows[-1][0]) if rows else cursor, len(rows) < limit)


@contextmanager
def _writing(db: sqlite3.Connection, now: float | None) -> Iterator[None]:
    """One write transaction, taken up front (no upgrade deadlock between two readers); with a
    ``now``, a few expired rows go with it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        if now is not None:
            db.execute("DELETE FROM ssrauth_marks WHERE (kind, key) IN (SELECT kind, key FROM"
                       " ssrauth_marks WHERE expires <= ? LIMIT ?)", (now, _PURGE_BATCH))
            db.execute("DELETE FROM ssrauth_revocations WHERE seq IN (SELECT seq FROM"
                       " ssrauth_revocations WHERE expires <= ? LIMIT ?)", (now, _PURGE_BATCH))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _marked(db: sqlite3.Connection, kind: str, key: bytes, now: float) -> bool:
    row = db.execute("SELECT 1 FROM ssrauth_marks WHERE kind = ? AND key = ? AND expires > ?",
                     (kind, key, now)).fetchone()
    return row is not None


def _mark(db: sqlite3.Connection, kind: str, key: bytes, until: float) -> None:
    db.execute("INSERT OR REPLACE INTO ssrauth_marks (kind, key, expires) VALUES (?, ?, ?)",
               (kind, key, until))


def _result(db: sqlite3.Connection, key: bytes, now: float) -> tuple[bool, bytes] | None:
    row = db.execute("SELECT has_tokens, sealed FROM ssrauth_marks WHERE kind = 'result'"
                     " AND key = ? AND expires > ?", (key, now)).fetchone()
    return None if row is None else (bool(row[0]), bytes(row[1]))


def _release(db: sqlite3.Connection, key: bytes, owner: str) -> None:
    db.execute("DELETE FROM ssrauth_marks WHERE kind = 'lease' AND key = ? AND owner = ?",
               (key, owner))
