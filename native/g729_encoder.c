/* G.729 Annex A encoder: one 10 ms frame of 80 samples in, 11 parameters out.
 * Pre-processing, LP analysis and LSP quantisation, open-loop pitch on the
 * weighted speech, closed-loop fractional pitch search, the Annex A
 * depth-first algebraic codebook search and conjugate-structure gain VQ.
 * Responsible for: the signal processing of one channel, state kept in
 * struct g729_encoder.  Must not allocate, do I/O or pack bits. */
#include <string.h>

#include "g729_internal.h"

#define NB_POS 8
#define STEP 5
#define MSIZE 64
#define DIM_RR 616

/* ---------------------------------------------------------------- pre-processing */

static void pre_process(struct g729_encoder *st, Word16 sig[], int lg)
{
    int i;

    for (i = 0; i < lg; i++) {
        Word16 x2 = st->pre_x1;
        Word32 t;
        st->pre_x1 = st->pre_x0;
        st->pre_x0 = sig[i];
        t = Mpy_32_16(st->pre_y1_hi, st->pre_y1_lo, g729_a140[1]);
        t = L_add(t, Mpy_32_16(st->pre_y2_hi, st->pre_y2_lo, g729_a140[2]));
        t = L_mac(t, st->pre_x0, g729_b140[0]);
        t = L_mac(t, st->pre_x1, g729_b140[1]);
        t = L_mac(t, x2, g729_b140[2]);
        t = L_shl(t, 3);
        sig[i] = g729_round(t);
        st->pre_y2_hi = st->pre_y1_hi;
        st->pre_y2_lo = st->pre_y1_lo;
        L_Extract(t, &st->pre_y1_hi, &st->pre_y1_lo);
    }
}

/* ---------------------------------------------------------------- LP analysis */

static void autocorr(const Word16 x[], Word16 r_h[], Word16 r_l[])
{
    Word16 y[G729_L_WINDOW];
    Word32 sum;
    Word16 norm;
    int i;

    for (i = 0; i < G729_L_WINDOW; i++)
        y[i] = mult_r(x[i], g729_hamwindow[i]);
    do {
        g729_overflow = 0;
        sum = g729_mac_n(1, y, y, G729_L_WINDOW);
        if (g729_overflow)
            for (i = 0; i < G729_L_WINDOW; i++)
                y[i] = shr(y[i], 2);
    } while (g729_overflow);

    norm = norm_l(sum);
    sum = L_shl(sum, norm);
    L_Extract(sum, &r_h[0], &r_l[0]);
    for (i = 1; i <= G729_M; i++) {
        sum = g729_mac_n(0, y, y + i, G729_L_WINDOW - i);
        sum = L_shl(sum, norm);
        L_Extract(sum, &r_h[i], &r_l[i]);
    }
}

static void lag_window(Word16 r_h[], Word16 r_l[])
{
    int i;

    for (i = 1; i <= G729_M; i++) {
        Word32 x = Mpy_32(r_h[i], r_l[i], g729_lag_h[i - 1], g729_lag_l[i - 1]);
        L_Extract(x, &r_h[i], &r_l[i]);
    }
}

static void levinson(struct g729_encoder *st, const Word16 Rh[], const Word16 Rl[], Word16 A[], Word16 rc[])
{
    Word16 hi, lo, Kh, Kl, alp_h, alp_l, alp_exp;
    Word16 Ah[G729_MP1], Al[G729_MP1], Anh[G729_MP1], Anl[G729_MP1];
    Word32 t0, t1, t2;
    int i, j;

    t1 = L_Comp(Rh[1], Rl[1]);
    t2 = L_abs(t1);
    t0 = g729_div_32(t2, Rh[0], Rl[0]);
    if (t1 > 0)
        t0 = L_negate(t0);
    L_Extract(t0, &Kh, &Kl);
    rc[0] = Kh;
    t0 = L_shr(t0, 4);
    L_Extract(t0, &Ah[1], &Al[1]);

    t0 = Mpy_32(Kh, Kl, Kh, Kl);
    t0 = L_abs(t0);
    t0 = L_sub(MAX_32, t0);
    L_Extract(t0, &hi, &lo);
    t0 = Mpy_32(Rh[0], Rl[0], hi, lo);
    alp_exp = norm_l(t0);
    t0 = L_shl(t0, alp_exp);
    L_Extract(t0, &alp_h, &alp_l);

    for (i = 2; i <= G729_M; i++) {
        t0 = 0;
        for (j = 1; j < i; j++)
            t0 = L_add(t0, Mpy_32(Rh[j], Rl[j], Ah[i - j], Al[i - j]));
        t0 = L_shl(t0, 4);
        t1 = L_Comp(Rh[i], Rl[i]);
        t0 = L_add(t0, t1);

        t1 = L_abs(t0);
        t2 = g729_div_32(t1, alp_h, alp_l);
        if (t0 > 0)
            t2 = L_negate(t2);
        t2 = L_shl(t2, alp_exp);
        L_Extract(t2, &Kh, &Kl);
        rc[i - 1] = Kh;

        if (sub(abs_s(Kh), 32750) > 0) {
            /* unstable filter: keep the previous one */
            for (j = 0; j <= G729_M; j++)
                A[j] = st->old_A[j];
            rc[0] = st->old_rc[0];
            rc[1] = st->old_rc[1];
            return;
        }

        for (j = 1; j < i; j++) {
            t0 = Mpy_32(Kh, Kl, Ah[i - j], Al[i - j]);
            t0 = L_add(t0, L_Comp(Ah[j], Al[j]));
            L_Extract(t0, &Anh[j], &Anl[j]);
        }
        t2 = L_shr(t2, 4);
        L_Extract(t2, &Anh[i], &Anl[i]);

        t0 = Mpy_32(Kh, Kl, Kh, Kl);
        t0 = L_abs(t0);
        t0 = L_sub(MAX_32, t0);
        L_Extract(t0, &hi, &lo);
        t0 = Mpy_32(alp_h, alp_l, hi, lo);
        j = norm_l(t0);
        t0 = L_shl(t0, (Word16)j);
        L_Extract(t0, &alp_h, &alp_l);
        alp_exp = add(alp_exp, (Word16)j);

        for (j = 1; j <= i; j++) {
            Ah[j] = Anh[j];
            Al[j] = Anl[j];
        }
    }

    A[0] = 4096;
    for (i = 1; i <= G729_M; i++) {
        t0 = L_Comp(Ah[i], Al[i]);
        st->old_A[i] = A[i] = g729_round(L_shl(t0, 1));
    }
    st->old_rc[0] = rc[0];
    st->old_rc[1] = rc[1];
}

/* Chebyshev polynomial evaluation, coefficients in Q11 computed in Q24 (or
 * coefficients in Q10 computed in Q23 when the sum/difference polynomials
 * would overflow Q11); result in Q14. */
static Word16 chebps(Word16 x, const Word16 f[], int q10)
{
    Word16 b0_h, b0_l, b1_h, b1_l, b2_h, b2_l;
    Word32 t0;
    int i;
    const Word16 one_h = q10 ? 128 : 256; /* 1.0 in Q23 or Q24 */
    const Word16 fmul = 4096;             /* f (Q10 or Q11) into Q23 or Q24 */

    b2_h = one_h;
    b2_l = 0;
    t0 = L_mult(x, q10 ? 256 : 512);
    t0 = L_mac(t0, f[1], fmul);
    L_Extract(t0, &b1_h, &b1_l);
    for (i = 2; i < G729_NC; i++) {
        t0 = Mpy_32_16(b1_h, b1_l, x);
        t0 = L_shl(t0, 1);
        t0 = L_mac(t0, b2_h, (Word16)-32768);
        t0 = L_msu(t0, b2_l, 1);
        t0 = L_mac(t0, f[i], fmul);
        L_Extract(t0, &b0_h, &b0_l);
        b2_l = b1_l;
        b2_h = b1_h;
        b1_l = b0_l;
        b1_h = b0_h;
    }
    t0 = Mpy_32_16(b1_h, b1_l, x);
    t0 = L_mac(t0, b2_h, (Word16)-32768);
    t0 = L_msu(t0, b2_l, 1);
    t0 = L_mac(t0, f[i], (Word16)(fmul >> 1));
    t0 = L_shl(t0, q10 ? 7 : 6);
    return extract_h(t0);
}

