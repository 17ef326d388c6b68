"""cffi build of the native G.729 Annex A codec (``wpbxd._g729``).

Responsible for: declaring the C API of ``native/codec_g729.h`` to cffi and
listing the C sources.  setup.py picks up the module-level ``ffibuilder``;
running this file directly builds the extension in place (into ``wpbxd/``).
"""

import os
from pathlib import Path

from cffi import FFI

NATIVE = Path(__file__).resolve().parent
SOURCES = ["codec_g729.c", "g729_common.c", "g729_encoder.c", "g729_decoder.c", "g729_tables.c"]

CDEF = """
typedef struct g729_encoder g729_encoder;
typedef struct g729_decoder g729_decoder;
g729_encoder *g729_encoder_new(void);
void g729_encoder_free(g729_encoder *enc);
g729_decoder *g729_decoder_new(void);
void g729_decoder_free(g729_decoder *dec);
void g729_encode(g729_encoder *enc, const uint8_t *pcm, size_t nframes, uint8_t *out);
void g729_decode(g729_decoder *dec, const uint8_t *bits, size_t nframes, uint8_t *pcm);
void g729_decode_lost(g729_decoder *dec, uint8_t *pcm);
void g729_decode_sid(g729_decoder *dec, const uint8_t *sid, uint8_t *pcm);
"""


def _builder(base: Path | None) -> FFI:
    """An FFI whose source paths are relative to ``base`` (setuptools wants
    relative paths), or absolute when ``base`` is None."""
    native = str(NATIVE) if base is None else os.path.relpath(NATIVE, base)
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(
        "wpbxd._g729",
        '#include "codec_g729.h"',
        sources=[os.path.join(native, name) for name in SOURCES],
        include_dirs=[native],
        extra_compile_args=["-O3", "-std=gnu11"],
    )
    return ffi


ffibuilder = _builder(Path.cwd())

if __name__ == "__main__":
    # In-place build for development; the result takes the file name that
    # `pip install -e .` gives it (abi3), so that a later pip build replaces
    # it instead of being shadowed by a more specific extension suffix.
    # Objects and generated C stay under build/ (git-ignored).
    os.chdir(NATIVE.parent)
    built = Path(_builder(None).compile(tmpdir="build/g729"))
    built.replace(NATIVE.parent / "wpbxd" / "_g729.abi3.so")
