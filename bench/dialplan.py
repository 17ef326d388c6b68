"""Dialplan lookup speed: 10,000 called-number entries across 50 procedures.

Builds a store with 50 procedures of 200 entries each (150 exact numbers and 50
patterns of every seed kind, plus ``default``), compiles it once
(``Dialplan.load``, timed cold and as a reload), then looks up a fixed random mix of called numbers
(exact hits, pattern hits, misses that fall to ``default``) with:

- the engine's indexed lookup (exact numbers in a dict, patterns bucketed by
  first character with length bounds), and
- the anchor: a naive linear scan of every entry of the procedure in
  specificity order, testing each pattern (what a plain list of regexes does).

Prints absolute lookups per second (median of repeats) and the ratio
indexed / linear scan, in the same run.

Then, when sipp is installed, the call-setup cost through a real wpbxd: the same
sipp caller/callee pair places ``CALLS`` calls at ``RATE`` calls/s (``ROUNDS`` alternating rounds), with the
factory dialplan and with the 10,000 entries loaded and included by the
``users`` procedure (so every call's lookup walks all 50 procedures before
``pbxinternal``). Prints completed calls, calls/s and wpbxd CPU per call for
both, and the ratio (the issue's target: the rate drops by no more than 10%).

Run: .venv/bin/python bench/dialplan.py
"""

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.daemon_runner import Wpbxd, free_port, free_rtp_range  # noqa: E402
from wpbxd.config import users  # noqa: E402
from wpbxd.config.defaults import apply_factory_defaults  # noqa: E402
from wpbxd.config.store import Store  # noqa: E402
from wpbxd.telephony.dialplan.engine import Dialplan  # noqa: E402

PROCEDURES = 50
EXACT_PER_PROC = 150
PATTERNS_PER_PROC = 50
LOOKUPS = 20_000
REPEATS = 5
SEED = 20261128
CALLS = 400
RATE = 40          # calls per second offered by sipp
ROUNDS = 3
UAS_GRACE = 5.0   # seconds the callee may take to finish after the caller is done
CALLER, CALLEE, PASSWORD = "4001", "4002", "Sip#{ext}pw"
PATTERN_SHAPES = ("{p}XX", "{p}X.", "0[67]{p}.", "+{p}XXX.", "00{p}X!", "[1-37]{p}ZX", "N{p}XX", "{p}.")


