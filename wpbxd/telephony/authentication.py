"""Who is calling or registering: digest authentication of SIP requests against users.

Responsible for: a cached directory of the users' SIP identities (reloaded when
users change), challenging requests without credentials (401 for REGISTER, 407
otherwise), checking credentials with ``sip.digest``, and counting failures in the
``BanList`` (a ban is persisted through the ``on_ban`` callback).

It never sends anything: it returns the response the caller should send.
"""

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from wpbxd.config.store import Store
from wpbxd.telephony.bans import Ban, BanList
from wpbxd.telephony.sip.digest import DigestAuthenticator, parse_credentials
from wpbxd.telephony.sip.message import Request, Response, make_response

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SipUser:
    id: int
    extension: str
    login: str | None
    name: str
    password: str
    dialplan: str


class UserDirectory:
    """Users by digest username (extension, else login) and by extension."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_auth: dict[str, SipUser] | None = None
        self._by_ext: dict[str, SipUser] = {}

    def invalidate(self) -> None:
        self._by_auth = None

    def _load(self) -> dict[str, SipUser]:
        by_auth: dict[str, SipUser] = {}
        by_ext: dict[str, SipUser] = {}
        rows = self.store.all("SELECT id, extension, login, name, sip_password, dialplan FROM users"
                              " WHERE extension IS NOT NULL")
        for r in rows:
            # The procedure name is the same few strings for every user: one copy each.
            user = SipUser(r["id"], r["extension"], r["login"], r["name"], r["sip_password"],
                           sys.intern(r["dialplan"]) if r["dialplan"] else r["dialplan"])
            by_ext[user.extension] = user
            if user.login:
                by_auth.setdefault(user.login, user)
        by_auth.update(by_ext)          # an extension wins over a login of the same text
        self._by_ext = by_ext
        self._by_auth = by_auth
        return by_auth

    def by_auth_name(self, name: str) -> SipUser | None:
        table = self._by_auth if self._by_auth is not None else self._load()
        return table.get(name)

    def by_extension(self, extension: str) -> SipUser | None:
        if self._by_auth is None:
            self._load()
        return self._by_ext.get(extension)


class Authenticator:
    def __init__(self, directory: UserDirectory, digest: DigestAuthenticator, bans: BanList,
                 on_ban: Callable[[Ban], None], clock: Callable[[], float]) -> None:
        self.directory = directory
        self.digest = digest
        self.bans = bans
        self.on_ban = on_ban
        self.clock = clock
        self.failures = 0

    def check(self, req: Request, source_host: str) -> tuple[SipUser | None, Response | None]:
        """(user, None) when authenticated; else (None, the response to send)."""
        register = req.method == "REGISTER"
        header = "authorization" if register else "proxy-authorization"
        now = self.clock()
        values = req.headers.get(header)
        if not values:
            return None, self._challenge(req, now, stale=False)
        problem = "bad credentials"
        for value in values:
            try:
                creds = parse_credentials(value)
            except ValueError as err:
                problem = str(err)
                continue
            if creds.realm != self.digest.realm:
                problem = "wrong realm"
                continue
            user = self.directory.by_auth_name(creds.username)
            if user is None or not user.password:
                problem = f"unknown user {creds.username!r}"
                break
            verdict = self.digest.verify(creds, req.method, user.password, now)
            if verdict.ok:
                self.bans.record_success(source_host)
                return user, None
            if verdict.stale:
                return None, self._challenge(req, now, stale=True)
            problem = f"{verdict.reason} for {creds.username!r}"
            break
        self.failures += 1
        log.info("SIP %s from %s: authentication failed (%s)", req.method, source_host, problem)
        ban = self.bans.record_failure(source_host, now, problem)
        if ban is not None:
            log.warning("SIP: banning %s until %.0f: %s", source_host, ban.until, ban.reason)
            self.on_ban(ban)
        if register:
            return None, self._challenge(req, now, stale=False)
        return None, make_response(req, 403, "Forbidden (authentication failed)", to_tag=os.urandom(4).hex())

    def _challenge(self, req: Request, now: float, stale: bool) -> Response:
        register = req.method == "REGISTER"
        name = "www-authenticate" if register else "proxy-authenticate"
        extra = [(name, value) for value in self.digest.challenge(now, stale)]
        tag = os.urandom(4).hex()
        if register:
            return make_response(req, 401, "Unauthorized", to_tag=tag, extra=extra)
        return make_response(req, 407, "Proxy Authentication Required", to_tag=tag, extra=extra)
