"""A sans-IO line editor for a raw terminal (serial line or SSH pty in raw mode).

Responsibilities: turn the bytes a person types (plus whatever noise a serial
cable adds) into events — a finished ``Line``, ``Interrupt`` (^C), ``EndOfInput``
(^D on an empty line) — and produce the bytes to echo back. Printable ASCII is
kept; backspace and DEL erase; ^U clears the line; escape sequences (arrow keys)
and any other control or 8-bit byte are dropped; a line longer than ``max_length``
rings the bell and is reported as ``LineTooLong`` when ended.

It must not read or write any file descriptor, nor know what a line means.
"""

from dataclasses import dataclass

BELL = b"\x07"
CR, LF = 0x0D, 0x0A
BACKSPACE, DEL = 0x08, 0x7F
CTRL_C, CTRL_D, CTRL_U = 0x03, 0x04, 0x15
ESC = 0x1B
MAX_LINE = 128  # characters; menu answers, host names and passwords fit


@dataclass(frozen=True)
class Line:
    text: str


@dataclass(frozen=True)
class LineTooLong:
    length: int


@dataclass(frozen=True)
class Interrupt:
    pass


@dataclass(frozen=True)
class EndOfInput:
    pass


Event = Line | LineTooLong | Interrupt | EndOfInput


class LineEditor:
    def __init__(self, max_length: int = MAX_LINE) -> None:
        self.max_length = max_length
        self.secret = False  # echo nothing for the characters (passwords)
        self._chars: list[str] = []
        self._overflow = 0
        self._after_cr = False
        self._escape: str | None = None  # None, "esc" or "csi"
        self._out = bytearray()

    def take_output(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def reset(self) -> None:
        self._chars.clear()
        self._overflow = 0
        self._escape = None

    @property
    def pending(self) -> str:
        return "".join(self._chars)

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        for byte in data:
            event = self._byte(byte)
            if event is not None:
                events.append(event)
        return events

    def _byte(self, byte: int) -> Event | None:
        after_cr, self._after_cr = self._after_cr, False
        if self._escape is not None:
            self._skip_escape(byte)
            return None
        if byte == ESC:
            self._escape = "esc"
        elif byte in (CR, LF):
            if byte == LF and after_cr:
                return None  # the LF of a CRLF pair
            self._after_cr = byte == CR
            return self._finish()
        elif byte in (BACKSPACE, DEL):
            if self._overflow:
                self._overflow -= 1
            elif self._chars:
                self._chars.pop()
                if not self.secret:
                    self._out += b"\b \b"
        elif byte == CTRL_C:
            self.reset()
            self._out += b"^C\r\n"
            return Interrupt()
        elif byte == CTRL_D:
            if not self._chars and not self._overflow:
                return EndOfInput()
        elif byte == CTRL_U:
            if not self.secret:
                self._out += b"\b \b" * len(self._chars)
            self.reset()
        elif 0x20 <= byte < 0x7F:
            if len(self._chars) >= self.max_length:
                self._overflow += 1
                self._out += BELL
            else:
                self._chars.append(chr(byte))
                if not self.secret:
                    self._out.append(byte)
        return None  # other control bytes and 8-bit noise are dropped

    def _skip_escape(self, byte: int) -> None:
        if self._escape == "esc":
            self._escape = "csi" if byte in (0x5B, 0x4F) else None  # ESC [ or ESC O
        elif 0x40 <= byte <= 0x7E:
            self._escape = None  # final byte of a control sequence

    def _finish(self) -> Event:
        self._out += b"\r\n"
        text, overflow = "".join(self._chars), self._overflow
        self.reset()
        if overflow:
            return LineTooLong(len(text) + overflow)
        return Line(text)
