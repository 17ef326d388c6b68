"""CDR backends beyond the SQLite default: a CSV file and a MySQL/MariaDB table.

A backend receives batches of CDR rows (dicts with the ``cdr`` table's columns,
``id`` included) in ``deliver`` and must either store all of them or raise
``BackendError`` with a message an admin understands ("the server refused the
password"). Delivering a row twice must not duplicate it: the MySQL table keys
on the PBX's record id (``INSERT IGNORE``), the CSV file resumes after the last
id it holds. ``stats`` reads totals back (the statistics source).

Rule: these calls block (file and network I/O); they run in an executor, never
on the event loop. They know nothing of SIP or of the delivery schedule.
``pymysql`` is imported by the MySQL backend's methods only, so a daemon without
that backend never loads it.
"""

import csv
import os
import re
from pathlib import Path
from typing import Any

COLUMNS = ("id", "start_time", "answer_time", "end_time", "duration", "billsec", "caller_number", "caller_name",
           "callee_number", "callee_name", "disposition", "hangup_cause", "hangup_side", "codec",
           "caller_call_id", "callee_call_id", "cost", "trunk")
CONNECT_TIMEOUT = 5          # seconds
IDENT_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
MYSQL_ACCESS_DENIED = 1045
MYSQL_UNKNOWN_DATABASE = 1049
MYSQL_CONNECTION_LOST = (2006, 2013)   # server has gone away, lost connection during query
MYSQL_TYPES = {
    "id": "BIGINT NOT NULL PRIMARY KEY", "start_time": "DOUBLE NOT NULL", "answer_time": "DOUBLE NULL",
    "end_time": "DOUBLE NOT NULL", "duration": "INT NOT NULL", "billsec": "INT NOT NULL",
    "caller_number": "VARCHAR(128) NOT NULL", "caller_name": "VARCHAR(128) NOT NULL",
    "callee_number": "VARCHAR(128) NOT NULL", "callee_name": "VARCHAR(128) NOT NULL",
    "disposition": "VARCHAR(16) NOT NULL", "hangup_cause": "VARCHAR(128) NOT NULL",
    "hangup_side": "VARCHAR(16) NOT NULL", "codec": "VARCHAR(32) NOT NULL",
    "caller_call_id": "VARCHAR(255) NOT NULL", "callee_call_id": "VARCHAR(255) NOT NULL",
    "cost": "DOUBLE NULL", "trunk": "VARCHAR(64) NOT NULL",
}


class BackendError(Exception):
    """The backend could not take the records; the message says why."""


def _row(record: dict[str, Any]) -> list[Any]:
    return [record.get(c) if record.get(c) is not None else ("" if MYSQL_TYPES[c].endswith("NOT NULL")
                                                             and "VARCHAR" in MYSQL_TYPES[c] else None)
            for c in COLUMNS]


