"""Annex B streams (VAD/DTX with SID frames) played by our decoder.

Peers that negotiate G.729 with annexb=yes stop sending speech frames in
silence and send 2-byte SID frames describing the background noise instead
(ITU-T G.729 Annex B, RFC 3551 4.5.6).  Our decoder renders them as comfort
noise.  libbcg729's encoder with VAD on produces such streams from the
corpus; the comfort noise we render must have the level libbcg729's decoder
renders (our CNG follows the Annex B description but is not claimed
bit-exact), and whole-file quality must match.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.codec.conftest import ARTIFACTS, samples
from wpbxd.telephony.media.g729 import G729Decoder

NOISE_LEVEL_TOLERANCE_DB = 3.0
PESQ_TOLERANCE = 0.10  # MOS
AUDIBLE_DB = 0.0  # mean power (in s16 units squared, dB) under which noise counts as digital silence


def _decode_ours(frames: list[bytes]) -> bytes:
    dec = G729Decoder()
    out = []
    for bits in frames:
        if len(bits) == 10:
            out.append(dec.decode(bits))
        elif len(bits) == 2:
            out.append(dec.decode_sid(bits))
        else:
            out.append(dec.decode_lost())  # untransmitted frame: comfort noise goes on
    return b"".join(out)


def _power_db(pcm: bytes, frames: list[int]) -> float:
    x = samples(pcm)
    power = np.mean([np.mean(x[80 * n : 80 * n + 80] ** 2) for n in frames])
    return float(10 * np.log10(power + 1e-9))


def test_comfort_noise_level_matches_bcg729(corpus, bcg729):
    rows, checked = [], 0
    for item in corpus:
        frames = bcg729.encode_dtx(item.pcm)
        silent = [n for n, bits in enumerate(frames) if len(bits) != 10]
        if not silent:
            continue
        ours = _decode_ours(frames)
        theirs = bcg729.decode_dtx(frames)
        assert len(ours) == len(theirs)
        p_ours, p_theirs = _power_db(ours, silent), _power_db(theirs, silent)
        rows.append(f"{item.name}\t{len(silent)}\t{p_theirs:.1f}\t{p_ours:.1f}")
        if p_theirs < AUDIBLE_DB:
            assert p_ours < AUDIBLE_DB, item.name
            continue
        checked += 1
        assert abs(p_ours - p_theirs) < NOISE_LEVEL_TOLERANCE_DB, rows[-1]
    print("\nComfort noise power in DTX frames, dB (item, frames, bcg729, ours)")
    print("\n".join(rows))
    assert checked >= 3


def test_pesq_of_annex_b_streams_matches_bcg729(corpus, bcg729):
    pesq = pytest.importorskip("pesq", reason="PyPI pesq not installed (deps/pip-test.txt)")
    lines, failures = ["item\tbcg729_decoder\tour_decoder"], []
    for item in corpus:
        if item.kind != "speech":
            continue
        frames = bcg729.encode_dtx(item.pcm)
        ref = samples(item.pcm)
        theirs = pesq.pesq(8000, ref, samples(bcg729.decode_dtx(frames)), "nb")
        ours = pesq.pesq(8000, ref, samples(_decode_ours(frames)), "nb")
        lines.append(f"{item.name}\t{theirs:.3f}\t{ours:.3f}")
        if ours < theirs - PESQ_TOLERANCE:
            failures.append(lines[-1])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "codec_pesq_annexb.tsv").write_text("\n".join(lines) + "\n")
    print("\nPESQ of Annex B (VAD/DTX) streams from libbcg729 (tests/artifacts/codec_pesq_annexb.tsv)")
    print("\n".join(lines))
    assert not failures, failures


def test_random_sid_frames_and_gaps_do_not_crash():
    import random

    rng = random.Random(3)
    dec = G729Decoder()
    for _ in range(2000):
        choice = rng.random()
        if choice < 0.4:
            out = dec.decode_sid(rng.randbytes(2))
        elif choice < 0.7:
            out = dec.decode_lost()
        else:
            out = dec.decode(rng.randbytes(10))
        assert len(out) == 160


def test_sid_and_payload_size_errors_are_clear():
    dec = G729Decoder()
    for size in (0, 1, 3, 10):
        with pytest.raises(ValueError, match=rf"SID frame is 2 bytes \(got {size} bytes\)"):
            dec.decode_sid(bytes(size))
    for size in (0, 1, 9, 11, 13, 21):
        with pytest.raises(ValueError, match=rf"optionally followed by one 2-byte SID frame \(got {size} bytes\)"):
            dec.decode_payload(bytes(size))


def test_rtp_payload_with_trailing_sid_is_frames_then_comfort_noise():
    frames = bytes(range(10)) * 2
    sid = b"\x12\x34"
    a, b = G729Decoder(), G729Decoder()
    expected = a.decode(frames) + a.decode_sid(sid)
    assert b.decode_payload(frames + sid) == expected
    assert len(G729Decoder().decode_payload(sid)) == 160
