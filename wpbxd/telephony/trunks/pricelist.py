"""Price lists: the seed's CSV import, the rate in force for a call, and its cost.

File columns (the seed's): ``dialprefix, destination, rate, min_duration,
billing_block, connect_charge, start_day, stop_day, start_time, stop_time``.
A header line naming them is optional (comma or semicolon separated); without
it the columns are in that order.

Rules (stated once, here):
- ``rate`` is per minute; ``connect_charge`` is added once to a billed call.
- ``min_duration`` (seconds): an answered call shorter than it is not billed at
  all (cost 0); a longer call is billed for its whole duration.
- ``billing_block`` (seconds): the billed duration rounds up to a whole number of
  blocks (0 or 1 = per second).
- the window: ``start_day``..``stop_day`` (1 = Monday .. 7 = Sunday) and
  ``start_time``..``stop_time`` (seconds from midnight, both inclusive); a start
  after the stop wraps (Friday..Monday, 20:00..08:00). The rate is chosen by the
  call's *start* time (local time of the PBX, given by the caller).
- among the rows whose window covers the start, the longest matching
  ``dialprefix`` wins (same prefix, overlapping windows: the first row of the
  file); an unanswered call costs nothing.

A malformed file raises ``ValidationError`` naming the line and the reason; the
stored list is replaced only when the whole file is good (one transaction).

Rule: the parser and the cost computation do no I/O; only ``import_list`` and
``load`` touch the store.
"""

import csv
import io
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import NotFound, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.telephony.trunks.model import check_name

FIELDS = ("dialprefix", "destination", "rate", "min_duration", "billing_block", "connect_charge",
          "start_day", "stop_day", "start_time", "stop_time")
SECONDS_PER_DAY = 86400
MAX_ROWS = 200000
PREFIX_RE = re.compile(r"^\+?[0-9]{1,32}$")
MAX_PREFIX = 33                 # characters of a dialprefix at most ("+" and 32 digits)
COST_DIGITS = 6                 # costs are rounded to this many decimals


@dataclass(frozen=True)
class Rate:
    line: int
    dialprefix: str
    destination: str
    rate: float                 # per minute
    min_duration: int           # seconds
    billing_block: int          # seconds
    connect_charge: float
    start_day: int              # 1 = Monday
    stop_day: int
    start_time: int             # seconds from midnight
    stop_time: int

    def covers(self, weekday: int, seconds: int) -> bool:
        """Is (ISO ``weekday`` 1-7, ``seconds`` from midnight) inside this row's window?"""
        if self.start_day <= self.stop_day:
            day_ok = self.start_day <= weekday <= self.stop_day
        else:
            day_ok = weekday >= self.start_day or weekday <= self.stop_day
        if self.start_time <= self.stop_time:
            time_ok = self.start_time <= seconds <= self.stop_time
        else:
            time_ok = seconds >= self.start_time or seconds <= self.stop_time
        return day_ok and time_ok

    def cost(self, billsec: int) -> float:
        """The cost of an answered call of ``billsec`` seconds under this row."""
        if billsec <= 0 or billsec < self.min_duration:
            return 0.0
        block = max(1, self.billing_block)
        billed = math.ceil(billsec / block) * block
        return round(self.connect_charge + self.rate * billed / 60.0, COST_DIGITS)


