"""The registrar (RFC 3261 §10): where each user's phones can be reached.

Responsible for: the bindings of each address-of-record (a user's extension) —
add, refresh and remove contacts from an authenticated REGISTER (``Expires``
header or ``expires`` parameter, ``Min-Expires``/423, ``*`` with ``Expires: 0``),
the source address each binding came from (RFC 3581: requests to the phone go
there, so phones behind NAT are reachable), expiry on time, and persistence in
``sip_registrations`` (dirty bindings are written in batches by ``flush`` and
loaded back by ``load`` after a restart).

Rule: ``handle_register`` gets an already authenticated request and the time; it
does no I/O. Only ``load`` and ``flush`` touch the store.
"""

import heapq
from dataclasses import dataclass

from wpbxd.config.store import Store
from wpbxd.telephony.sip.message import Request, Response, make_response
from wpbxd.telephony.sip.transaction import Target
from wpbxd.telephony.sip.uri import SipSyntaxError, parse_address

MAX_CONTACTS = 10        # bindings per address-of-record


@dataclass(frozen=True)
class RegistrarPolicy:
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600


@dataclass(slots=True)
class Binding:
    aor: str
    contact: str          # the Contact URI as registered
    expires_at: float     # unix seconds
    call_id: str
    cseq: int
    source: Target        # where the REGISTER came from
    user_agent: str
    q: float | None
    registered_at: float

    def as_dict(self, now: float) -> dict:
        return {
            "aor": self.aor, "contact": self.contact, "expires_in": max(0, round(self.expires_at - now)),
            "expires_at": self.expires_at, "source": f"{self.source[0]}:{self.source[1]}:{self.source[2]}",
            "user_agent": self.user_agent, "call_id": self.call_id,
        }


