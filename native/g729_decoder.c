/* G.729 Annex A decoder: 11 parameters (or an erasure flag) in, one 10 ms
 * frame of 80 samples out.  LSF dequantisation, adaptive and algebraic
 * excitation, gain decoding, LP synthesis, the Annex A post-filter
 * (long-term, short-term, tilt compensation, AGC) and 100 Hz high-pass
 * post-processing.  Frame erasures are concealed as in the Recommendation:
 * previous LSFs, incremented previous pitch lag, random fixed codebook and
 * attenuated gains.
 * Responsible for: the signal processing of one channel, state kept in
 * struct g729_decoder.  Must not allocate, do I/O or unpack bits. */
#include <string.h>

#include "g729_internal.h"

static Word16 random_next(struct g729_decoder *st)
{
    /* seed = seed * 31821 + 13849 */
    st->seed = extract_l(L_add(L_shr(L_mult(st->seed, 31821), 1), 13849L));
    return st->seed;
}

static void d_lsp(struct g729_decoder *st, const Word16 prm[], Word16 lsp_q[], int erase)
{
    Word16 lsf_q[G729_M], buf[G729_M];

    if (!erase) {
        int mode = (prm[0] >> G729_NC0_B) & 1;
        int code0 = prm[0] & (G729_NC0 - 1);
        int code1 = (prm[1] >> G729_NC1_B) & (G729_NC1 - 1);
        int code2 = prm[1] & (G729_NC1 - 1);
        g729_lsp_get_quant(code0, code1, code2, mode, &st->lsfq, lsf_q);
        memcpy(st->prev_lsp, lsf_q, sizeof lsf_q);
        st->prev_ma = (Word16)mode;
    } else {
        memcpy(lsf_q, st->prev_lsp, sizeof lsf_q);
        g729_lsp_prev_extract(st->prev_lsp, buf, g729_fg[st->prev_ma], &st->lsfq, g729_fg_sum_inv[st->prev_ma]);
        g729_lsp_prev_update(buf, &st->lsfq);
    }
    g729_lsf_lsp2(lsf_q, lsp_q);
}

static void dec_lag3(Word16 index, int i_subfr, Word16 *T0, Word16 *T0_frac)
{
    Word16 i, T0_min, T0_max;

    if (i_subfr == 0) {
        if (sub(index, 197) < 0) {
            *T0 = add(mult(add(index, 2), 10923), 19);
            i = add(add(*T0, *T0), *T0);
            *T0_frac = add(sub(index, i), 58);
        } else {
            *T0 = sub(index, 112);
            *T0_frac = 0;
        }
    } else {
        T0_min = sub(*T0, 5);
        if (sub(T0_min, G729_PIT_MIN) < 0)
            T0_min = G729_PIT_MIN;
        T0_max = add(T0_min, 9);
        if (sub(T0_max, G729_PIT_MAX) > 0) {
            T0_max = G729_PIT_MAX;
            T0_min = sub(T0_max, 9);
        }
        i = sub(mult(add(index, 2), 10923), 1);
        *T0 = add(i, T0_min);
        i = add(add(i, i), i);
        *T0_frac = sub(sub(index, 2), i);
    }
}

static void decod_acelp(Word16 sign, Word16 index, Word16 cod[])
{
    Word16 pos[4];
    int i, j;

    i = index & 7;
    pos[0] = (Word16)(i * 5);
    index = shr(index, 3);
    i = index & 7;
    pos[1] = (Word16)(i * 5 + 1);
    index = shr(index, 3);
    i = index & 7;
    pos[2] = (Word16)(i * 5 + 2);
    index = shr(index, 3);
    j = index & 1;
    index = shr(index, 1);
    i = index & 7;
    pos[3] = (Word16)(i * 5 + 3 + j);

    memset(cod, 0, G729_L_SUBFR * sizeof cod[0]);
    for (j = 0; j < 4; j++) {
        i = sign & 1;
        sign = shr(sign, 1);
        cod[pos[j]] = i ? 8191 : -8192;
    }
}

