"""Calls pages (seed: secondary menu items 7 and 12, CDR): the call history with
filters, CSV and a calls-per-hour chart; the Debug page with the live call log
(Server-Sent Events); the SIP bans of the super admin.

The CDR table is read from the store (the CDR module owns its rows); live calls,
bans and unbans are the SIP service's control commands.
"""

import csv
import datetime
import io
import time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import bottle

from wpbxd.config import settings
from wpbxd.config.store import Store
from wpbxd.errors import ValidationError
from wpbxd.web import access, svg
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import PAGE_SIZE, Kit, WebEnv, form, query

CDR_CSV_LIMIT = 100_000  # rows in one CSV download
STREAM_KEEPALIVE = 5.0  # seconds between SSE comments on a quiet stream
STREAM_LIFETIME = 300.0  # seconds before a stream ends (the browser reconnects where it left off)
DEBUG_LINES = 200  # live-log lines on the Debug page


def pbx_timezone(store: Store) -> datetime.tzinfo:
    try:
        return ZoneInfo(str(settings.get(store, "pbx.timezone")))
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _day_bounds(day: datetime.date, tz: datetime.tzinfo) -> tuple[float, float]:
    start = datetime.datetime.combine(day, datetime.time(), tz)
    return start.timestamp(), (start + datetime.timedelta(days=1)).timestamp()


def _parse_day(text: str, field_name: str) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError("must be a date YYYY-MM-DD", field_name) from None


CDR_DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")


def cdr_query(store: Store, tz: datetime.tzinfo, q: dict[str, str]) -> tuple[str, tuple]:
    """WHERE clause and parameters of the CDR filters (date range, number, disposition)."""
    where, params = [], []
    since = _parse_day(q.get("from", ""), "from")
    until = _parse_day(q.get("to", ""), "to")
    if since:
        where.append("start_time >= ?")
        params.append(_day_bounds(since, tz)[0])
    if until:
        if since and until < since:
            raise ValidationError("must not be before the start date", "to")
        where.append("start_time < ?")
        params.append(_day_bounds(until, tz)[1])
    number = q.get("user", "").strip()
    if number:
        where.append("(caller_number = ? OR callee_number = ?)")
        params += [number, number]
    disposition = q.get("disposition", "")
    if disposition:
        if disposition not in CDR_DISPOSITIONS:
            raise ValidationError(f"must be one of {', '.join(CDR_DISPOSITIONS)}", "disposition")
        where.append("disposition = ?")
        params.append(disposition)
    return (" WHERE " + " AND ".join(where)) if where else "", tuple(params)


def calls_per_hour(store: Store, tz: datetime.tzinfo, day: datetime.date) -> list[int]:
    start, end = _day_bounds(day, tz)
    counts = [0] * 24
    for row in store.all("SELECT start_time FROM cdr WHERE start_time >= ? AND start_time < ?",
                         (start, end)):
        counts[datetime.datetime.fromtimestamp(row["start_time"], tz).hour] += 1
    return counts


def cdr_feature(env: WebEnv) -> bool:
    """CDR is built when its module or its control command exists."""
    import importlib.util

    return "cdr.list" in env.commands() or importlib.util.find_spec("wpbxd.telephony.cdr") is not None


# -- the application ------------------------------------------------------------------