class CsvBackend:
    name = "csv"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.status = "not written yet"
        self._last: int | None = None

    def last_id(self) -> int:
        """The highest record id already in the file (0 when none); read once, then kept."""
        if self._last is not None and self.path.exists():
            return self._last
        if not self.path.exists():
            return 0
        last = 0
        with self.path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                if row and row[0].isdigit():
                    last = max(last, int(row[0]))
        self._last = last
        return last

    def prepare(self) -> str:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                with self.path.open("w", newline="", encoding="utf-8") as f:
                    csv.writer(f).writerow(COLUMNS)
                return f"file {self.path} created"
        except OSError as err:
            raise BackendError(f"cannot write {self.path}: {err.strerror}") from None
        return f"appending to {self.path}"

    def deliver(self, records: list[dict[str, Any]]) -> int:
        already = self.last_id()
        fresh = [r for r in records if int(r["id"]) > already]
        if not fresh:
            return 0
        try:
            with self.path.open("a", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                for record in fresh:
                    writer.writerow(["" if v is None else v for v in (record.get(c) for c in COLUMNS)])
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            self._last = None              # a partial write: read the file again next time
            raise BackendError(f"cannot write {self.path}: {err.strerror}") from None
        self._last = int(fresh[-1]["id"])
        return len(fresh)

    def stats(self) -> dict[str, Any]:
        count = answered = billsec = 0
        cost = 0.0
        if self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    count += 1
                    answered += row["disposition"] == "ANSWERED"
                    billsec += int(row["billsec"] or 0)
                    cost += float(row["cost"] or 0)
        return {"calls": count, "answered": answered, "billsec": billsec, "cost": round(cost, 6)}

    def close(self) -> None:
        pass


class MysqlBackend:
    name = "mysql"

    def __init__(self, host: str = "127.0.0.1", port: int = 3306, database: str = "", table: str = "cdr",
                 user: str = "", password: str = "", socket: str = "") -> None:
        if not IDENT_RE.match(table or ""):
            raise BackendError(f"table name {table!r}: letters, digits and '_' only")
        self.options = {"host": host, "port": int(port), "database": database, "user": user,
                        "password": password, "unix_socket": socket or None}
        self.table = table
        self._conn: Any = None
        self.status = "not connected"

    def _connect(self) -> Any:
        import pymysql
        if self._conn is not None:
            return self._conn
        o = self.options
        try:
            self._conn = pymysql.connect(host=o["host"], port=o["port"], user=o["user"], password=o["password"],
                                         database=o["database"], unix_socket=o["unix_socket"],
                                         connect_timeout=CONNECT_TIMEOUT, read_timeout=CONNECT_TIMEOUT * 2,
                                         write_timeout=CONNECT_TIMEOUT * 2, autocommit=False, charset="utf8mb4")
        except pymysql.err.OperationalError as err:
            code = err.args[0] if err.args else 0
            if code == MYSQL_ACCESS_DENIED:
                raise BackendError("the server refused the user name or password") from None
            if code == MYSQL_UNKNOWN_DATABASE:
                raise BackendError(f"the server has no database {o['database']!r}") from None
            where = o["unix_socket"] or f"{o['host']}:{o['port']}"
            raise BackendError(f"cannot connect to {where}: {err.args[-1] if err.args else err}") from None
        return self._conn

    def _fail(self, err: Exception) -> BackendError:
        import pymysql
        self.close()
        if isinstance(err, BackendError):
            return err
        if isinstance(err, pymysql.err.OperationalError) and err.args and err.args[0] in MYSQL_CONNECTION_LOST:
            return BackendError("lost the connection to the server")
        return BackendError(f"the server failed: {err.args[-1] if getattr(err, 'args', None) else err}")

    def prepare(self) -> str:
        import pymysql
        try:
            conn = self._connect()
            with conn.cursor() as cur:
                cur.execute("SHOW TABLES LIKE %s", (self.table,))
                exists = cur.fetchone() is not None
                if not exists:
                    columns = ", ".join(f"`{c}` {MYSQL_TYPES[c]}" for c in COLUMNS)
                    cur.execute(f"CREATE TABLE `{self.table}` ({columns}, KEY start_time (start_time))"
                                " DEFAULT CHARSET=utf8mb4")
            conn.commit()
        except (pymysql.MySQLError, BackendError, OSError) as err:
            raise self._fail(err) from None
        return f"table {self.table} created" if not exists else f"connected, table {self.table} exists"

    def deliver(self, records: list[dict[str, Any]]) -> int:
        import pymysql
        if not records:
            return 0
        sql = (f"INSERT IGNORE INTO `{self.table}` ({', '.join('`' + c + '`' for c in COLUMNS)})"
               f" VALUES ({', '.join(['%s'] * len(COLUMNS))})")
        try:
            conn = self._connect()
            with conn.cursor() as cur:
                cur.executemany(sql, [_row(r) for r in records])
                inserted = cur.rowcount
            conn.commit()
        except (pymysql.MySQLError, BackendError, OSError) as err:
            raise self._fail(err) from None
        return max(0, inserted)

    def stats(self) -> dict[str, Any]:
        import pymysql
        try:
            conn = self._connect()
            with conn.cursor() as cur:
                cur.execute(f"SELECT COUNT(*), COALESCE(SUM(disposition = 'ANSWERED'), 0), COALESCE(SUM(billsec), 0),"
                            f" COALESCE(SUM(cost), 0) FROM `{self.table}`")
                count, answered, billsec, cost = cur.fetchone()
            conn.commit()
        except (pymysql.MySQLError, BackendError, OSError) as err:
            raise self._fail(err) from None
        return {"calls": int(count), "answered": int(answered), "billsec": int(billsec), "cost": round(float(cost), 6)}

    def ids(self) -> list[int]:
        """Every record id in the table, in order (tests check nothing is lost or doubled)."""
        import pymysql
        try:
            conn = self._connect()
            with conn.cursor() as cur:
                cur.execute(f"SELECT id FROM `{self.table}` ORDER BY id")
                out = [int(r[0]) for r in cur.fetchall()]
            conn.commit()
        except (pymysql.MySQLError, BackendError, OSError) as err:
            raise self._fail(err) from None
        return out

    def close(self) -> None:
        import pymysql
        if self._conn is not None:
            try:
                self._conn.close()
            except (pymysql.MySQLError, OSError):
                pass
            self._conn = None
