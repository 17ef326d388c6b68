"""Typed settings with factory defaults, stored as JSON in the ``settings`` table.

Every setting an admin can change is declared here once, with its default and a
validator; reading an unset key gives the default (factory defaults live in code).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wpbxd.bus import EventBus
from wpbxd.config.store import Store
from wpbxd.errors import NotFound, ValidationError
from wpbxd.events import ConfigChanged
from wpbxd.sounds.library import check_packages
from wpbxd.telephony.media.negotiation import DEFAULT_LAN_NETWORKS, networks_setting
from wpbxd.telephony.media.tones import check_zone
from wpbxd.telephony.trunks.resolver import servers_setting


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    description: str
    check: Callable[[Any], Any]


def _int_range(lo: int, hi: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationError(f"must be a whole number between {lo} and {hi}") from None
        if not lo <= number <= hi:
            raise ValidationError(f"must be between {lo} and {hi}")
        return number

    return check


def _text(value: Any) -> str:
    return str(value)


DIGEST_ALGORITHMS = ("MD5", "SHA-256")


def _digest_algorithms(value: Any) -> str:
    names = [a.strip().upper() for a in str(value or "").split(",") if a.strip()]
    if not names:
        raise ValidationError(f"give at least one of {', '.join(DIGEST_ALGORITHMS)}")
    unknown = [n for n in names if n not in DIGEST_ALGORITHMS]
    if unknown:
        raise ValidationError(f"unsupported: {', '.join(unknown)} (choose from {', '.join(DIGEST_ALGORITHMS)})")
    if len(set(names)) != len(names):
        raise ValidationError("an algorithm is listed twice")
    return ",".join(names)


def _timezone(value: Any) -> str:
    name = str(value or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{name!r} is not a time zone name such as 'Europe/Paris' or 'UTC'") from None
    return name


def _digits(allow_empty: bool = False) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value if value is not None else "").strip()
        if not text and allow_empty:
            return text
        if not text.isdigit() or len(text) > 8:
            raise ValidationError("must be digits (1 to 8)")
        return text

    return check


def _digit_list(value: Any) -> str:
    items = [i.strip() for i in str(value or "").split(",") if i.strip()]
    if any(not i.isdigit() or len(i) > 15 for i in items):
        raise ValidationError("must be a comma list of digit strings, e.g. 6,7")
    return ",".join(items)


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        Setting("sip.ban.max_failures", 10, "failed authentications before a ban", _int_range(1, 1000)),
        Setting("sip.ban.window", 60, "seconds in which failures are counted", _int_range(1, 86400)),
        Setting("sip.ban.duration", 600, "seconds an address stays banned", _int_range(1, 30 * 86400)),
        Setting("sip.register.min_expires", 60, "shortest registration accepted (s)", _int_range(1, 3600)),
        Setting("sip.register.max_expires", 3600, "longest registration granted (s)", _int_range(60, 86400)),
        Setting("sip.register.default_expires", 3600, "registration time when none asked (s)", _int_range(60, 86400)),
        Setting("sip.realm", "wpbx", "digest authentication realm", _text),
        Setting("sip.ring_timeout", 60, "seconds a dialled extension rings by default", _int_range(1, 600)),
        Setting("pbx.language", "en", "PBX default language", _text),
        Setting("pbx.timezone", "UTC", "PBX time zone", _timezone),
        Setting("web.https", 1, "serve the web UI over HTTPS with a self-signed certificate (1) or plain HTTP (0)", _int_range(0, 1)),
        Setting("web.http_redirect_port", -1, "plain-HTTP port redirecting to HTTPS (-1 = 80 on the appliance, off in host mode; 0 = off)", _int_range(-1, 65535)),
        Setting("web.session_idle", 1800, "seconds of inactivity before a web session ends", _int_range(60, 86400)),
        Setting("web.login_max_failures", 5, "failed web logins from one address before it must wait", _int_range(1, 1000)),
        Setting("web.login_lockout", 300, "seconds an address waits after too many failed web logins", _int_range(1, 86400)),
        Setting("dialplan.national_prefix", "0", "national (trunk) prefix, for call classes", _digits(allow_empty=True)),
        Setting("dialplan.international_prefix", "00", "international prefix, for call classes", _digits()),
        Setting("dialplan.country_code", "33", "the PBX's country code (a +CC number is national)", _digits()),
        Setting("dialplan.mobile_prefixes", "6,7", "national numbers starting so are mobile (comma list)", _digit_list),
        Setting("dialplan.premium_prefixes", "8", "national numbers starting so are premium/special", _digit_list),
        Setting("dialplan.emergency_numbers", "112,15,17,18,114", "emergency numbers (comma list)", _digit_list),
        Setting("dialplan.emergency_bypasses_acl", 1, "emergency numbers always allowed (1) or subject to ACL groups (0)", _int_range(0, 1)),
        Setting("sip.digest_algorithms", "MD5", "digest algorithms offered, preferred first: MD5, SHA-256 (some phones fail on a SHA-256 challenge)", _digest_algorithms),
        Setting("pbx.tone_zone", "fr", "call-progress tones (ringback, busy, congestion) of this country: fr, us, uk, de, it, es, nl", check_zone),
        Setting("pbx.sound_packages", "en,fr", "languages whose system prompts are installed (at most 3, comma list)", check_packages),
        Setting("media.wideband_on_lan", 1, "offer uncompressed G.711 first to phones on LAN networks (1) or G.729 everywhere except the forced networks (0)", _int_range(0, 1)),
        Setting("media.lan_networks", DEFAULT_LAN_NETWORKS, "networks the PBX treats as LAN for codec choice (comma list)", networks_setting),
        Setting("media.wideband_networks", "", "networks where G.711 is always preferred, e.g. a VPN (comma list)", networks_setting),
        Setting("trunks.dns_servers", "", "DNS servers for trunk host names, IP[:port] comma list (empty: the system's)", servers_setting),
    ]
}


def get(store: Store, key: str) -> Any:
    if key not in SETTINGS:
        raise NotFound(f"unknown setting {key!r}")
    row = store.one("SELECT value FROM settings WHERE key = ?", (key,))
    return json.loads(row["value"]) if row else SETTINGS[key].default


def get_all(store: Store) -> dict[str, Any]:
    stored = {r["key"]: json.loads(r["value"]) for r in store.all("SELECT key, value FROM settings")}
    return {k: stored.get(k, s.default) for k, s in SETTINGS.items()}


def set_value(store: Store, bus: EventBus | None, key: str, value: Any) -> Any:
    if key not in SETTINGS:
        raise NotFound(f"unknown setting {key!r}")
    try:
        checked = SETTINGS[key].check(value)
    except ValidationError as err:
        raise ValidationError(err.message, key) from None
    with store.transaction():
        store.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(checked)),
        )
    if bus is not None:
        bus.publish(ConfigChanged("settings", key))
    return checked
