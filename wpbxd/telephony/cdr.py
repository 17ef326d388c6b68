"""Call detail records: one row of ``cdr`` per call (start, answer, end, who, how it ended).

Responsible for turning a finished call into a ``CdrRecord`` row and listing
records. Rows are queued and written in batches (``flush``, called about once a
second by the SIP service and at stop), so a burst of calls costs one
transaction, not one per call.

It must not know about SIP: the call engine hands it plain values.
"""

from dataclasses import asdict, dataclass

from wpbxd.config.store import Store

DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100000


@dataclass(frozen=True)
class CdrRecord:
    start_time: float
    answer_time: float | None
    end_time: float
    caller_number: str
    caller_name: str
    callee_number: str
    callee_name: str
    disposition: str
    hangup_cause: str
    hangup_side: str
    codec: str
    caller_call_id: str
    callee_call_id: str
    trunk: str = ""                  # the trunk the call used (migration 0600), if any
    cost: float | None = None        # from the trunk's price list, when it has one

    @property
    def duration(self) -> int:
        return max(0, round(self.end_time - self.start_time))

    @property
    def billsec(self) -> int:
        if self.answer_time is None:
            return 0
        return max(0, round(self.end_time - self.answer_time))


class CdrWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[CdrRecord] = []
        self.written = 0

    def add(self, record: CdrRecord) -> None:
        if record.disposition not in DISPOSITIONS:
            raise ValueError(f"unknown disposition {record.disposition!r}")
        self._queue.append(record)

    def take(self) -> list[CdrRecord]:
        batch, self._queue = self._queue, []
        return batch

    def flush(self) -> int:
        return self.write(self.take())

    def write(self, batch: list[CdrRecord]) -> int:
        """Insert ``batch`` in one transaction (safe from a worker thread)."""
        if not batch:
            return 0
        rows = [(r.start_time, r.answer_time, r.end_time, r.duration, r.billsec, r.caller_number,
                 r.caller_name, r.callee_number, r.callee_name, r.disposition, r.hangup_cause,
                 r.hangup_side, r.codec, r.caller_call_id, r.callee_call_id, r.trunk, r.cost) for r in batch]
        with self.store.transaction():
            self.store.executemany(
                "INSERT INTO cdr(start_time, answer_time, end_time, duration, billsec, caller_number,"
                " caller_name, callee_number, callee_name, disposition, hangup_cause, hangup_side, codec,"
                " caller_call_id, callee_call_id, trunk, cost)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.written += len(rows)
        return len(rows)


def list_cdr(store: Store, limit: int = DEFAULT_LIMIT) -> list[dict]:
    """The newest records first."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    rows = store.all("SELECT * FROM cdr ORDER BY id DESC LIMIT ?", (limit,))
    return [dict(r) for r in rows]


def record_dict(record: CdrRecord) -> dict:
    return {**asdict(record), "duration": record.duration, "billsec": record.billsec}
