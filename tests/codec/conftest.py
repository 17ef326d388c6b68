"""Fixtures of the codec tests: the shared speech corpus and libbcg729.

libbcg729 (Debian ``libbcg729-0``) is the reference G.729A implementation.
It is loaded here through cffi ABI mode for the tests and benches only; the
product never links it.
"""

from __future__ import annotations

import ctypes.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
ARTIFACTS = REPO / "tests" / "artifacts"

BCG729_CDEF = """
typedef struct bcg729EncoderChannelContextStruct_struct bcg729EncoderChannelContextStruct;
typedef struct bcg729DecoderChannelContextStruct_struct bcg729DecoderChannelContextStruct;
bcg729EncoderChannelContextStruct *initBcg729EncoderChannel(uint8_t enableVAD);
void closeBcg729EncoderChannel(bcg729EncoderChannelContextStruct *ctx);
void bcg729Encoder(bcg729EncoderChannelContextStruct *ctx, const int16_t inputFrame[],
                   uint8_t bitStream[], uint8_t *bitStreamLength);
bcg729DecoderChannelContextStruct *initBcg729DecoderChannel(void);
void closeBcg729DecoderChannel(bcg729DecoderChannelContextStruct *ctx);
void bcg729Decoder(bcg729DecoderChannelContextStruct *ctx, const uint8_t bitStream[],
                   uint8_t bitStreamLength, uint8_t frameErasureFlag, uint8_t SIDFrameFlag,
                   uint8_t rfc3389PayloadFlag, int16_t signal[]);
"""


class Bcg729:
    """Whole-buffer encode/decode through libbcg729 (fresh channel per call)."""

    def __init__(self) -> None:
        from cffi import FFI

        name = ctypes.util.find_library("bcg729") or "libbcg729.so.0"
        self.ffi = FFI()
        self.ffi.cdef(BCG729_CDEF)
        self.lib = self.ffi.dlopen(name)

    def encode(self, pcm: bytes) -> bytes:
        ffi, lib = self.ffi, self.lib
        ctx = lib.initBcg729EncoderChannel(0)
        frame = ffi.new("int16_t[80]")
        out = ffi.new("uint8_t[10]")
        length = ffi.new("uint8_t *")
        chunks = []
        try:
            for off in range(0, len(pcm), 160):
                ffi.memmove(frame, pcm[off : off + 160], 160)
                lib.bcg729Encoder(ctx, frame, out, length)
                chunks.append(bytes(ffi.buffer(out, length[0])))
        finally:
            lib.closeBcg729EncoderChannel(ctx)
        return b"".join(chunks)

    def encode_dtx(self, pcm: bytes) -> list[bytes]:
        """Encode with Annex B VAD/DTX on: frames of 10 (speech), 2 (SID) or 0 bytes."""
        ffi, lib = self.ffi, self.lib
        ctx = lib.initBcg729EncoderChannel(1)
        frame = ffi.new("int16_t[80]")
        out = ffi.new("uint8_t[10]")
        length = ffi.new("uint8_t *")
        frames = []
        try:
            for off in range(0, len(pcm), 160):
                ffi.memmove(frame, pcm[off : off + 160], 160)
                lib.bcg729Encoder(ctx, frame, out, length)
                frames.append(bytes(ffi.buffer(out, length[0])))
        finally:
            lib.closeBcg729EncoderChannel(ctx)
        return frames

    def decode_dtx(self, frames: list[bytes]) -> bytes:
        """Decode 10-byte speech, 2-byte SID and empty (untransmitted) frames."""
        ffi, lib = self.ffi, self.lib
        ctx = lib.initBcg729DecoderChannel()
        frame = ffi.new("uint8_t[10]")
        out = ffi.new("int16_t[80]")
        chunks = []
        try:
            for bits in frames:
                ffi.memmove(frame, bits, len(bits))
                lib.bcg729Decoder(ctx, frame, len(bits), 1 if not bits else 0, 1 if len(bits) == 2 else 0, 0, out)
                chunks.append(bytes(ffi.buffer(out, 160)))
        finally:
            lib.closeBcg729DecoderChannel(ctx)
        return b"".join(chunks)

    def decode(self, bits: bytes, lost: frozenset[int] = frozenset()) -> bytes:
        ffi, lib = self.ffi, self.lib
        ctx = lib.initBcg729DecoderChannel()
        frame = ffi.new("uint8_t[10]")
        out = ffi.new("int16_t[80]")
        chunks = []
        try:
            for index, off in enumerate(range(0, len(bits), 10)):
                ffi.memmove(frame, bits[off : off + 10], 10)
                lib.bcg729Decoder(ctx, frame, 10, 1 if index in lost else 0, 0, 0, out)
                chunks.append(bytes(ffi.buffer(out, 160)))
        finally:
            lib.closeBcg729DecoderChannel(ctx)
        return b"".join(chunks)


@dataclass(frozen=True)
class CorpusItem:
    name: str
    kind: str
    pcm: bytes
    bits: bytes  # libbcg729's bitstream of pcm
    dec: bytes  # libbcg729's decoding of bits


def load_corpus() -> list[CorpusItem]:
    items = []
    for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]:
        if not line.strip():
            continue
        name, kind = line.split("\t")[:2]
        items.append(
            CorpusItem(
                name=name,
                kind=kind,
                pcm=(CORPUS / f"{name}.pcm").read_bytes(),
                bits=(CORPUS / f"{name}.g729").read_bytes(),
                dec=(CORPUS / f"{name}.dec.pcm").read_bytes(),
            )
        )
    return items


@pytest.fixture(scope="session")
def corpus() -> list[CorpusItem]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"speech corpus not found at {CORPUS} (CI keeps shared/ beside the clone)")
    return load_corpus()


@pytest.fixture(scope="session")
def bcg729() -> Bcg729:
    try:
        return Bcg729()
    except OSError as exc:
        pytest.skip(f"libbcg729 not available ({exc}); make test installs libbcg729-dev")


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def snr_db(reference: bytes, test: bytes) -> float:
    """Signal-to-difference ratio of two equally long s16le signals, dB."""
    ref, tst = samples(reference), samples(test)
    noise = np.sum((ref - tst) ** 2)
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(max(np.sum(ref**2), 1.0) / noise))