static void az_lsp(const Word16 a[], Word16 lsp[], const Word16 old_lsp[])
{
    Word16 f1[G729_NC + 1], f2[G729_NC + 1];
    Word16 xlow, ylow, xhigh, yhigh, xmid, ymid, xint, x, y, sign, exp;
    const Word16 *coef;
    Word32 t0;
    int i, j, nf, ip, ovf = 0, q10 = 0;

    f1[0] = 2048;
    f2[0] = 2048;
    for (i = 0; i < G729_NC; i++) {
        g729_overflow = 0;
        t0 = L_mult(a[i + 1], 16384);
        t0 = L_mac(t0, a[G729_M - i], 16384);
        x = extract_h(t0);
        if (g729_overflow)
            ovf = 1;
        g729_overflow = 0;
        f1[i + 1] = sub(x, f1[i]);
        if (g729_overflow)
            ovf = 1;
        g729_overflow = 0;
        t0 = L_mult(a[i + 1], 16384);
        t0 = L_msu(t0, a[G729_M - i], 16384);
        x = extract_h(t0);
        if (g729_overflow)
            ovf = 1;
        g729_overflow = 0;
        f2[i + 1] = add(x, f2[i]);
        if (g729_overflow)
            ovf = 1;
    }
    if (ovf) {
        q10 = 1;
        f1[0] = 1024;
        f2[0] = 1024;
        for (i = 0; i < G729_NC; i++) {
            t0 = L_mult(a[i + 1], 8192);
            t0 = L_mac(t0, a[G729_M - i], 8192);
            x = extract_h(t0);
            f1[i + 1] = sub(x, f1[i]);
            t0 = L_mult(a[i + 1], 8192);
            t0 = L_msu(t0, a[G729_M - i], 8192);
            x = extract_h(t0);
            f2[i + 1] = add(x, f2[i]);
        }
    }

    nf = 0;
    ip = 0;
    coef = f1;
    xlow = g729_grid[0];
    ylow = chebps(xlow, coef, q10);
    j = 0;
    while (nf < G729_M && j < G729_GRID_POINTS) {
        j++;
        xhigh = xlow;
        yhigh = ylow;
        xlow = g729_grid[j];
        ylow = chebps(xlow, coef, q10);
        if (L_mult(ylow, yhigh) <= 0) {
            for (i = 0; i < 2; i++) {
                xmid = add(shr(xlow, 1), shr(xhigh, 1));
                ymid = chebps(xmid, coef, q10);
                if (L_mult(ylow, ymid) <= 0) {
                    yhigh = ymid;
                    xhigh = xmid;
                } else {
                    ylow = ymid;
                    xlow = xmid;
                }
            }
            x = sub(xhigh, xlow);
            y = sub(yhigh, ylow);
            if (y == 0) {
                xint = xlow;
            } else {
                sign = y;
                y = abs_s(y);
                exp = norm_s(y);
                y = shl(y, exp);
                y = div_s((Word16)16383, y);
                t0 = L_mult(x, y);
                t0 = L_shr(t0, sub(20, exp));
                y = extract_l(t0);
                if (sign < 0)
                    y = negate(y);
                t0 = L_mult(ylow, y);
                t0 = L_shr(t0, 11);
                xint = sub(xlow, extract_l(t0));
            }
            lsp[nf] = xint;
            xlow = xint;
            nf++;
            ip = !ip;
            coef = ip ? f2 : f1;
            ylow = chebps(xlow, coef, q10);
        }
    }
    if (nf < G729_M)
        for (i = 0; i < G729_M; i++)
            lsp[i] = old_lsp[i];
}

/* ---------------------------------------------------------------- LSP quantiser */

static void get_wegt(const Word16 flsp[], Word16 wegt[])
{
    Word16 buf[G729_M], tmp, sft;
    Word32 acc;
    int i;

    buf[0] = sub(flsp[1], G729_PI04 + 8192);
    for (i = 1; i < G729_M - 1; i++) {
        tmp = sub(flsp[i + 1], flsp[i - 1]);
        buf[i] = sub(tmp, 8192);
    }
    buf[G729_M - 1] = sub(G729_PI92 - 8192, flsp[G729_M - 2]);

    for (i = 0; i < G729_M; i++) {
        if (buf[i] > 0) {
            wegt[i] = 2048;
        } else {
            acc = L_mult(buf[i], buf[i]);
            tmp = extract_h(L_shl(acc, 2));
            acc = L_mult(tmp, G729_CONST10);
            tmp = extract_h(L_shl(acc, 2));
            wegt[i] = add(tmp, 2048);
        }
    }
    acc = L_mult(wegt[4], G729_CONST12);
    wegt[4] = extract_h(L_shl(acc, 1));
    acc = L_mult(wegt[5], G729_CONST12);
    wegt[5] = extract_h(L_shl(acc, 1));

    tmp = 0;
    for (i = 0; i < G729_M; i++)
        if (sub(wegt[i], tmp) > 0)
            tmp = wegt[i];
    sft = norm_s(tmp);
    for (i = 0; i < G729_M; i++)
        wegt[i] = shl(wegt[i], sft);
}

static int lsp_select(const Word16 rbuf[], const Word16 cb1[], const Word16 wegt[], int lo, int hi)
{
    Word16 buf[G729_M];
    Word32 dmin = MAX_32;
    int j, k, index = 0;

    for (j = lo; j < hi; j++)
        buf[j] = sub(rbuf[j], cb1[j]);
    for (k = 0; k < G729_NC1; k++) {
        Word32 dist = 0;
        for (j = lo; j < hi; j++) {
            Word16 tmp = sub(buf[j], g729_lspcb2[k][j]);
            Word16 tmp2 = mult(wegt[j], tmp);
            dist = L_mac(dist, tmp2, tmp);
        }
        if (L_sub(dist, dmin) < 0) {
            dmin = dist;
            index = k;
        }
    }
    return index;
}

static void qua_lsp(struct g729_encoder *st, const Word16 lsp[], Word16 lsp_q[], Word16 ana[])
{
    Word16 lsf[G729_M], lsf_q[G729_M], wegt[G729_M];
    Word16 rbuf[G729_M], buf[G729_M];
    int cand[G729_MODE], tindex1[G729_MODE], tindex2[G729_MODE];
    Word32 tdist[G729_MODE];
    int mode, i, j, mode_index;

    g729_lsp_lsf2(lsp, lsf);
    get_wegt(lsf, wegt);

    for (mode = 0; mode < G729_MODE; mode++) {
        Word32 dmin = MAX_32;
        int c = 0;

        g729_lsp_prev_extract(lsf, rbuf, g729_fg[mode], &st->lsfq, g729_fg_sum_inv[mode]);

        /* first stage pre-selection */
        for (i = 0; i < G729_NC0; i++) {
            /* sum of squares of sub(rbuf, cb): every term is positive, so the
             * L_mac chain saturates exactly when the true sum exceeds MAX_32 */
            int64_t sq = 0;
            Word32 d;
            for (j = 0; j < G729_M; j++) {
                int32_t t = (int32_t)rbuf[j] - g729_lspcb1[i][j];
                t = t > 32767 ? 32767 : t < -32768 ? -32768 : t;
                sq += (int64_t)t * t;
            }
            d = 2 * sq > MAX_32 ? MAX_32 : (Word32)(2 * sq);
            if (L_sub(d, dmin) < 0) {
                dmin = d;
                c = i;
            }
        }
        cand[mode] = c;

        tindex1[mode] = lsp_select(rbuf, g729_lspcb1[c], wegt, 0, G729_NC);
        for (j = 0; j < G729_NC; j++)
            buf[j] = add(g729_lspcb1[c][j], g729_lspcb2[tindex1[mode]][j]);
        g729_lsp_expand(buf, G729_GAP1, 1, G729_NC);

        tindex2[mode] = lsp_select(rbuf, g729_lspcb1[c], wegt, G729_NC, G729_M);
        for (j = G729_NC; j < G729_M; j++)
            buf[j] = add(g729_lspcb1[c][j], g729_lspcb2[tindex2[mode]][j]);
        g729_lsp_expand(buf, G729_GAP1, G729_NC, G729_M);

        g729_lsp_expand(buf, G729_GAP2, 1, G729_M);

        tdist[mode] = 0;
        for (j = 0; j < G729_M; j++) {
            Word16 tmp = sub(buf[j], rbuf[j]);
            Word16 tmp2;
            tmp = mult(tmp, g729_fg_sum[mode][j]);
            tmp2 = extract_h(L_shl(L_mult(wegt[j], tmp), 4));
            tdist[mode] = L_mac(tdist[mode], tmp2, tmp);
        }
    }

    mode_index = L_sub(tdist[1], tdist[0]) < 0 ? 1 : 0;
    ana[0] = (Word16)((mode_index << G729_NC0_B) | cand[mode_index]);
    ana[1] = (Word16)((tindex1[mode_index] << G729_NC1_B) | tindex2[mode_index]);

    g729_lsp_get_quant(cand[mode_index], tindex1[mode_index], tindex2[mode_index], mode_index,
                       &st->lsfq, lsf_q);
    g729_lsf_lsp2(lsf_q, lsp_q);
}

