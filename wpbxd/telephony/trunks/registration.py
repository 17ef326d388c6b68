"""Outbound registration of a trunk to its provider (RFC 3261 §10), sans-IO.

One ``RegistrationClient`` per registering trunk. The owner asks
``get_timer()`` for the next deadline, calls ``handle_timer(now)``, and when
``wants_send`` is true builds the REGISTER with ``build(now, via, contact)``
and sends it; every answer goes to ``on_response(resp, now)`` and a
transaction timeout to ``on_timeout(now)``.

Rules:
- 401/407 is answered once per nonce with digest credentials; a second
  challenge without ``stale=true`` means the password is wrong (state
  ``failed`` with the provider's reason).
- 423 takes the provider's ``Min-Expires`` and registers again at once.
- a 200 sets ``registered`` with the granted expiry (the Contact's ``expires``
  or the ``Expires`` header) and refreshes at ``REFRESH_FRACTION`` of it, at
  least ``REFRESH_MARGIN`` seconds before it runs out.
- any other failure or a timeout retries after a back-off doubling from
  ``retry_base`` to ``retry_max`` seconds; a timeout sets ``down``.

Rule: no sockets, no clock, no DNS; time is passed in.
"""

import os
from dataclasses import dataclass

from wpbxd.telephony.sip.message import Request, Response
from wpbxd.telephony.sip.uri import SipSyntaxError, parse_address
from wpbxd.telephony.trunks.digest_client import ChallengeError, DigestClient, best_challenge

REFRESH_FRACTION = 0.5       # of the granted expiry
REFRESH_MARGIN = 5.0         # seconds before expiry, at the latest
RETRY_BASE = 30.0            # seconds after a first failure
RETRY_MAX = 600.0            # seconds between attempts at most
MAX_FORWARDS = "70"

UNREGISTERED = "unregistered"
REGISTERING = "registering"
REGISTERED = "registered"
FAILED = "failed"
DOWN = "down"


@dataclass(frozen=True)
class RegistrationStatus:
    state: str
    registered_to: str = ""          # the contact the provider accepted, with its address
    expires_at: float | None = None
    reason: str = ""                 # the last failure, as the provider said it
    since: float = 0.0


