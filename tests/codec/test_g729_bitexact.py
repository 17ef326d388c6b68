"""How close our G.729A codec is, bit for bit, to libbcg729 (measured, reported).

Our codec follows the fixed-point C description of ITU-T G.729 Annex A; every
decoder stage was checked line by line against the Recommendation's
arithmetic (LSP dequantisation with MA prediction, stability and expansion,
Lsf_lsp2, interpolation and Lsp_Az, pitch delay decoding and the 1/3
interpolation filter, algebraic codebook and pitch sharpening, MA gain
prediction with Log2/Pow2, Dec_gain, excitation and synthesis with the
overflow rescale, the post-filter with its AGC, and post-processing).
libbcg729 does not reproduce that arithmetic, so a Recommendation-exact
decoder cannot be bit-exact with it.  Two departures are shown by feeding
both decoders the same bits (crafted streams that vary one field at a time,
and the corpus streams):

* Fixed-codebook gain.  The Recommendation keeps the decoded gain g_c in Q1
  (Dec_gain: ``extract_h`` of the shifted product, truncated), so on the
  all-zero signal, whose bits ask for g_c ~ 0.9, g_c is 1 (0.5) and the
  algebraic pulses round to a zero excitation: the output is silent from
  frame 1 on.  libbcg729 carries the gain more finely and keeps producing a
  pulse of +-2 at every subframe start.  With g_c taken before truncation
  our decoder matches libbcg729 on 100 % of that stream's samples (82.5 % as
  specified), but only ~18 % of the corpus's.
* LSF -> LSP conversion and what follows it.  Varying only the first-stage
  LSF index of an otherwise silent frame changes the output of the two
  decoders differently for 234 of the 256 codes, and substituting an exact
  cosine for the Recommendation's table interpolation does not close it, so
  libbcg729's LP filter arithmetic differs as well.  (libbcg729's README says
  its block-test patterns come from the ITU code; the Debian build still
  departs on these streams.)

This module measures and records the agreement (tests/artifacts/
codec_bitexact.tsv, with the first differing decoded sample of each item) and
asserts exactly what holds: on the all-zero signal every encoder parameter
except the second-stage LSF index (which libbcg729's own LP analysis
decides differently) is identical, and our decoder does what the Recommendation's
Q1 gain arithmetic computes for that stream.
"""

from __future__ import annotations

import numpy as np

from tests.codec.conftest import ARTIFACTS
from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder

FIELD_BITS = (8, 10, 8, 1, 13, 4, 7, 5, 13, 4, 7)  # ITU-T G.729 table 8 order
FIELD_NAMES = ("L0L1", "L2L3", "P1", "P0", "C1", "S1", "GA1GB1", "P2", "C2", "S2", "GA2GB2")


def unpack(frame: bytes) -> list[int]:
    value = int.from_bytes(frame, "big")
    fields, pos = [], 80
    for width in FIELD_BITS:
        pos -= width
        fields.append((value >> pos) & ((1 << width) - 1))
    return fields


def field_agreement(ours: bytes, ref: bytes) -> np.ndarray:
    frames = len(ref) // 10
    same = np.zeros(len(FIELD_BITS))
    for n in range(frames):
        a, b = unpack(ours[10 * n : 10 * n + 10]), unpack(ref[10 * n : 10 * n + 10])
        same += [x == y for x, y in zip(a, b, strict=True)]
    return same / frames


def first_differing_sample(decoded: np.ndarray, reference: np.ndarray) -> str:
    differing = np.flatnonzero(decoded != reference)
    return "-" if differing.size == 0 else str(int(differing[0]))


