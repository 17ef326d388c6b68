"""Time ranges (seed: "Création des Plages horaires"): opening hours, pure evaluation.

A time range is a weekly grid of opening intervals per day plus dated exceptions
(holidays, or special hours on one date), read in the PBX's time zone. This module
parses and checks the stored JSON and answers "is it open at this instant"; it
does no I/O and never reads the clock (the instant is passed in).
"""

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wpbxd.errors import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

Interval = tuple[time, time | None]  # end None means midnight (24:00)


@dataclass(frozen=True)
class TimeRange:
    name: str
    weekly: dict[str, tuple[Interval, ...]]
    exceptions: dict[date, tuple[Interval, ...]]

    def is_open(self, when: datetime) -> bool:
        """Open at ``when`` (an aware datetime already in the PBX time zone)?"""
        day = when.date()
        intervals = self.exceptions.get(day)
        if intervals is None:
            intervals = self.weekly.get(DAYS[when.weekday()], ())
        now = when.time().replace(tzinfo=None)
        return any(start <= now and (end is None or now < end) for start, end in intervals)

    def why(self, when: datetime) -> str:
        """A trace fragment saying which rule decided."""
        state = "open" if self.is_open(when) else "closed"
        if when.date() in self.exceptions:
            return f"{state} (exception for {when.date().isoformat()})"
        return f"{state} ({DAYS[when.weekday()]} {when.strftime('%H:%M')})"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}", "pbx.timezone") from None


def _interval(raw: object, where: str) -> Interval:
    if not (isinstance(raw, (list, tuple)) and len(raw) == 2 and all(isinstance(x, str) for x in raw)):
        raise ValidationError(f"{where}: an interval is [\"HH:MM\", \"HH:MM\"]", "weekly")
    start_s, end_s = raw
    for text in (start_s, end_s):
        if not _HHMM.match(text):
            raise ValidationError(f"{where}: {text!r} is not a time HH:MM (00:00-24:00)", "weekly")
    if start_s == "24:00":
        raise ValidationError(f"{where}: an interval cannot start at 24:00", "weekly")
    start = time.fromisoformat(start_s)
    end = None if end_s == "24:00" else time.fromisoformat(end_s)
    if end is not None and end <= start:
        raise ValidationError(f"{where}: {start_s}-{end_s} ends before it starts", "weekly")
    return start, end


def parse_weekly(data: object) -> dict[str, tuple[Interval, ...]]:
    if not isinstance(data, dict):
        raise ValidationError("the weekly grid is an object day -> intervals", "weekly")
    out: dict[str, tuple[Interval, ...]] = {}
    for day, intervals in data.items():
        if day not in DAYS:
            raise ValidationError(f"unknown day {day!r} (use {', '.join(DAYS)})", "weekly")
        if not isinstance(intervals, list):
            raise ValidationError(f"{day}: a list of intervals", "weekly")
        out[day] = tuple(_interval(i, day) for i in intervals)
    return out


def parse_exceptions(data: object) -> dict[date, tuple[Interval, ...]]:
    if not isinstance(data, list):
        raise ValidationError("exceptions are a list of {date, open}", "exceptions")
    out: dict[date, tuple[Interval, ...]] = {}
    for item in data:
        if not isinstance(item, dict) or "date" not in item:
            raise ValidationError("each exception is {\"date\": \"YYYY-MM-DD\", \"open\": [...]}", "exceptions")
        try:
            day = date.fromisoformat(str(item["date"]))
        except ValueError:
            raise ValidationError(f"{item['date']!r} is not a date YYYY-MM-DD", "exceptions") from None
        opening = item.get("open", [])
        if not isinstance(opening, list):
            raise ValidationError(f"{day}: open is a list of intervals", "exceptions")
        out[day] = tuple(_interval(i, day.isoformat()) for i in opening)
    return out


def build(name: str, weekly_json: str, exceptions_json: str) -> TimeRange:
    return TimeRange(name, parse_weekly(json.loads(weekly_json)), parse_exceptions(json.loads(exceptions_json)))


def parse_grid_text(text: str) -> dict[str, list[list[str]]]:
    """The console's short form: ``mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00``."""
    grid: dict[str, list[list[str]]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        days_s, _, hours = part.partition(" ")
        if not hours.strip():
            raise ValidationError(f"{part!r}: want DAYS HH:MM-HH:MM[,HH:MM-HH:MM]", "weekly")
        days: list[str] = []
        for token in days_s.lower().split(","):
            lo, dash, hi = token.partition("-")
            if lo not in DAYS or (dash and hi not in DAYS):
                raise ValidationError(f"{token!r}: days are {', '.join(DAYS)}", "weekly")
            days.extend(DAYS[DAYS.index(lo):DAYS.index(hi) + 1] if dash else [lo])
        intervals = []
        for span in hours.replace(" ", "").split(","):
            start, dash, end = span.partition("-")
            if not dash:
                raise ValidationError(f"{span!r}: want HH:MM-HH:MM", "weekly")
            intervals.append([start, end])
        for day in days:
            grid.setdefault(day, []).extend(intervals)
    parse_weekly(grid)
    return grid