/* ---------------------------------------------------------------- pitch */

/* The open-loop search works on every other sample: the scaled signal is
 * split into its even and odd samples so that each correlation is a
 * contiguous dot product.  Sample n (n = -PIT_MAX .. L_FRAME-1) is at
 * half[(n + PIT_MAX) & 1][(n + PIT_MAX) >> 1]. */
struct decimated {
    Word16 half[2][(G729_L_FRAME + G729_PIT_MAX + 1) / 2];
};

static const Word16 *decimated_at(const struct decimated *d, int n)
{
    return &d->half[(n + G729_PIT_MAX) & 1][(n + G729_PIT_MAX) >> 1];
}

static Word16 pitch_section_max(const struct decimated *d, int lo, int hi, int step, Word32 *max_out)
{
    const Word16 *cur = decimated_at(d, 0);
    Word32 max = MIN_32;
    Word16 T = (Word16)lo;
    int i;

    for (i = lo; i < hi; i += step) {
        Word32 sum = g729_mac_n(0, cur, decimated_at(d, -i), G729_L_FRAME / 2);
        if (L_sub(sum, max) > 0) {
            max = sum;
            T = (Word16)i;
        }
    }
    *max_out = max;
    return T;
}

static Word16 pitch_normalised(const struct decimated *d, Word16 T, Word32 max)
{
    Word16 max_h, max_l, ener_h, ener_l;
    const Word16 *p = decimated_at(d, -T);
    Word32 sum = g729_mac_n(1, p, p, G729_L_FRAME / 2);

    sum = g729_inv_sqrt(sum);
    L_Extract(max, &max_h, &max_l);
    L_Extract(sum, &ener_h, &ener_l);
    sum = Mpy_32(max_h, max_l, ener_h, ener_l);
    return extract_l(sum);
}

static Word16 pitch_ol_fast(const Word16 signal[])
{
    Word16 scaled_signal[G729_L_FRAME + G729_PIT_MAX];
    Word16 *scal_sig = &scaled_signal[G729_PIT_MAX];
    struct decimated dec;
    Word16 max1, max2, max3, T1, T2, T3;
    Word32 max, sum;
    int i, j;

    g729_overflow = 0;
    sum = 0;
    for (i = -G729_PIT_MAX; i < G729_L_FRAME; i += 2)
        sum = L_mac(sum, signal[i], signal[i]);
    if (g729_overflow) {
        for (i = -G729_PIT_MAX; i < G729_L_FRAME; i++)
            scal_sig[i] = shr(signal[i], 3);
    } else if (L_sub(sum, 1048576L) < 0) {
        for (i = -G729_PIT_MAX; i < G729_L_FRAME; i++)
            scal_sig[i] = shl(signal[i], 3);
    } else {
        for (i = -G729_PIT_MAX; i < G729_L_FRAME; i++)
            scal_sig[i] = signal[i];
    }

    for (i = -G729_PIT_MAX; i < G729_L_FRAME; i++)
        dec.half[(i + G729_PIT_MAX) & 1][(i + G729_PIT_MAX) >> 1] = scal_sig[i];

    T1 = pitch_section_max(&dec, 20, 40, 1, &max);
    max1 = pitch_normalised(&dec, T1, max);

    T2 = pitch_section_max(&dec, 40, 80, 1, &max);
    max2 = pitch_normalised(&dec, T2, max);

    T3 = pitch_section_max(&dec, 80, 143, 2, &max);
    {
        /* refine around the decimated maximum */
        Word16 t = T3;
        for (j = 0; j < 2; j++) {
            int lag = j == 0 ? t + 1 : t - 1;
            Word32 s = g729_mac_n(0, decimated_at(&dec, 0), decimated_at(&dec, -lag), G729_L_FRAME / 2);
            if (L_sub(s, max) > 0) {
                max = s;
                T3 = (Word16)lag;
            }
        }
    }
    max3 = pitch_normalised(&dec, T3, max);

    /* favour sub-multiples */
    i = sub(shl(T2, 1), T3);
    if (sub(abs_s((Word16)i), 5) < 0)
        max2 = add(max2, shr(max3, 2));
    i = add((Word16)i, T2);
    if (sub(abs_s((Word16)i), 7) < 0)
        max2 = add(max2, shr(max3, 2));
    i = sub(shl(T1, 1), T2);
    if (sub(abs_s((Word16)i), 5) < 0)
        max1 = add(max1, mult(max2, 6554));
    i = add((Word16)i, T1);
    if (sub(abs_s((Word16)i), 7) < 0)
        max1 = add(max1, mult(max2, 6554));

    if (sub(max1, max2) < 0) {
        max1 = max2;
        T1 = T2;
    }
    if (sub(max1, max3) < 0)
        T1 = T3;
    return T1;
}

static Word32 dot_product(const Word16 x[], const Word16 y[], int lg)
{
    return g729_mac_n(0, x, y, lg);
}

/* Correlation of the target with the impulse response, scaled to 13 bits. */
static void cor_h_x(const Word16 h[], const Word16 X[], Word16 D[])
{
    Word32 y32[G729_L_SUBFR], max = 0, s;
    int i, j;

    for (i = 0; i < G729_L_SUBFR; i++) {
        s = g729_mac_n(0, &X[i], h, G729_L_SUBFR - i);
        y32[i] = s;
        s = L_abs(s);
        if (L_sub(s, max) > 0)
            max = s;
    }
    j = norm_l(max);
    if (j > 16)
        j = 16;
    j = 18 - j;
    for (i = 0; i < G729_L_SUBFR; i++)
        D[i] = extract_l(L_shr(y32[i], (Word16)j));
}

static Word16 pitch_fr3_fast(Word16 exc[], const Word16 xn[], const Word16 h[], int t0_min, int t0_max,
                             int i_subfr, Word16 *pit_frac)
{
    Word16 Dn[G729_L_SUBFR], exc_tmp[G729_L_SUBFR];
    Word32 max = MIN_32, corr;
    int t, t0 = t0_min;

    cor_h_x(h, xn, Dn);
    for (t = t0_min; t <= t0_max; t++) {
        corr = dot_product(Dn, &exc[-t], G729_L_SUBFR);
        if (L_sub(corr, max) > 0) {
            max = corr;
            t0 = t;
        }
    }

    g729_pred_lt_3(exc, t0, 0, G729_L_SUBFR);
    max = dot_product(Dn, exc, G729_L_SUBFR);
    *pit_frac = 0;
    if (i_subfr == 0 && t0 > 84)
        return (Word16)t0;

    memcpy(exc_tmp, exc, sizeof exc_tmp);
    g729_pred_lt_3(exc, t0, -1, G729_L_SUBFR);
    corr = dot_product(Dn, exc, G729_L_SUBFR);
    if (L_sub(corr, max) > 0) {
        max = corr;
        *pit_frac = -1;
        memcpy(exc_tmp, exc, sizeof exc_tmp);
    }
    g729_pred_lt_3(exc, t0, 1, G729_L_SUBFR);
    corr = dot_product(Dn, exc, G729_L_SUBFR);
    if (L_sub(corr, max) > 0)
        *pit_frac = 1;
    else
        memcpy(exc, exc_tmp, sizeof exc_tmp);
    return (Word16)t0;
}

