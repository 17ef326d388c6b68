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
        corr = g729_mac_n(0, scal_sig, scal_sig - i, G729_L_SUBFR);
        if (L_sub(corr, cor_max) > 0) {
            cor_max = corr;
            t0 = i;
        }
    }
    ener = g729_mac_n(1, scal_sig - t0, scal_sig - t0, G729_L_SUBFR);
    ener0 = g729_mac_n(1, scal_sig, scal_sig, G729_L_SUBFR);
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
    s = g729_mac_n(0, signal, signal, G729_L_SUBFR);
    if (s == 0) {
        st->past_gain = 0;
        return;
    }
    exp = sub(norm_l(s), 1);
    gain_out = g729_round(L_shl(s, exp));

    for (i = 0; i < G729_L_SUBFR; i++)
        signal[i] = shr(sig_in[i], 2);
    s = g729_mac_n(0, signal, signal, G729_L_SUBFR);
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

static void post_filter(struct g729_decoder *st, Word16 *syn, const Word16 *Az_4, const Word16 *T, int voice)
{
    Word16 res2_pst[G729_L_SUBFR], syn_pst[G729_L_FRAME];
    Word16 Ap3[G729_MP1], Ap4[G729_MP1], h[G729_L_H];
    Word16 *res2 = st->res2_buf + G729_PIT_MAX;
    Word16 *scal_res2 = st->scal_res2_buf + G729_PIT_MAX;
    const Word16 *Az = Az_4;
    Word16 temp1, temp2;
    Word32 L_tmp;
    int j, i_subfr;

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
        if (voice)
            pit_pst_filt(res2, scal_res2, t0_min, t0_max, res2_pst);
        else
            memcpy(res2_pst, res2, sizeof res2_pst);

        /* tilt compensation from the impulse response of Ap3/Ap4 */
        memcpy(h, Ap3, G729_MP1 * sizeof h[0]);
        memset(&h[G729_MP1], 0, (G729_L_H - G729_MP1) * sizeof h[0]);
        g729_syn_filt(Ap4, h, h, G729_L_H, &h[G729_MP1], 0);
        L_tmp = g729_mac_n(0, h, h, G729_L_H);
        temp1 = extract_h(L_tmp);
        L_tmp = g729_mac_n(0, h, h + 1, G729_L_H - 1);
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


/* ---------------------------------------------------------------- Annex B comfort noise */

#define G729_CNG_INIT_SEED 11111
#define G729_CNG_FRAC1 19043     /* sqrt(40) * 0.5 / 8 - 1 in Q15 */
#define G729_CNG_K0 24576        /* 1 - alpha^2 with alpha = 0.5, Q15 */
#define G729_CNG_G_MAX 5000      /* bound of the pulse gain */
#define G729_CNG_A_GAIN0 28672   /* gain smoothing 7/8 */
#define G729_CNG_A_GAIN1 4096    /* gain smoothing 1/8 */

static Word16 cng_random(Word16 *seed)
{
    *seed = extract_l(L_add(L_shr(L_mult(*seed, 31821), 1), 13849L));
    return *seed;
}

static Word16 cng_gauss(Word16 *seed)
{
    Word32 acc = 0;
    int i;

    for (i = 0; i < 12; i++)
        acc = L_add(acc, L_deposit_l(cng_random(seed)));
    return extract_l(L_shr(acc, 7));
}

static Word16 cng_sqrt(Word32 num)
{
    Word16 rez = 0, exp = 0x4000;
    int i;

    for (i = 0; i < 14; i++) {
        Word32 acc = L_mult(add(rez, exp), add(rez, exp));
        if (num >= acc)
            rez = add(rez, exp);
        exp = shr(exp, 1);
    }
    return rez;
}

static Word16 shr_r(Word16 x, Word16 n)
{
    Word16 r;

    if (n > 15)
        return 0;
    r = shr(x, n);
    if (n > 0 && (x & (1 << (n - 1))))
        r = add(r, 1);
    return r;
}

/* Random excitation of the comfort noise: random adaptive-codebook part,
 * Gaussian noise and four random pulses whose gain makes the subframe
 * energy match cur_gain (G.729 Annex B, excitation generation). */
static void calc_exc_rand(struct g729_decoder *st, Word16 cur_gain, Word16 *exc)
{
    Word16 pos[4], sign[4], excg[G729_L_SUBFR], excs[G729_L_SUBFR];
    Word16 temp1, temp2, t0, frac, g, Gp2, max, hi, lo, inter_exc, sh, x1, x2;
    Word32 L_acc, L_ener, L_k;
    int i, j, i_subfr;

    if (cur_gain == 0) {
        memset(exc, 0, G729_L_FRAME * sizeof exc[0]);
        return;
    }
    for (i_subfr = 0; i_subfr < G729_L_FRAME; i_subfr += G729_L_SUBFR) {
        Word16 *cur_exc = exc + i_subfr;

        temp1 = cng_random(&st->cng_seed);
        frac = sub((Word16)(temp1 & 3), 1);
        if (frac == 2)
            frac = 0;
        temp1 = shr(temp1, 2);
        t0 = add((Word16)(temp1 & 0x3f), 40);
        temp1 = shr(temp1, 6);
        temp2 = (Word16)(temp1 & 7);
        pos[0] = (Word16)(5 * temp2);
        temp1 = shr(temp1, 3);
        sign[0] = (Word16)(temp1 & 1);
        temp1 = shr(temp1, 1);
        temp2 = (Word16)(temp1 & 7);
        pos[1] = (Word16)(5 * temp2 + 1);
        temp1 = shr(temp1, 3);
        sign[1] = (Word16)(temp1 & 1);
        temp1 = cng_random(&st->cng_seed);
        temp2 = (Word16)(temp1 & 7);
        pos[2] = (Word16)(5 * temp2 + 2);
        temp1 = shr(temp1, 3);
        sign[2] = (Word16)(temp1 & 1);
        temp1 = shr(temp1, 1);
        temp2 = (Word16)(temp1 & 0x0f);
        pos[3] = (Word16)((temp2 & 1) + 3 + 5 * ((temp2 >> 1) & 7));
        temp1 = shr(temp1, 4);
        sign[3] = (Word16)(temp1 & 1);
        temp1 = cng_random(&st->cng_seed);
        Gp2 = shl((Word16)(temp1 & 0x1fff), 1); /* pitch gain < 0.5, Q15 */

        /* Gaussian excitation scaled to alpha * cur_gain * sqrt(40 / energy) */
        L_acc = 0;
        for (i = 0; i < G729_L_SUBFR; i++) {
            temp1 = cng_gauss(&st->cng_seed);
            L_acc = L_mac(L_acc, temp1, temp1);
            excg[i] = temp1;
        }
        L_acc = g729_inv_sqrt(L_shr(L_acc, 1));
        L_Extract(L_acc, &hi, &lo);
        temp1 = mult_r(cur_gain, G729_CNG_FRAC1);
        temp1 = add(cur_gain, temp1);
        L_acc = Mpy_32_16(hi, lo, temp1);
        sh = norm_l(L_acc);
        temp1 = extract_h(L_shl(L_acc, sh));
        sh = sub(sh, 14);
        for (i = 0; i < G729_L_SUBFR; i++) {
            temp2 = mult_r(excg[i], temp1);
            excg[i] = shr_r(temp2, sh);
        }

        /* random adaptive excitation plus the Gaussian part */
        g729_pred_lt_3(cur_exc, t0, frac, G729_L_SUBFR);
        max = 0;
        for (i = 0; i < G729_L_SUBFR; i++) {
            temp1 = mult_r(cur_exc[i], Gp2);
            temp1 = add(temp1, excg[i]);
            cur_exc[i] = temp1;
            temp1 = abs_s(temp1);
            if (temp1 > max)
                max = temp1;
        }
        sh = max == 0 ? 0 : sub(3, norm_s(max));
        if (sh < 0)
            sh = 0;
        for (i = 0; i < G729_L_SUBFR; i++)
            excs[i] = shr(cur_exc[i], sh);

        /* pulse gain g solving  ener + 2 g b + 4 g^2 = k  (k = 40 cur_gain^2) */
        L_ener = 0;
        for (i = 0; i < G729_L_SUBFR; i++)
            L_ener = L_mac(L_ener, excs[i], excs[i]);
        inter_exc = 0;
        for (i = 0; i < 4; i++)
            inter_exc = sign[i] ? add(inter_exc, excs[pos[i]]) : sub(inter_exc, excs[pos[i]]);
        L_acc = L_mult(cur_gain, G729_L_SUBFR);
        L_acc = L_shr(L_acc, 6);
        temp1 = extract_l(L_acc);
        L_k = L_mult(cur_gain, temp1);
        temp1 = add(1, shl(sh, 1));
        L_acc = L_shr(L_k, temp1);
        L_acc = L_sub(L_acc, L_ener);
        inter_exc = shr(inter_exc, 1);
        L_acc = L_mac(L_acc, inter_exc, inter_exc);
        sh = add(sh, 1);
        if (L_acc < 0) {
            /* no solution: drop the adaptive part */
            memcpy(cur_exc, excg, sizeof excg);
            temp1 = (Word16)(abs_s(excg[pos[0]]) | abs_s(excg[pos[1]]));
            temp2 = (Word16)(abs_s(excg[pos[2]]) | abs_s(excg[pos[3]]));
            temp1 = (Word16)(temp1 | temp2);
            sh = (temp1 & 0x4000) == 0 ? 1 : 2;
            inter_exc = 0;
            for (i = 0; i < 4; i++) {
                temp1 = shr(excg[pos[i]], sh);
                inter_exc = sign[i] ? add(inter_exc, temp1) : sub(inter_exc, temp1);
            }
            L_Extract(L_k, &hi, &lo);
            L_acc = Mpy_32_16(hi, lo, G729_CNG_K0);
            temp1 = add(shl(sh, 1), 1);
            L_acc = L_shr(L_acc, temp1);
            L_acc = L_mac(L_acc, inter_exc, inter_exc);
        }
        temp2 = cng_sqrt(L_acc);
        x1 = sub(temp2, inter_exc);
        x2 = negate(add(inter_exc, temp2));
        if (abs_s(x2) < abs_s(x1))
            x1 = x2;
        temp1 = sub(2, sh);
        g = temp1 >= 0 ? shr_r(x1, temp1) : shl(x1, negate(temp1));
        if (g > G729_CNG_G_MAX)
            g = G729_CNG_G_MAX;
        if (g < -G729_CNG_G_MAX)
            g = -G729_CNG_G_MAX;
        for (i = 0; i < 4; i++) {
            j = pos[i];
            cur_exc[j] = sign[i] ? add(cur_exc[j], g) : sub(cur_exc[j], g);
        }
    }
}

/* LSPs of a SID frame: MA-predicted LSF with the noise predictors. */
static void sid_lsf_decode(struct g729_decoder *st, const Word16 sid[4], Word16 lsp[])
{
    Word16 buf[G729_M], lsf[G729_M];
    int mode = sid[0] & 1, j, k;
    const Word16 *cb1 = g729_lspcb1[g729_ptrtab_1[sid[1] & 31]];

    for (j = 0; j < G729_NC; j++)
        buf[j] = add(cb1[j], g729_lspcb2[g729_ptrtab_2[0][sid[2] & 15]][j]);
    for (j = G729_NC; j < G729_M; j++)
        buf[j] = add(cb1[j], g729_lspcb2[g729_ptrtab_2[1][sid[2] & 15]][j]);
    for (j = 1; j < G729_M; j++) {
        /* minimum distance of 10 (Q13) between neighbours */
        Word32 acc = L_mult(buf[j - 1], 16384);
        Word16 d;
        acc = L_mac(acc, buf[j], -16384);
        acc = L_mac(acc, 10, 16384);
        d = extract_h(acc);
        if (d > 0) {
            buf[j - 1] = sub(buf[j - 1], d);
            buf[j] = add(buf[j], d);
        }
    }
    for (j = 0; j < G729_M; j++) {
        Word32 acc = L_mult(buf[j], g729_noise_fg_sum[mode][j]);
        for (k = 0; k < G729_MA_NP; k++)
            acc = L_mac(acc, st->lsfq.freq_prev[k][j], g729_noise_fg[mode][k][j]);
        lsf[j] = extract_h(acc);
    }
    g729_lsp_prev_update(buf, &st->lsfq);
    g729_lsp_stability(lsf);
    g729_lsf_lsp2(lsf, lsp);
}

/* SID energy index closest (in dB) to the excitation energy of the last
 * speech frame; used when comfort noise starts without a SID frame. */
static Word16 sid_gain_from_speech_energy(Word32 energy)
{
    /* target gain^2 = 64 * mean power = 64 * energy / (2 * 80) */
    int64_t target2 = (int64_t)energy * 64 / (2 * G729_L_FRAME);
    int idx;

    for (idx = 0; idx < 31; idx++) {
        int64_t g = g729_tab_sidgain[idx], next = g729_tab_sidgain[idx + 1];
        if (g * next >= target2)
            break;
    }
    return g729_tab_sidgain[idx];
}

static void comfort_noise_frame(struct g729_decoder *st, const Word16 *sid, Word16 pcm[G729_L_FRAME])
{
    Word16 *exc = st->old_exc + G729_PIT_MAX + G729_L_INTERPOL;
    Word16 *synth = st->synth_buf + G729_M;
    Word16 A_t[G729_MP1 * 2], T2[2];
    const Word16 *Az = A_t;
    int i, i_subfr;

    if (sid) {
        st->sid_gain = g729_tab_sidgain[sid[3] & 31];
        sid_lsf_decode(st, sid, st->lsp_sid);
    } else if (st->past_ftyp == 1) {
        st->sid_gain = sid_gain_from_speech_energy(st->speech_energy);
    }
    if (st->past_ftyp == 1) {
        st->cur_gain = st->sid_gain;
    } else {
        st->cur_gain = mult_r(st->cur_gain, G729_CNG_A_GAIN0);
        st->cur_gain = add(st->cur_gain, mult_r(st->sid_gain, G729_CNG_A_GAIN1));
    }
    calc_exc_rand(st, st->cur_gain, exc);
    g729_int_qlpc(st->lsp_old, st->lsp_sid, A_t);
    memcpy(st->lsp_old, st->lsp_sid, sizeof st->lsp_old);

    for (i_subfr = 0; i_subfr < G729_L_FRAME; i_subfr += G729_L_SUBFR) {
        g729_overflow = 0;
        g729_syn_filt(Az, &exc[i_subfr], &synth[i_subfr], G729_L_SUBFR, st->mem_syn, 0);
        if (g729_overflow) {
            for (i = 0; i < G729_PIT_MAX + G729_L_INTERPOL + G729_L_FRAME; i++)
                st->old_exc[i] = shr(st->old_exc[i], 2);
            g729_syn_filt(Az, &exc[i_subfr], &synth[i_subfr], G729_L_SUBFR, st->mem_syn, 1);
        } else {
            memcpy(st->mem_syn, &synth[i_subfr + G729_L_SUBFR - G729_M], G729_M * sizeof(Word16));
        }
        Az += G729_MP1;
        T2[i_subfr / G729_L_SUBFR] = st->old_T0;
    }
    st->sharp = G729_SHARPMIN;
    st->past_ftyp = sid ? 2 : 0;
    memmove(&st->old_exc[0], &st->old_exc[G729_L_FRAME], (G729_PIT_MAX + G729_L_INTERPOL) * sizeof(Word16));

    post_filter(st, synth, A_t, T2, 0);
    post_process(st, synth, G729_L_FRAME);
    memcpy(pcm, synth, G729_L_FRAME * sizeof(Word16));
}

void g729_decode_sid_frame(struct g729_decoder *st, const Word16 sid[4], Word16 pcm[G729_L_FRAME])
{
    comfort_noise_frame(st, sid, pcm);
}

/* ---------------------------------------------------------------- frame */

void g729_decoder_reset(struct g729_decoder *st)
{
    static const Word16 lsp_init[G729_M] = {30000, 26000, 21000, 15000, 8000, 0, -8000, -15000, -21000, -26000};
    static const Word16 lsp_sid_init[G729_M] = {31441, 27566, 21458, 13612, 4663,
                                                -4663, -13612, -21458, -27566, -31441};

    memset(st, 0, sizeof *st);
    memcpy(st->lsp_old, lsp_init, sizeof lsp_init);
    st->sharp = G729_SHARPMIN;
    st->old_T0 = 60;
    g729_lsfq_reset(&st->lsfq);
    memcpy(st->prev_lsp, g729_freq_prev_reset, sizeof st->prev_lsp);
    st->past_qua_en[0] = st->past_qua_en[1] = st->past_qua_en[2] = st->past_qua_en[3] = -14336;
    st->seed = 21845;
    st->past_gain = 4096;
    st->past_ftyp = 1;
    st->cng_seed = G729_CNG_INIT_SEED;
    memcpy(st->lsp_sid, lsp_sid_init, sizeof lsp_sid_init);
    st->sid_gain = g729_tab_sidgain[0];
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

    if (bfi && st->past_ftyp != 1) {
        /* Annex B: an erasure during silence continues the comfort noise */
        comfort_noise_frame(st, NULL, pcm);
        return;
    }
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
    /* Annex B: excitation energy kept for a comfort noise start without SID */
    L_temp = 0;
    for (i = 0; i < G729_L_FRAME; i++)
        L_temp = L_mac(L_temp, exc[i], exc[i]);
    st->speech_energy = L_temp;
    st->past_ftyp = 1;
    st->cng_seed = G729_CNG_INIT_SEED;

    memmove(&st->old_exc[0], &st->old_exc[G729_L_FRAME], (G729_PIT_MAX + G729_L_INTERPOL) * sizeof(Word16));

    post_filter(st, synth, A_t, T2, 1);
    post_process(st, synth, G729_L_FRAME);
    memcpy(pcm, synth, G729_L_FRAME * sizeof(Word16));
}
