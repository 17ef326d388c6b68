"""Memory benchmark: wpbxd's resident memory per 1,000 calls, and after the calls end.

Drives the same authenticated B2BUA call as ``bench/sip.py`` (sipp UAC -> wpbxd with
RTP anchoring -> sipp UAS) in batches of ``BENCH_BATCH`` calls, and after every batch
asks the daemon for ``heap.stats``: RSS and anonymous memory (smaps_rollup), glibc's
heap (in use / free inside its arenas, number of arenas), pymalloc's arenas, Python
blocks and live objects, threads. After the last batch it waits ``BENCH_IDLE``
seconds (longer than Timer J/K and the CDR flush), reads the figures again, then
forces a ``malloc_trim`` and reads them once more.

Printed: every checkpoint, then RSS growth per 1,000 calls over the first half and
over the second half of the batches, and their ratio (the anchor is the first half
of the same run: a ratio near 0 is a plateau, near 1 a leak linear in calls).

What it showed (2,000-24,000 calls, 2-core machine): no leak. After a full collection
the daemon holds the same Python objects as before the calls (~44,000, 17.5 MB);
RSS is the high-water mark of pymalloc's 1 MiB arenas, which CPython never gives
back while one block in them lives (malloc_trim cannot reach them; glibc's own heap
is ~13 MB and MALLOC_ARENA_MAX=2 changes nothing). The high-water mark follows what
is alive at once: every call's transactions wait 32 s (Timers J/L, 5 s for I/K) and
the INVITE server transactions keep the whole parsed INVITE meanwhile, and each
call's media/B2BUA objects are in reference cycles that only a full collection
frees. So RSS grows ~15 MB per 1,000 calls while calls arrive faster than they
expire and then stays flat: at ~650 calls/s it levels at ~235 MB after 18,000
calls; at 100 calls/s at ~82 MB after 3,000 calls (+0.7 MB per 1,000 calls later).

Run: ``.venv/bin/python bench/memory.py``. Knobs: BENCH_CALLS (6000), BENCH_BATCH
(1000), BENCH_CONCURRENCY (400, as bench/sip.py), BENCH_RATE (5000 calls/s asked), BENCH_USERS (200 callers),
BENCH_IDLE (40 s), BENCH_TYPES=1 (print the object types that grew),
BENCH_KEEP=DIR. The daemon inherits the environment (try MALLOC_ARENA_MAX=2).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.daemon_runner import Wpbxd, free_port, wait_until_ready  # noqa: E402
from tests.sip import sipp  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "6000"))
BATCH = int(os.environ.get("BENCH_BATCH", "1000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "400"))
USERS = int(os.environ.get("BENCH_USERS", "200"))
IDLE = float(os.environ.get("BENCH_IDLE", "40"))       # seconds: > Timer J/K (32 s) + CDR flush
SHOW_TYPES = os.environ.get("BENCH_TYPES", "0") == "1"
RATE = int(os.environ.get("BENCH_RATE", "5000"))  # calls/s asked of sipp (as bench/sip.py: it stays below when the server is slower)
CALL_PAUSE_MS = 50             # between ACK and BYE, as bench/sip.py
SIPP_TIMEOUT = 120.0           # seconds
CALLEE = "99999"
MB = 1024.0                    # kB per MB
CLK_TCK = os.sysconf("SC_CLK_TCK")


def password(ext: str) -> str:
    return f"Sip_{ext}pw"


def start_wpbxd(workdir: Path) -> Wpbxd:
    pbx = Wpbxd(data_dir=workdir / "wpbxd", sip_port=free_port(), web_port=free_port(), rtp=(20000, 39999),
                extra_args=["--log-level", "WARNING"])
    pbx.data_dir.mkdir(parents=True)
    pbx.log_path = pbx.data_dir / "wpbxd.log"
    with open(pbx.log_path, "ab") as log:
        pbx.proc = subprocess.Popen(
            [sys.executable, "-m", "wpbxd.daemon", "--data", str(pbx.data_dir), "--sip-listen",
             f"127.0.0.1:{pbx.sip_port}", "--web-listen", f"127.0.0.1:{pbx.web_port}", "--rtp-ports",
             "20000-39999", "--console-tty", "none", "--log-level", "WARNING"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    wait_until_ready(pbx)
    return pbx


def import_users(pbx: Wpbxd) -> None:
    rows = ["extension,name,sip_password"]
    rows += [f"{10000 + i},Bench {i},{password(str(10000 + i))}" for i in range(USERS)]
    rows.append(f"{CALLEE},Bench callee,{password(CALLEE)}")
    pbx.call("user.import", {"csv": "\n".join(rows) + "\n"})


def register_callee(workdir: Path, server: str, port: int) -> None:
    run_dir = workdir / "callee"
    run_dir.mkdir()
    scenario = sipp.write(run_dir / "reg.xml", sipp.register())
    inf = sipp.users_csv(run_dir / "u.csv", [(CALLEE, password(CALLEE))])
    result = sipp.run(scenario, server, "-inf", str(inf), "-m", "1", "-p", str(port), cwd=run_dir)
    if result.returncode != 0:
        raise SystemExit(f"callee registration failed: {sipp.errors(run_dir)}")


def start_uas(workdir: Path, server: str, port: int) -> subprocess.Popen:
    run_dir = workdir / "uas"
    run_dir.mkdir()
    scenario = sipp.write(run_dir / "uas.xml", sipp.uas("answer", strict_ack=False))
    return subprocess.Popen(["sipp", server, "-sf", str(scenario), "-nostdin", "-i", "127.0.0.1",
                             "-p", str(port), "-m", str(CALLS * 2)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=run_dir)


def run_batch(workdir: Path, server: str, index: int, count: int) -> int:
    """One sipp run of ``count`` calls; returns the failed calls."""
    run_dir = workdir / f"batch-{index}"
    run_dir.mkdir()
    scenario = sipp.write(run_dir / "uac.xml", sipp.uac_call())
    inf = run_dir / "users.csv"
    inf.write_text("SEQUENTIAL\n" + "\n".join(
        f"{10000 + i};[authentication username={10000 + i} password={password(str(10000 + i))}];{CALLEE}"
        for i in range(USERS)) + "\n")
    result = sipp.run(scenario, server, "-inf", str(inf), "-m", str(count), "-l", str(CONCURRENCY),
                      "-r", str(RATE), "-p", str(free_port()), "-d", str(CALL_PAUSE_MS),
                      timeout=SIPP_TIMEOUT, cwd=run_dir)
    if result.returncode == 0:
        return 0
    failed = count
    for line in result.stdout.splitlines() + result.stderr.splitlines():
        if "Failed call" in line:
            try:
                failed = int(line.split("|")[-2].strip())
            except (ValueError, IndexError):
                pass
    return failed


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK      # utime + stime


def checkpoint(pbx: Wpbxd, label: str, calls: int, rows: list[dict]) -> dict:
    cpu = cpu_seconds(pbx.proc.pid)
    stats = pbx.call("heap.stats", {"pymalloc": True, "types": SHOW_TYPES})
    mi = stats.get("mallinfo") or {}
    pm = stats.get("pymalloc") or {}
    row = {"label": label, "calls": calls, "rss": stats["rss_kb"] / MB, "anon": stats["anonymous_kb"] / MB,
           "c_used": mi.get("uordblks", 0) / 2**20 + mi.get("hblkhd", 0) / 2**20,
           "c_free": mi.get("fordblks", 0) / 2**20, "arenas": stats["malloc_arenas"],
           "py_arenas": pm.get("arenas_allocated_current", 0), "py_hw": pm.get("arenas_highwater", 0),
           "py_used": pm.get("bytes_in_allocated_blocks", 0) / 2**20,
           "blocks": stats["python_blocks"], "objects": stats["gc_objects"], "threads": stats["threads"],
           "fds": stats.get("open_fds", 0), "types": stats.get("types", {}), "cpu": cpu}
    rows.append(row)
    print(f"  {label:14} {calls:6d} calls  RSS {row['rss']:6.1f} MB  anon {row['anon']:6.1f}  "
          f"C heap used {row['c_used']:5.1f} free {row['c_free']:5.1f} in {row['arenas']:2d} arenas  "
          f"pymalloc {row['py_arenas']:4d} arenas (hw {row['py_hw']}) {row['py_used']:5.1f} MB used  "
          f"blocks {row['blocks']:8d}  objects {row['objects']:7d}  threads {row['threads']:3d}  "
          f"fds {row['fds']}", flush=True)
    if SHOW_TYPES and len(rows) > 1:
        before = rows[0]["types"]
        grown = sorted(((n - before.get(t, 0), t) for t, n in row["types"].items()), reverse=True)[:8]
        print("                 grown since start: " + ", ".join(f"{t} +{d}" for d, t in grown if d > 0))
    return row


def growth_per_1k(a: dict, b: dict) -> float:
    return (b["rss"] - a["rss"]) / max(1, b["calls"] - a["calls"]) * 1000


def main() -> int:
    if shutil.which("sipp") is None:
        print("sipp (Debian sip-tester) is needed")
        return 1
    env_note = ", ".join(f"{k}={os.environ[k]}" for k in ("MALLOC_ARENA_MAX", "PYTHONMALLOC") if k in os.environ)
    print(f"memory bench: {CALLS} calls in batches of {BATCH}, {CONCURRENCY} in flight at most, {RATE}/s asked, "
          f"{USERS} callers, loopback{'; ' + env_note if env_note else ''}")
    with tempfile.TemporaryDirectory(prefix="wpbx-memory-bench-") as tmp:
        work = Path(os.environ.get("BENCH_KEEP") or tmp)
        pbx = start_wpbxd(work)
        rows: list[dict] = []
        uas = None
        failed = 0
        try:
            import_users(pbx)
            server = f"127.0.0.1:{pbx.sip_port}"
            uas_port = free_port()
            register_callee(work, server, uas_port)
            uas = start_uas(work, server, uas_port)
            time.sleep(0.5)
            checkpoint(pbx, "start", 0, rows)
            done = 0
            index = 0
            while done < CALLS:
                count = min(BATCH, CALLS - done)
                failed += run_batch(work, server, index, count)
                done += count
                index += 1
                checkpoint(pbx, f"after batch {index}", done, rows)
            time.sleep(IDLE)
            checkpoint(pbx, f"idle {IDLE:.0f} s", done, rows)
            pbx.call("heap.trim")
            checkpoint(pbx, "after trim", done, rows)
            census = pbx.call("heap.collect")
            print("  a full collection freed: " + ", ".join(f"{t} {n}" for t, n in list(census["types"].items())[:10]))
            checkpoint(pbx, f"gc ({census['collected']})", done, rows)
            pbx.call("heap.trim")
            checkpoint(pbx, "gc + trim", done, rows)
        finally:
            if uas is not None and uas.poll() is None:
                uas.send_signal(signal.SIGUSR1)
                try:
                    uas.wait(10)
                except subprocess.TimeoutExpired:
                    uas.kill()
                    uas.wait()
            pbx.stop(timeout=60)
    batches = [r for r in rows if r["label"].startswith("after batch")]
    print(f"\nresults ({failed} failed calls)")
    start, idle, trimmed, collected = rows[0], rows[-4], rows[-3], rows[-1]
    print(f"  RSS {start['rss']:.1f} MB at start, {max(r['rss'] for r in rows):.1f} MB peak, "
          f"{idle['rss']:.1f} MB after {IDLE:.0f} s idle, {trimmed['rss']:.1f} MB after malloc_trim, "
          f"{collected['rss']:.1f} MB after a full gc + malloc_trim; pymalloc {collected['py_arenas']} arenas "
          f"holding {collected['py_used']:.1f} MB of objects ({start['py_arenas']} arenas at start)")
    if batches:
        cpu_ms = 1000 * (batches[-1]["cpu"] - start["cpu"]) / max(1, batches[-1]["calls"])
        print(f"  daemon CPU {cpu_ms:.2f} ms per call (sipp, checkpoints included)")
    if len(batches) >= 2:
        half = len(batches) // 2
        first = growth_per_1k(start, batches[half - 1])
        second = growth_per_1k(batches[half - 1], batches[-1])
        ratio = second / first if first > 0 else float("nan")
        print(f"  RSS growth per 1,000 calls: {first:+.2f} MB over the first {batches[half - 1]['calls']} "
              f"calls (anchor), {second:+.2f} MB over the rest; ratio {ratio:.2f} "
              f"(~0 plateau, ~1 linear leak)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