class Registrar:
    def __init__(self, policy: RegistrarPolicy) -> None:
        self.policy = policy
        self.bindings: dict[str, dict[str, Binding]] = {}
        self._dirty: set[str] = set()
        self._deadlines: list[tuple[float, str]] = []     # (expires_at, aor), checked lazily

    def contacts(self, aor: str, now: float) -> list[Binding]:
        found = self.bindings.get(aor)
        if not found:
            return []
        alive = [b for b in found.values() if b.expires_at > now]
        alive.sort(key=lambda b: -(b.q if b.q is not None else 1.0))
        return alive

    def count(self) -> int:
        return sum(len(v) for v in self.bindings.values())

    def handle_register(self, req: Request, aor: str, source: Target, now: float) -> Response:
        """Apply an authenticated REGISTER for ``aor``; return the response (§10.3)."""
        contacts = req.get_all("contact")
        expires_header = req.get("expires")
        default = self.policy.default_expires
        if expires_header is not None:
            default = int(expires_header)          # checked by message.check_request
        call_id = req.call_id
        cseq = req.cseq[0]
        current = self.bindings.get(aor, {})
        if contacts:
            if any(c.strip() == "*" for c in contacts):
                if len(contacts) != 1 or expires_header != "0":
                    return make_response(req, 400, "Bad Request (Contact * needs Expires: 0 and no other contact)")
                if current:
                    self.bindings.pop(aor, None)
                    self._dirty.add(aor)
                return self._ok(req, aor, now)
            changes: list[tuple[str, int, float | None]] = []
            for value in contacts:
                try:
                    addr = parse_address(value)
                except SipSyntaxError as err:
                    return make_response(req, 400, f"Bad Request (bad Contact: {err})")
                param = addr.params.get("expires")
                expires = int(param) if param is not None and param.isdigit() else default
                if 0 < expires < self.policy.min_expires:
                    return make_response(req, 423, "Interval Too Brief",
                                         extra=[("min-expires", str(self.policy.min_expires))])
                q = None
                if "q" in addr.params:
                    try:
                        q = float(addr.params["q"] or "")
                    except ValueError:
                        return make_response(req, 400, "Bad Request (bad q value)")
                changes.append((str(addr.uri), min(expires, self.policy.max_expires), q))
            ua = req.get("user-agent", "") or ""
            new = dict(current)
            for uri, expires, q in changes:
                old = new.get(uri)
                if old is not None and old.call_id == call_id and cseq <= old.cseq:
                    return make_response(req, 500, "Server Internal Error (out of order REGISTER)",
                                         extra=[("retry-after", "1")])
                if expires == 0:
                    new.pop(uri, None)
                else:
                    new[uri] = Binding(aor, uri, now + expires, call_id, cseq, source, ua, q,
                                       old.registered_at if old else now)
                    heapq.heappush(self._deadlines, (now + expires, aor))
            if len(new) > MAX_CONTACTS:
                return make_response(req, 403, f"Forbidden (at most {MAX_CONTACTS} contacts per user)")
            if new:
                self.bindings[aor] = new
            else:
                self.bindings.pop(aor, None)
            self._dirty.add(aor)
        return self._ok(req, aor, now)

    def _ok(self, req: Request, aor: str, now: float) -> Response:
        extra = [("contact", f"<{b.contact}>;expires={max(0, int(b.expires_at - now))}")
                 for b in self.contacts(aor, now)]
        return make_response(req, 200, "OK", to_tag=_tag_for(req), extra=extra)

    def expire(self, now: float) -> list[str]:
        """Drop bindings whose time is up; return the AORs that changed."""
        changed = []
        due: set[str] = set()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            due.add(heapq.heappop(heap)[1])
        for aor in due:
            found = self.bindings.get(aor)
            if not found:
                continue
            dead = [uri for uri, b in found.items() if b.expires_at <= now]
            if not dead:
                continue
            for uri in dead:
                del found[uri]
            if not found:
                del self.bindings[aor]
            self._dirty.add(aor)
            changed.append(aor)
        return changed

    def remove_aor(self, aor: str) -> None:
        if self.bindings.pop(aor, None) is not None:
            self._dirty.add(aor)

    # -- persistence ------------------------------------------------------------
    def load(self, store: Store, now: float) -> int:
        rows = store.all("SELECT aor, contact, expires_at, call_id, cseq, source, user_agent, q,"
                         " registered_at FROM sip_registrations WHERE expires_at > ?", (now,))
        for r in rows:
            transport, _, rest = r["source"].partition(":")
            host, _, port = rest.rpartition(":")
            binding = Binding(r["aor"], r["contact"], r["expires_at"], r["call_id"], r["cseq"],
                              (transport, host, int(port)), r["user_agent"], r["q"], r["registered_at"])
            self.bindings.setdefault(binding.aor, {})[binding.contact] = binding
            heapq.heappush(self._deadlines, (binding.expires_at, binding.aor))
        with store.transaction():
            store.execute("DELETE FROM sip_registrations WHERE expires_at <= ?", (now,))
        return len(rows)

    def take_dirty(self) -> tuple[list[str], list[tuple]]:
        """The changed AORs and their rows, ready for ``write_rows`` (in any thread)."""
        if not self._dirty:
            return [], []
        dirty, self._dirty = self._dirty, set()
        rows = []
        for aor in dirty:
            for b in self.bindings.get(aor, {}).values():
                rows.append((b.aor, b.contact, b.expires_at, b.call_id, b.cseq,
                             f"{b.source[0]}:{b.source[1]}:{b.source[2]}", b.user_agent, b.q, b.registered_at))
        return list(dirty), rows

    def flush(self, store: Store) -> int:
        """Write the bindings of every changed AOR in one transaction."""
        aors, rows = self.take_dirty()
        write_rows(store, aors, rows)
        return len(aors)


def write_rows(store: Store, aors: list[str], rows: list[tuple]) -> None:
    if not aors:
        return
    with store.transaction():
        store.executemany("DELETE FROM sip_registrations WHERE aor = ?", [(a,) for a in aors])
        store.executemany(
            "INSERT INTO sip_registrations(aor, contact, expires_at, call_id, cseq, source, user_agent,"
            " q, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _tag_for(req: Request) -> str:
    # A stable To-tag per REGISTER transaction keeps retransmitted responses identical.
    branch = req.top_via.params.get("branch") or req.call_id
    return f"r{abs(hash(branch)) & 0xFFFFFFFF:x}"
