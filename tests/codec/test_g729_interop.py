"""Interoperability and quality of our G.729A codec against libbcg729.

Issue 4: our decoder must play libbcg729's bitstreams and libbcg729's
decoder ours; on every speech item of the shared corpus PESQ (ITU-T P.862,
narrowband) of our encoder -> our decoder and of our encoder -> libbcg729's
decoder must be within 0.10 MOS of libbcg729 -> libbcg729.  The PESQ table
is written to tests/artifacts/codec_pesq.tsv and printed.
"""

from __future__ import annotations

import pytest

from tests.codec.conftest import ARTIFACTS, samples, snr_db
from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder

PESQ_TOLERANCE = 0.10  # MOS, issue 4
# Our decoder against libbcg729's decoder on the same bitstream: both follow
# the fixed-point G.729A description, so differences are small rounding
# effects; 25 dB is far above what a bit-order or parameter mistake gives.
MIN_DECODER_AGREEMENT_DB = 25.0


def _ours_decode(bits: bytes) -> bytes:
    return G729Decoder().decode(bits)


def _ours_encode(pcm: bytes) -> bytes:
    return G729Encoder().encode(pcm)


def test_our_decoder_plays_bcg729_bitstreams(corpus):
    """Our decoder on libbcg729's bitstream is close to libbcg729's own decoding."""
    for item in corpus:
        ours = _ours_decode(item.bits)
        assert len(ours) == len(item.dec)
        if item.name == "silence":
            assert max(abs(samples(ours))) <= 4
            continue
        assert snr_db(item.dec, ours) > MIN_DECODER_AGREEMENT_DB, item.name


def test_bcg729_decoder_plays_our_bitstreams(corpus, bcg729):
    """libbcg729's decoder on our bitstream is close to our decoding of it."""
    for item in corpus:
        bits = _ours_encode(item.pcm)
        theirs = bcg729.decode(bits)
        ours = _ours_decode(bits)
        if item.name == "silence":
            assert max(abs(samples(theirs))) <= 4
            continue
        assert snr_db(theirs, ours) > MIN_DECODER_AGREEMENT_DB, item.name


def test_bcg729_decoder_conceals_our_stream_with_losses(corpus, bcg729):
    item = next(i for i in corpus if i.kind == "speech")
    bits = _ours_encode(item.pcm)
    lost = frozenset(range(10, len(bits) // 10, 7))
    theirs = bcg729.decode(bits, lost)
    dec = G729Decoder()
    ours = b"".join(
        dec.decode_lost() if n in lost else dec.decode(bits[10 * n : 10 * n + 10]) for n in range(len(bits) // 10)
    )
    # concealment is the same algorithm on both sides: the outputs stay close
    assert snr_db(theirs, ours) > 15.0


def test_pesq_of_our_codec_matches_bcg729_on_every_speech_item(corpus, bcg729):
    pesq = pytest.importorskip("pesq", reason="PyPI pesq not installed (deps/pip-test.txt)")
    rows = []
    failures = []
    for item in corpus:
        if item.kind != "speech":
            continue
        ref = samples(item.pcm)
        ours_bits = _ours_encode(item.pcm)
        # The decoders lag the input by 40 samples; P.862 aligns the signals
        # itself (its time alignment absorbs the lag), so no shift is applied.
        score_ref = pesq.pesq(8000, ref, samples(item.dec), "nb")
        score_oo = pesq.pesq(8000, ref, samples(_ours_decode(ours_bits)), "nb")
        score_ob = pesq.pesq(8000, ref, samples(bcg729.decode(ours_bits)), "nb")
        score_bo = pesq.pesq(8000, ref, samples(_ours_decode(item.bits)), "nb")
        rows.append((item.name, score_ref, score_oo, score_ob, score_bo))
        for label, score in (("ours->ours", score_oo), ("ours->bcg729", score_ob)):
            if score < score_ref - PESQ_TOLERANCE:
                failures.append(f"{item.name}: {label} {score:.2f} < bcg729 {score_ref:.2f} - {PESQ_TOLERANCE}")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    header = "item\tbcg729->bcg729\tours->ours\tours->bcg729\tbcg729->ours"
    lines = [header] + [f"{n}\t{a:.3f}\t{b:.3f}\t{c:.3f}\t{d:.3f}" for n, a, b, c, d in rows]
    means = [sum(r[k] for r in rows) / len(rows) for k in range(1, 5)]
    lines.append("mean\t" + "\t".join(f"{m:.3f}" for m in means))
    (ARTIFACTS / "codec_pesq.tsv").write_text("\n".join(lines) + "\n")
    print("\nPESQ P.862 narrowband MOS-LQO (tests/artifacts/codec_pesq.tsv)")
    print("\n".join(lines))
    assert len(rows) >= 1
    assert not failures, failures


LOSS_RATE = 0.10  # fraction of frames erased in the concealment comparison


def test_pesq_with_ten_percent_frame_loss_matches_bcg729_concealment(corpus, bcg729):
    """Frame erasure concealment (G.729 4.4) of our decoder scores like libbcg729's."""
    import random

    pesq = pytest.importorskip("pesq", reason="PyPI pesq not installed (deps/pip-test.txt)")
    rows, failures = [], []
    for item in corpus:
        if item.kind != "speech":
            continue
        frames = len(item.bits) // 10
        rng = random.Random(item.name)
        lost = frozenset(n for n in range(frames) if rng.random() < LOSS_RATE)
        dec = G729Decoder()
        ours = b"".join(
            dec.decode_lost() if n in lost else dec.decode(item.bits[10 * n : 10 * n + 10]) for n in range(frames)
        )
        ref = samples(item.pcm)
        score_theirs = pesq.pesq(8000, ref, samples(bcg729.decode(item.bits, lost)), "nb")
        score_ours = pesq.pesq(8000, ref, samples(ours), "nb")
        rows.append(f"{item.name}\t{len(lost)}\t{score_theirs:.3f}\t{score_ours:.3f}")
        if score_ours < score_theirs - PESQ_TOLERANCE:
            failures.append(f"{item.name}: ours {score_ours:.2f} < bcg729 {score_theirs:.2f} - {PESQ_TOLERANCE}")
    lines = ["item\tlost_frames\tbcg729_decoder\tour_decoder"] + rows
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "codec_pesq_loss.tsv").write_text("\n".join(lines) + "\n")
    print(f"\nPESQ with {LOSS_RATE:.0%} lost frames on libbcg729's bitstreams (tests/artifacts/codec_pesq_loss.tsv)")
    print("\n".join(lines))
    assert rows
    assert not failures, failures