static Word16 enc_lag3(Word16 T0, Word16 T0_frac, Word16 *T0_min, Word16 *T0_max, int first)
{
    Word16 index, i;

    if (first) {
        if (sub(T0, 85) <= 0) {
            i = add(add(T0, T0), T0);
            index = add(sub(i, 58), T0_frac);
        } else {
            index = add(T0, 112);
        }
        *T0_min = sub(T0, 5);
        if (sub(*T0_min, G729_PIT_MIN) < 0)
            *T0_min = G729_PIT_MIN;
        *T0_max = add(*T0_min, 9);
        if (sub(*T0_max, G729_PIT_MAX) > 0) {
            *T0_max = G729_PIT_MAX;
            *T0_min = sub(*T0_max, 9);
        }
    } else {
        i = sub(T0, *T0_min);
        i = add(add(i, i), i);
        index = add(add(i, 2), T0_frac);
    }
    return index;
}

static Word16 g_pitch(const Word16 xn[], const Word16 y1[], Word16 g_coeff[])
{
    Word16 scaled_y1[G729_L_SUBFR];
    Word16 xy, yy, exp_xy, exp_yy, gain;
    Word32 s;
    int i;

    for (i = 0; i < G729_L_SUBFR; i++)
        scaled_y1[i] = shr(y1[i], 2);

    g729_overflow = 0;
    s = g729_mac_n(1, y1, y1, G729_L_SUBFR);
    if (!g729_overflow) {
        exp_yy = norm_l(s);
        yy = g729_round(L_shl(s, exp_yy));
    } else {
        s = 1;
        for (i = 0; i < G729_L_SUBFR; i++)
            s = L_mac(s, scaled_y1[i], scaled_y1[i]);
        exp_yy = norm_l(s);
        yy = g729_round(L_shl(s, exp_yy));
        exp_yy = sub(exp_yy, 4);
    }

    g729_overflow = 0;
    s = g729_mac_n(0, xn, y1, G729_L_SUBFR);
    if (!g729_overflow) {
        exp_xy = norm_l(s);
        xy = g729_round(L_shl(s, exp_xy));
    } else {
        s = 0;
        for (i = 0; i < G729_L_SUBFR; i++)
            s = L_mac(s, xn[i], scaled_y1[i]);
        exp_xy = norm_l(s);
        xy = g729_round(L_shl(s, exp_xy));
        exp_xy = sub(exp_xy, 2);
    }

    g_coeff[0] = yy;
    g_coeff[1] = sub(15, exp_yy);
    g_coeff[2] = xy;
    g_coeff[3] = sub(15, exp_xy);

    if (xy <= 0) {
        g_coeff[3] = -15;
        return 0;
    }
    xy = shr(xy, 1);
    gain = div_s(xy, yy);
    i = sub(exp_xy, exp_yy);
    gain = shr(gain, (Word16)i);
    if (sub(gain, 19661) > 0)
        gain = 19661;
    return gain;
}

/* ---------------------------------------------------------------- taming */

static int tab_zone(int i) { return i / G729_L_SUBFR; }

static int test_err(const struct g729_encoder *st, Word16 T0, Word16 T0_frac)
{
    int t1 = T0_frac > 0 ? T0 + 1 : T0;
    int i = t1 - (G729_L_SUBFR + G729_L_INTER10);
    int zone1, zone2;
    Word32 maxloc = -1;

    if (i < 0)
        i = 0;
    zone1 = tab_zone(i);
    zone2 = tab_zone(t1 + G729_L_INTER10 - 2);
    for (i = zone2; i >= zone1; i--)
        if (L_sub(st->L_exc_err[i], maxloc) > 0)
            maxloc = st->L_exc_err[i];
    return L_sub(maxloc, G729_L_THRESH_ERR) > 0;
}

static Word32 exc_err_step(Word32 err, Word16 gain_pit)
{
    Word16 hi, lo;
    Word32 t;

    L_Extract(err, &hi, &lo);
    t = Mpy_32_16(hi, lo, gain_pit);
    t = L_shl(t, 1);
    return L_add(0x00004000L, t);
}

static void update_exc_err(struct g729_encoder *st, Word16 gain_pit, Word16 T0)
{
    Word32 worst = -1, t;
    int i, n = T0 - G729_L_SUBFR;

    if (n < 0) {
        t = exc_err_step(st->L_exc_err[0], gain_pit);
        if (L_sub(t, worst) > 0)
            worst = t;
        t = exc_err_step(t, gain_pit);
        if (L_sub(t, worst) > 0)
            worst = t;
    } else {
        int zone1 = tab_zone(n), zone2 = tab_zone(T0 - 1);
        for (i = zone1; i <= zone2; i++) {
            t = exc_err_step(st->L_exc_err[i], gain_pit);
            if (L_sub(t, worst) > 0)
                worst = t;
        }
    }
    for (i = 3; i >= 1; i--)
        st->L_exc_err[i] = st->L_exc_err[i - 1];
    st->L_exc_err[0] = worst;
}

/* ---------------------------------------------------------------- algebraic codebook */

/* Correlation matrix of the (scaled) impulse response restricted to the
 * pulse tracks.  rr layout: 5 diagonals of 8, then 10 cross matrices 8x8
 * (row = earlier track position, column = later track position). */
enum { RI0I0 = 0, RI1I1 = 8, RI2I2 = 16, RI3I3 = 24, RI4I4 = 32,
       RI0I1 = 40, RI0I2 = 104, RI0I3 = 168, RI0I4 = 232, RI1I2 = 296, RI1I3 = 360,
       RI1I4 = 424, RI2I3 = 488, RI2I4 = 552 };

static void cor_h(const Word16 H[], Word16 rr[])
{
    Word16 h[G729_L_SUBFR];
    Word32 cor = 0;
    int i, k, t1, t2;
    static const int diag[5] = {RI0I0, RI1I1, RI2I2, RI3I3, RI4I4};
    static const int cross[5][5] = {
        {0, RI0I1, RI0I2, RI0I3, RI0I4},
        {0, 0, RI1I2, RI1I3, RI1I4},
        {0, 0, 0, RI2I3, RI2I4},
        {0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0},
    };

    for (i = 0; i < G729_L_SUBFR; i++)
        cor = L_mac(cor, H[i], H[i]);
    if (sub(extract_h(cor), 32000) > 0) {
        for (i = 0; i < G729_L_SUBFR; i++)
            h[i] = shr(H[i], 1);
    } else {
        k = norm_l(cor);
        k = shr((Word16)k, 1);
        for (i = 0; i < G729_L_SUBFR; i++)
            h[i] = shl(H[i], (Word16)k);
    }

    /* rr(p,q) = sum_{m=0}^{39-max(p,q)} h[m] h[m+|p-q|]: prefix sums per lag
     * d, accumulated from m = 0 upwards as the Recommendation does (the
     * scaling above keeps them below saturation). */
    {
        Word32 prefix[G729_L_SUBFR][G729_L_SUBFR];
        int d, m;

        int64_t energy = 0;

        for (m = 0; m < G729_L_SUBFR; m++)
            energy += (int32_t)h[m] * h[m];
        if (2 * energy <= MAX_32) {
            /* |any partial cross sum| <= energy: nothing can saturate */
            for (d = 0; d < G729_L_SUBFR; d++) {
                int32_t acc = 0;
                for (m = 0; m < G729_L_SUBFR - d; m++) {
                    acc += 2 * (int32_t)h[m] * h[m + d];
                    prefix[d][m] = acc;
                }
            }
        } else {
            for (d = 0; d < G729_L_SUBFR; d++) {
                cor = 0;
                for (m = 0; m < G729_L_SUBFR - d; m++) {
                    cor = L_mac(cor, h[m], h[m + d]);
                    prefix[d][m] = cor;
                }
            }
        }
        for (t1 = 0; t1 < 5; t1++)
            for (i = 0; i < NB_POS; i++) {
                int p = t1 + STEP * i;
                rr[diag[t1] + i] = extract_h(prefix[0][G729_L_SUBFR - 1 - p]);
            }
        for (t1 = 0; t1 < 5; t1++) {
            for (t2 = t1 + 1; t2 < 5; t2++) {
                int base = cross[t1][t2], a, b2;
                if (t1 == 3)
                    continue;
                for (a = 0; a < NB_POS; a++) {
                    for (b2 = 0; b2 < NB_POS; b2++) {
                        int p = t1 + STEP * a, q = t2 + STEP * b2;
                        int dd = p > q ? p - q : q - p;
                        int last = p > q ? p : q;
                        rr[base + a * NB_POS + b2] = extract_h(prefix[dd][G729_L_SUBFR - 1 - last]);
                    }
                }
            }
        }
    }
}

#define _1_2 16384
#define _1_4 8192
#define _1_8 4096
#define _1_16 2048

