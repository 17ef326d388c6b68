"""Events carried by the in-process bus (see ``bus.py``).

Small immutable records; services publish them and subscribe to them instead of
calling each other. Add an event here when a new kind of news must cross services.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConfigChanged:
    """The admin changed something in the store; ``section`` says what (e.g. 'users')."""

    section: str
    key: str | None = None


@dataclass(frozen=True)
class RegistrationChanged:
    """The set of registered contacts of an address-of-record changed."""

    aor: str
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallStarted:
    call_id: str
    caller: str
    callee: str


@dataclass(frozen=True)
class CallEnded:
    call_id: str
    disposition: str


@dataclass(frozen=True)
class CallTrace:
    """One line of the live dialplan/call log (``show calls --follow``)."""

    call_id: str
    text: str


@dataclass(frozen=True)
class LeaseGranted:
    mac: str
    ip: str
    hostname: str | None = None
    vendor_class: str | None = None
    options: tuple[tuple[int, bytes], ...] = field(default=())


@dataclass(frozen=True)
class MissedCall:
    """A user's phone rang for a call nobody answered (published by the dialplan)."""

    extension: str
    caller_number: str
    caller_name: str
    called: str
    time: float              # unix seconds


@dataclass(frozen=True)
class TrunkStatusChanged:
    """A trunk's live status changed (registered, failed, down, peer registered...); for live views."""

    trunk: str
    status: str
    detail: str = ""         # registered to/from, or the last error