static void dec_gain(struct g729_decoder *st, Word16 index, const Word16 code[], int bfi, Word16 *gain_pit,
                     Word16 *gain_cod)
{
    Word16 index1, index2, tmp, gcode0, exp_gcode0;
    Word32 L_gbk12, L_acc;

    if (bfi) {
        *gain_pit = mult(*gain_pit, 29491);
        if (sub(*gain_pit, 29491) > 0)
            *gain_pit = 29491;
        *gain_cod = mult(*gain_cod, 32111);
        g729_gain_update_erasure(st->past_qua_en);
        return;
    }
    index1 = g729_imap1[(index >> G729_NCODE2_B) & (G729_NCODE1 - 1)];
    index2 = g729_imap2[index & (G729_NCODE2 - 1)];
    *gain_pit = add(g729_gbk1[index1][0], g729_gbk2[index2][0]);

    g729_gain_predict(st->past_qua_en, code, &gcode0, &exp_gcode0);
    L_gbk12 = L_add(L_deposit_l(g729_gbk1[index1][1]), L_deposit_l(g729_gbk2[index2][1]));
    tmp = extract_l(L_shr(L_gbk12, 1));
    L_acc = L_mult(tmp, gcode0);
    L_acc = L_shl(L_acc, add(negate(exp_gcode0), -12 - 1 + 1 + 16));
    *gain_cod = extract_h(L_acc);
    g729_gain_update(st->past_qua_en, L_gbk12);
}

/* ---------------------------------------------------------------- post-filter */

static void pit_pst_filt(const Word16 *signal, const Word16 *scal_sig, int t0_min, int t0_max, Word16 *signal_pst)
{
    Word16 g0, gain, cmax, en, en0;
    Word32 corr, cor_max = MIN_32, ener, ener0, temp;
    int i, j, t0 = t0_min;

    for (i = t0_min; i <= t0_max; i++) {
        const Word16 *p = scal_sig, *p1 = scal_sig - i;
        corr = 0;
        for (j = 0; j < G729_L_SUBFR; j++)
            corr = L_mac(corr, p[j], p1[j]);
        if (L_sub(corr, cor_max) > 0) {
            cor_max = corr;
            t0 = i;
        }
    }
    ener = 1;
    for (i = 0; i < G729_L_SUBFR; i++)
        ener = L_mac(ener, scal_sig[i - t0], scal_sig[i - t0]);
    ener0 = 1;
    for (i = 0; i < G729_L_SUBFR; i++)
        ener0 = L_mac(ener0, scal_sig[i], scal_sig[i]);
    if (cor_max < 0)
        cor_max = 0;

    temp = cor_max;
    if (ener > temp)
        temp = ener;
    if (ener0 > temp)
        temp = ener0;
    j = norm_l(temp);
    cmax = g729_round(L_shl(cor_max, (Word16)j));
    en = g729_round(L_shl(ener, (Word16)j));
    en0 = g729_round(L_shl(ener0, (Word16)j));

    /* prediction gain below 3 dB: no long-term post-filter */
    temp = L_mult(cmax, cmax);
    temp = L_sub(temp, L_shr(L_mult(en, en0), 1));
    if (temp < 0) {
        for (i = 0; i < G729_L_SUBFR; i++)
            signal_pst[i] = signal[i];
        return;
    }
    if (sub(cmax, en) > 0) {
        g0 = 21845;
        gain = 10923;
    } else {
        cmax = shr(mult(cmax, 16384), 1);
        en = shr(en, 1);
        i = add(cmax, en);
        if (i > 0) {
            gain = div_s(cmax, (Word16)i);
            g0 = sub(32767, gain);
        } else {
            g0 = 32767;
            gain = 0;
        }
    }
    for (i = 0; i < G729_L_SUBFR; i++)
        signal_pst[i] = add(mult(g0, signal[i]), mult(gain, signal[i - t0]));
}