static Word16 d4i40_17_fast(Word16 dn[], Word16 rr[], const Word16 h[], Word16 cod[], Word16 y[],
                            Word16 *sign)
{
    Word16 sign_dn[G729_L_SUBFR], sign_dn_inv[G729_L_SUBFR], tmp_vect[NB_POS];
    Word16 i0 = 0, i1 = 0, ip0 = 0, ip1 = 1, ip2 = 2, ip3 = 3, ix = 0, iy = 0;
    Word16 ps = 0, ps0, ps1, ps2, sq, sq2, psk, alpk, alp, alp_16, max;
    Word32 s, alp0, alp1, alp2;
    const Word16 *psign;
    Word16 *p0, *p1, *p2, *p3, *p4;
    int i, j, i2, i3, track, prev_i0, i1_offset;
    Word16 *rri0i0 = rr + RI0I0, *rri1i1 = rr + RI1I1, *rri2i2 = rr + RI2I2;
    Word16 *rri0i1 = rr + RI0I1, *rri0i2 = rr + RI0I2;
    Word16 *rri1i2 = rr + RI1I2;
    Word16 *ptr_rri0i3_i4 = rr + RI0I3, *ptr_rri1i3_i4 = rr + RI1I3;
    Word16 *ptr_rri2i3_i4 = rr + RI2I3, *ptr_rri3i3_i4 = rr + RI3I3;

    for (i = 0; i < G729_L_SUBFR; i++) {
        if (dn[i] >= 0) {
            sign_dn[i] = MAX_16;
            sign_dn_inv[i] = MIN_16;
        } else {
            sign_dn[i] = MIN_16;
            sign_dn_inv[i] = MAX_16;
            dn[i] = negate(dn[i]);
        }
    }

    /* fold the signs into the cross correlations */
    p0 = rr + RI0I1;
    p1 = rr + RI0I2;
    p2 = rr + RI0I3;
    p3 = rr + RI0I4;
    for (i = 0; i < G729_L_SUBFR; i += STEP) {
        psign = sign_dn[i] < 0 ? sign_dn_inv : sign_dn;
        for (j = 1; j < G729_L_SUBFR; j += STEP) {
            *p0 = mult(*p0, psign[j]); p0++;
            *p1 = mult(*p1, psign[j + 1]); p1++;
            *p2 = mult(*p2, psign[j + 2]); p2++;
            *p3 = mult(*p3, psign[j + 3]); p3++;
        }
    }
    p0 = rr + RI1I2;
    p1 = rr + RI1I3;
    p2 = rr + RI1I4;
    for (i = 1; i < G729_L_SUBFR; i += STEP) {
        psign = sign_dn[i] < 0 ? sign_dn_inv : sign_dn;
        for (j = 2; j < G729_L_SUBFR; j += STEP) {
            *p0 = mult(*p0, psign[j]); p0++;
            *p1 = mult(*p1, psign[j + 1]); p1++;
            *p2 = mult(*p2, psign[j + 2]); p2++;
        }
    }
    p0 = rr + RI2I3;
    p1 = rr + RI2I4;
    for (i = 2; i < G729_L_SUBFR; i += STEP) {
        psign = sign_dn[i] < 0 ? sign_dn_inv : sign_dn;
        for (j = 3; j < G729_L_SUBFR; j += STEP) {
            *p0 = mult(*p0, psign[j]); p0++;
            *p1 = mult(*p1, psign[j + 1]); p1++;
        }
    }

    psk = -1;
    alpk = 1;
    for (track = 3; track < 5; track++) {
        /* search 1, phase A: track 2 then track 3/4 */
        sq = -1;
        alp = 1;
        prev_i0 = -1;
        for (i = 0; i < 2; i++) {
            max = -1;
            for (j = 2; j < G729_L_SUBFR; j += STEP) {
                if (sub(dn[j], max) > 0 && prev_i0 != j) {
                    max = dn[j];
                    i0 = (Word16)j;
                }
            }
            prev_i0 = i0;
            j = mult(i0, 6554);
            p0 = rri2i2 + j;
            ps1 = dn[i0];
            alp1 = L_mult(*p0, _1_4);
            p0 = ptr_rri2i3_i4 + (j << 3);
            p1 = ptr_rri3i3_i4;
            for (i1 = (Word16)track; i1 < G729_L_SUBFR; i1 += STEP) {
                ps2 = add(ps1, dn[i1]);
                alp2 = L_mac(alp1, *p0++, _1_2);
                alp2 = L_mac(alp2, *p1++, _1_4);
                sq2 = mult(ps2, ps2);
                alp_16 = g729_round(alp2);
                s = L_msu(L_mult(alp, sq2), sq, alp_16);
                if (s > 0) {
                    sq = sq2;
                    ps = ps2;
                    alp = alp_16;
                    ix = i0;
                    iy = i1;
                }
            }
        }
        i0 = ix;
        i1 = iy;

        /* search 1, phase B: tracks 0 and 1 */
        ps0 = ps;
        alp0 = L_mult(alp, _1_4);
        sq = -1;
        alp = 1;
        p0 = rri1i2 + mult(i0, 6554);
        p1 = ptr_rri1i3_i4 + mult(i1, 6554);
        p2 = rri1i1;
        p3 = tmp_vect;
        for (i3 = 1; i3 < G729_L_SUBFR; i3 += STEP) {
            s = L_mult(*p0, _1_4); p0 += NB_POS;
            s = L_mac(s, *p1, _1_4); p1 += NB_POS;
            s = L_mac(s, *p2++, _1_8);
            *p3++ = g729_round(s);
        }
        p0 = rri0i2 + mult(i0, 6554);
        p1 = ptr_rri0i3_i4 + mult(i1, 6554);
        p2 = rri0i0;
        p3 = rri0i1;
        for (i2 = 0; i2 < G729_L_SUBFR; i2 += STEP) {
            ps1 = add(ps0, dn[i2]);
            alp1 = L_mac(alp0, *p0, _1_8); p0 += NB_POS;
            alp1 = L_mac(alp1, *p1, _1_8); p1 += NB_POS;
            alp1 = L_mac(alp1, *p2++, _1_16);
            p4 = tmp_vect;
            for (i3 = 1; i3 < G729_L_SUBFR; i3 += STEP) {
                ps2 = add(ps1, dn[i3]);
                alp2 = L_mac(alp1, *p3++, _1_8);
                alp2 = L_mac(alp2, *p4++, _1_2);
                sq2 = mult(ps2, ps2);
                alp_16 = g729_round(alp2);
                s = L_msu(L_mult(alp, sq2), sq, alp_16);
                if (s > 0) {
                    sq = sq2;
                    alp = alp_16;
                    ix = (Word16)i2;
                    iy = (Word16)i3;
                }
            }
        }
        s = L_msu(L_mult(alpk, sq), psk, alp);
        if (s > 0) {
            psk = sq;
            alpk = alp;
            ip2 = i0;
            ip3 = i1;
            ip0 = ix;
            ip1 = iy;
        }

        /* search 2, phase A: track 3/4 then track 0 */
        sq = -1;
        alp = 1;
        prev_i0 = -1;
        for (i = 0; i < 2; i++) {
            max = -1;
            for (j = track; j < G729_L_SUBFR; j += STEP) {
                if (sub(dn[j], max) > 0 && prev_i0 != j) {
                    max = dn[j];
                    i0 = (Word16)j;
                }
            }
            prev_i0 = i0;
            j = mult(i0, 6554);
            p0 = ptr_rri3i3_i4 + j;
            ps1 = dn[i0];
            alp1 = L_mult(*p0, _1_4);
            p0 = ptr_rri0i3_i4 + j;
            p1 = rri0i0;
            for (i1 = 0; i1 < G729_L_SUBFR; i1 += STEP) {
                ps2 = add(ps1, dn[i1]);
                alp2 = L_mac(alp1, *p0, _1_2); p0 += NB_POS;
                alp2 = L_mac(alp2, *p1++, _1_4);
                sq2 = mult(ps2, ps2);
                alp_16 = g729_round(alp2);
                s = L_msu(L_mult(alp, sq2), sq, alp_16);
                if (s > 0) {
                    sq = sq2;
                    ps = ps2;
                    alp = alp_16;
                    ix = i0;
                    iy = i1;
                }
            }
        }
        i0 = ix;
        i1 = iy;
        i1_offset = mult(i1, 6554) << 3;

        /* search 2, phase B: tracks 1 and 2 */
        ps0 = ps;
        alp0 = L_mult(alp, _1_4);
        sq = -1;
        alp = 1;
        p0 = ptr_rri2i3_i4 + mult(i0, 6554);
        p1 = rri0i2 + i1_offset;
        p2 = rri2i2;
        p3 = tmp_vect;
        for (i3 = 2; i3 < G729_L_SUBFR; i3 += STEP) {
            s = L_mult(*p0, _1_4); p0 += NB_POS;
            s = L_mac(s, *p1++, _1_4);
            s = L_mac(s, *p2++, _1_8);
            *p3++ = g729_round(s);
        }
        p0 = ptr_rri1i3_i4 + mult(i0, 6554);
        p1 = rri0i1 + i1_offset;
        p2 = rri1i1;
        p3 = rri1i2;
        for (i2 = 1; i2 < G729_L_SUBFR; i2 += STEP) {
            ps1 = add(ps0, dn[i2]);
            alp1 = L_mac(alp0, *p0, _1_8); p0 += NB_POS;
            alp1 = L_mac(alp1, *p1++, _1_8);
            alp1 = L_mac(alp1, *p2++, _1_16);
            p4 = tmp_vect;
            for (i3 = 2; i3 < G729_L_SUBFR; i3 += STEP) {
                ps2 = add(ps1, dn[i3]);
                alp2 = L_mac(alp1, *p3++, _1_8);
                alp2 = L_mac(alp2, *p4++, _1_2);
                sq2 = mult(ps2, ps2);
                alp_16 = g729_round(alp2);
                s = L_msu(L_mult(alp, sq2), sq, alp_16);
                if (s > 0) {
                    sq = sq2;
                    alp = alp_16;
                    ix = (Word16)i2;
                    iy = (Word16)i3;
                }
            }
        }
        s = L_msu(L_mult(alpk, sq), psk, alp);
        if (s > 0) {
            psk = sq;
            alpk = alp;
            ip3 = i0;
            ip0 = i1;
            ip1 = ix;
            ip2 = iy;
        }

        ptr_rri0i3_i4 = rr + RI0I4;
        ptr_rri1i3_i4 = rr + RI1I4;
        ptr_rri2i3_i4 = rr + RI2I4;
        ptr_rri3i3_i4 = rr + RI4I4;
    }

    {
        const Word16 sg[4] = {sign_dn[ip0], sign_dn[ip1], sign_dn[ip2], sign_dn[ip3]};
        const Word16 pos[4] = {ip0, ip1, ip2, ip3};
        int k, idx;

        memset(cod, 0, G729_L_SUBFR * sizeof cod[0]);
        for (k = 0; k < 4; k++)
            cod[pos[k]] = shr(sg[k], 2);
        memset(y, 0, G729_L_SUBFR * sizeof y[0]);
        for (k = 0; k < 4; k++) {
            int n, m;
            if (sg[k] > 0)
                for (n = pos[k], m = 0; n < G729_L_SUBFR; n++, m++)
                    y[n] = add(y[n], h[m]);
            else
                for (n = pos[k], m = 0; n < G729_L_SUBFR; n++, m++)
                    y[n] = sub(y[n], h[m]);
        }
        idx = 0;
        for (k = 0; k < 4; k++)
            if (sg[k] > 0)
                idx += 1 << k;
        *sign = (Word16)idx;

        ip0 = mult(ip0, 6554);
        ip1 = mult(ip1, 6554);
        ip2 = mult(ip2, 6554);
        i = mult(ip3, 6554);
        j = i * 5;
        j = ip3 - (j + 3);
        ip3 = (Word16)((i << 1) + j);
        return (Word16)(ip0 + (ip1 << 3) + (ip2 << 6) + (ip3 << 9));
    }
}

