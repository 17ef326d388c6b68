"""The application contract shared by every dialplan application."""

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from wpbxd.telephony.dialplan.context import CallContext


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


def expand(text: str, ctx: CallContext) -> str:
    """Replace ``${called}``, ``${caller}``, ``${caller_name}`` in a parameter."""
    values = {"called": ctx.called, "caller": ctx.caller_number, "caller_name": ctx.caller_name}
    return _VAR_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


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

    async def run(self, ctx: CallContext) -> Step:
        raise NotImplementedError
