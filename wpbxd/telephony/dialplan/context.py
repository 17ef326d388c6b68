"""The contract between the dialplan engine and the call engine (B2BUA).

The B2BUA creates one ``CallContext`` per incoming call and hands it to the
dialplan engine (``engine.run``), which runs applications against it. The
applications never touch SIP: they ask the context to ring destinations, answer,
hang up or log a trace line. The B2BUA never decides routing: it only does what
the context's methods are asked to do (forwarding, DND, call groups, ACL and
caller-id changes are all decided by the dialplan from stored data).

Rule: nothing in this module does I/O; it only defines the shapes both sides use.
"""

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from wpbxd.telephony.media.channel import MediaChannel
    from wpbxd.telephony.media.services import MediaServices
    from wpbxd.telephony.trunks.model import GroupMember


class DialStatus(enum.Enum):
    """How a ``dial`` ended (Asterisk's DIALSTATUS, in our words)."""

    ANSWERED = "ANSWERED"        # a destination answered; the call ran and is over now
    BUSY = "BUSY"                # every destination was busy (486/600)
    NO_ANSWER = "NO ANSWER"      # rang until the timeout
    UNAVAILABLE = "UNAVAILABLE"  # no registered contact / destination unreachable (480)
    NOT_FOUND = "NOT FOUND"      # no such extension or number
    REJECTED = "REJECTED"        # the destination refused (403/603 ...)
    FAILED = "FAILED"            # network or protocol failure
    CANCELLED = "CANCELLED"      # the caller hung up while it rang


@dataclass(frozen=True)
class DialResult:
    status: DialStatus
    sip_code: int = 0            # the final SIP status that ended it, when there was one
    reason: str = ""
    answered_by: str = ""        # which target answered (its ``number``), when ANSWERED


class CallEnd(enum.Enum):
    """What the dialplan finally did with the call."""

    COMPLETED = "completed"      # answered and over (by dial, or an app that answered)
    HANGUP = "hangup"            # an application hung up with a cause
    NO_MATCH = "no match"        # no entry matched the called number
    EXHAUSTED = "exhausted"      # the applications ran out without ending the call


@dataclass(frozen=True)
class Outcome:
    end: CallEnd
    sip_code: int = 0            # the final response the caller should get, if unanswered
    reason: str = ""
    trace: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class DialTarget:
    """One destination of ``CallContext.ring``.

    ``number`` is an extension (rung on every registered contact of that user) or
    another number (rung through a trunk once trunks exist; until then a number
    that is no extension ends as NOT_FOUND). ``delay`` is the seconds after the
    start of ``ring`` before this target starts ringing (mobility fork: the mobile
    rings N seconds after the desk phone). ``ring_time`` is the most seconds this
    target rings (``None``: until the overall timeout).
    """

    number: str
    delay: float = 0.0
    ring_time: float | None = None


@dataclass(frozen=True)
class ExtensionState:
    """What the call engine knows right now about one extension."""

    registered: bool             # at least one registered contact
    active_calls: int = 0        # calls in progress (ringing or answered) involving it


class CallContext(Protocol):
    """One call as the dialplan sees it.

    The dialplan may assign ``called``, ``caller_number`` and ``caller_name``; the
    B2BUA must use their values *at the time of* ``dial``/``ring`` for the outgoing
    leg (Request-URI user, From user and display name).
    """

    call_id: str
    caller_number: str           # who calls (an extension, or a trunk's caller number)
    caller_name: str
    called: str                  # the called number; applications may change it
    procedure: str               # the procedure the call started in
    answered: bool               # has the caller's leg been answered (200 OK sent)?
    services: "MediaServices | None"  # what media applications may ask of the PBX (None: no media)

    async def dial(self, targets: list[str], timeout: float | None) -> DialResult:
        """Ring every target at once (extensions, or numbers) until one answers.

        On ANSWERED the call is bridged and ``dial`` returns once it is over.
        """

    async def ring(self, targets: list[DialTarget], timeout: float | None) -> DialResult:
        """Like ``dial``, with a start delay and a ring time per target.

        Every target starts ringing ``delay`` seconds after the call to ``ring``
        and stops after its own ``ring_time``; the whole attempt stops after
        ``timeout`` seconds (``None``: the PBX default ring time). The first
        target to answer wins (the others get CANCEL) and ``answered_by`` names
        it; ``ring`` returns once the bridged call is over. When nobody answered,
        the status says why: BUSY if every target that was tried was busy,
        UNAVAILABLE if none could be reached, NO_ANSWER if something rang.
        ``dial(targets, t)`` is ``ring([DialTarget(n) for n in targets], t)``.
        """

    def extension_state(self, extension: str) -> ExtensionState:
        """Registration and call count of ``extension`` right now (no I/O, no wait).

        The dialplan uses it to skip busy or unreachable call-group members and
        to apply "call waiting off" (a user already in a call gets BUSY).
        """

    async def wait(self, seconds: float) -> bool:
        """Let the call sit ``seconds`` (ringing, or in silence if answered).

        Returns False at once if the caller hung up meanwhile, else True.
        """

    async def answer(self) -> None:
        """Answer the caller's leg (200 OK) if it is not answered yet."""

    async def media(self, codecs: tuple[str, ...] | None = None,
                    first: tuple[str, ...] | None = None) -> "MediaChannel":
        """Answer the caller (if not yet) with the PBX's own media and return the channel
        through which applications play sounds, collect digits, record and echo (IVR,
        voicemail, feature codes). A later ``dial``/``ring`` takes the caller's media
        over to the phone that answers. Raises ``ChannelClosed`` once the caller is
        gone, ``MediaUnavailable`` when this call cannot have media.

        ``codecs``: only these may be answered (a fax receiver: G.711); a call already
        answered in another codec raises ``MediaUnavailable``. ``first``: preferred when
        the caller offers them, the codec policy's choice otherwise (a fax detector)."""

    async def hangup(self, sip_code: int, reason: str = "") -> None:
        """End the call: an unanswered caller gets ``sip_code``, else BYE."""

    def publish(self, event: object) -> None:
        """Publish ``event`` on the daemon's event bus (e.g. ``events.MissedCall``)."""

    def trace(self, text: str) -> None:
        """One line for the live dialplan debug (``show calls --follow``)."""

    async def dial_trunk(self, trunk: str, number: str, timeout: float | None, limit: int = 0,
                         procedure: str | None = None, quiet_early: bool = False) -> DialResult:
        """Send the call out through the SIP trunk named ``trunk`` to ``number`` (trunks issue).

        ``number`` is what the trunk receives (already stripped/prefixed by the
        dialplan). A trunk that is down or has ``limit`` (or its own maximum)
        calls in progress is not tried: UNAVAILABLE with sip_code 503 at once.
        Otherwise like ``ring`` with one target: ANSWERED after the bridged call
        is over; else BUSY (486/600), NOT_FOUND (404/484), REJECTED (403/603),
        NO_ANSWER (it rang until ``timeout``) or FAILED with the provider's code
        (503 congestion, 408 no answer from the provider...). ``procedure`` asks
        a remote wpbx to run the call in that procedure; ``quiet_early`` keeps
        the trunk's early media from the caller (a trunk group hunting keeps one
        continuous ringback).
        """

    def trunk_group(self, name: str) -> "tuple[GroupMember, ...] | None":
        """The ordered members of trunk group ``name`` (None when there is none)."""
