"""User call preferences per call class (seed: "Préférences des utilisateurs", Fonctions).

Stored in ``user_call_prefs`` keyed by user id (deleted with the user), one row per
class: ``internal`` (calls from other extensions) and ``external`` (everything
else). Service functions validate, write in one transaction and publish
``ConfigChanged('dialplan')``; the dial application applies them.
"""

from dataclasses import asdict
from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config import users
from wpbxd.config.store import Store
from wpbxd.errors import ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.telephony.dialplan import procedures
from wpbxd.telephony.dialplan.apps.base import NUMBER_RE
from wpbxd.telephony.dialplan.model import NO_PREFS, PREF_CLASSES, VOICEMAIL

FIELDS = tuple(asdict(NO_PREFS))
MAX_SECONDS = 3600
MAX_FORWARD_CHAIN = 100  # users followed when looking for a forwarding loop


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "on", "yes", "true"):
        return True
    if text in ("0", "off", "no", "false"):
        return False
    raise ValidationError(f"must be on or off, not {value!r}", field)


def _forward(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if text.upper() == VOICEMAIL:
        return VOICEMAIL
    if text and not NUMBER_RE.match(text):
        raise ValidationError(f"{text!r}: a number, the word VOICEMAIL, or empty to turn it off", field)
    return text


def _seconds_or_off(value: Any, field: str, lo: int) -> int | None:
    if value in (None, "", "off"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"must be a number of seconds or 'off', not {value!r}", field) from None
    if not lo <= number <= MAX_SECONDS:
        raise ValidationError(f"must be between {lo} and {MAX_SECONDS} seconds", field)
    return number


CHECKS = {
    "dnd": _bool, "call_waiting": _bool, "missed_email": _bool,
    "fwd_always": _forward, "fwd_busy": _forward, "fwd_unavailable": _forward,
    "call_timeout": lambda v, f: _seconds_or_off(v, f, 1),
    "mobility_delay": lambda v, f: _seconds_or_off(v, f, 0),
}


def get_prefs(store: Store, ref: str | int) -> dict[str, dict[str, Any]]:
    user = users.get_user(store, ref)
    out = {c: asdict(NO_PREFS) for c in PREF_CLASSES}
    for row in store.all("SELECT * FROM user_call_prefs WHERE user_id = ?", (user.id,)):
        out[row["call_class"]] = {f: (bool(row[f]) if isinstance(getattr(NO_PREFS, f), bool) else row[f])
                                  for f in FIELDS}
    return out


def set_prefs(store: Store, bus: EventBus | None, ref: str | int, call_class: str,
              values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Change some preferences of one user for one call class (``all``: both)."""
    user = users.get_user(store, ref)
    classes = PREF_CLASSES if call_class == "all" else (call_class,)
    if any(c not in PREF_CLASSES for c in classes):
        raise ValidationError(f"call class must be {', '.join(PREF_CLASSES)} or all", "class")
    unknown = [k for k in values if k not in CHECKS]
    if unknown:
        raise ValidationError(f"unknown preference {unknown[0]!r} (known: {', '.join(FIELDS)})")
    if not values:
        raise ValidationError("nothing to change")
    checked = {k: CHECKS[k](v, k) for k, v in values.items()}
    if checked.get("mobility_delay") is not None and not user.mobility:
        raise ValidationError(f"user {user.extension} has no mobility number", "mobility_delay")
    if checked.get("missed_email") and not user.email:
        raise ValidationError(f"user {user.extension} has no email address", "missed_email")
    current = get_prefs(store, user.id)
    for cls in classes:
        target = checked.get("fwd_always", current[cls]["fwd_always"])
        if target and target != VOICEMAIL:
            _check_forward_loop(store, user.extension, target, cls)
    with store.transaction():
        for cls in classes:
            row = {**current[cls], **checked}
            cols = ", ".join(FIELDS)
            store.execute(
                f"INSERT OR REPLACE INTO user_call_prefs(user_id, call_class, {cols})"
                f" VALUES (?, ?, {', '.join('?' for _ in FIELDS)})",
                (user.id, cls, *(int(row[f]) if isinstance(row[f], bool) else row[f] for f in FIELDS)),
            )
    if bus is not None:
        bus.publish(ConfigChanged(procedures.SECTION, f"prefs:{user.id}"))
    return get_prefs(store, user.id)


def _check_forward_loop(store: Store, start: str, target: str, call_class: str) -> None:
    """Refuse "forward always" chains that come back (101 -> 102 -> 101).

    A forwarded call keeps the class of its original caller, so the chain
    follows the same class all along.
    """
    chain = [start, target]
    current = target
    for _ in range(MAX_FORWARD_CHAIN):
        row = store.one("SELECT p.fwd_always FROM user_call_prefs p JOIN users u ON u.id = p.user_id"
                        " WHERE u.extension = ? AND p.call_class = ?", (current, call_class))
        nxt = row["fwd_always"] if row else ""
        if not nxt or nxt == VOICEMAIL:
            return
        if nxt in chain:
            raise ValidationError(f"forwarding loop: {' -> '.join(chain + [nxt])}", "fwd_always")
        chain.append(nxt)
        current = nxt
