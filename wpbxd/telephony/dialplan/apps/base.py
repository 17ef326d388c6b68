"""The application contract shared by every dialplan application.

An application is built once per configuration load from its stored parameters
(``validate`` checks and normalises them; a ``ValidationError`` refuses the save)
and ``run`` against one call's ``CallContext`` and the engine's ``RunEnv`` (the
compiled dialplan, the clock, the trace). It returns ``CONTINUE`` (next
application), ``STOP`` (the call is over) or a ``Jump`` to another procedure.
``references`` names the stored objects it needs (procedures, time ranges,
switches, call groups) so that a save naming a missing one is refused.

Rule: an application never touches SIP or the store; it asks the context.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.context import CallContext

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv


@dataclass(frozen=True)
class Continue:
    pass


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Jump:
    procedure: str
    called: str | None = None


CONTINUE = Continue()
STOP = Stop()
Step = Continue | Stop | Jump

_VAR_RE = re.compile(r"\$\{(\w+)\}")
NUMBER_RE = re.compile(r"^\+?[0-9*#]+$")


def expand(text: str, ctx: CallContext) -> str:
    """Replace ``${called}``, ``${caller}``, ``${caller_name}`` in a parameter."""
    if "${" not in text:           # most parameters are plain (``${called}`` alone is the other common case)
        return text
    if text == "${called}":
        return ctx.called
    values = {"called": ctx.called, "caller": ctx.caller_number, "caller_name": ctx.caller_name}
    return _VAR_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def check_number_template(text: str, field: str) -> str:
    """A number, or a template made of numbers and ``${called}``-style variables."""
    text = text.strip()
    bare = _VAR_RE.sub("", text)
    unknown = [m.group(1) for m in _VAR_RE.finditer(text) if m.group(1) not in ("called", "caller", "caller_name")]
    if unknown:
        raise ValidationError(f"unknown variable ${{{unknown[0]}}} (use ${{called}} or ${{caller}})", field)
    if bare and not NUMBER_RE.match(bare):
        raise ValidationError(f"{text!r} is not a number (digits, +, *, #, ${{called}})", field)
    if not text:
        raise ValidationError("a number is required", field)
    return text


def seconds(params: dict[str, Any], key: str, lo: float, hi: float, default: float | None) -> float | None:
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"must be a number of seconds, not {value!r}", key) from None
    if not lo <= number <= hi:
        raise ValidationError(f"must be between {lo:g} and {hi:g} seconds", key)
    return number


def name_param(params: dict[str, Any], key: str, what: str, required: bool = True) -> str:
    value = str(params.get(key) or "").strip()
    if required and not value:
        raise ValidationError(f"which {what}? this parameter is required", key)
    return value


class Application:
    """Base class: subclasses set ``name`` and implement ``validate`` and ``run``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = self.validate(dict(params))

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise the stored parameters; raise ValidationError."""
        return params

    def references(self) -> list[tuple[str, str]]:
        """(kind, name) of stored objects this application uses.

        Kinds: ``procedure``, ``time_range``, ``switch``, ``call_group``.
        """
        return []

    def jumps(self) -> list[tuple[str, bool]]:
        """(procedure, unconditional) for every procedure this application may jump to.

        Unconditional jumps that keep the called number form the graph in which
        the save-time check looks for loops.
        """
        return []

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        raise NotImplementedError
