"""The CSV CDR backend on its own: no duplicates on re-delivery, a clear error for a bad path."""

import pytest

from wpbxd.telephony.cdr_backends.backends import COLUMNS, BackendError, CsvBackend


def _record(i: int, billsec: int = 10) -> dict:
    return {"id": i, "start_time": 1000.0 + i, "answer_time": 1001.0 + i, "end_time": 1011.0 + i, "duration": 11,
            "billsec": billsec, "caller_number": "101", "caller_name": "A", "callee_number": "0612", "callee_name": "",
            "disposition": "ANSWERED", "hangup_cause": "normal", "hangup_side": "caller", "codec": "PCMA",
            "caller_call_id": f"c{i}", "callee_call_id": f"d{i}", "cost": 0.1, "trunk": "sip2"}


def test_a_batch_delivered_twice_is_written_once_even_after_a_restart(tmp_path):
    path = tmp_path / "cdr" / "cdr.csv"
    backend = CsvBackend(path)
    assert backend.prepare() == f"file {path} created"
    assert backend.deliver([_record(1), _record(2)]) == 2
    assert backend.deliver([_record(2), _record(3)]) == 1
    again = CsvBackend(path)                       # a new daemon reads where the file ends
    assert again.last_id() == 3
    assert again.deliver([_record(3), _record(4, billsec=20)]) == 1
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 5
    assert again.stats() == {"calls": 4, "answered": 4, "billsec": 50, "cost": 0.4}


def test_an_unwritable_path_is_reported(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BackendError, match="cannot write"):
        CsvBackend(tmp_path / "file" / "cdr.csv").prepare()
