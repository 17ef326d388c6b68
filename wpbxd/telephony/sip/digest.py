"""HTTP digest authentication for SIP (RFC 7616, RFC 2617, RFC 3261 §22).

Responsibilities: issue challenges (MD5 and SHA-256, ``qop=auth``), check
credentials against a password, and refuse replays. Nonces carry their issue
time and an HMAC of it, so they need no table to be recognised; they expire
after ``nonce_ttl`` seconds (the client is re-challenged with ``stale=true``).
Each nonce's highest nonce-count is remembered until the nonce expires: a
request reusing a count (or a nonce without qop a second time) is a replay.

Rule: no I/O and no clock; ``now`` is passed in. Looking up the user is the
caller's job (``verify`` gets the password).
"""

import hashlib
import hmac
import itertools
import os
from dataclasses import dataclass

NONCE_TTL = 300.0            # seconds a nonce stays valid
ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_NO_QOP = 1 << 40             # the count recorded for a nonce used without qop


@dataclass(frozen=True)
class Credentials:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str
    qop: str | None
    nc: str | None
    cnonce: str | None
    opaque: str | None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    stale: bool = False          # re-challenge with stale=true, not a failure
    reason: str = ""


def parse_params(value: str) -> dict[str, str]:
    """``Digest a=b, c="d, e"`` -> {'a': 'b', 'c': 'd, e'} (scheme dropped)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ValueError("not a Digest header")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            j = i + 1
            chunk = []
            while j < n and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < n:
                    j += 1
                chunk.append(rest[j])
                j += 1
            if j >= n:
                raise ValueError("unterminated quoted value")
            params[key] = "".join(chunk)
            i = j + 1
        else:
            j = rest.find(",", i)
            j = n if j < 0 else j
            params[key] = rest[i:j].strip()
            i = j
    return params


def parse_credentials(value: str) -> Credentials:
    p = parse_params(value)
    try:
        return Credentials(
            username=p["username"], realm=p["realm"], nonce=p["nonce"], uri=p["uri"],
            response=p["response"].lower(), algorithm=p.get("algorithm", "MD5").upper(),
            qop=p.get("qop"), nc=p.get("nc"), cnonce=p.get("cnonce"), opaque=p.get("opaque"),
        )
    except KeyError as err:
        raise ValueError(f"credentials without {err.args[0]}") from None


def digest_response(algorithm: str, username: str, realm: str, password: str, method: str,
                    uri: str, nonce: str, qop: str | None = None, nc: str | None = None,
                    cnonce: str | None = None) -> str:
    """The ``response`` value a client computes (RFC 7616 §3.4.1)."""
    h = ALGORITHMS[algorithm]
    ha1 = h(f"{username}:{realm}:{password}".encode()).hexdigest()
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode()).hexdigest()
    return h(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()


class DigestAuthenticator:
    def __init__(self, realm: str, algorithms: tuple[str, ...] = ("MD5", "SHA-256"),
                 nonce_ttl: float = NONCE_TTL, secret: bytes | None = None) -> None:
        unknown = [a for a in algorithms if a not in ALGORITHMS]
        if unknown or not algorithms:
            raise ValueError(f"unsupported digest algorithm(s): {unknown}")
        self.realm = realm
        self.algorithms = algorithms
        self.nonce_ttl = nonce_ttl
        self._secret = secret or os.urandom(16)
        self._serial = itertools.count(int.from_bytes(os.urandom(4), "big"))
        self._counts: dict[str, int] = {}
        self._issued_order: list[tuple[float, str]] = []

    # -- nonces -----------------------------------------------------------------
    def _sign(self, stamp: str) -> str:
        # Keyed BLAKE2b is a MAC (RFC 7693 §2.5) and costs a fraction of HMAC-SHA-256.
        return hashlib.blake2b(stamp.encode(), key=self._secret, digest_size=10).hexdigest()

    def make_nonce(self, now: float) -> str:
        stamp = f"{now:.6f}{next(self._serial) & 0xFFFFFFFF:08x}"
        return f"{stamp}.{self._sign(stamp)}"

    def _nonce_time(self, nonce: str) -> float | None:
        stamp, dot, sig = nonce.rpartition(".")
        if not dot or not hmac.compare_digest(sig, self._sign(stamp)):
            return None
        try:
            return float(stamp[:-8])
        except ValueError:
            return None

    def challenge(self, now: float, stale: bool = False) -> list[str]:
        """``WWW-Authenticate``/``Proxy-Authenticate`` values, preferred algorithm first."""
        values = []
        for algorithm in self.algorithms:
            nonce = self.make_nonce(now)
            values.append(
                f'Digest realm="{self.realm}", nonce="{nonce}", algorithm={algorithm}, qop="auth"'
                + (", stale=true" if stale else "")
            )
        return values

    def prune(self, now: float) -> None:
        """Forget the nonce-counts of expired nonces."""
        limit = now - self.nonce_ttl
        counts = self._counts
        stale = [n for n in counts if (self._nonce_time(n) or 0) < limit]
        for nonce in stale:
            del counts[nonce]

    # -- checking -----------------------------------------------------------------
    def verify(self, creds: Credentials, method: str, password: str, now: float) -> Verdict:
        if creds.realm != self.realm:
            return Verdict(False, reason="wrong realm")
        if creds.algorithm not in ALGORITHMS:
            return Verdict(False, reason=f"algorithm {creds.algorithm} not supported")
        issued = self._nonce_time(creds.nonce)
        if issued is None:
            return Verdict(False, stale=True, reason="unknown nonce")
        if qop := creds.qop:
            if qop != "auth" or not creds.nc or not creds.cnonce:
                return Verdict(False, reason="bad qop parameters")
            try:
                count = int(creds.nc, 16)
            except ValueError:
                return Verdict(False, reason="bad nonce count")
        else:
            count = _NO_QOP
        expected = digest_response(creds.algorithm, creds.username, self.realm, password, method,
                                   creds.uri, creds.nonce, qop, creds.nc, creds.cnonce)
        if not hmac.compare_digest(expected, creds.response):
            return Verdict(False, reason="wrong password")
        if now - issued > self.nonce_ttl:
            return Verdict(False, stale=True, reason="nonce expired")
        last = self._counts.get(creds.nonce, 0)
        if count <= last or (last == _NO_QOP):
            return Verdict(False, stale=True, reason="nonce replayed")
        self._counts[creds.nonce] = count
        return Verdict(True)