static Word16 acelp_code_a(const Word16 x[], Word16 h[], int T0, Word16 pitch_sharp, Word16 code[], Word16 y[],
                           Word16 *sign)
{
    Word16 Dn[G729_L_SUBFR], rr[DIM_RR];
    Word16 sharp = shl(pitch_sharp, 1), index;
    int i;

    if (T0 < G729_L_SUBFR)
        for (i = T0; i < G729_L_SUBFR; i++)
            h[i] = add(h[i], mult(h[i - T0], sharp));
    cor_h(h, rr);
    cor_h_x(h, x, Dn);
    index = d4i40_17_fast(Dn, rr, h, code, y, sign);
    if (T0 < G729_L_SUBFR)
        for (i = T0; i < G729_L_SUBFR; i++)
            code[i] = add(code[i], mult(code[i - T0], sharp));
    return index;
}

/* ---------------------------------------------------------------- gain quantiser */

static void corr_xy2(const Word16 xn[], const Word16 y1[], const Word16 y2[], Word16 g_coeff[], Word16 exp_g_coeff[])
{
    Word16 scaled_y2[G729_L_SUBFR], exp, v;
    Word32 acc;
    int i;

    for (i = 0; i < G729_L_SUBFR; i++)
        scaled_y2[i] = shr(y2[i], 3);

    acc = 1;
    for (i = 0; i < G729_L_SUBFR; i++)
        acc = L_mac(acc, scaled_y2[i], scaled_y2[i]);
    exp = norm_l(acc);
    g_coeff[2] = g729_round(L_shl(acc, exp));
    exp_g_coeff[2] = add(exp, 19 - 16);

    acc = 1;
    for (i = 0; i < G729_L_SUBFR; i++)
        acc = L_mac(acc, xn[i], scaled_y2[i]);
    exp = norm_l(acc);
    v = g729_round(L_shl(acc, exp));
    g_coeff[3] = negate(v);
    exp_g_coeff[3] = sub(add(exp, 10 - 16), 1);

    acc = 1;
    for (i = 0; i < G729_L_SUBFR; i++)
        acc = L_mac(acc, y1[i], scaled_y2[i]);
    exp = norm_l(acc);
    g_coeff[4] = g729_round(L_shl(acc, exp));
    exp_g_coeff[4] = sub(add(exp, 10 - 16), 1);
}

static void gbk_presel(const Word16 best_gain[], int *cand1, int *cand2, Word16 gcode0)
{
    Word16 acc_h;
    Word32 acc, preg, cfbg, tmp, tmp_x, tmp_y;
    const Word16 sft_y = (14 + 4 + 1) - 16;
    const Word16 sft_x = (15 + 4 + 1) - 15;

    cfbg = L_mult(g729_coef[0][0], best_gain[0]);
    acc = L_shr(g729_L_coef[1][1], 15);
    acc = L_add(cfbg, acc);
    acc_h = extract_h(acc);
    preg = L_mult(acc_h, gcode0);
    acc = L_shl(L_deposit_l(best_gain[1]), 7);
    acc = L_sub(acc, preg);
    acc_h = extract_h(L_shl(acc, 2));
    tmp_x = L_mult(acc_h, G729_INV_COEF);

    acc = L_shr(g729_L_coef[0][1], 10);
    acc = L_sub(cfbg, acc);
    acc_h = extract_h(acc);
    acc_h = mult(acc_h, gcode0);
    tmp = L_mult(acc_h, g729_coef[1][0]);
    preg = L_mult(g729_coef[0][0], best_gain[1]);
    acc = L_sub(tmp, L_shr(preg, 3));
    acc_h = extract_h(L_shl(acc, 2));
    tmp_y = L_mult(acc_h, G729_INV_COEF);

    if (gcode0 > 0) {
        *cand1 = 0;
        do {
            if (L_sub(tmp_y, L_shr(L_mult(g729_thr1[*cand1], gcode0), sft_y)) > 0)
                (*cand1)++;
            else
                break;
        } while (*cand1 < G729_NCODE1 - G729_NCAN1);
        *cand2 = 0;
        do {
            if (L_sub(tmp_x, L_shr(L_mult(g729_thr2[*cand2], gcode0), sft_x)) > 0)
                (*cand2)++;
            else
                break;
        } while (*cand2 < G729_NCODE2 - G729_NCAN2);
    } else {
        *cand1 = 0;
        do {
            if (L_sub(tmp_y, L_shr(L_mult(g729_thr1[*cand1], gcode0), sft_y)) < 0)
                (*cand1)++;
            else
                break;
        } while (*cand1 < G729_NCODE1 - G729_NCAN1);
        *cand2 = 0;
        do {
            if (L_sub(tmp_x, L_shr(L_mult(g729_thr2[*cand2], gcode0), sft_x)) < 0)
                (*cand2)++;
            else
                break;
        } while (*cand2 < G729_NCODE2 - G729_NCAN2);
    }
}

