"""Trunks-section page weight and server time (issue 5): 100 trunks, 10 trunk groups
and a 10,000-row price list, on top of ``bench/web.py``'s 1,000 users and 10,000 CDRs.

Same method as ``bench/web.py`` (imported): a real wpbxd on loopback, HTTPS
keep-alive requests, the static ``/static/style.css`` from the same server as
the anchor; "server time" is a page's median minus the anchor's.
Run: .venv/bin/python bench/web_trunks.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from bench.web import (  # noqa: E402
    CSRF,
    PASSWORD,
    REPEATS,
    WARMUP,
    build,
    report,
    timed,
)
from tests.daemon_runner import Wpbxd, free_port, free_rtp_range  # noqa: E402

TRUNKS = 100
GROUPS = 10
RATES = 10_000


def price_csv() -> str:
    rows = [f"00{33 + i % 60}{i:05d},Destination {i},0.0{i % 9 + 1},0,60,0,1,7,0,86400" for i in range(RATES)]
    return "\n".join(rows) + "\n"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pbx"
        data.mkdir()
        build(data)
        daemon = Wpbxd(data_dir=data, sip_port=free_port(), web_port=free_port(), rtp=free_rtp_range())
        daemon.start()
        try:
            if "trunk.list" not in daemon.call("help"):
                print("the trunk service is not in this daemon")
                return 1
            t0 = time.perf_counter()
            daemon.call("pricelist.import", {"name": "retail", "csv": price_csv()})
            print(f"price list of {RATES} rows imported in {time.perf_counter() - t0:.2f} s (control command)")
            for i in range(TRUNKS):
                daemon.call("trunk.add", {"name": f"t{i:03d}", "title": f"Provider {i}", "login": f"acct{i}",
                                          "host": f"192.0.2.{i % 250 + 1}", "price_list": "retail"})
            for g in range(GROUPS):
                daemon.call("trunkgroup.set", {"name": f"g{g}", "members": [
                    {"trunk": f"t{(g * 3 + k) % TRUNKS:03d}"} for k in range(3)]})
            base = f"https://127.0.0.1:{daemon.web_port}"
            s = requests.Session()
            s.trust_env = False
            s.verify = str(data / "web-cert.pem")
            token = CSRF.search(s.get(base + "/login").text).group(1)
            r = s.post(base + "/login", data={"login": "admin", "password": PASSWORD, "csrf": token},
                       allow_redirects=False)
            assert r.status_code == 303, r.text[:300]
            pages = ["/static/style.css", "/trunks", "/trunks/edit/t050", "/trunks/groups", "/trunks/pricelists",
                     "/trunks/pricelists/retail", "/settings/cdr-backends", "/power"]
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
    return report(results, width=32)


if __name__ == "__main__":
    sys.exit(main())
