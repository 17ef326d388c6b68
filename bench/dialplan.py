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

Run: .venv/bin/python bench/dialplan.py
"""

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wpbxd.config.defaults import apply_factory_defaults  # noqa: E402
from wpbxd.config.store import Store  # noqa: E402
from wpbxd.telephony.dialplan.engine import Dialplan  # noqa: E402

PROCEDURES = 50
EXACT_PER_PROC = 150
PATTERNS_PER_PROC = 50
LOOKUPS = 20_000
REPEATS = 5
SEED = 20261128
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


if __name__ == "__main__":
    main()
