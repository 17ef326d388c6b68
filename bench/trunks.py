"""Price-list lookup: wpbx's prefix index against a linear scan of the same rows (the anchor).

Prints lookups per second for both and their ratio, for a 20,000-row list
(every 4-6 digit prefix of a made-up tariff, two windows each) and a mix of
numbers that hit long, short and no prefixes. Run: .venv/bin/python bench/trunks.py
"""

import random
import time
from datetime import datetime

from wpbxd.telephony.trunks.pricelist import PriceList, Rate

ROWS = 20000
LOOKUPS = 20000
START = datetime(2026, 11, 23, 10, 0, 0)


def build(rng: random.Random) -> PriceList:
    rates, seen = [], set()
    while len(rates) < ROWS:
        prefix = "00" + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 4)))
        if prefix in seen:
            continue
        seen.add(prefix)
        for start, stop in ((28800, 71999), (72000, 28799)):
            rates.append(Rate(len(rates) + 2, prefix, "x", 0.1, 0, 60, 0.0, 1, 7, start, stop))
    return PriceList("bench", tuple(rates))


def linear(plist: PriceList, number: str, weekday: int, seconds: int) -> Rate | None:
    best = None
    for rate in plist.rates:
        if number.startswith(rate.dialprefix) and rate.covers(weekday, seconds):
            if best is None or len(rate.dialprefix) > len(best.dialprefix):
                best = rate
    return best


def main() -> None:
    rng = random.Random(7)
    plist = build(rng)
    numbers = ["00" + "".join(rng.choice("0123456789") for _ in range(10)) for _ in range(LOOKUPS)]
    seconds = START.hour * 3600
    t0 = time.perf_counter()
    fast = [plist.find(n, 1, seconds) for n in numbers]
    t_fast = time.perf_counter() - t0
    sample = numbers[:200]
    t0 = time.perf_counter()
    slow = [linear(plist, n, 1, seconds) for n in sample]
    t_slow = (time.perf_counter() - t0) * LOOKUPS / len(sample)
    assert [r.dialprefix if r else None for r in fast[:200]] == [r.dialprefix if r else None for r in slow]
    print(f"rows {len(plist.rates)}, lookups {LOOKUPS}")
    print(f"prefix index: {LOOKUPS / t_fast:,.0f} lookups/s")
    print(f"linear scan (anchor): {LOOKUPS / t_slow:,.0f} lookups/s")
    print(f"ratio index/anchor: {t_slow / t_fast:,.0f}")


if __name__ == "__main__":
    main()