def install(app: bottle.Bottle, kit: Kit) -> None:
    env = kit.env
    store = kit.env.store
    page = kit.page
    render = kit.render
    flash = kit.flash
    me = kit.me
    now = kit.now

    def cdr_filters() -> tuple[dict[str, str], dict[str, str], str, tuple]:
        q = {k: query().get(k, "").strip() for k in ("from", "to", "user", "disposition")}
        tz = pbx_timezone(store)
        errors: dict[str, str] = {}
        try:
            where, params = cdr_query(store, tz, q)
        except ValidationError as err:
            errors[err.field or "_"] = err.message
            where, params = "", ()
        return q, errors, where, params

    @app.get("/calls")
    @page
    def calls() -> str:
        if not cdr_feature(env):
            raise FeatureMissing("call history is not available")
        q, errors, where, params = cdr_filters()
        try:
            page_no = max(1, int(query().get("page", "1")))
        except ValueError:
            page_no = 1
        total = store.one(f"SELECT COUNT(*) AS n FROM cdr{where}", params)["n"]
        rows = store.all(f"SELECT * FROM cdr{where} ORDER BY start_time DESC LIMIT ? OFFSET ?",
                         (*params, PAGE_SIZE, (page_no - 1) * PAGE_SIZE))
        tz = pbx_timezone(store)
        day = (_parse_day(q["from"], "from") if q["from"] and not errors else None) or \
            datetime.datetime.fromtimestamp(now(), tz).date()
        chart = svg.bars(f"Calls per hour on {day.isoformat()}", [f"{h:02d}" for h in range(24)],
                         calls_per_hour(store, tz, day))
        fmt = [(r, datetime.datetime.fromtimestamp(r["start_time"], tz).strftime("%Y-%m-%d %H:%M:%S"))
               for r in rows]
        return render("calls", "Calls", "calls", q=q, errors=errors, rows=fmt, total=total,
                      page_no=page_no, pages=max(1, -(-total // PAGE_SIZE)), chart=chart, day=day,
                      dispositions=CDR_DISPOSITIONS, query=urlencode(q))

    @app.get("/calls.csv")
    @page
    def calls_csv() -> str:
        if not cdr_feature(env):
            raise FeatureMissing("call history is not available")
        q, errors, where, params = cdr_filters()
        if errors:
            bottle.abort(400, "; ".join(f"{k}: {v}" for k, v in errors.items()))
        tz = pbx_timezone(store)
        out = io.StringIO()
        writer = csv.writer(out)
        columns = ("start", "caller_number", "caller_name", "callee_number", "callee_name",
                   "disposition", "duration", "billsec", "hangup_cause", "codec", "cost")
        writer.writerow(columns)
        for r in store.all(f"SELECT * FROM cdr{where} ORDER BY start_time LIMIT ?", (*params, CDR_CSV_LIMIT)):
            start = datetime.datetime.fromtimestamp(r["start_time"], tz).isoformat(timespec="seconds")
            writer.writerow([start, *(("" if r[c] is None else r[c]) for c in columns[1:])])
        bottle.response.content_type = "text/csv; charset=utf-8"
        bottle.response.set_header("Content-Disposition", 'attachment; filename="calls.csv"')
        return out.getvalue()

    @app.get("/debug")
    @page
    def debug() -> str:
        live = env.call("calls.list") or []
        lines = env.livelog.recent(DEBUG_LINES)
        tz = pbx_timezone(store)
        return render("debug", "Debug: live calls", "debug", calls=live,
                      lines=[(line, datetime.datetime.fromtimestamp(line.time, tz).strftime("%H:%M:%S"))
                             for line in lines],
                      last=lines[-1].seq if lines else 0)

    @app.get("/debug/events")
    @page
    def debug_events() -> Any:
        """Server-Sent Events: live-log lines after ``Last-Event-ID`` (or ``?after=``)."""
        if "calls.list" not in env.commands():
            raise FeatureMissing("calls are not available")
        raw = bottle.request.get_header("Last-Event-ID") or query().get("after", "0")
        after = int(raw) if raw.isdigit() else 0
        if not env.streams.acquire(blocking=False):
            bottle.abort(503, "too many live views open; close one or use Refresh")
        tz = pbx_timezone(store)

        def stream() -> Any:
            seq, deadline = after, time.monotonic() + STREAM_LIFETIME
            try:
                yield "retry: 3000\n\n"
                while time.monotonic() < deadline and not env.livelog.closed:
                    lines = env.livelog.wait(seq, STREAM_KEEPALIVE)
                    if not lines:
                        yield ": keep-alive\n\n"
                        continue
                    for line in lines:
                        stamp = datetime.datetime.fromtimestamp(line.time, tz).strftime("%H:%M:%S")
                        text = f"{stamp} {line.call_id} {line.text}".replace("\n", " ")
                        yield f"id: {line.seq}\nevent: {line.kind}\ndata: {text}\n\n"
                        seq = line.seq
            finally:
                env.streams.release()

        bottle.response.content_type = "text/event-stream; charset=utf-8"
        bottle.response.set_header("Cache-Control", "no-store")
        return stream()

    @app.route("/bans", method=["GET", "POST"])
    @page
    def bans() -> str:
        access.check_super(me(), "see SIP bans")
        if bottle.request.method == "POST":
            address = form().get("address", "")
            env.call("bans.unban", {"address": address})
            flash(f"{address} unbanned.")
            bottle.redirect("/bans", 303)
        return render("bans", "SIP bans", "bans", bans=env.call("bans.list") or [])
