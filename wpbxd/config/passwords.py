"""Password policy, generator and hashing (seed: "Modification du mot de passe Admin").

Policy: at least 8 characters, with an upper-case letter, a lower-case letter, a
digit and a special character. WEB passwords are stored only as scrypt hashes; the
keypad code (first five characters typed on a phone keypad, seed: "Attribution des
WP4X0 aux utilisateurs via le code de fonction") is stored hashed as well.
This module stores nothing and knows nothing of users.
"""

import base64
import hashlib
import hmac
import secrets
import string

from wpbxd.errors import ValidationError

MIN_LENGTH = 8
SPECIALS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"
SCRYPT_N = 2**14  # CPU/memory cost (16 MiB with r=8)
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEYPAD_CODE_LENGTH = 5

_KEYPAD = {
    **dict.fromkeys("abc", "2"), **dict.fromkeys("def", "3"), **dict.fromkeys("ghi", "4"),
    **dict.fromkeys("jkl", "5"), **dict.fromkeys("mno", "6"), **dict.fromkeys("pqrs", "7"),
    **dict.fromkeys("tuv", "8"), **dict.fromkeys("wxyz", "9"),
}


def policy_problems(password: str) -> list[str]:
    """The rules of the policy that ``password`` breaks (empty when it complies)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if not any(c.isupper() for c in password):
        problems.append("must contain an upper-case letter")
    if not any(c.islower() for c in password):
        problems.append("must contain a lower-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("must contain a digit")
    if not any(not c.isalnum() for c in password):
        problems.append("must contain a special character")
    if any(c.isspace() or ord(c) < 32 for c in password):
        problems.append("must not contain spaces or control characters")
    return problems


def check_policy(password: str, field: str = "password") -> None:
    problems = policy_problems(password)
    if problems:
        raise ValidationError("password " + "; ".join(problems), field)


def generate(length: int = 14) -> str:
    """A random password that satisfies the policy."""
    length = max(length, MIN_LENGTH)
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SPECIALS]
    chars = [secrets.choice(pool) for pool in pools]
    everything = "".join(pools)
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def keypad_code(password: str) -> str:
    """The digits a user types on a keypad for the first five characters.

    Letters become their keypad digit, digits stay, anything else becomes ``*``.
    """
    out = []
    for c in password[:KEYPAD_CODE_LENGTH]:
        if c.isdigit():
            out.append(c)
        elif c.lower() in _KEYPAD:
            out.append(_KEYPAD[c.lower()])
        else:
            out.append("*")
    return "".join(out)