def test_measure_bit_exactness_against_bcg729(corpus):
    lines = [
        "item\tidentical_frames_%\tidentical_decoded_samples_%\t"
        "first_differing_decoded_sample\t" + "\t".join(FIELD_NAMES)
    ]
    total_frames = total_same_frames = total_samples = total_same_samples = 0
    for item in corpus:
        ours_bits = G729Encoder().encode(item.pcm)
        a = np.frombuffer(ours_bits, dtype=np.uint8).reshape(-1, 10)
        b = np.frombuffer(item.bits, dtype=np.uint8).reshape(-1, 10)
        same_frames = int(np.all(a == b, axis=1).sum())
        decoded = np.frombuffer(G729Decoder().decode(item.bits), dtype="<i2")
        reference = np.frombuffer(item.dec, dtype="<i2")
        same_samples = int(np.sum(decoded == reference))
        fields = field_agreement(ours_bits, item.bits)
        lines.append(
            f"{item.name}\t{100 * same_frames / len(b):.1f}\t"
            f"{100 * same_samples / len(reference):.1f}\t"
            f"{first_differing_sample(decoded, reference)}\t"
            + "\t".join(f"{100 * f:.1f}" for f in fields)
        )
        total_frames += len(b)
        total_same_frames += same_frames
        total_samples += len(reference)
        total_same_samples += same_samples
    frames_pct = 100 * total_same_frames / total_frames
    lines.append(f"all\t{frames_pct:.1f}\t{100 * total_same_samples / total_samples:.1f}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "codec_bitexact.tsv").write_text("\n".join(lines) + "\n")
    print("\nBit-exactness against libbcg729 (tests/artifacts/codec_bitexact.tsv)")
    print("\n".join(lines))
    assert total_frames > 0


def test_all_zero_signal_matches_bcg729_in_every_non_lsf_parameter(corpus):
    item = next(i for i in corpus if i.name == "silence")
    agreement = field_agreement(G729Encoder().encode(item.pcm), item.bits)
    for name, value in zip(FIELD_NAMES, agreement, strict=True):
        if name == "L2L3":
            continue
        assert value == 1.0, f"{name}: {100 * value:.1f}% identical"


def test_decoding_of_the_all_zero_signal_stays_within_rounding_of_bcg729(corpus):
    item = next(i for i in corpus if i.name == "silence")
    decoded = np.frombuffer(G729Decoder().decode(item.bits), dtype="<i2").astype(int)
    reference = np.frombuffer(item.dec, dtype="<i2").astype(int)
    assert np.abs(decoded - reference).max() <= 2


# --- the Recommendation's code gain, recomputed here from its fixed-point
# description (G.729 3.9.1 / Annex A: Gain_predict, Dec_gain, Gain_update)

# log2(1 + i/32) in Q15 and 2^(i/32) in Q14 (the Recommendation's Log2 and Pow2 tables)
TABLOG = (0, 1455, 2866, 4236, 5568, 6863, 8124, 9352, 10549, 11716, 12855, 13967, 15054,
          16117, 17156, 18172, 19167, 20142, 21097, 22033, 22951, 23852, 24735, 25603, 26455,
          27291, 28113, 28922, 29716, 30497, 31266, 32023, 32767)
TABPOW = (16384, 16743, 17109, 17484, 17867, 18258, 18658, 19066, 19484, 19911, 20347, 20792,
          21247, 21713, 22188, 22674, 23170, 23678, 24196, 24726, 25268, 25821, 26386, 26964,
          27554, 28158, 28774, 29405, 30048, 30706, 31379, 32066, 32767)
GAIN_PREDICTOR = (5571, 4751, 2785, 1556)  # MA gain prediction 0.68 0.58 0.34 0.19, Q13
GBK1_CODE = (1516, 2425, 5022, 5404, 9291, 9949, 14756, 27162)  # code-gain column of GA, Q13
GBK2_CODE = (2005, 0, 592, 2395, 4861, 525, 2966, 1196, 3256, 1630, 4914, 14276, 237, 3392,
             1861, 5935)
IMAP1 = (5, 1, 7, 4, 2, 0, 6, 3)
IMAP2 = (2, 14, 3, 13, 0, 15, 1, 12, 6, 10, 7, 9, 4, 11, 5, 8)


def _sat32(x: int) -> int:
    return max(-(2**31), min(2**31 - 1, x))


def _l_mac(acc: int, a: int, b: int) -> int:
    return _sat32(acc + _sat32(2 * a * b))


def _mult(a: int, b: int) -> int:
    return max(-32768, min(32767, (a * b) >> 15))


def _extract_l(x: int) -> int:
    return ((x & 0xFFFF) ^ 0x8000) - 0x8000


def _mpy_32_16(hi: int, lo: int, n: int) -> int:
    return _l_mac(_sat32(2 * hi * n), _mult(lo, n), 1)


def _log2(x: int) -> tuple[int, int]:
    norm = 0
    while x < 0x40000000:
        x, norm = x << 1, norm + 1
    i, a = (x >> 25) - 32, (x >> 10) & 0x7FFF
    return 30 - norm, _sat32((TABLOG[i] << 16) - 2 * (TABLOG[i] - TABLOG[i + 1]) * a) >> 16


def _pow2_14(fraction: int) -> int:
    i, a = fraction >> 10, (fraction << 5) & 0x7FFF
    x = (TABPOW[i] << 16) - 2 * (TABPOW[i] - TABPOW[i + 1]) * a
    return (x >> 16) + ((x >> 15) & 1)  # L_shr_r(x, 30 - 14)


def recommendation_code_gains(code: list[int], gain_indices: list[int]) -> list[int]:
    """g_c in Q1 for successive subframes with the same algebraic code vector."""
    past_qua_en = [-14336] * 4  # -14 dB in Q10
    gains = []
    for index in gain_indices:
        energy = 0
        for c in code:
            energy = _l_mac(energy, c, c)
        exp, frac = _log2(energy)
        # 127.3 dB - 3.01 log2(energy), Q14 -> Q24
        acc = _l_mac(_mpy_32_16(exp, frac, -24660), 32588, 32) << 10
        for p, q in zip(GAIN_PREDICTOR, past_qua_en, strict=True):
            acc = _l_mac(acc, p, q)
        gcode0_db = acc >> 16  # Q8
        t = _sat32(2 * gcode0_db * 5439) >> 8  # * log2(10)/20, Q16
        exp, frac = t >> 16, _extract_l((t >> 1) - (t >> 16) * 16384)
        gcode0, exp_gcode0 = _pow2_14(frac), 14 - exp
        gbk12 = GBK1_CODE[IMAP1[index >> 4]] + GBK2_CODE[IMAP2[index & 15]]
        product = _sat32(2 * (gbk12 >> 1) * gcode0)
        shift = 4 - exp_gcode0
        product = _sat32(product << shift) if shift >= 0 else product >> -shift
        gains.append(product >> 16)  # extract_h: Q1, truncated
        exp, frac = _log2(gbk12)
        tmp = _sat32(((exp - 13) << 16) + 2 * frac) << 13 >> 16  # log2(gbk12), Q13
        past_qua_en = [_mult(tmp, 24660)] + past_qua_en[:3]  # 20 log10(gbk12), Q10
    return gains


def test_decoder_follows_the_recommendations_q1_code_gain_where_bcg729_does_not(corpus):
    """All-zero signal: libbcg729's bitstream repeats the same parameters in every
    subframe (pulses +1 at 0..3, lag 20, gain index 86).  The Recommendation's
    arithmetic gives g_c = 2 (Q1) in the first subframe and 1 from the second on;
    an excitation sample 8191 (Q13) * g_c 1 (Q1) rounds to 0, so from frame 1 on
    nothing excites the synthesis filter and the output is exactly silent.
    libbcg729 keeps a finer gain (~0.9) and goes on emitting small pulses."""
    item = next(i for i in corpus if i.name == "silence")
    frames = [unpack(item.bits[n : n + 10]) for n in range(0, len(item.bits), 10)]
    assert all(f[2:] == frames[0][2:] == [2, 1, 0, 15, 86, 2, 0, 15, 86] for f in frames)

    code = [0] * 40
    code[0:4] = [8191] * 4  # C = 0, S = 15: +1.0 at positions 0, 1, 2, 3
    code[20:24] = [_mult(8191, 2 * 3277)] * 4  # pitch sharpening at lag 20 with SHARPMIN
    gains = recommendation_code_gains(code, [86] * 6)
    assert gains == [2, 1, 1, 1, 1, 1]
    assert (((2 * 8191 * 1) << 1) + 0x8000) >> 16 == 0  # the pulses vanish from the excitation

    ours = np.frombuffer(G729Decoder().decode(item.bits), dtype="<i2")
    reference = np.frombuffer(item.dec, dtype="<i2")
    assert ours[:4].tolist() == reference[:4].tolist() == [2, 2, 2, 2]
    assert not ours[80:].any(), "our decoder no longer follows the Recommendation's Q1 code gain"
    assert reference[80:].any(), "libbcg729 now follows the Q1 code gain: update the findings above"