class RegistrationClient:
    def __init__(self, user: str, domain: str, login: str, password: str, expires: int,
                 retry_base: float = RETRY_BASE, retry_max: float = RETRY_MAX) -> None:
        self.user = user
        self.domain = domain
        self.expires = expires
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.digest = DigestClient(login, password)
        self.call_id = os.urandom(10).hex()
        self.from_tag = os.urandom(4).hex()
        self.cseq = 0
        self.status = RegistrationStatus(UNREGISTERED)
        self.failures = 0
        self._next_send: float | None = 0.0        # send at once when started
        self._pending = False
        self._challenge = None
        self._fresh_challenge = False      # the stored challenge came with the last answer
        self._sent_fresh_answer = False    # the last REGISTER answered a challenge just received
        self._last_contact = ""
        self.registrations = 0                    # successful REGISTERs (for tests and status)

    # -- timers --------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        return None if self._pending else self._next_send

    def handle_timer(self, now: float) -> None:
        if self.status.state == REGISTERED and self.status.expires_at is not None and now >= self.status.expires_at:
            self._set(DOWN, now, reason="registration expired without a refresh")

    @property
    def wants_send(self) -> bool:
        return not self._pending and self._next_send is not None

    def due(self, now: float) -> bool:
        return self.wants_send and self._next_send is not None and now >= self._next_send

    # -- requests ------------------------------------------------------------------------
    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    def build(self, now: float, via: str, contact: str) -> Request:
        """The next REGISTER (with credentials when a challenge is pending)."""
        self.cseq += 1
        self._pending = True
        self._next_send = None
        self._last_contact = contact
        if self.status.state in (UNREGISTERED, FAILED, DOWN):
            self._set(REGISTERING, now, reason=self.status.reason)
        uri = f"sip:{self.domain}"
        headers = {
            "via": [via],
            "max-forwards": [MAX_FORWARDS],
            "from": [f"<{self.aor}>;tag={self.from_tag}"],
            "to": [f"<{self.aor}>"],
            "call-id": [self.call_id],
            "cseq": [f"{self.cseq} REGISTER"],
            "contact": [contact],
            "expires": [str(self.expires)],
            "content-length": ["0"],
        }
        self._sent_fresh_answer = self._fresh_challenge
        self._fresh_challenge = False
        if self._challenge is not None:
            headers[self._challenge.header] = [self.digest.authorization(self._challenge, "REGISTER", uri)]
        return Request("REGISTER", uri, headers)

    def build_unregister(self, via: str, contact: str, challenge_response: Response | None = None) -> Request:
        """A REGISTER with ``Expires: 0`` removing our binding (RFC 3261 §10.2.2).

        Carries credentials for ``challenge_response`` (a 401/407 to a previous
        try) or for the last challenge seen; the client's state is left alone.
        """
        challenge = self._challenge
        if challenge_response is not None:
            try:
                challenge = best_challenge(challenge_response.get_all(
                    "proxy-authenticate" if challenge_response.status == 407 else "www-authenticate"),
                    challenge_response.status == 407)
            except ChallengeError:
                challenge = None
        self.cseq += 1
        uri = f"sip:{self.domain}"
        headers = {
            "via": [via], "max-forwards": [MAX_FORWARDS], "from": [f"<{self.aor}>;tag={self.from_tag}"],
            "to": [f"<{self.aor}>"], "call-id": [self.call_id], "cseq": [f"{self.cseq} REGISTER"],
            "contact": [contact], "expires": ["0"], "content-length": ["0"],
        }
        if challenge is not None:
            headers[challenge.header] = [self.digest.authorization(challenge, "REGISTER", uri)]
        return Request("REGISTER", uri, headers)

    # -- answers -------------------------------------------------------------------------
    def on_response(self, resp: Response, now: float) -> None:
        if resp.status < 200:
            return
        self._pending = False
        if 200 <= resp.status < 300:
            self._registered(resp, now)
        elif resp.status in (401, 407):
            self._challenged(resp, now)
        elif resp.status == 423:
            try:
                self.expires = max(self.expires, int(resp.get("min-expires") or 0))
            except ValueError:
                pass
            self._next_send = now
        else:
            self._fail(now, f"{resp.status} {resp.reason}")

    def on_timeout(self, now: float) -> None:
        self._pending = False
        self._fail(now, "no answer from the provider", state=DOWN)

    def unreachable(self, now: float, reason: str) -> None:
        """The owner could not send (DNS failure, no route)."""
        self._pending = False
        self._fail(now, reason, state=DOWN)

    def _registered(self, resp: Response, now: float) -> None:
        granted = self._granted_expiry(resp)
        if granted <= 0:
            self._fail(now, "the provider granted no registration time")
            return
        self.failures = 0
        self.registrations += 1
        refresh = min(granted * REFRESH_FRACTION, max(1.0, granted - REFRESH_MARGIN))
        self._next_send = now + refresh
        self._set(REGISTERED, now, registered_to=self._last_contact, expires_at=now + granted)

    def _granted_expiry(self, resp: Response) -> float:
        mine = self._last_contact.strip("<>").split(";")[0].strip("<>")
        for value in resp.get_all("contact"):
            try:
                addr = parse_address(value)
            except (SipSyntaxError, ValueError):
                continue
            if str(addr.uri).split(";")[0] == mine and addr.params.get("expires"):
                try:
                    return float(addr.params["expires"] or 0)
                except ValueError:
                    pass
        try:
            return float(resp.get("expires") or self.expires)
        except ValueError:
            return float(self.expires)

    def _challenged(self, resp: Response, now: float) -> None:
        proxy = resp.status == 407
        values = resp.get_all("proxy-authenticate" if proxy else "www-authenticate")
        try:
            challenge = best_challenge(values, proxy)
        except ChallengeError as err:
            self._fail(now, f"{resp.status}: cannot answer the challenge ({err})")
            return
        if self._sent_fresh_answer and not challenge.stale:
            self._challenge = None
            self._fail(now, f"{resp.status} {resp.reason}: the provider refused the login or password")
            return
        self._challenge = challenge
        self._fresh_challenge = True
        self._next_send = now

    def _fail(self, now: float, reason: str, state: str = FAILED) -> None:
        self.failures += 1
        delay = min(self.retry_max, self.retry_base * 2 ** (self.failures - 1))
        self._next_send = now + delay
        self._set(state, now, reason=reason)

    def _set(self, state: str, now: float, registered_to: str = "", expires_at: float | None = None,
             reason: str = "") -> None:
        since = self.status.since if state == self.status.state else now
        self.status = RegistrationStatus(state, registered_to, expires_at, reason, since)
