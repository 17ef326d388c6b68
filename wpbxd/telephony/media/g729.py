"""G.729 Annex A (8 kbit/s CS-ACELP) encoder and decoder objects.

Responsible for: one codec channel per object over the native C codec
(``wpbxd._g729``, sources in ``native/``), checking frame sizes and owning
the native state (freed by ``close()``, the context manager or GC).
Must not do I/O, timing or RTP packetisation: it converts whole 10 ms frames
only (16-bit little-endian mono PCM at 8 kHz <-> 10-byte G.729 frames in RFC
3551 section 4.5.6 bit order).  The decoder also plays Annex B SID frames
and DTX gaps as comfort noise; the encoder never produces them (no VAD).
Objects may live in
different threads (the C calls release the GIL and share no state), but one
object must not be used by two threads at once.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from wpbxd._g729 import ffi, lib

SAMPLE_RATE = 8000  # Hz
FRAME_SAMPLES = 80  # samples per frame (10 ms at 8 kHz)
FRAME_PCM_BYTES = 2 * FRAME_SAMPLES  # bytes of s16le PCM per frame
FRAME_BYTES = 10  # bytes of G.729 bitstream per frame (80 bits)
SID_BYTES = 2  # bytes of a G.729 Annex B SID frame (15 bits + 1 unused)


def _whole_frames(data: bytes, frame_size: int, what: str) -> int:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(data).__name__}")
    size = len(data)
    if size == 0 or size % frame_size:
        raise ValueError(
            f"{what} must be a whole number of {frame_size}-byte frames (got {size} bytes)"
        )
    return size // frame_size


class _Channel:
    _free = None

    def __init__(self, handle: object) -> None:
        if handle == ffi.NULL:
            raise MemoryError("cannot allocate G.729 codec state")
        self._handle = ffi.gc(handle, self._free)

    def _live(self) -> object:
        if self._handle is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._handle

    def close(self) -> None:
        """Free the native state now (idempotent)."""
        if self._handle is not None:
            ffi.release(self._handle)
            self._handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class G729Encoder(_Channel):
    """Encoder for one channel: ``encode(pcm)`` keeps state between calls."""

    _free = lib.g729_encoder_free

    def __init__(self) -> None:
        super().__init__(lib.g729_encoder_new())

    def encode(self, pcm: bytes) -> bytes:
        """Encode s16le 8 kHz PCM (whole 160-byte frames) into 10 bytes per frame."""
        nframes = _whole_frames(pcm, FRAME_PCM_BYTES, "G.729 encoder input PCM")
        out = ffi.new("uint8_t[]", nframes * FRAME_BYTES)
        lib.g729_encode(self._live(), ffi.from_buffer(pcm), nframes, out)
        return bytes(ffi.buffer(out))


class G729Decoder(_Channel):
    """Decoder for one channel: ``decode(bits)`` and ``decode_lost()`` keep state."""

    _free = lib.g729_decoder_free

    def __init__(self) -> None:
        super().__init__(lib.g729_decoder_new())

    def decode(self, bits: bytes) -> bytes:
        """Decode whole 10-byte G.729 frames into 160 bytes of s16le PCM each."""
        nframes = _whole_frames(bits, FRAME_BYTES, "G.729 decoder input")
        out = ffi.new("uint8_t[]", nframes * FRAME_PCM_BYTES)
        lib.g729_decode(self._live(), ffi.from_buffer(bits), nframes, out)
        return bytes(ffi.buffer(out))

    def decode_lost(self) -> bytes:
        """Conceal one lost frame (G.729 frame erasure): 160 bytes of s16le PCM.

        During silence (after a SID frame) this continues the comfort noise,
        which is also how to play a frame the sender did not transmit (DTX).
        """
        out = ffi.new("uint8_t[]", FRAME_PCM_BYTES)
        lib.g729_decode_lost(self._live(), out)
        return bytes(ffi.buffer(out))

    def decode_sid(self, sid: bytes) -> bytes:
        """Play one 2-byte Annex B SID frame as 10 ms of comfort noise (160 bytes)."""
        if not isinstance(sid, (bytes, bytearray, memoryview)):
            raise TypeError(f"G.729 SID frame must be bytes, not {type(sid).__name__}")
        if len(sid) != SID_BYTES:
            raise ValueError(f"a G.729 Annex B SID frame is {SID_BYTES} bytes (got {len(sid)} bytes)")
        out = ffi.new("uint8_t[]", FRAME_PCM_BYTES)
        lib.g729_decode_sid(self._live(), ffi.from_buffer(sid), out)
        return bytes(ffi.buffer(out))

    def decode_payload(self, payload: bytes) -> bytes:
        """Decode an RTP payload: whole 10-byte frames, optionally ending with
        one 2-byte SID frame (RFC 3551 section 4.5.6); 160 bytes per frame."""
        size = len(payload)
        if size == 0 or size % FRAME_BYTES not in (0, SID_BYTES):
            raise ValueError(
                f"G.729 RTP payload must be 10-byte frames optionally followed by one "
                f"2-byte SID frame (got {size} bytes)"
            )
        speech = size - size % FRAME_BYTES
        out = self.decode(payload[:speech]) if speech else b""
        if speech != size:
            out += self.decode_sid(payload[speech:])
        return out
