"""Conformance with the ITU-T G.729 Annex A test vectors, when they are present.

The ITU distributes test vectors with the G.729A software package (files
``NAME.in`` 16-bit PCM input, ``NAME.bit`` serial bitstream, ``NAME.pst``
decoder output).  They are not public on the package registries this project
can reach, so this test runs only when a directory holding them is given in
``WPBX_G729_ITU_VECTORS`` (or exists at ``../shared/g729_itu_vectors``), and
is skipped with that reason otherwise.

Serial format (ITU-T G.192-like, as in the G.729 package): per frame a sync
word 0x6B21, a size word 80, then 80 words each 0x007F (bit 0) or 0x0081
(bit 1); a frame with any zero word is an erased frame.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from tests.codec.conftest import REPO
from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder

SYNC_WORD = 0x6B21
BIT_0, BIT_1 = 0x007F, 0x0081
SERIAL_WORDS = 82


def _vector_dir() -> Path:
    env = os.environ.get("WPBX_G729_ITU_VECTORS")
    path = Path(env) if env else REPO.parent / "shared" / "g729_itu_vectors"
    if not path.is_dir():
        pytest.skip(f"ITU-T G.729A test vectors not available (set WPBX_G729_ITU_VECTORS; looked in {path})")
    return path


def _serial_frames(data: bytes) -> list[bytes | None]:
    """Packed 10-byte frames from an ITU serial file; None for an erased frame."""
    words = struct.unpack(f"<{len(data) // 2}H", data)
    frames: list[bytes | None] = []
    for off in range(0, len(words) - SERIAL_WORDS + 1, SERIAL_WORDS):
        body = words[off + 2 : off + SERIAL_WORDS]
        if words[off] != SYNC_WORD or any(w == 0 for w in body):
            frames.append(None)
            continue
        value = 0
        for w in body:
            value = (value << 1) | (1 if w == BIT_1 else 0)
        frames.append(value.to_bytes(10, "big"))
    return frames


def _pairs(suffix_in: str, suffix_out: str) -> list[tuple[Path, Path]]:
    root = _vector_dir()
    pairs = []
    for src in sorted(root.glob(f"*{suffix_in}")) + sorted(root.glob(f"*{suffix_in.upper()}")):
        dst = src.with_suffix(suffix_out)
        if not dst.exists():
            dst = src.with_suffix(suffix_out.upper())
        if dst.exists():
            pairs.append((src, dst))
    if not pairs:
        pytest.skip(f"no *{suffix_in}/*{suffix_out} pairs in {root}")
    return pairs


def test_encoder_is_bit_exact_on_itu_vectors():
    for pcm_path, bit_path in _pairs(".in", ".bit"):
        pcm = pcm_path.read_bytes()
        pcm = pcm[: len(pcm) // 160 * 160]
        expected = _serial_frames(bit_path.read_bytes())
        ours = G729Encoder().encode(pcm)
        got = [ours[i : i + 10] for i in range(0, len(ours), 10)]
        assert got == expected[: len(got)], pcm_path.name


def test_decoder_is_bit_exact_on_itu_vectors():
    for bit_path, pst_path in _pairs(".bit", ".pst"):
        dec = G729Decoder()
        out = b"".join(
            dec.decode_lost() if frame is None else dec.decode(frame) for frame in _serial_frames(bit_path.read_bytes())
        )
        expected = pst_path.read_bytes()
        assert out[: len(expected)] == expected[: len(out)], bit_path.name
