"""The SQLite store: the single source of truth for everything an admin can set.

Responsibilities: open the database (WAL, foreign keys on), apply the numbered
migrations in ``migrations/`` once each, and hand out transactions. A write is one
``with store.transaction():`` block; any exception inside rolls it back, so a
rejected write leaves the previous data intact.

Migration files are ``NNNN_name.sql``. Number ranges are reserved per area so that
parts of the product can grow their schema independently:
0001–0099 core (users, dialplan, CDR), 0100–0199 SIP, 0200–0299 networking,
0300–0399 consoles/hardware/storage, 0400–0499 dialplan engine, 0500–0599 media,
0600–0699 trunks, 0700–0799 web, 0800–0899 upgrade.

This module knows nothing of users or calls: it only stores rows.
"""

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 5000


class Store:
    """One connection shared by the daemon's loop and its worker threads (serialised)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA synchronous = NORMAL")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- migrations -------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply every migration not applied yet, in order; return their names."""
        applied: list[str] = []
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
            )
            done = {r[0] for r in self._conn.execute("SELECT version FROM schema_migrations")}
            for path in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")):
                version = int(path.name[:4])
                if version in done:
                    continue
                script = path.read_text()
                # executescript commits implicitly; wrap the file in its own transaction.
                self._conn.executescript(
                    "BEGIN;\n" + script + f"\nINSERT INTO schema_migrations(version, name)"
                    f" VALUES ({version}, '{path.stem}');\nCOMMIT;"
                )
                applied.append(path.stem)
        return applied

    def schema_version(self) -> int:
        row = self.one("SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"] or 0) if row else 0

    # -- access -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """A write transaction; nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def all(self, sql: str, params: Sequence[Any] | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def backup_to(self, target: str | Path) -> None:
        """A consistent snapshot through SQLite's online backup API."""
        with self._lock:
            dest = sqlite3.connect(str(target))
            try:
                self._conn.backup(dest)
            finally:
                dest.close()
