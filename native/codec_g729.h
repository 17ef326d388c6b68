/* Public C API of the G.729 Annex A codec (8 kbit/s CS-ACELP).
 *
 * One encoder or decoder object per channel; objects are independent and
 * may be used from different threads.  PCM is 16-bit little-endian mono at
 * 8 kHz in frames of 80 samples (160 bytes); a coded frame is 10 bytes in
 * the bit order of RFC 3551 section 4.5.6 (ITU-T G.729 table 8, MSB first).
 */
#ifndef CODEC_G729_H
#define CODEC_G729_H

#include <stddef.h>
#include <stdint.h>

#define G729_FRAME_SAMPLES 80
#define G729_FRAME_PCM_BYTES 160
#define G729_FRAME_BYTES 10

typedef struct g729_encoder g729_encoder;
typedef struct g729_decoder g729_decoder;

/* Allocation: NULL on allocation failure.  free() accepts NULL. */
g729_encoder *g729_encoder_new(void);
void g729_encoder_free(g729_encoder *enc);
g729_decoder *g729_decoder_new(void);
void g729_decoder_free(g729_decoder *dec);

/* Encode nframes frames: pcm holds nframes * 160 bytes (s16le), out
 * receives nframes * 10 bytes. */
void g729_encode(g729_encoder *enc, const uint8_t *pcm, size_t nframes, uint8_t *out);

/* Decode nframes frames: bits holds nframes * 10 bytes, pcm receives
 * nframes * 160 bytes (s16le).  Any bit pattern is accepted. */
void g729_decode(g729_decoder *dec, const uint8_t *bits, size_t nframes, uint8_t *pcm);

/* Conceal one lost frame: pcm receives 160 bytes (s16le).  During
 * silence (after an Annex B SID frame) this continues the comfort noise,
 * which is also how an untransmitted (DTX) frame is played. */
void g729_decode_lost(g729_decoder *dec, uint8_t *pcm);

/* Annex B: play one 2-byte SID frame (RFC 3551 4.5.6: MA switch, 5 + 4
 * bits of noise LSF, 5 bits of energy, one unused bit) as comfort noise;
 * pcm receives 160 bytes (s16le). */
#define G729_SID_BYTES 2
void g729_decode_sid(g729_decoder *dec, const uint8_t *sid, uint8_t *pcm);

#endif
