"""Web UI page weight and server time with 1,000 users and 10,000 CDRs (issue 5).

Builds a data directory (users imported through ``users.import_csv``, call
records written straight into the ``cdr`` table), starts a real wpbxd on
loopback, signs in over HTTPS and times each main page with keep-alive requests.
The anchor is a static file (``/static/style.css``) served by the same cheroot
server in the same run: "server time" is a page's median minus the anchor's,
and the ratio page / anchor is printed too. Page weight is the uncompressed
body; a page must pull nothing from another origin.

Targets (issue 5): every page < 100 KB, no external resources, < 50 ms per page.
Run: .venv/bin/python bench/web.py
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from tests.daemon_runner import Wpbxd, free_port, free_rtp_range  # noqa: E402
from wpbxd.config import users  # noqa: E402
from wpbxd.config.defaults import apply_factory_defaults  # noqa: E402
from wpbxd.config.store import Store  # noqa: E402

USERS = 1_000
CDRS = 10_000
REPEATS = 40  # requests per page
WARMUP = 3
PASSWORD = "Bench!mark9"
WEIGHT_LIMIT = 100 * 1024  # bytes
TIME_TARGET = 0.050  # seconds
EXTERNAL = re.compile(r'(?:src|href|action)\s*=\s*"(?:https?:)?//', re.I)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SURNAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]


def build(data: Path) -> None:
    store = Store(data / "wpbx.db")
    store.migrate()
    apply_factory_defaults(store)
    users.set_passwords(store, None, "admin", web_password=PASSWORD)
    rows = ["name,extension,email,department"]
    for i in range(USERS):
        rows.append(f"User {SURNAMES[i % len(SURNAMES)]} {i},{1000 + i},u{i}@example.com,Dept {i % 12}")
    users.import_csv(store, None, "\n".join(rows) + "\n")
    rng = random.Random(5)
    now = time.time()
    cdrs = []
    for _ in range(CDRS):
        start = now - rng.uniform(0, 7 * 86400)
        answered = rng.random() < 0.7
        duration = rng.randint(5, 600)
        cdrs.append((start, start + 3 if answered else None, start + duration, duration,
                     duration - 3 if answered else 0, str(1000 + rng.randrange(USERS)),
                     str(1000 + rng.randrange(USERS)), "ANSWERED" if answered else "NO ANSWER"))
    with store.transaction():
        store.executemany(
            "INSERT INTO cdr(start_time, answer_time, end_time, duration, billsec, caller_number,"
            " callee_number, disposition) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", cdrs)
    store.close()


def timed(s: requests.Session, url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    r = s.get(url, allow_redirects=False, timeout=30)
    elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"{url}: HTTP {r.status_code}")
    return elapsed, r.content


def report(results: dict, width: int = 42) -> int:
    """Print each page against the static-file anchor; 1 when a page misses a target."""
    anchor = results["/static/style.css"][0]
    print(f"anchor: /static/style.css median {anchor * 1000:.2f} ms over {REPEATS} requests "
          "(same cheroot server, HTTPS keep-alive)")
    print(f"{'page':{width}} {'median ms':>10} {'server ms':>10} {'x anchor':>9} {'KB':>7}  ok")
    failed = False
    for path, (median, size, body) in results.items():
        if path.startswith("/static/"):
            continue
        server = median - anchor
        external = bool(EXTERNAL.search(body.decode("utf-8", "replace")))
        ok = size < WEIGHT_LIMIT and not external and server < TIME_TARGET
        failed |= not ok
        print(f"{path:{width}} {median * 1000:10.2f} {server * 1000:10.2f} {median / anchor:9.2f}"
              f" {size / 1024:7.1f}  {'yes' if ok else 'NO'}{' (external resource!)' if external else ''}")
    print(f"targets: < {WEIGHT_LIMIT // 1024} KB, no external resources, server time < {TIME_TARGET * 1000:.0f} ms")
    return 1 if failed else 0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pbx"
        data.mkdir()
        t0 = time.perf_counter()
        build(data)
        print(f"data: {USERS} users, {CDRS} CDRs built in {time.perf_counter() - t0:.1f} s")
        daemon = Wpbxd(data_dir=data, sip_port=free_port(), web_port=free_port(), rtp=free_rtp_range())
        daemon.start()
        try:
            base = f"https://127.0.0.1:{daemon.web_port}"
            s = requests.Session()
            s.trust_env = False
            s.verify = str(data / "web-cert.pem")
            token = CSRF.search(s.get(base + "/login").text).group(1)
            r = s.post(base + "/login", data={"login": "admin", "password": PASSWORD, "csrf": token},
                       allow_redirects=False)
            assert r.status_code == 303, r.text[:300]
            pages = ["/static/style.css", "/users", "/users?page=7", "/users?q=Dubois", "/users/new",
                     "/info", "/calls", "/calls?disposition=ANSWERED&user=1010", "/settings/pbx"]
            help_ = daemon.call("help")
            if "dialplan.trace" in help_:
                pages += ["/dialplan", "/dialplan/p/pbxinternal", "/dialplan/trace?from=1001&to=1002"]
            if "dhcp.device.list" in help_:
                pages.append("/devices")
            if "calls.list" in help_:
                pages.append("/debug")
            results = {}
            for path in pages:
                for _ in range(WARMUP):
                    timed(s, base + path)
                times, body = [], b""
                for _ in range(REPEATS):
                    elapsed, body = timed(s, base + path)
                    times.append(elapsed)
                results[path] = (statistics.median(times), len(body), body)
        finally:
            daemon.stop()
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
