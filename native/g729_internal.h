/* Internal interfaces shared by the G.729 Annex A encoder and decoder:
 * channel state records and the signal-processing blocks used by both.
 * Responsible for: declarations only.  Nothing here is part of the public
 * API (see codec_g729.h). */
#ifndef G729_INTERNAL_H
#define G729_INTERNAL_H

#include "g729_basic.h"
#include "g729_tables.h"

#define G729_SHARPMAX 13017      /* maximum pitch sharpening, 0.8 in Q14 */
#define G729_SHARPMIN 3277       /* minimum pitch sharpening, 0.2 in Q14 */
#define G729_GAMMA1 24576        /* weighting factor 0.75 in Q15 */
#define G729_GAMMA1_PST 22938    /* post-filter denominator 0.70 in Q15 */
#define G729_GAMMA2_PST 18022    /* post-filter numerator 0.55 in Q15 */
#define G729_L_H 22              /* truncated impulse response length */
#define G729_GPCLIP 15564        /* pitch gain clip when taming, 0.95 Q14 */
#define G729_GPCLIP2 481         /* same in Q9 */
#define G729_GP0999 16383        /* pitch gain bound, 0.9999 in Q14 */
#define G729_L_THRESH_ERR 983040000L
#define G729_INV_COEF (-17103)
#define G729_GAP1 10
#define G729_GAP2 5
#define G729_GAP3 321
#define G729_L_LIMIT 40          /* lowest LSF, Q13 */
#define G729_M_LIMIT 25681       /* highest LSF, Q13 */
#define G729_PI04 1029           /* 0.04 pi in Q13 */
#define G729_PI92 23677          /* 0.92 pi in Q13 */
#define G729_CONST10 20480       /* 10.0 in Q11 */
#define G729_CONST12 19661       /* 1.2 in Q14 */

/* MA-predicted LSF quantiser memory (shared layout for both directions). */
typedef struct {
    Word16 freq_prev[G729_MA_NP][G729_M];
} g729_lsfq_state;

struct g729_encoder {
    Word16 old_speech[G729_L_TOTAL];
    Word16 old_wsp[G729_L_FRAME + G729_PIT_MAX];
    Word16 old_exc[G729_L_FRAME + G729_PIT_MAX + G729_L_INTERPOL];
    Word16 lsp_old[G729_M];
    Word16 lsp_old_q[G729_M];
    Word16 mem_w0[G729_M];
    Word16 mem_w[G729_M];
    Word16 sharp;
    Word32 L_exc_err[4];
    g729_lsfq_state lsfq;
    Word16 past_qua_en[4];
    Word16 old_A[G729_MP1];
    Word16 old_rc[2];
    /* 140 Hz pre-processing filter */
    Word16 pre_y2_hi, pre_y2_lo, pre_y1_hi, pre_y1_lo, pre_x0, pre_x1;
};

struct g729_decoder {
    Word16 old_exc[G729_L_FRAME + G729_PIT_MAX + G729_L_INTERPOL];
    Word16 lsp_old[G729_M];
    Word16 mem_syn[G729_M];
    Word16 sharp;
    Word16 old_T0;
    Word16 gain_code;
    Word16 gain_pitch;
    g729_lsfq_state lsfq;
    Word16 prev_ma;
    Word16 prev_lsp[G729_M];
    Word16 past_qua_en[4];
    Word16 seed;
    Word16 synth_buf[G729_L_FRAME + G729_M];
    /* post-filter */
    Word16 res2_buf[G729_PIT_MAX + G729_L_SUBFR];
    Word16 scal_res2_buf[G729_PIT_MAX + G729_L_SUBFR];
    Word16 mem_syn_pst[G729_M];
    Word16 mem_pre;
    Word16 past_gain;
    /* 100 Hz post-processing filter */
    Word16 post_y2_hi, post_y2_lo, post_y1_hi, post_y1_lo, post_x0, post_x1;
    /* Annex B comfort noise: type of the previous frame (1 speech, 0 none,
     * 2 SID), excitation energy of the last speech frame, noise LSPs and
     * gains, and the noise generator's seed. */
    Word16 past_ftyp;
    Word32 speech_energy;
    Word16 lsp_sid[G729_M];
    Word16 sid_gain, cur_gain;
    Word16 cng_seed;
};

/* Shared blocks (g729_common.c). */
void g729_lsp_az(const Word16 lsp[], Word16 a[]);
void g729_int_qlpc(const Word16 lsp_old[], const Word16 lsp_new[], Word16 az[]);
void g729_weight_az(const Word16 a[], Word16 gamma, Word16 ap[]);
void g729_residu(const Word16 a[], const Word16 x[], Word16 y[], int lg);
void g729_syn_filt(const Word16 a[], const Word16 x[], Word16 y[], int lg, Word16 mem[], int update);
void g729_lsf_lsp2(const Word16 lsf[], Word16 lsp[]);
void g729_lsp_lsf2(const Word16 lsp[], Word16 lsf[]);
void g729_lsp_expand(Word16 buf[], Word16 gap, int from, int to);
void g729_lsp_expand_1_2(Word16 buf[], Word16 gap);
void g729_lsp_prev_extract(const Word16 lsp[], Word16 lsp_ele[], const Word16 fg[][G729_M],
                           const g729_lsfq_state *st, const Word16 fg_sum_inv[]);
void g729_lsp_get_quant(int code0, int code1, int code2, int mode, g729_lsfq_state *st, Word16 lspq[]);
void g729_lsp_prev_update(const Word16 lsp_ele[], g729_lsfq_state *st);
void g729_lsp_stability(Word16 buf[]);
void g729_lsfq_reset(g729_lsfq_state *st);
void g729_pred_lt_3(Word16 exc[], int T0, int frac, int L_subfr);
Word16 g729_parity_pitch(Word16 pitch_index);
void g729_gain_predict(const Word16 past_qua_en[], const Word16 code[], Word16 *gcode0, Word16 *exp_gcode0);
void g729_gain_update(Word16 past_qua_en[], Word32 L_gbk12);
void g729_gain_update_erasure(Word16 past_qua_en[]);

/* Encoder and decoder frame processing. */
void g729_encoder_reset(struct g729_encoder *st);
void g729_encode_frame(struct g729_encoder *st, const Word16 pcm[G729_L_FRAME], Word16 prm[G729_PRM_SIZE]);
void g729_decoder_reset(struct g729_decoder *st);
void g729_decode_frame(struct g729_decoder *st, const Word16 prm[G729_PRM_SIZE], int bfi, Word16 pcm[G729_L_FRAME]);
/* Annex B SID frame: sid = {MA switch, 1st stage, 2nd stage, energy index}. */
void g729_decode_sid_frame(struct g729_decoder *st, const Word16 sid[4], Word16 pcm[G729_L_FRAME]);

#endif