static void preemphasis(struct g729_decoder *st, Word16 *signal, Word16 g)
{
    Word16 temp = signal[G729_L_SUBFR - 1];
    int i;

    for (i = G729_L_SUBFR - 1; i > 0; i--)
        signal[i] = sub(signal[i], mult(g, signal[i - 1]));
    signal[0] = sub(signal[0], mult(g, st->mem_pre));
    st->mem_pre = temp;
}

static void agc(struct g729_decoder *st, const Word16 *sig_in, Word16 *sig_out)
{
    Word16 signal[G729_L_SUBFR], exp, gain_in, gain_out, g0, gain;
    Word32 s;
    int i;

    for (i = 0; i < G729_L_SUBFR; i++)
        signal[i] = shr(sig_out[i], 2);
    s = 0;
    for (i = 0; i < G729_L_SUBFR; i++)
        s = L_mac(s, signal[i], signal[i]);
    if (s == 0) {
        st->past_gain = 0;
        return;
    }
    exp = sub(norm_l(s), 1);
    gain_out = g729_round(L_shl(s, exp));

    for (i = 0; i < G729_L_SUBFR; i++)
        signal[i] = shr(sig_in[i], 2);
    s = 0;
    for (i = 0; i < G729_L_SUBFR; i++)
        s = L_mac(s, signal[i], signal[i]);
    if (s == 0) {
        g0 = 0;
    } else {
        Word16 n = norm_l(s);
        gain_in = g729_round(L_shl(s, n));
        exp = sub(exp, n);
        s = L_deposit_l(div_s(gain_out, gain_in));
        s = L_shl(s, 7);
        s = L_shr(s, exp);
        s = g729_inv_sqrt(s);
        n = g729_round(L_shl(s, 9));
        g0 = mult(n, 3276); /* (1 - AGC factor 0.9) in Q15 */
    }
    gain = st->past_gain;
    for (i = 0; i < G729_L_SUBFR; i++) {
        gain = mult(gain, 29491);
        gain = add(gain, g0);
        sig_out[i] = extract_h(L_shl(L_mult(sig_out[i], gain), 3));
    }
    st->past_gain = gain;
}

static void post_filter(struct g729_decoder *st, Word16 *syn, const Word16 *Az_4, const Word16 *T)
{
    Word16 res2_pst[G729_L_SUBFR], syn_pst[G729_L_FRAME];
    Word16 Ap3[G729_MP1], Ap4[G729_MP1], h[G729_L_H];
    Word16 *res2 = st->res2_buf + G729_PIT_MAX;
    Word16 *scal_res2 = st->scal_res2_buf + G729_PIT_MAX;
    const Word16 *Az = Az_4;
    Word16 temp1, temp2;
    Word32 L_tmp;
    int i, j, i_subfr;

    for (i_subfr = 0; i_subfr < G729_L_FRAME; i_subfr += G729_L_SUBFR) {
        int t0_min = *T++ - 3;
        int t0_max = t0_min + 6;
        if (t0_max > G729_PIT_MAX) {
            t0_max = G729_PIT_MAX;
            t0_min = t0_max - 6;
        }
        g729_weight_az(Az, G729_GAMMA2_PST, Ap3);
        g729_weight_az(Az, G729_GAMMA1_PST, Ap4);
        g729_residu(Ap3, &syn[i_subfr], res2, G729_L_SUBFR);
        for (j = 0; j < G729_L_SUBFR; j++)
            scal_res2[j] = shr(res2[j], 2);
        pit_pst_filt(res2, scal_res2, t0_min, t0_max, res2_pst);

        /* tilt compensation from the impulse response of Ap3/Ap4 */
        memcpy(h, Ap3, G729_MP1 * sizeof h[0]);
        memset(&h[G729_MP1], 0, (G729_L_H - G729_MP1) * sizeof h[0]);
        g729_syn_filt(Ap4, h, h, G729_L_H, &h[G729_MP1], 0);
        L_tmp = L_mult(h[0], h[0]);
        for (i = 1; i < G729_L_H; i++)
            L_tmp = L_mac(L_tmp, h[i], h[i]);
        temp1 = extract_h(L_tmp);
        L_tmp = L_mult(h[0], h[1]);
        for (i = 1; i < G729_L_H - 1; i++)
            L_tmp = L_mac(L_tmp, h[i], h[i + 1]);
        temp2 = extract_h(L_tmp);
        if (temp2 <= 0) {
            temp2 = 0;
        } else {
            temp2 = mult(temp2, 26214); /* 0.8 */
            temp2 = div_s(temp2, temp1);
        }
        preemphasis(st, res2_pst, temp2);

        g729_syn_filt(Ap4, res2_pst, &syn_pst[i_subfr], G729_L_SUBFR, st->mem_syn_pst, 1);
        agc(st, &syn[i_subfr], &syn_pst[i_subfr]);

        memmove(&res2[-G729_PIT_MAX], &res2[G729_L_SUBFR - G729_PIT_MAX], G729_PIT_MAX * sizeof(Word16));
        memmove(&scal_res2[-G729_PIT_MAX], &scal_res2[G729_L_SUBFR - G729_PIT_MAX], G729_PIT_MAX * sizeof(Word16));
        Az += G729_MP1;
    }
    memmove(&syn[-G729_M], &syn[G729_L_FRAME - G729_M], G729_M * sizeof(Word16));
    memcpy(syn, syn_pst, G729_L_FRAME * sizeof(Word16));
}