@dataclass(frozen=True)
class PriceList:
    name: str
    rates: tuple[Rate, ...]
    by_prefix: dict[str, tuple[Rate, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, list[Rate]] = {}
        for rate in self.rates:
            index.setdefault(rate.dialprefix, []).append(rate)
        object.__setattr__(self, "by_prefix", {k: tuple(v) for k, v in index.items()})

    def find(self, number: str, weekday: int, seconds: int) -> Rate | None:
        """The row in force: longest prefix among rows whose window covers the time."""
        for length in range(min(len(number), MAX_PREFIX), 0, -1):
            for rate in self.by_prefix.get(number[:length], ()):
                if rate.covers(weekday, seconds):
                    return rate
        return None

    def cost_at(self, number: str, start: datetime, billsec: int) -> tuple[float, Rate | None]:
        """The cost of a call to ``number`` started at local time ``start``."""
        seconds = start.hour * 3600 + start.minute * 60 + start.second
        rate = self.find(number, start.isoweekday(), seconds)
        if rate is None:
            return 0.0, None
        return rate.cost(billsec), rate


def _number(text: str, line: int, field: str, kind: type, lo: float, hi: float) -> Any:
    try:
        value = kind(text.strip())
    except ValueError:
        raise ValidationError(f"line {line}: {field} {text!r} is not a {'whole ' if kind is int else ''}number",
                              "file") from None
    if not (lo <= value <= hi) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValidationError(f"line {line}: {field} {text!r} must be between {lo:g} and {hi:g}", "file")
    return value


def parse_csv(text: str) -> tuple[Rate, ...]:
    """The rows of a price-list file, or ``ValidationError('line N: reason')``."""
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ValidationError("the file is empty", "file")
    first = next(line for line in lines if line.strip())
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    order = list(FIELDS)
    rates: list[Rate] = []
    seen: dict[tuple, int] = {}
    for index, cells in enumerate(reader):
        line = index + 1
        if not cells or all(not c.strip() for c in cells):
            continue
        names = [c.strip().lower() for c in cells]
        if not rates and not seen and "dialprefix" in names:
            missing = [f for f in FIELDS if f not in names]
            if missing:
                raise ValidationError(f"line {line}: header lacks column(s) {', '.join(missing)}", "file")
            order = names
            continue
        if len(cells) != len(order):
            raise ValidationError(f"line {line}: {len(cells)} columns, expected {len(order)}", "file")
        row = dict(zip(order, (c.strip() for c in cells), strict=True))
        prefix = row["dialprefix"]
        if not PREFIX_RE.match(prefix):
            raise ValidationError(f"line {line}: dialprefix {prefix!r} must be digits (with an optional '+')",
                                  "file")
        rate = Rate(
            line=line, dialprefix=prefix, destination=row["destination"],
            rate=_number(row["rate"], line, "rate", float, 0, 1e6),
            min_duration=_number(row["min_duration"], line, "min_duration", int, 0, SECONDS_PER_DAY),
            billing_block=_number(row["billing_block"], line, "billing_block", int, 0, SECONDS_PER_DAY),
            connect_charge=_number(row["connect_charge"], line, "connect_charge", float, 0, 1e6),
            start_day=_number(row["start_day"], line, "start_day", int, 1, 7),
            stop_day=_number(row["stop_day"], line, "stop_day", int, 1, 7),
            start_time=_number(row["start_time"], line, "start_time", int, 0, SECONDS_PER_DAY),
            stop_time=_number(row["stop_time"], line, "stop_time", int, 0, SECONDS_PER_DAY),
        )
        key = (prefix, rate.start_day, rate.stop_day, rate.start_time, rate.stop_time)
        if key in seen:
            raise ValidationError(f"line {line}: same dialprefix and window as line {seen[key]}", "file")
        seen[key] = line
        rates.append(rate)
        if len(rates) > MAX_ROWS:
            raise ValidationError(f"line {line}: more than {MAX_ROWS} rows", "file")
    if not rates:
        raise ValidationError("the file has no rate rows", "file")
    return tuple(rates)


# -- store ------------------------------------------------------------------------
def import_list(store: Store, bus: EventBus | None, name: str, text: str) -> PriceList:
    """Replace (or create) the price list ``name`` with the file's rows; all or nothing."""
    name = check_name(name, "price list")
    rates = parse_csv(text)
    with store.transaction():
        store.execute("INSERT INTO price_lists(name, imported_at, rows) VALUES (?, ?, ?)"
                      " ON CONFLICT(name) DO UPDATE SET imported_at = excluded.imported_at, rows = excluded.rows",
                      (name, time.time(), len(rates)))
        store.execute("DELETE FROM price_list_rates WHERE list_name = ?", (name,))
        store.executemany(
            f"INSERT INTO price_list_rates(list_name, line, {', '.join(FIELDS)}) VALUES ({', '.join('?' * 12)})",
            [(name, r.line, r.dialprefix, r.destination, r.rate, r.min_duration, r.billing_block,
              r.connect_charge, r.start_day, r.stop_day, r.start_time, r.stop_time) for r in rates])
    if bus is not None:
        bus.publish(ConfigChanged("trunks", f"pricelist:{name}"))
    return PriceList(name, rates)


def load(store: Store, name: str) -> PriceList:
    if store.one("SELECT 1 FROM price_lists WHERE name = ?", (name,)) is None:
        raise NotFound(f"no price list {name!r}")
    rows = store.all(f"SELECT line, {', '.join(FIELDS)} FROM price_list_rates WHERE list_name = ? ORDER BY line",
                     (name,))
    return PriceList(name, tuple(Rate(**dict(r)) for r in rows))


def list_lists(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.all("SELECT name, imported_at, rows FROM price_lists ORDER BY name")]


def delete_list(store: Store, bus: EventBus | None, name: str) -> None:
    with store.transaction():
        if store.execute("DELETE FROM price_lists WHERE name = ?", (name,)).rowcount == 0:
            raise NotFound(f"no price list {name!r}")
    if bus is not None:
        bus.publish(ConfigChanged("trunks", f"pricelist:{name}"))
