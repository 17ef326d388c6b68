"""Robustness of the G.729 decoder and memory safety of the native codec.

Issue 4: the decoder fed random bytes and lost frames never crashes, and the
codec runs once under valgrind memcheck with no invalid access and no leak.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.codec.conftest import CORPUS, REPO
from wpbxd.telephony.media.g729 import G729Decoder, G729Encoder

NATIVE = REPO / "native"
SOURCES = ["codec_g729.c", "g729_common.c", "g729_encoder.c", "g729_decoder.c", "g729_tables.c"]


def test_decoder_survives_random_bytes_and_losses():
    rng = random.Random(729)
    dec = G729Decoder()
    for _ in range(3000):
        if rng.random() < 0.2:
            out = dec.decode_lost()
        else:
            out = dec.decode(rng.randbytes(10))
        assert len(out) == 160
    # still decodes a valid stream afterwards
    pcm = np.zeros(800, dtype="<i2").tobytes()
    assert len(dec.decode(G729Encoder().encode(pcm))) == 1600


def test_extreme_frames_do_not_crash():
    dec = G729Decoder()
    for pattern in (b"\xff" * 10, b"\x00" * 10, b"\xaa" * 10, b"\x55" * 10):
        for _ in range(50):
            assert len(dec.decode(pattern)) == 160


def test_encoder_survives_full_scale_and_clipping_input():
    rng = np.random.default_rng(1)
    loud = rng.integers(-32768, 32767, size=80 * 200, dtype=np.int16)
    square = np.where((np.arange(80 * 100) // 20) % 2, 32767, -32768).astype(np.int16)
    enc, dec = G729Encoder(), G729Decoder()
    for signal in (loud, square, np.full(800, -32768, dtype=np.int16)):
        bits = enc.encode(signal.astype("<i2").tobytes())
        assert len(dec.decode(bits)) == len(signal) * 2


def test_long_run_of_lost_frames_fades_out():
    """G.729 concealment attenuates the gains: a long erasure dies away."""
    pcm = (CORPUS / "fr_m2_s160.pcm").read_bytes() if (CORPUS / "fr_m2_s160.pcm").exists() else None
    if pcm is None:
        pcm = (8000 * np.sin(np.arange(8000) * 0.3)).astype("<i2").tobytes()
    dec = G729Decoder()
    dec.decode(G729Encoder().encode(pcm[: 160 * 100]))
    tail = b"".join(dec.decode_lost() for _ in range(200))
    last = np.frombuffer(tail[-1600:], dtype="<i2")
    assert np.abs(last).max() < 100


DRIVER = textwrap.dedent(
    """
    #include <stdio.h>
    #include <stdlib.h>
    #include "codec_g729.h"
    int main(int argc, char **argv) {
        FILE *f = fopen(argv[1], "rb");
        if (!f) return 2;
        uint8_t pcm[160], bits[10], out[160];
        g729_encoder *e = g729_encoder_new();
        g729_decoder *d = g729_decoder_new();
        unsigned n = 0, seed = 1;
        while (fread(pcm, 1, 160, f) == 160 && n < (unsigned)atoi(argv[2])) {
            g729_encode(e, pcm, 1, bits);
            if (n % 11 == 5) g729_decode_lost(d, out);
            else if (n % 17 == 9) { bits[0] ^= (uint8_t)n; g729_decode_sid(d, bits, out); }
            else if (n % 13 == 7) {
                for (int i = 0; i < 10; i++) { seed = seed * 1103515245u + 12345u; bits[i] = seed >> 16; }
                g729_decode(d, bits, 1, out);
            } else g729_decode(d, bits, 1, out);
            n++;
        }
        g729_encoder_free(e);
        g729_decoder_free(d);
        fclose(f);
        return n > 0 ? 0 : 3;
    }
    """
)


def test_codec_under_valgrind_memcheck(tmp_path):
    """A small C driver runs encoder, decoder, losses, SID and random frames under memcheck."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed (deps/apt-test.txt; make test installs it)")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    source = tmp_path / "driver.c"
    source.write_text(DRIVER)
    binary = tmp_path / "driver"
    subprocess.run(
        [cc, "-O1", "-g", "-I", str(NATIVE), str(source), *[str(NATIVE / s) for s in SOURCES], "-o", str(binary)],
        check=True,
    )
    speech = CORPUS / "en_us_m3_s160.pcm"
    if not speech.exists():
        speech = tmp_path / "noise.pcm"
        speech.write_bytes(np.random.default_rng(2).integers(-8000, 8000, 16000, dtype=np.int16).tobytes())
    result = subprocess.run(
        [
            "valgrind",
            "--tool=memcheck",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--track-origins=yes",
            str(binary),
            str(speech),
            "150",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    sys.stdout.write(result.stderr[-2000:])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "ERROR SUMMARY: 0 errors" in result.stderr


FUZZ_DRIVER = textwrap.dedent(
    """
    #include <stdio.h>
    #include <stdlib.h>
    #include "codec_g729.h"
    int main(int argc, char **argv) {
        int frames = argc > 1 ? atoi(argv[1]) : 1000;
        g729_decoder *d = g729_decoder_new();
        g729_encoder *e = g729_encoder_new();
        uint8_t bits[10], out[160], pcm[160];
        unsigned seed = 7;
        for (int n = 0; n < frames; n++) {
            for (int i = 0; i < 10; i++) { seed = seed * 1103515245u + 12345u; bits[i] = seed >> 16; }
            if (n % 9 == 3) g729_decode_lost(d, out);
            else if (n % 7 == 2) g729_decode_sid(d, bits, out);
            else g729_decode(d, bits, 1, out);
            if (n % 50 == 0)
                for (int i = 0; i < 160; i++) { seed = seed * 1103515245u + 12345u; pcm[i] = seed >> 16; }
            g729_encode(e, pcm, 1, bits);
        }
        g729_decoder_free(d);
        g729_encoder_free(e);
        return 0;
    }
    """
)


def test_random_frames_under_address_and_undefined_behaviour_sanitizers(tmp_path):
    """Random bitstreams, SID frames, erasures and random PCM through an ASan+UBSan build."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    source = tmp_path / "fuzz.c"
    source.write_text(FUZZ_DRIVER)
    binary = tmp_path / "fuzz"
    build = subprocess.run(
        [
            cc,
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-I",
            str(NATIVE),
            str(source),
            *[str(NATIVE / s) for s in SOURCES],
            "-o",
            str(binary),
        ],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        pytest.skip(f"compiler cannot build with sanitizers: {build.stderr[-300:]}")
    result = subprocess.run([str(binary), "3000"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "runtime error" not in result.stderr
