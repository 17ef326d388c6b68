"""Python API of the G.729 codec: frame-size checks, state, lifetime.

The API contract is the one of issue 4: whole 10 ms frames (160 bytes of
s16le PCM <-> 10 bytes of G.729), one object per channel, state kept between
calls, ``decode_lost()`` for frame erasure concealment.
"""

import pytest

from tests.codec.conftest import snr_db
from wpbxd.telephony.media.g729 import FRAME_BYTES, FRAME_PCM_BYTES, G729Decoder, G729Encoder


def _tone(frames: int) -> bytes:
    import numpy as np

    n = np.arange(frames * 80)
    sig = 8000 * np.sin(2 * np.pi * 440 * n / 8000) + 3000 * np.sin(2 * np.pi * 1230 * n / 8000)
    return sig.astype("<i2").tobytes()


@pytest.mark.parametrize("size", [0, 1, 159, 161, 320 - 2])
def test_encoder_rejects_partial_frames_with_a_clear_error(size):
    with G729Encoder() as enc:
        with pytest.raises(ValueError, match=rf"whole number of 160-byte frames \(got {size} bytes\)"):
            enc.encode(bytes(size))


@pytest.mark.parametrize("size", [0, 9, 11, 25])
def test_decoder_rejects_partial_frames_with_a_clear_error(size):
    with G729Decoder() as dec:
        with pytest.raises(ValueError, match=rf"whole number of 10-byte frames \(got {size} bytes\)"):
            dec.decode(bytes(size))


def test_wrong_input_type_is_a_type_error():
    with pytest.raises(TypeError, match="must be bytes"):
        G729Encoder().encode("not bytes")  # type: ignore[arg-type]


def test_a_bad_call_leaves_the_channel_usable_and_unchanged():
    pcm = _tone(20)
    reference = G729Encoder().encode(pcm)
    enc = G729Encoder()
    with pytest.raises(ValueError):
        enc.encode(pcm[:100])
    assert enc.encode(pcm) == reference


def test_sizes_of_encoded_and_decoded_frames():
    pcm = _tone(7)
    bits = G729Encoder().encode(pcm)
    assert len(bits) == 7 * FRAME_BYTES
    dec = G729Decoder()
    assert len(dec.decode(bits)) == 7 * FRAME_PCM_BYTES
    assert len(dec.decode_lost()) == FRAME_PCM_BYTES


def test_state_is_kept_between_calls():
    """Frame-by-frame calls give the same result as one call (state carried over)."""
    pcm = _tone(30)
    whole = G729Encoder().encode(pcm)
    enc = G729Encoder()
    pieces = b"".join(enc.encode(pcm[i : i + 160]) for i in range(0, len(pcm), 160))
    assert pieces == whole
    dec_whole = G729Decoder().decode(whole)
    dec = G729Decoder()
    assert b"".join(dec.decode(whole[i : i + 10]) for i in range(0, len(whole), 10)) == dec_whole


def test_channels_are_independent():
    pcm = _tone(10)
    first, second = G729Encoder(), G729Encoder()
    first.encode(_tone(25))
    assert second.encode(pcm) == G729Encoder().encode(pcm)


def test_round_trip_reproduces_a_tone():
    pcm = _tone(100)
    out = G729Decoder().decode(G729Encoder().encode(pcm))
    # the decoded signal lags the input by 40 samples (look-ahead)
    assert snr_db(pcm[:-80], out[80:]) > 4.0  # libbcg729 gets 5.2 dB on this signal


def test_closed_objects_refuse_work_and_close_is_idempotent():
    enc = G729Encoder()
    enc.close()
    enc.close()
    with pytest.raises(ValueError, match="closed"):
        enc.encode(bytes(160))
    with G729Decoder() as dec:
        dec.decode(bytes(10))
    with pytest.raises(ValueError, match="closed"):
        dec.decode_lost()


def test_accepts_bytearray_and_memoryview():
    pcm = _tone(3)
    expected = G729Encoder().encode(pcm)
    assert G729Encoder().encode(bytearray(pcm)) == expected
    assert G729Encoder().encode(memoryview(pcm)) == expected


def test_channels_in_parallel_threads_give_the_sequential_results():
    """No hidden global state in the native codec: threads (GIL released) do not interfere."""
    from concurrent.futures import ThreadPoolExecutor

    signals = [_tone(60 + 7 * k) for k in range(4)]
    expected = [G729Decoder().decode(G729Encoder().encode(s)) for s in signals]

    def work(signal: bytes) -> bytes:
        enc, dec = G729Encoder(), G729Decoder()
        out = b""
        for i in range(0, len(signal), 1600):
            out += dec.decode(enc.encode(signal[i : i + 1600]))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(work, signals)) == expected
