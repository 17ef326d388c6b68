"""SIP benchmark: wpbxd against Kamailio on the same sipp scenarios, on loopback.

Measures, for wpbxd and then for Kamailio (registrar + stateful proxy with digest
auth, ``bench/kamailio/kamailio.cfg``):
  - authenticated REGISTER/s (REGISTER, 401, REGISTER with credentials, 200),
  - call setups/s (INVITE, 407, ACK, INVITE with credentials, 180, 200, ACK, BYE,
    200) between a sipp UAC and a sipp UAS registered as a user; wpbxd anchors the
    media (relay ports opened and SDP rewritten for every call),
  - failed calls, p50/p99 response times (sipp's response-time traces: whole
    exchange for REGISTER, INVITE to 200 for calls), the server's CPU% (from
    /proc/PID/stat, all Kamailio processes summed) and wpbxd's RSS, also with
    10,000 registrations;
and prints wpbxd ÷ Kamailio. sipp keeps ``CONCURRENCY`` calls in flight at most,
so each figure is what the server sustains without failures at that load.

Run: ``.venv/bin/python bench/sip.py`` (``make bench``). Heavy: run it once.
Knobs: BENCH_USERS, BENCH_CALLS, BENCH_CONCURRENCY, BENCH_SETTLE, BENCH_ANCHOR=0 (no
Kamailio), BENCH_OURS=0 (Kamailio only), BENCH_KEEP=DIR (keep sipp's logs).

Known anchor glitch: under this load a few percent of Kamailio's calls end with
"404 Not here" to the BYE (sipp sent it without the Route set); they count as
failed and its rate is taken from the completion times of the calls that worked.
"""

import csv
import io
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

from tests.daemon_runner import Wpbxd, free_port  # noqa: E402
from tests.sip import sipp  # noqa: E402
from wpbxd.console import client  # noqa: E402

USERS = int(os.environ.get("BENCH_USERS", "10000"))
CALLS = int(os.environ.get("BENCH_CALLS", "6000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "400"))  # calls/registrations in flight at most
TARGET_RATE = 5000             # per second; sipp stays below it when the server is slower
CALL_PAUSE_MS = 50             # between ACK and BYE: a proxy's workers could reorder them otherwise
CDR_FLUSH_WAIT = 2.5           # seconds: CDRs are written in batches about once a second
SIPP_TIMEOUT = 120.0           # seconds: sipp gives up on calls stuck longer (they count as failed)
SETTLE = float(os.environ.get("BENCH_SETTLE", "34"))                  # seconds: RFC 3261 Timer J (64*T1) lets REGISTER transactions expire
CALLEE = "99999"
CLK_TCK = os.sysconf("SC_CLK_TCK")
KAMAILIO_CFG = REPO / "bench" / "kamailio" / "kamailio.cfg"


def password(ext: str) -> str:
    return f"Sip_{ext}pw"


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])      # utime + stime
    return total / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_of(pid: int) -> list[int]:
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def run_sipp(workdir: Path, name: str, scenario_text: str, server: str, count: int, csv_rows: list[str],
             *extra: str) -> dict:
    run_dir = workdir / name
    run_dir.mkdir()
    scenario = sipp.write(run_dir / f"{name}.xml", scenario_text)
    inf = run_dir / "users.csv"
    inf.write_text("SEQUENTIAL\n" + "\n".join(csv_rows) + "\n")
    started = time.monotonic()
    result = sipp.run(scenario, server, "-inf", str(inf), "-m", str(count), "-l", str(CONCURRENCY),
                      "-r", str(TARGET_RATE), "-p", str(free_port()), "-trace_stat", "-trace_rtt",
                      "-rtt_freq", "1", *extra, timeout=SIPP_TIMEOUT, cwd=run_dir)
    elapsed = time.monotonic() - started
    stats = _last_stat(run_dir)
    stamps, rtts = _rtts(run_dir)
    ok = int(stats.get("SuccessfulCall(C)", 0))
    if len(stamps) > 1:
        # Completion times of the successful calls: a few calls stuck until the global
        # timeout must not hide the rate the server sustained meanwhile.
        elapsed = (max(stamps) - min(stamps)) / 1000 + (min(rtts) / 1000 if rtts else 0.0)
    return {"elapsed": elapsed, "ok": ok, "failed": count - ok, "rc": result.returncode,
            "p50": percentile(rtts, 50), "p99": percentile(rtts, 99), "stderr": result.stderr[-500:]}


