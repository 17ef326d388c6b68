/* G.729 Annex A codec: channel objects, frame loop and bitstream packing.
 * Responsible for: the public API of codec_g729.h, converting between s16le
 * bytes and samples and between the 11 frame parameters and the 80-bit
 * frame (RFC 3551 4.5.6 order).  Must not do I/O; the signal processing is
 * in g729_encoder.c, g729_decoder.c and g729_common.c.
 *
 * Notes for whoever continues this codec:
 * - Written from the ITU-T G.729 / Annex A fixed-point description: every
 *   arithmetic step uses the saturating operators of g729_basic.h in the
 *   order of the Recommendation, so the intent is ITU bit-exactness.  It has
 *   not been checked against the ITU test vectors (not reachable from here);
 *   tests/codec/test_g729_itu_vectors.py runs them when they are provided.
 * - libbcg729 is not ITU-bit-exact itself (own polynomial cos/asin for the
 *   LSF<->LSP conversions, pre-halved gain codebooks, sorting LSF stability),
 *   so against it we measure ~1 % identical frames and ~16 % identical
 *   decoded samples, with the same quality (tests/codec/test_g729_interop.py
 *   checks PESQ, test_g729_bitexact.py records the agreement per field).
 * - The numeric tables in g729_tables.c are the normative ITU values.
 * - Annex B: the decoder plays SID frames and DTX gaps as comfort noise
 *   (written from the Annex B description; not checked for bit-exactness).
 *   The encoder has no VAD/DTX: it always sends 10-byte speech frames. */
#include <stdlib.h>

#include "codec_g729.h"
#include "g729_internal.h"

/* Bits per parameter, in transmission order (ITU-T G.729 table 8). */
static const int bits_per_param[G729_PRM_SIZE] = {8, 10, 8, 1, 13, 4, 7, 5, 13, 4, 7};

static void prm_to_bytes(const Word16 prm[G729_PRM_SIZE], uint8_t out[G729_FRAME_BYTES])
{
    uint32_t acc = 0;
    int nacc = 0, k = 0, i;

    for (i = 0; i < G729_PRM_SIZE; i++) {
        acc = (acc << bits_per_param[i]) | ((uint32_t)(uint16_t)prm[i] & ((1u << bits_per_param[i]) - 1));
        nacc += bits_per_param[i];
        while (nacc >= 8) {
            nacc -= 8;
            out[k++] = (uint8_t)(acc >> nacc);
        }
    }
}

static void bytes_to_prm(const uint8_t in[G729_FRAME_BYTES], Word16 prm[G729_PRM_SIZE])
{
    uint32_t acc = 0;
    int nacc = 0, k = 0, i;

    for (i = 0; i < G729_PRM_SIZE; i++) {
        while (nacc < bits_per_param[i]) {
            acc = (acc << 8) | in[k++];
            nacc += 8;
        }
        nacc -= bits_per_param[i];
        prm[i] = (Word16)((acc >> nacc) & ((1u << bits_per_param[i]) - 1));
    }
}

g729_encoder *g729_encoder_new(void)
{
    g729_encoder *enc = malloc(sizeof *enc);
    if (enc)
        g729_encoder_reset(enc);
    return enc;
}

void g729_encoder_free(g729_encoder *enc)
{
    free(enc);
}

g729_decoder *g729_decoder_new(void)
{
    g729_decoder *dec = malloc(sizeof *dec);
    if (dec)
        g729_decoder_reset(dec);
    return dec;
}

void g729_decoder_free(g729_decoder *dec)
{
    free(dec);
}

void g729_encode(g729_encoder *enc, const uint8_t *pcm, size_t nframes, uint8_t *out)
{
    Word16 speech[G729_L_FRAME], prm[G729_PRM_SIZE];
    size_t f;
    int i;

    for (f = 0; f < nframes; f++) {
        const uint8_t *p = pcm + f * G729_FRAME_PCM_BYTES;
        for (i = 0; i < G729_L_FRAME; i++)
            speech[i] = (Word16)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        g729_encode_frame(enc, speech, prm);
        prm_to_bytes(prm, out + f * G729_FRAME_BYTES);
    }
}

static void store_pcm(const Word16 synth[G729_L_FRAME], uint8_t *out)
{
    int i;

    for (i = 0; i < G729_L_FRAME; i++) {
        uint16_t v = (uint16_t)synth[i];
        out[2 * i] = (uint8_t)(v & 0xff);
        out[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

void g729_decode(g729_decoder *dec, const uint8_t *bits, size_t nframes, uint8_t *pcm)
{
    Word16 prm[G729_PRM_SIZE], synth[G729_L_FRAME];
    size_t f;

    for (f = 0; f < nframes; f++) {
        bytes_to_prm(bits + f * G729_FRAME_BYTES, prm);
        g729_decode_frame(dec, prm, 0, synth);
        store_pcm(synth, pcm + f * G729_FRAME_PCM_BYTES);
    }
}

void g729_decode_lost(g729_decoder *dec, uint8_t *pcm)
{
    Word16 prm[G729_PRM_SIZE] = {0}, synth[G729_L_FRAME];

    g729_decode_frame(dec, prm, 1, synth);
    store_pcm(synth, pcm);
}

void g729_decode_sid(g729_decoder *dec, const uint8_t *sid, uint8_t *pcm)
{
    Word16 prm[4], synth[G729_L_FRAME];
    unsigned v = ((unsigned)sid[0] << 8) | sid[1];

    prm[0] = (Word16)((v >> 15) & 1);
    prm[1] = (Word16)((v >> 10) & 31);
    prm[2] = (Word16)((v >> 6) & 15);
    prm[3] = (Word16)((v >> 1) & 31);
    g729_decode_sid_frame(dec, prm, synth);
    store_pcm(synth, pcm);
}