static Word16 qua_gain(struct g729_encoder *st, const Word16 code[], const Word16 g_coeff[], const Word16 exp_coeff[],
                       Word16 *gain_pit, Word16 *gain_cod, int tameflag)
{
    Word16 gcode0, exp_gcode0, gcode0_org, e_min, nume, denom, inv_denom;
    Word16 exp1, exp2, exp_nume, exp_denom, exp_inv_denom, sft, tmp, exp;
    Word16 g_pitch, g2_pitch, g_code, g2_code, g_pit_cod;
    Word16 coeff[5], coeff_lsf[5], exp_min[5], best_gain[2];
    Word32 L_gbk12, L_tmp, L_dist_min, L_tmp1, L_tmp2, L_acc;
    int i, j, cand1, cand2, index1, index2;

    g729_gain_predict(st->past_qua_en, code, &gcode0, &exp_gcode0);

    /* tmp = -1/(4 c0 c2 - c4^2) */
    L_tmp1 = L_mult(g_coeff[0], g_coeff[2]);
    exp1 = add(add(exp_coeff[0], exp_coeff[2]), 1 - 2);
    L_tmp2 = L_mult(g_coeff[4], g_coeff[4]);
    exp2 = add(add(exp_coeff[4], exp_coeff[4]), 1);
    if (sub(exp1, exp2) > 0) {
        L_tmp = L_sub(L_shr(L_tmp1, sub(exp1, exp2)), L_tmp2);
        exp = exp2;
    } else {
        L_tmp = L_sub(L_tmp1, L_shr(L_tmp2, sub(exp2, exp1)));
        exp = exp1;
    }
    sft = norm_l(L_tmp);
    denom = extract_h(L_shl(L_tmp, sft));
    exp_denom = sub(add(exp, sft), 16);
    inv_denom = div_s(16384, denom);
    inv_denom = negate(inv_denom);
    exp_inv_denom = sub(14 + 15, exp_denom);

    /* best_gain[0] = (2 c2 c1 - c3 c4) tmp */
    L_tmp1 = L_mult(g_coeff[2], g_coeff[1]);
    exp1 = add(exp_coeff[2], exp_coeff[1]);
    L_tmp2 = L_mult(g_coeff[3], g_coeff[4]);
    exp2 = add(add(exp_coeff[3], exp_coeff[4]), 1);
    if (sub(exp1, exp2) > 0) {
        L_tmp = L_sub(L_shr(L_tmp1, add(sub(exp1, exp2), 1)), L_shr(L_tmp2, 1));
        exp = sub(exp2, 1);
    } else {
        L_tmp = L_sub(L_shr(L_tmp1, 1), L_shr(L_tmp2, add(sub(exp2, exp1), 1)));
        exp = sub(exp1, 1);
    }
    sft = norm_l(L_tmp);
    nume = extract_h(L_shl(L_tmp, sft));
    exp_nume = sub(add(exp, sft), 16);
    sft = sub(add(exp_nume, exp_inv_denom), 9 + 16 - 1);
    L_acc = L_shr(L_mult(nume, inv_denom), sft);
    best_gain[0] = extract_h(L_acc);
    if (tameflag && sub(best_gain[0], G729_GPCLIP2) > 0)
        best_gain[0] = G729_GPCLIP2;

    /* best_gain[1] = (2 c0 c3 - c1 c4) tmp */
    L_tmp1 = L_mult(g_coeff[0], g_coeff[3]);
    exp1 = add(exp_coeff[0], exp_coeff[3]);
    L_tmp2 = L_mult(g_coeff[1], g_coeff[4]);
    exp2 = add(add(exp_coeff[1], exp_coeff[4]), 1);
    if (sub(exp1, exp2) > 0) {
        L_tmp = L_sub(L_shr(L_tmp1, add(sub(exp1, exp2), 1)), L_shr(L_tmp2, 1));
        exp = sub(exp2, 1);
    } else {
        L_tmp = L_sub(L_shr(L_tmp1, 1), L_shr(L_tmp2, add(sub(exp2, exp1), 1)));
        exp = sub(exp1, 1);
    }
    sft = norm_l(L_tmp);
    nume = extract_h(L_shl(L_tmp, sft));
    exp_nume = sub(add(exp, sft), 16);
    sft = sub(add(exp_nume, exp_inv_denom), 2 + 16 - 1);
    L_acc = L_shr(L_mult(nume, inv_denom), sft);
    best_gain[1] = extract_h(L_acc);

    if (sub(exp_gcode0, 4) >= 0) {
        gcode0_org = shr(gcode0, sub(exp_gcode0, 4));
    } else {
        L_acc = L_deposit_l(gcode0);
        L_acc = L_shl(L_acc, sub(4 + 16, exp_gcode0));
        gcode0_org = extract_h(L_acc);
    }
    gbk_presel(best_gain, &cand1, &cand2, gcode0_org);

    exp_min[0] = add(exp_coeff[0], 13);
    exp_min[1] = add(exp_coeff[1], 14);
    exp_min[2] = add(exp_coeff[2], sub(shl(exp_gcode0, 1), 21));
    exp_min[3] = add(exp_coeff[3], sub(exp_gcode0, 3));
    exp_min[4] = add(exp_coeff[4], sub(exp_gcode0, 4));
    e_min = exp_min[0];
    for (i = 1; i < 5; i++)
        if (sub(exp_min[i], e_min) < 0)
            e_min = exp_min[i];
    for (i = 0; i < 5; i++) {
        j = sub(exp_min[i], e_min);
        L_tmp = L_deposit_h(g_coeff[i]);
        L_tmp = L_shr(L_tmp, (Word16)j);
        L_Extract(L_tmp, &coeff[i], &coeff_lsf[i]);
    }

    L_dist_min = MAX_32;
    index1 = cand1;
    index2 = cand2;
    for (i = 0; i < G729_NCAN1; i++) {
        for (j = 0; j < G729_NCAN2; j++) {
            g_pitch = add(g729_gbk1[cand1 + i][0], g729_gbk2[cand2 + j][0]);
            if (tameflag && g_pitch >= G729_GP0999)
                continue;
            L_acc = L_deposit_l(g729_gbk1[cand1 + i][1]);
            L_acc = L_add(L_acc, L_deposit_l(g729_gbk2[cand2 + j][1]));
            tmp = extract_l(L_shr(L_acc, 1));
            g_code = mult(gcode0, tmp);
            g2_pitch = mult(g_pitch, g_pitch);
            g2_code = mult(g_code, g_code);
            g_pit_cod = mult(g_code, g_pitch);
            L_tmp = Mpy_32_16(coeff[0], coeff_lsf[0], g2_pitch);
            L_tmp = L_add(L_tmp, Mpy_32_16(coeff[1], coeff_lsf[1], g_pitch));
            L_tmp = L_add(L_tmp, Mpy_32_16(coeff[2], coeff_lsf[2], g2_code));
            L_tmp = L_add(L_tmp, Mpy_32_16(coeff[3], coeff_lsf[3], g_code));
            L_tmp = L_add(L_tmp, Mpy_32_16(coeff[4], coeff_lsf[4], g_pit_cod));
            if (L_sub(L_tmp, L_dist_min) < 0) {
                L_dist_min = L_tmp;
                index1 = cand1 + i;
                index2 = cand2 + j;
            }
        }
    }

    *gain_pit = add(g729_gbk1[index1][0], g729_gbk2[index2][0]);
    L_gbk12 = L_add(L_deposit_l(g729_gbk1[index1][1]), L_deposit_l(g729_gbk2[index2][1]));
    tmp = extract_l(L_shr(L_gbk12, 1));
    L_acc = L_mult(tmp, gcode0);
    L_acc = L_shl(L_acc, add(negate(exp_gcode0), -12 - 1 + 1 + 16));
    *gain_cod = extract_h(L_acc);
    g729_gain_update(st->past_qua_en, L_gbk12);
    return (Word16)(g729_map1[index1] * G729_NCODE2 + g729_map2[index2]);
}

/* ---------------------------------------------------------------- frame */