def build_store(path: Path, rng: random.Random) -> list[tuple[str, str]]:
    store = Store(path)
    store.migrate()
    apply_factory_defaults(store)
    probes: list[tuple[str, str]] = []
    dial = json.dumps({"target": "${called}"})
    with store.transaction():
        for p in range(PROCEDURES):
            name = f"proc{p:02d}"
            store.execute("INSERT INTO procedures(name) VALUES (?)", (name,))
            texts: set[str] = set()
            while len(texts) < EXACT_PER_PROC:
                texts.add(str(rng.randrange(10**8, 10**9)))
            exact = sorted(texts)
            patterns: set[str] = set()
            while len(patterns) < PATTERNS_PER_PROC:
                shape = rng.choice(PATTERN_SHAPES)
                patterns.add(shape.format(p=rng.randrange(10, 1000)))
            for pos, text in enumerate([*exact, *sorted(patterns), "default"]):
                cur = store.execute("INSERT INTO dialplan_entries(procedure, position, pattern) VALUES (?, ?, ?)",
                                    (name, pos, text))
                store.execute("INSERT INTO dialplan_apps(entry_id, position, app, params) VALUES (?, 0, 'dial', ?)",
                              (cur.lastrowid, dial))
            for _ in range(LOOKUPS // PROCEDURES):
                kind = rng.random()
                if kind < 0.4:
                    number = rng.choice(exact)
                elif kind < 0.8:
                    shape = rng.choice(sorted(patterns)).replace("X", "5").replace("Z", "3").replace("N", "4")
                    shape = shape.replace("[67]", "6").replace("[1-37]", "2").replace(".", "123").replace("!", "")
                    number = shape
                else:
                    number = str(rng.randrange(10**10, 10**11))
                probes.append((name, number))
    store.close()
    return probes


def linear_lookup(plan: Dialplan, ordered: dict, procedure: str, number: str):
    for proc in plan._orders[procedure]:
        for entry in ordered[proc.name]:
            if entry.pattern.matches(number):
                return entry
    return None


def rate(fn, probes) -> float:
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for procedure, number in probes:
            fn(procedure, number)
        runs.append(len(probes) / (time.perf_counter() - started))
    return statistics.median(runs)


def main() -> None:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wpbx.db"
        probes = build_store(path, rng)
        store = Store(path)
        loads = []
        for _ in range(3):
            started = time.perf_counter()
            plan = Dialplan.load(store)
            loads.append(time.perf_counter() - started)
        store.close()
    entries = sum(len(p.entries) for p in plan.procedures.values())
    ordered = {name: sorted((e for e in p.entries if not e.pattern.is_default), key=lambda e: e.pattern.sort_key)
               for name, p in plan.procedures.items()}
    for name, proc in plan.procedures.items():
        ordered[name] += [e for e in proc.entries if e.pattern.is_default]
    indexed_hits = [plan.lookup(p, n)[1].pattern.text for p, n in probes]
    linear_hits = [linear_lookup(plan, ordered, p, n).pattern.text for p, n in probes]
    assert indexed_hits == linear_hits, "the index and the linear scan disagree"
    defaults = sum(1 for text in indexed_hits if text == "default")
    indexed = rate(plan.lookup, probes)
    linear = rate(lambda p, n: linear_lookup(plan, ordered, p, n), probes)
    print(f"dialplan: {entries} entries in {len(plan.procedures)} procedures; compile (Dialplan.load):"
          f" first {loads[0] * 1000:.0f} ms, reload (compiled patterns/apps cached)"
          f" median {statistics.median(loads[1:]) * 1000:.0f} ms")
    print(f"probes: {len(probes)} lookups ({defaults} fell to default), median of {REPEATS} runs")
    print(f"indexed lookup : {indexed:12,.0f} lookups/s  ({1e6 / indexed:.2f} µs each)")
    print(f"linear scan    : {linear:12,.0f} lookups/s  ({1e6 / linear:.2f} µs each)  [anchor]")
    print(f"ratio indexed / linear scan: {indexed / linear:.1f}x")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _call_setup(folder: Path, big: bool) -> tuple[int, float, float]:
    """(completed calls, calls/s, wpbxd CPU ms per call) for one dialplan variant."""
    from tests.sip import sipp

    data = folder / ("big" if big else "factory")
    data.mkdir()
    if big:
        build_store(data / "wpbx.db", random.Random(SEED))
    store = Store(data / "wpbx.db")
    store.migrate()
    if big:
        with store.transaction():
            store.execute("DELETE FROM procedure_includes WHERE procedure = 'users'")
            names = [f"proc{p:02d}" for p in range(PROCEDURES)] + ["pbxinternal"]
            for pos, name in enumerate(names):
                store.execute("INSERT INTO procedure_includes(procedure, included, position) VALUES ('users', ?, ?)",
                              (name, pos))
    else:
        apply_factory_defaults(store)
    users.import_csv(store, None, "extension,name,sip_password\n" + "".join(
        f"{e},User {e},{PASSWORD.format(ext=e)}\n" for e in (CALLER, CALLEE)))
    store.close()
    pbx = Wpbxd(data_dir=data, sip_port=free_port(), web_port=free_port(), rtp=free_rtp_range(),
                extra_args=["--log-level", "WARNING"]).start()
    try:
        work = data / "sipp"
        work.mkdir()
        server = f"127.0.0.1:{pbx.sip_port}"
        uas_port = free_port()
        reg = sipp.run(sipp.write(work / "reg.xml", sipp.register()), server, "-inf",
                       str(sipp.users_csv(work / "reg.csv", [(CALLEE, PASSWORD.format(ext=CALLEE))])),
                       "-m", "1", "-p", str(uas_port), cwd=work)
        assert reg.returncode == 0, reg.stderr
        uas = sipp.run(sipp.write(work / "uas.xml", sipp.uas("answer")), server, "-m", str(CALLS),
                       "-p", str(uas_port), cwd=work, wait=False, timeout=120)
        before = _cpu_seconds(pbx.proc.pid)
        started = time.perf_counter()
        uac = sipp.run(sipp.write(work / "uac.xml", sipp.uac_call()), server, "-inf",
                       str(sipp.users_csv(work / "uac.csv", [(CALLER, PASSWORD.format(ext=CALLER))], callee=CALLEE)),
                       "-m", str(CALLS), "-r", str(RATE), "-l", "50", "-p", str(free_port()), cwd=work,
                       timeout=120)
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(pbx.proc.pid) - before
        try:
            uas.wait(timeout=UAS_GRACE)
        except subprocess.TimeoutExpired:  # some calls failed: the callee waits for them in vain
            uas.kill()
            uas.wait()
        done = sum(1 for r in pbx.call("cdr.list", {"limit": CALLS * 2}) if r["disposition"] == "ANSWERED")
        if uac.returncode != 0:
            print(f"  (sipp reported failures: {sipp.errors(work)[-300:]!r})")
        return done, done / elapsed, cpu * 1000 / max(done, 1)
    finally:
        pbx.stop()


def call_setup() -> None:
    if shutil.which("sipp") is None:
        print("call setup: skipped (sipp is not installed; make test installs sip-tester)")
        return
    runs: dict[bool, list[tuple[int, float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(ROUNDS):  # alternate the variants: this machine's load drifts
            for big in (False, True):
                folder = Path(tmp) / f"r{round_}"
                folder.mkdir(exist_ok=True)
                runs[big].append(_call_setup(folder, big))
    print(f"call setup, {CALLS} calls offered at {RATE}/s through wpbxd (sipp caller -> sipp callee),"
          f" median of {ROUNDS} alternating rounds:")
    medians = {}
    for big, label in ((False, "factory dialplan"), (True, "10,000 entries")):
        done = statistics.median(r[0] for r in runs[big])
        rate_ = statistics.median(r[1] for r in runs[big])
        cpu = statistics.median(r[2] for r in runs[big])
        medians[big] = (rate_, cpu)
        print(f"  {label:17}: {done:.0f} completed, {rate_:6.1f} calls/s, wpbxd CPU {cpu:.2f} ms per call")
    print(f"  ratio 10,000 entries / factory: calls/s {medians[True][0] / medians[False][0]:.3f},"
          f" CPU per call {medians[True][1] / medians[False][1]:.3f}")


if __name__ == "__main__":
    main()
    call_setup()
