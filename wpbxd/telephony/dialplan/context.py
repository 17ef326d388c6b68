"""The contract between the dialplan engine and the call engine (B2BUA).

The B2BUA creates one ``CallContext`` per incoming call and hands it to the
dialplan engine (``engine.run``), which runs applications against it. The
applications never touch SIP: they ask the context to ring destinations, answer,
hang up or log a trace line. The B2BUA never decides routing: it only does what
the context's methods are asked to do.

Rule: nothing in this module does I/O; it only defines the shapes both sides use.
"""

import enum
from dataclasses import dataclass, field
from typing import Protocol


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


class CallContext(Protocol):
    """One call as the dialplan sees it."""

    call_id: str
    caller_number: str           # who calls (an extension, or a trunk's caller number)
    caller_name: str
    called: str                  # the called number; applications may change it
    procedure: str               # the procedure the call started in
    answered: bool               # has the caller's leg been answered (200 OK sent)?

    async def dial(self, targets: list[str], timeout: float | None) -> DialResult:
        """Ring every target at once (extensions, or numbers) until one answers.

        On ANSWERED the call is bridged and ``dial`` returns once it is over.
        """

    async def answer(self) -> None:
        """Answer the caller's leg (200 OK) if it is not answered yet."""

    async def hangup(self, sip_code: int, reason: str = "") -> None:
        """End the call: an unanswered caller gets ``sip_code``, else BYE."""

    def trace(self, text: str) -> None:
        """One line for the live dialplan debug (``show calls --follow``)."""
