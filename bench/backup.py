"""Backup benchmark: our archive (snapshot + manifest + checksums) vs plain ``tar czf``.

Run: ``.venv/bin/python bench/backup.py``. It builds a box in a temporary folder
(500 users, a CDR table of 20,000 rows, 40 MB of voicemail-like incompressible
files in 200 messages), then times, 3 runs each, median printed:
- anchor: GNU ``tar czf`` of the same database file and areas (no snapshot, no checksums);
- ``create_backup`` (SQLite online backup + gzip'd tar + sha256 manifest);
- ``verify_backup`` (one full read and hash);
- ``restore_backup`` (verify, extract with hashing, migrate, table copy, area swap).
Ratios are against the anchor measured in the same run. Timings are information,
never test assertions.
"""

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wpbxd.config import users  # noqa: E402
from wpbxd.config.defaults import apply_factory_defaults  # noqa: E402
from wpbxd.config.store import Store  # noqa: E402
from wpbxd.hw import areas  # noqa: E402
from wpbxd.services import backup  # noqa: E402

RUNS = 3
MESSAGES = 200
MESSAGE_BYTES = 200 * 1024
USERS = 500
CDR_ROWS = 20_000


def build(root: Path) -> Store:
    store = Store(root / "wpbx.db")
    store.migrate()
    apply_factory_defaults(store)
    csv = io.StringIO()
    csv.write("extension,name,sip_password\n")
    for i in range(USERS):
        csv.write(f"{1000 + i},User {i},G00d!pass{i}\n")
    users.import_csv(store, None, csv.getvalue())
    with store.transaction():
        store.executemany(
            "INSERT INTO cdr(start_time, end_time, duration, billsec, caller_number, callee_number, disposition)"
            " VALUES (?, ?, 10, 8, ?, ?, 'ANSWERED')",
            [(i, i + 10, str(1000 + i % USERS), str(1000 + (i * 7) % USERS)) for i in range(CDR_ROWS)])
    areas.ensure_areas(root)
    for i in range(MESSAGES):
        folder = areas.area_path(root, "voicemail") / str(1000 + i % USERS) / "INBOX"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"msg{i:04d}.wav").write_bytes(os.urandom(MESSAGE_BYTES))
    return store


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pbx"
        root.mkdir()
        store = build(root)
        out = Path(tmp) / "out"
        out.mkdir()
        size = sum(p.stat().st_size for p in areas.internal_root(root).rglob("*") if p.is_file())
        print(f"box: {USERS} users, {CDR_ROWS} CDR rows, {MESSAGES} messages, {size / 1e6:.1f} MB of data files")

        def anchor() -> None:
            subprocess.run(["tar", "czf", str(out / "anchor.tar.gz"), "-C", str(root), "wpbx.db",
                            "internal"], check=True)

        results: dict[str, list[float]] = {"tar czf (anchor)": [], "create": [], "verify": [], "restore": []}
        for _ in range(RUNS):
            results["tar czf (anchor)"].append(timed(anchor))
            info = None

            def create() -> None:
                nonlocal info
                info = backup.create_backup(store, root, out)

            results["create"].append(timed(create))
            archive = Path(info.path)
            results["verify"].append(timed(lambda a=archive: backup.verify_backup(a, store.schema_version())))
            results["restore"].append(timed(lambda a=archive: backup.restore_backup(store, None, root, a)))
            archive.unlink()
        base = statistics.median(results["tar czf (anchor)"])
        for name, values in results.items():
            median = statistics.median(values)
            print(f"{name:18s} median {median:6.2f} s   ratio to anchor {median / base:5.2f}")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