static void post_process(struct g729_decoder *st, Word16 sig[], int lg)
{
    int i;

    for (i = 0; i < lg; i++) {
        Word16 x2 = st->post_x1;
        Word32 t;
        st->post_x1 = st->post_x0;
        st->post_x0 = sig[i];
        t = Mpy_32_16(st->post_y1_hi, st->post_y1_lo, g729_a100[1]);
        t = L_add(t, Mpy_32_16(st->post_y2_hi, st->post_y2_lo, g729_a100[2]));
        t = L_mac(t, st->post_x0, g729_b100[0]);
        t = L_mac(t, st->post_x1, g729_b100[1]);
        t = L_mac(t, x2, g729_b100[2]);
        t = L_shl(t, 2);
        sig[i] = g729_round(L_shl(t, 1));
        st->post_y2_hi = st->post_y1_hi;
        st->post_y2_lo = st->post_y1_lo;
        L_Extract(t, &st->post_y1_hi, &st->post_y1_lo);
    }
}

/* ---------------------------------------------------------------- frame */

void g729_decoder_reset(struct g729_decoder *st)
{
    static const Word16 lsp_init[G729_M] = {30000, 26000, 21000, 15000, 8000, 0, -8000, -15000, -21000, -26000};

    memset(st, 0, sizeof *st);
    memcpy(st->lsp_old, lsp_init, sizeof lsp_init);
    st->sharp = G729_SHARPMIN;
    st->old_T0 = 60;
    g729_lsfq_reset(&st->lsfq);
    memcpy(st->prev_lsp, g729_freq_prev_reset, sizeof st->prev_lsp);
    st->past_qua_en[0] = st->past_qua_en[1] = st->past_qua_en[2] = st->past_qua_en[3] = -14336;
    st->seed = 21845;
    st->past_gain = 4096;
}

