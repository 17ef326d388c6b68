"""Called-number patterns (seed: "Syntaxe pour les modèles"). Pure functions, no I/O.

A called number in a procedure is either exact (digits, ``+``, ``*``, ``#``), the
word ``default``, or a pattern using:

- ``X``/``x`` any digit, ``Z``/``z`` 1–9, ``N``/``n`` 2–9,
- ``[...]`` one character of a set, with ranges (``[1237-9]``),
- ``.`` one or more further characters, ``!`` zero or more.

When several entries match, the most specific wins: exact entries first, then
patterns ordered character by character by how few characters each position
admits (like Asterisk's pattern sort); ``default`` only when nothing else matches.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from wpbxd.errors import ValidationError

DEFAULT = "default"
_EXACT_RE = re.compile(r"^\+?[0-9*#]+$")
_CLASSES = {"x": "0-9", "z": "1-9", "n": "2-9"}
_WIDTH = {"x": 10, "z": 9, "n": 8}
WILD_ONE_OR_MORE = 1000   # sort weight of '.'
WILD_ZERO_OR_MORE = 1001  # sort weight of '!'


@dataclass(frozen=True)
class Pattern:
    text: str
    exact: bool
    is_default: bool
    regex: re.Pattern | None
    sort_key: tuple
    first_chars: frozenset[str] = frozenset()  # what the first position admits (empty: anything)
    min_len: int = 0
    max_len: int | None = None                 # None: unbounded ('.' or '!')

    def matches(self, number: str) -> bool:
        if self.is_default:
            return True
        if self.exact:
            return number == self.text
        assert self.regex is not None
        return self.regex.fullmatch(number) is not None


COMPILED_CACHE = 65536  # patterns kept compiled across reloads (they are immutable)


@lru_cache(maxsize=COMPILED_CACHE)
def compile_pattern(text: str) -> Pattern:
    """Parse one called-number entry; an invalid one raises ``ValidationError``.

    Results are cached: a reload (e.g. after a switch flip) recompiles nothing.
    """
    raw = text.strip()
    if not raw:
        raise ValidationError("a called number cannot be empty", "pattern")
    if raw.lower() == DEFAULT:
        return Pattern(DEFAULT, False, True, None, (2,))
    if _EXACT_RE.match(raw):
        return Pattern(raw, True, False, None, (0, raw), frozenset(raw[0]), len(raw), len(raw))
    regex: list[str] = []
    weights: list[int] = []
    firsts: list[frozenset[str]] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        low = c.lower()
        if low in _CLASSES:
            regex.append(f"[{_CLASSES[low]}]")
            weights.append(_WIDTH[low])
            lo = "0" if low == "x" else "1" if low == "z" else "2"
            firsts.append(frozenset(str(d) for d in range(int(lo), 10)))
        elif c == "[":
            end = raw.find("]", i + 1)
            if end < 0:
                raise ValidationError(f"{raw!r}: '[' without a closing ']'", "pattern")
            chars = _expand_set(raw, raw[i + 1:end])
            regex.append("[" + "".join(re.escape(ch) for ch in sorted(chars)) + "]")
            weights.append(len(chars))
            firsts.append(frozenset(chars))
            i = end
        elif c == ".":
            if i != len(raw) - 1:
                raise ValidationError(f"{raw!r}: '.' must be the last character", "pattern")
            regex.append(".+")
            weights.append(WILD_ONE_OR_MORE)
            firsts.append(frozenset())
        elif c == "!":
            if i != len(raw) - 1:
                raise ValidationError(f"{raw!r}: '!' must be the last character", "pattern")
            regex.append(".*")
            weights.append(WILD_ZERO_OR_MORE)
            firsts.append(frozenset())
        elif c.isdigit() or c in "+*#":
            regex.append(re.escape(c))
            weights.append(1)
            firsts.append(frozenset(c))
        else:
            raise ValidationError(f"{raw!r}: unexpected character {c!r}", "pattern")
        i += 1
    fixed = len(weights) - (1 if weights[-1] in (WILD_ONE_OR_MORE, WILD_ZERO_OR_MORE) else 0)
    min_len = fixed + (1 if weights[-1] == WILD_ONE_OR_MORE else 0)
    max_len = None if fixed < len(weights) else fixed
    return Pattern(raw, False, False, re.compile("".join(regex)), (1, tuple(weights), raw),
                   firsts[0], min_len, max_len)


def _expand_set(raw: str, body: str) -> set[str]:
    if not body:
        raise ValidationError(f"{raw!r}: empty set '[]'", "pattern")
    chars: set[str] = set()
    j = 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            lo, hi = body[j], body[j + 2]
            if not (lo.isdigit() and hi.isdigit()) or lo > hi:
                raise ValidationError(f"{raw!r}: bad range {lo}-{hi}", "pattern")
            chars.update(chr(k) for k in range(ord(lo), ord(hi) + 1))
            j += 3
            continue
        if not (body[j].isdigit() or body[j] in "+*#"):
            raise ValidationError(f"{raw!r}: unexpected {body[j]!r} in a set", "pattern")
        chars.add(body[j])
        j += 1
    return chars


def best_match(patterns: list[Pattern], number: str) -> Pattern | None:
    """The most specific pattern of ``patterns`` matching ``number`` (``default`` last)."""
    for pattern in sorted(patterns, key=lambda p: p.sort_key):
        if pattern.matches(number):
            return pattern
    return None
