"""Throughput of our G.729A codec against libbcg729, in the same run.

Measures frames per second of encoding and decoding the speech corpus with
our native codec (``wpbxd._g729``) and with Debian's libbcg729, both driven
from C loops (libbcg729 through a small cffi helper compiled here, so that
Python call overhead is identical: one call per buffer), alternately and in
CPU time so that other load on the machine affects both alike.  Prints
absolute figures (medians over repeats) and the median ratios ours /
libbcg729 (issue 4 target: >= 1.0 for both directions).

Run: .venv/bin/python bench/codec.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
REPEATS = 7
MIN_FRAMES = 6000  # frames per timed pass (60 s of audio)

HELPER_CDEF = """
void bcg_encode_all(const int16_t *pcm, size_t nframes, uint8_t *out);
void bcg_decode_all(const uint8_t *bits, size_t nframes, int16_t *pcm);
"""
HELPER_SRC = """
#include <stddef.h>
#include <stdint.h>
#include <bcg729/encoder.h>
#include <bcg729/decoder.h>
void bcg_encode_all(const int16_t *pcm, size_t nframes, uint8_t *out) {
    bcg729EncoderChannelContextStruct *ctx = initBcg729EncoderChannel(0);
    uint8_t len;
    for (size_t i = 0; i < nframes; i++) bcg729Encoder(ctx, pcm + 80 * i, out + 10 * i, &len);
    closeBcg729EncoderChannel(ctx);
}
void bcg_decode_all(const uint8_t *bits, size_t nframes, int16_t *pcm) {
    bcg729DecoderChannelContextStruct *ctx = initBcg729DecoderChannel();
    for (size_t i = 0; i < nframes; i++) bcg729Decoder(ctx, bits + 10 * i, 10, 0, 0, 0, pcm + 80 * i);
    closeBcg729DecoderChannel(ctx);
}
"""


def _bcg729_helper():
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(HELPER_CDEF)
    ffi.set_source("_bench_bcg729", HELPER_SRC, libraries=["bcg729"], extra_compile_args=["-O2"])
    tmp = tempfile.mkdtemp(prefix="bench_codec_")
    path = ffi.compile(tmpdir=tmp)
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_bcg729", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi, module.lib


def _speech() -> bytes:
    if CORPUS.is_dir():
        pcm = b"".join(p.read_bytes() for p in sorted(CORPUS.glob("*.pcm")) if not p.name.endswith(".dec.pcm"))
    else:
        import numpy as np

        rng = np.random.default_rng(3)
        pcm = (rng.normal(0, 3000, 80 * 1000)).astype("<i2").tobytes()
    while len(pcm) < MIN_FRAMES * 160:
        pcm += pcm
    return pcm[: MIN_FRAMES * 160]


def _cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _compare(ours, theirs, frames: int) -> tuple[float, float, float]:
    """Median frames/s of both and median of the per-repeat ratios ours/theirs.

    The two are timed alternately, in CPU time of this process, so that load
    from other processes on the machine affects both alike.
    """
    ours_rates, their_rates, ratios = [], [], []
    for _ in range(REPEATS):
        a = frames / _cpu_seconds(ours)
        b = frames / _cpu_seconds(theirs)
        ours_rates.append(a)
        their_rates.append(b)
        ratios.append(a / b)
    return statistics.median(ours_rates), statistics.median(their_rates), statistics.median(ratios)


def main() -> int:
    pcm = _speech()
    frames = len(pcm) // 160
    bits = G729Encoder().encode(pcm)
    try:
        ffi, lib = _bcg729_helper()
    except Exception as exc:  # noqa: BLE001 - any build failure means "no anchor"
        print(f"libbcg729 helper unavailable ({exc}); install libbcg729-dev")
        return 1
    pcm_buf = ffi.from_buffer("int16_t[]", pcm)
    bits_buf = ffi.from_buffer("uint8_t[]", bits)
    bcg_bits = ffi.new("uint8_t[]", frames * 10)
    bcg_pcm = ffi.new("int16_t[]", frames * 80)

    ours_enc, bcg_enc, ratio_enc = _compare(
        lambda: G729Encoder().encode(pcm), lambda: lib.bcg_encode_all(pcm_buf, frames, bcg_bits), frames
    )
    ours_dec, bcg_dec, ratio_dec = _compare(
        lambda: G729Decoder().decode(bits), lambda: lib.bcg_decode_all(bits_buf, frames, bcg_pcm), frames
    )

    print(f"G.729A codec throughput, {frames} frames per pass, {REPEATS} alternating passes, CPU time (frames/s)")
    print(f"  encoder: ours {ours_enc:10.0f}   libbcg729 {bcg_enc:10.0f}   ratio ours/bcg729 {ratio_enc:5.2f}")
    print(f"  decoder: ours {ours_dec:10.0f}   libbcg729 {bcg_dec:10.0f}   ratio ours/bcg729 {ratio_dec:5.2f}")
    print(f"  real-time channels per core: encoder {ours_enc / 100:.0f}, decoder {ours_dec / 100:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