void g729_decode_frame(struct g729_decoder *st, const Word16 prm_in[G729_PRM_SIZE], int bfi, Word16 pcm[G729_L_FRAME])
{
    Word16 *exc = st->old_exc + G729_PIT_MAX + G729_L_INTERPOL;
    Word16 *synth = st->synth_buf + G729_M;
    Word16 A_t[G729_MP1 * 2], lsp_new[G729_M], code[G729_L_SUBFR], T2[2];
    Word16 prm[G729_PRM_SIZE];
    const Word16 *parm = prm;
    const Word16 *Az;
    Word16 T0 = 0, T0_frac = 0, index, j;
    Word32 L_temp;
    int i, i_subfr;

    memcpy(prm, prm_in, sizeof prm);
    if (!bfi)
        prm[3] = (Word16)(((g729_parity_pitch(prm[2]) ^ prm[3]) & 1)); /* 1 = parity error */

    d_lsp(st, parm, lsp_new, bfi);
    parm += 2;
    g729_int_qlpc(st->lsp_old, lsp_new, A_t);
    memcpy(st->lsp_old, lsp_new, sizeof lsp_new);

    Az = A_t;
    for (i_subfr = 0; i_subfr < G729_L_FRAME; i_subfr += G729_L_SUBFR) {
        Word16 pos_index, sign_index;

        index = *parm++;
        if (i_subfr == 0) {
            Word16 parity_error = *parm++;
            if (bfi == 0 && parity_error == 0) {
                dec_lag3(index, i_subfr, &T0, &T0_frac);
                st->old_T0 = T0;
            } else {
                T0 = st->old_T0;
                T0_frac = 0;
                st->old_T0 = add(st->old_T0, 1);
                if (st->old_T0 > G729_PIT_MAX)
                    st->old_T0 = G729_PIT_MAX;
            }
        } else {
            if (bfi == 0) {
                dec_lag3(index, i_subfr, &T0, &T0_frac);
                st->old_T0 = T0;
            } else {
                T0 = st->old_T0;
                T0_frac = 0;
                st->old_T0 = add(st->old_T0, 1);
                if (st->old_T0 > G729_PIT_MAX)
                    st->old_T0 = G729_PIT_MAX;
            }
        }
        T2[i_subfr / G729_L_SUBFR] = T0;

        g729_pred_lt_3(&exc[i_subfr], T0, T0_frac, G729_L_SUBFR);

        if (bfi) {
            pos_index = (Word16)(random_next(st) & 0x1fff);
            sign_index = (Word16)(random_next(st) & 0x000f);
        } else {
            pos_index = parm[0];
            sign_index = parm[1];
        }
        decod_acelp(sign_index, pos_index, code);
        parm += 2;

        j = shl(st->sharp, 1);
        if (T0 < G729_L_SUBFR)
            for (i = T0; i < G729_L_SUBFR; i++)
                code[i] = add(code[i], mult(code[i - T0], j));

        index = *parm++;
        dec_gain(st, index, code, bfi, &st->gain_pitch, &st->gain_code);

        st->sharp = st->gain_pitch;
        if (st->sharp > G729_SHARPMAX)
            st->sharp = G729_SHARPMAX;
        if (st->sharp < G729_SHARPMIN)
            st->sharp = G729_SHARPMIN;

        for (i = 0; i < G729_L_SUBFR; i++) {
            L_temp = L_mult(exc[i + i_subfr], st->gain_pitch);
            L_temp = L_mac(L_temp, code[i], st->gain_code);
            L_temp = L_shl(L_temp, 1);
            exc[i + i_subfr] = g729_round(L_temp);
        }

        g729_overflow = 0;
        g729_syn_filt(Az, &exc[i_subfr], &synth[i_subfr], G729_L_SUBFR, st->mem_syn, 0);
        if (g729_overflow) {
            /* overflow in the synthesis: scale the excitation down and redo */
            for (i = 0; i < G729_PIT_MAX + G729_L_INTERPOL + G729_L_FRAME; i++)
                st->old_exc[i] = shr(st->old_exc[i], 2);
            g729_syn_filt(Az, &exc[i_subfr], &synth[i_subfr], G729_L_SUBFR, st->mem_syn, 1);
        } else {
            memcpy(st->mem_syn, &synth[i_subfr + G729_L_SUBFR - G729_M], G729_M * sizeof(Word16));
        }
        Az += G729_MP1;
    }
    memmove(&st->old_exc[0], &st->old_exc[G729_L_FRAME], (G729_PIT_MAX + G729_L_INTERPOL) * sizeof(Word16));

    post_filter(st, synth, A_t, T2);
    post_process(st, synth, G729_L_FRAME);
    memcpy(pcm, synth, G729_L_FRAME * sizeof(Word16));
}