void g729_encoder_reset(struct g729_encoder *st)
{
    static const Word16 lsp_init[G729_M] = {30000, 26000, 21000, 15000, 8000, 0, -8000, -15000, -21000, -26000};
    int i;

    memset(st, 0, sizeof *st);
    memcpy(st->lsp_old, lsp_init, sizeof lsp_init);
    memcpy(st->lsp_old_q, lsp_init, sizeof lsp_init);
    st->sharp = G729_SHARPMIN;
    for (i = 0; i < 4; i++) {
        st->L_exc_err[i] = 0x00004000L;
        st->past_qua_en[i] = -14336;
    }
    g729_lsfq_reset(&st->lsfq);
    st->old_A[0] = 4096;
}

void g729_encode_frame(struct g729_encoder *st, const Word16 pcm[G729_L_FRAME], Word16 ana[G729_PRM_SIZE])
{
    Word16 *new_speech = st->old_speech + G729_L_TOTAL - G729_L_FRAME;
    Word16 *speech = new_speech - G729_L_NEXT;
    Word16 *p_window = st->old_speech + G729_L_TOTAL - G729_L_WINDOW;
    Word16 *wsp = st->old_wsp + G729_PIT_MAX;
    Word16 *exc = st->old_exc + G729_PIT_MAX + G729_L_INTERPOL;
    Word16 Aq_t[G729_MP1 * 2], Ap_t[G729_MP1 * 2], *Ap;
    Word16 lsp_new[G729_M], lsp_new_q[G729_M];
    Word16 h1[G729_L_SUBFR], xn[G729_L_SUBFR], xn2[G729_L_SUBFR], code[G729_L_SUBFR];
    Word16 y1[G729_L_SUBFR], y2[G729_L_SUBFR];
    Word16 g_coeff[4], g_coeff_cs[5], exp_g_coeff_cs[5];
    Word16 T_op, T0, T0_frac, T0_min, T0_max, gain_pit, gain_code, index, sign;
    Word32 L_temp;
    int i, j, i_subfr, taming;

    memcpy(new_speech, pcm, G729_L_FRAME * sizeof pcm[0]);
    pre_process(st, new_speech, G729_L_FRAME);

    {
        Word16 r_h[G729_MP1], r_l[G729_MP1], rc[G729_M], A_t[G729_MP1];
        autocorr(p_window, r_h, r_l);
        lag_window(r_h, r_l);
        levinson(st, r_h, r_l, A_t, rc);
        az_lsp(A_t, lsp_new, st->lsp_old);
        qua_lsp(st, lsp_new, lsp_new_q, ana);
        ana += 2;
    }
    g729_int_qlpc(st->lsp_old_q, lsp_new_q, Aq_t);
    memcpy(st->lsp_old, lsp_new, sizeof lsp_new);
    memcpy(st->lsp_old_q, lsp_new_q, sizeof lsp_new_q);

    /* weighted speech for the open-loop pitch search */
    g729_weight_az(&Aq_t[0], G729_GAMMA1, &Ap_t[0]);
    g729_weight_az(&Aq_t[G729_MP1], G729_GAMMA1, &Ap_t[G729_MP1]);
    g729_residu(&Aq_t[0], &speech[0], &exc[0], G729_L_SUBFR);
    g729_residu(&Aq_t[G729_MP1], &speech[G729_L_SUBFR], &exc[G729_L_SUBFR], G729_L_SUBFR);
    {
        Word16 Ap1[G729_MP1];
        Ap = Ap_t;
        Ap1[0] = 4096;
        for (i = 1; i <= G729_M; i++)
            Ap1[i] = sub(Ap[i], mult(Ap[i - 1], 22938));
        g729_syn_filt(Ap1, &exc[0], &wsp[0], G729_L_SUBFR, st->mem_w, 1);
        Ap += G729_MP1;
        for (i = 1; i <= G729_M; i++)
            Ap1[i] = sub(Ap[i], mult(Ap[i - 1], 22938));
        g729_syn_filt(Ap1, &exc[G729_L_SUBFR], &wsp[G729_L_SUBFR], G729_L_SUBFR, st->mem_w, 1);
    }

    T_op = pitch_ol_fast(wsp);
    T0_min = sub(T_op, 3);
    if (T0_min < G729_PIT_MIN)
        T0_min = G729_PIT_MIN;
    T0_max = add(T0_min, 6);
    if (T0_max > G729_PIT_MAX) {
        T0_max = G729_PIT_MAX;
        T0_min = sub(T0_max, 6);
    }

    Ap = Ap_t;
    for (i_subfr = 0; i_subfr < G729_L_FRAME; i_subfr += G729_L_SUBFR) {
        h1[0] = 4096;
        memset(&h1[1], 0, (G729_L_SUBFR - 1) * sizeof h1[0]);
        g729_syn_filt(Ap, h1, h1, G729_L_SUBFR, &h1[1], 0);

        g729_syn_filt(Ap, &exc[i_subfr], xn, G729_L_SUBFR, st->mem_w0, 0);

        T0 = pitch_fr3_fast(&exc[i_subfr], xn, h1, T0_min, T0_max, i_subfr, &T0_frac);
        index = enc_lag3(T0, T0_frac, &T0_min, &T0_max, i_subfr == 0);
        *ana++ = index;
        if (i_subfr == 0)
            *ana++ = g729_parity_pitch(index);

        /* exc[i_subfr..] already holds the adaptive codebook vector of
         * (T0, T0_frac): pitch_fr3_fast leaves the chosen one in place.
         * y1: that vector through 1/A(z/gamma) from zero memory (Annex A
         * filters it with Syn_filt, not by convolution with h1). */
        {
            Word16 mem_zero[G729_M] = {0};
            g729_syn_filt(Ap, &exc[i_subfr], y1, G729_L_SUBFR, mem_zero, 0);
        }
        gain_pit = g_pitch(xn, y1, g_coeff);

        taming = test_err(st, T0, T0_frac);
        if (taming && sub(gain_pit, G729_GPCLIP) > 0)
            gain_pit = G729_GPCLIP;

        for (i = 0; i < G729_L_SUBFR; i++) {
            L_temp = L_mult(y1[i], gain_pit);
            L_temp = L_shl(L_temp, 1);
            xn2[i] = sub(xn[i], extract_h(L_temp));
        }

        index = acelp_code_a(xn2, h1, T0, st->sharp, code, y2, &sign);
        *ana++ = index;
        *ana++ = sign;

        g_coeff_cs[0] = g_coeff[0];
        exp_g_coeff_cs[0] = negate(g_coeff[1]);
        g_coeff_cs[1] = negate(g_coeff[2]);
        exp_g_coeff_cs[1] = negate(add(g_coeff[3], 1));
        corr_xy2(xn, y1, y2, g_coeff_cs, exp_g_coeff_cs);
        *ana++ = qua_gain(st, code, g_coeff_cs, exp_g_coeff_cs, &gain_pit, &gain_code, taming);

        st->sharp = gain_pit;
        if (st->sharp > G729_SHARPMAX)
            st->sharp = G729_SHARPMAX;
        if (st->sharp < G729_SHARPMIN)
            st->sharp = G729_SHARPMIN;

        for (i = 0; i < G729_L_SUBFR; i++) {
            L_temp = L_mult(exc[i + i_subfr], gain_pit);
            L_temp = L_mac(L_temp, code[i], gain_code);
            L_temp = L_shl(L_temp, 1);
            exc[i + i_subfr] = g729_round(L_temp);
        }
        update_exc_err(st, gain_pit, T0);

        for (i = G729_L_SUBFR - G729_M, j = 0; i < G729_L_SUBFR; i++, j++) {
            Word16 t = extract_h(L_shl(L_mult(y1[i], gain_pit), 1));
            Word16 k = extract_h(L_shl(L_mult(y2[i], gain_code), 2));
            st->mem_w0[j] = sub(xn[i], add(t, k));
        }
        Ap += G729_MP1;
    }

    memmove(&st->old_speech[0], &st->old_speech[G729_L_FRAME], (G729_L_TOTAL - G729_L_FRAME) * sizeof(Word16));
    memmove(&st->old_wsp[0], &st->old_wsp[G729_L_FRAME], G729_PIT_MAX * sizeof(Word16));
    memmove(&st->old_exc[0], &st->old_exc[G729_L_FRAME], (G729_PIT_MAX + G729_L_INTERPOL) * sizeof(Word16));
}
