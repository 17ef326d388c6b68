"""The client side of SIP digest authentication (RFC 3261 §22.2, RFC 7616 §3.4).

Given a ``WWW-Authenticate``/``Proxy-Authenticate`` challenge, build the
``Authorization``/``Proxy-Authorization`` value for a request. Remembers the
nonce-count per nonce so a reused nonce (preemptive answer on a refresh) counts up.

Rule: no I/O; the client nonce comes from the caller (``cnonce``) or ``os.urandom``.
"""

import os
from dataclasses import dataclass

from wpbxd.telephony.sip.digest import ALGORITHMS, digest_response, parse_params


class ChallengeError(ValueError):
    """The challenge cannot be answered (unknown algorithm, no nonce...)."""


@dataclass(frozen=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str
    qop: str | None              # 'auth' when offered, else None (RFC 2069 style)
    opaque: str | None
    stale: bool
    proxy: bool                  # 407 Proxy-Authenticate (answer in Proxy-Authorization)

    @property
    def header(self) -> str:
        return "proxy-authorization" if self.proxy else "authorization"


def parse_challenge(value: str, proxy: bool = False) -> Challenge:
    try:
        p = parse_params(value)
    except ValueError as err:
        raise ChallengeError(str(err)) from None
    if "nonce" not in p:
        raise ChallengeError("challenge without nonce")
    algorithm = p.get("algorithm", "MD5").upper()
    if algorithm not in ALGORITHMS:
        raise ChallengeError(f"unsupported digest algorithm {algorithm}")
    qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise ChallengeError(f"unsupported qop {p['qop']}")
    return Challenge(realm=p.get("realm", ""), nonce=p["nonce"], algorithm=algorithm,
                     qop="auth" if qops else None, opaque=p.get("opaque"),
                     stale=p.get("stale", "").lower() == "true", proxy=proxy)


def best_challenge(values: list[str], proxy: bool) -> Challenge:
    """The strongest challenge we can answer among several (SHA-256 before MD5)."""
    found: list[Challenge] = []
    errors: list[str] = []
    for value in values:
        try:
            found.append(parse_challenge(value, proxy))
        except ChallengeError as err:
            errors.append(str(err))
    if not found:
        raise ChallengeError("; ".join(errors) or "no digest challenge")
    found.sort(key=lambda c: c.algorithm != "SHA-256")
    return found[0]


class DigestClient:
    """Answers challenges for one set of credentials."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._counts: dict[str, int] = {}

    def authorization(self, challenge: Challenge, method: str, uri: str, cnonce: str | None = None) -> str:
        count = self._counts.get(challenge.nonce, 0) + 1
        if len(self._counts) > 64:
            self._counts.clear()
        self._counts[challenge.nonce] = count
        nc = f"{count:08x}"
        cnonce = cnonce or os.urandom(8).hex()
        response = digest_response(challenge.algorithm, self.username, challenge.realm, self.password, method,
                                   uri, challenge.nonce, challenge.qop, nc if challenge.qop else None,
                                   cnonce if challenge.qop else None)
        parts = [f'username="{self.username}"', f'realm="{challenge.realm}"', f'nonce="{challenge.nonce}"',
                 f'uri="{uri}"', f'response="{response}"', f"algorithm={challenge.algorithm}"]
        if challenge.qop:
            parts += [f"qop={challenge.qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        if challenge.opaque is not None:
            parts.append(f'opaque="{challenge.opaque}"')
        return "Digest " + ", ".join(parts)