def _last_stat(run_dir: Path) -> dict:
    files = [p for p in run_dir.glob("*.csv") if "_rtt" not in p.name and p.name != "users.csv"]
    if not files:
        return {}
    rows = list(csv.reader(io.StringIO(files[0].read_text()), delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def _rtts(run_dir: Path) -> tuple[list[float], list[float]]:
    """(completion times in ms, response times in ms) of the successful calls."""
    stamps, values = [], []
    for path in run_dir.glob("*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 2:
                try:
                    stamps.append(float(parts[0]))
                    values.append(float(parts[1]))
                except ValueError:
                    pass
    return stamps, values


def measure(label: str, pids_fn, workdir: Path, name: str, scenario: str, server: str, count: int,
            rows: list[str], *extra: str) -> dict:
    pids = pids_fn()
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    res = run_sipp(workdir, name, scenario, server, count, rows, *extra)
    cpu1, t1 = cpu_seconds(pids), time.monotonic()
    res["rate"] = res["ok"] / res["elapsed"] if res["elapsed"] else 0.0
    res["cpu"] = 100 * (cpu1 - cpu0) / (t1 - t0)
    res["cpu_per_op_us"] = 1e6 * (cpu1 - cpu0) / max(1, res["ok"])
    print(f"  {label:9} {name:9}: {res['ok']:6d} ok, {res['failed']} failed in {res['elapsed']:.1f} s = "
          f"{res['rate']:7.0f}/s  p50 {res['p50']:.1f} ms  p99 {res['p99']:.1f} ms  "
          f"CPU {res['cpu']:.0f}% ({res['cpu_per_op_us']:.0f} µs each)", flush=True)
    if res["rc"] != 0 and res["failed"] == 0:
        print(f"    sipp exit {res['rc']}: {res['stderr']}")
    return res


def register_callee(workdir: Path, server: str, port: int) -> None:
    run_dir = workdir / f"callee-{port}"
    run_dir.mkdir()
    scenario = sipp.write(run_dir / "reg.xml", sipp.register())
    inf = sipp.users_csv(run_dir / "u.csv", [(CALLEE, password(CALLEE))])
    result = sipp.run(scenario, server, "-inf", str(inf), "-m", "1", "-p", str(port), cwd=run_dir)
    if result.returncode != 0:
        raise SystemExit(f"callee registration failed: {sipp.errors(run_dir)}")


def start_uas(workdir: Path, server: str, port: int) -> subprocess.Popen:
    run_dir = workdir / f"uas-{port}"
    run_dir.mkdir()
    scenario = sipp.write(run_dir / "uas.xml", sipp.uas("answer", strict_ack=False))
    return subprocess.Popen(["sipp", server, "-sf", str(scenario), "-nostdin", "-i", "127.0.0.1",
                             "-p", str(port), "-m", str(CALLS)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=run_dir)


def scenario_runs(label: str, workdir: Path, server: str, pids_fn, after_register=None) -> dict:
    users = [str(10000 + i) for i in range(USERS)]
    reg_rows = [f"{u};[authentication username={u} password={password(u)}]" for u in users]
    out = {"register": measure(label, pids_fn, workdir, "register", sipp.register(), server, USERS, reg_rows)}
    if after_register is not None:
        out.update(after_register())
    uas_port = free_port()
    register_callee(workdir, server, uas_port)
    uas = start_uas(workdir, server, uas_port)
    time.sleep(0.5)
    call_rows = [f"{u};[authentication username={u} password={password(u)}];{CALLEE}" for u in users]
    try:
        out["calls"] = measure(label, pids_fn, workdir, "calls", sipp.uac_call(), server, CALLS, call_rows,
                               "-d", str(CALL_PAUSE_MS))
    finally:
        if uas.poll() is None:
            uas.send_signal(signal.SIGUSR1)      # sipp: dump stats and quit
            try:
                uas.wait(10)
            except subprocess.TimeoutExpired:
                uas.kill()
                uas.wait()
    return out


def bench_wpbxd(workdir: Path) -> dict:
    pbx = Wpbxd(data_dir=workdir / "wpbxd", sip_port=free_port(), web_port=free_port(), rtp=(20000, 39999))
    pbx.data_dir.mkdir()
    log = open(pbx.data_dir / "wpbxd.log", "ab")
    pbx.proc = subprocess.Popen(
        [sys.executable, "-m", "wpbxd.daemon", "--data", str(pbx.data_dir), "--sip-listen",
         f"127.0.0.1:{pbx.sip_port}", "--web-listen", f"127.0.0.1:{pbx.web_port}", "--rtp-ports", "20000-39999",
         "--console-tty", "none", "--log-level", "WARNING"], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    pbx.log_path = pbx.data_dir / "wpbxd.log"
    deadline = time.monotonic() + 30
    while True:
        try:
            pbx.call("status")
            break
        except client.ControlError:
            if time.monotonic() > deadline or pbx.proc.poll() is not None:
                raise SystemExit(f"wpbxd did not start:\n{pbx.log()}") from None
            time.sleep(0.1)
    try:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["extension", "name", "sip_password"])
        for i in range(USERS):
            writer.writerow([str(10000 + i), f"Bench {i}", password(str(10000 + i))])
        writer.writerow([CALLEE, "Bench callee", password(CALLEE)])
        pbx.call("user.import", {"csv": buf.getvalue()})
        rss_idle = rss_mb(pbx.proc.pid)

        def registered_rss() -> dict:
            right_after = rss_mb(pbx.proc.pid)
            time.sleep(SETTLE)
            settled = rss_mb(pbx.proc.pid)
            count = pbx.call("status")["sip"]["registrations"]
            print(f"  wpbxd     RSS with {count} registrations: {right_after:.1f} MB right after the run, "
                  f"{settled:.1f} MB once its transactions expired ({rss_idle:.1f} MB before)", flush=True)
            return {"rss_registered": settled, "rss_register_peak": right_after, "registered": count}

        out = scenario_runs("wpbxd", workdir, f"127.0.0.1:{pbx.sip_port}", lambda: [pbx.proc.pid], registered_rss)
        status = pbx.call("status")["sip"]
        out["registrations"] = status["registrations"]
        out["rss_idle"] = rss_idle
        out["rss_after"] = rss_mb(pbx.proc.pid)
        time.sleep(CDR_FLUSH_WAIT)
        out["cdr"] = len(pbx.call("cdr.list", {"limit": 100000}))
        print(f"  wpbxd     RSS: {rss_idle:.1f} MB with users only, {out['rss_after']:.1f} MB with "
              f"{out['registrations']} registrations after the runs; {out['cdr']} CDRs written", flush=True)
    finally:
        pbx.stop(timeout=60)
    return out


def bench_kamailio(workdir: Path) -> dict | None:
    if shutil.which("kamailio") is None:
        print("  kamailio not installed: no anchor")
        return None
    port = free_port()
    proc = subprocess.Popen(["kamailio", "-DD", "-E", "-f", str(KAMAILIO_CFG), "-l", f"udp:127.0.0.1:{port}",
                             "-m", "1024", "-M", "64", "-w", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "kamailio.log", "wb"), cwd=workdir)
    time.sleep(1.5)
    if proc.poll() is not None:
        print("  kamailio did not start: see", workdir / "kamailio.log")
        return None
    try:
        return scenario_runs("kamailio", workdir, f"127.0.0.1:{port}", lambda: children_of(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    if shutil.which("sipp") is None:
        print("sipp (Debian sip-tester) is needed")
        return 1
    keep = os.environ.get("BENCH_KEEP")          # a directory to keep sipp's logs in
    with tempfile.TemporaryDirectory(prefix="wpbx-sip-bench-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        (work / "ours").mkdir()
        (work / "kam").mkdir()
        print(f"SIP bench: {USERS} users, {CALLS} calls, {CONCURRENCY} in flight at most, loopback")
        if os.environ.get("BENCH_OURS", "1") == "0":          # anchor only (debugging the anchor)
            bench_kamailio(work / "kam")
            return 0
        ours = bench_wpbxd(work / "ours")
        kam = bench_kamailio(work / "kam") if os.environ.get("BENCH_ANCHOR", "1") != "0" else None
    print("\nresults (wpbxd ÷ Kamailio)")
    for kind, unit in (("register", "REGISTER/s"), ("calls", "call setups/s")):
        o = ours[kind]
        line = f"  {unit:14} wpbxd {o['rate']:7.0f} ({o['failed']} failed, p50 {o['p50']:.1f} ms, p99 {o['p99']:.1f} ms)"
        if kam:
            k = kam[kind]
            ratio = o["rate"] / k["rate"] if k["rate"] else float("nan")
            line += (f"   kamailio {k['rate']:7.0f} ({k['failed']} failed, p50 {k['p50']:.1f} ms, "
                     f"p99 {k['p99']:.1f} ms)   ratio {ratio:.2f}; CPU per op {o['cpu_per_op_us']:.0f} µs vs "
                     f"{k['cpu_per_op_us']:.0f} µs")
        print(line)
    print(f"  RSS            wpbxd {ours['rss_registered']:.1f} MB with {ours['registered']} registrations "
          f"(whole daemon: web, dialplan ... included; {ours['rss_idle']:.1f} MB with the users and no "
          f"registration; target <= 80 MB)")
    print("  targets: >= 3000 REGISTER/s, >= 500 call setups/s with 0 failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
