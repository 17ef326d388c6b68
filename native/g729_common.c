/* Signal-processing blocks shared by the G.729 Annex A encoder and decoder:
 * 32-bit helper functions, LSP <-> LP conversion and interpolation, LP
 * filters, LSF dequantisation with MA prediction, fractional pitch
 * interpolation, pitch parity and MA gain prediction.
 * Responsible for: pure functions of their arguments (state is passed in).
 * Must not allocate or keep global state (except the per-thread overflow
 * flag of the basic operators). */
#include "g729_internal.h"

__thread int g729_overflow;

static inline int32_t abs32(int32_t v) { return v < 0 ? -v : v; }

Word32 g729_div_32(Word32 num, Word16 denom_hi, Word16 denom_lo)
{
    Word16 approx, hi, lo, n_hi, n_lo;
    Word32 x;

    /* first approximation 1/denom_hi, then one Newton step */
    approx = div_s((Word16)0x3fff, denom_hi);
    x = Mpy_32_16(denom_hi, denom_lo, approx);
    x = L_sub(MAX_32, x);
    L_Extract(x, &hi, &lo);
    x = Mpy_32_16(hi, lo, approx);
    L_Extract(x, &hi, &lo);
    L_Extract(num, &n_hi, &n_lo);
    x = Mpy_32(n_hi, n_lo, hi, lo);
    return L_shl(x, 2);
}

Word32 g729_pow2(Word16 exponent, Word16 fraction)
{
    Word16 i, a, tmp;
    Word32 x;

    x = L_mult(fraction, 32);
    i = extract_h(x);
    x = L_shr(x, 1);
    a = (Word16)(extract_l(x) & 0x7fff);
    x = L_deposit_h(g729_tabpow[i]);
    tmp = sub(g729_tabpow[i], g729_tabpow[i + 1]);
    x = L_msu(x, tmp, a);
    return L_shr_r(x, sub(30, exponent));
}

void g729_log2(Word32 x, Word16 *exponent, Word16 *fraction)
{
    Word16 exp, i, a, tmp;
    Word32 y;

    if (x <= 0) {
        *exponent = 0;
        *fraction = 0;
        return;
    }
    exp = norm_l(x);
    x = L_shl(x, exp);
    *exponent = sub(30, exp);
    x = L_shr(x, 9);
    i = extract_h(x);
    x = L_shr(x, 1);
    a = (Word16)(extract_l(x) & 0x7fff);
    i = sub(i, 32);
    y = L_deposit_h(g729_tablog[i]);
    tmp = sub(g729_tablog[i], g729_tablog[i + 1]);
    y = L_msu(y, tmp, a);
    *fraction = extract_h(y);
}

Word32 g729_inv_sqrt(Word32 x)
{
    Word16 exp, i, a, tmp;
    Word32 y;

    if (x <= 0)
        return 0x3fffffffL;
    exp = norm_l(x);
    x = L_shl(x, exp);
    exp = sub(30, exp);
    if ((exp & 1) == 0)
        x = L_shr(x, 1);
    exp = shr(exp, 1);
    exp = add(exp, 1);
    x = L_shr(x, 9);
    i = extract_h(x);
    x = L_shr(x, 1);
    a = (Word16)(extract_l(x) & 0x7fff);
    i = sub(i, 16);
    y = L_deposit_h(g729_tabsqr[i]);
    tmp = sub(g729_tabsqr[i], g729_tabsqr[i + 1]);
    y = L_msu(y, tmp, a);
    return L_shr(y, exp);
}

/* Coefficients of F1(z) or F2(z) from every other LSP, Q24. */
static void get_lsp_pol(const Word16 *lsp, Word32 *f)
{
    Word16 hi, lo;
    Word32 t0;
    int i, j;

    f[0] = L_mult(4096, 2048);
    f[1] = L_msu(0, lsp[0], 512);
    for (i = 2; i <= 5; i++) {
        const Word16 l = lsp[2 * (i - 1)];
        f[i] = f[i - 2];
        for (j = i; j > 1; j--) {
            L_Extract(f[j - 1], &hi, &lo);
            t0 = Mpy_32_16(hi, lo, l);
            t0 = L_shl(t0, 1);
            f[j] = L_add(f[j], f[j - 2]);
            f[j] = L_sub(f[j], t0);
        }
        f[1] = L_msu(f[1], l, 512);
    }
}

void g729_lsp_az(const Word16 lsp[], Word16 a[])
{
    Word32 f1[6], f2[6], t0;
    int i, j;

    get_lsp_pol(&lsp[0], f1);
    get_lsp_pol(&lsp[1], f2);
    for (i = 5; i > 0; i--) {
        f1[i] = L_add(f1[i], f1[i - 1]);
        f2[i] = L_sub(f2[i], f2[i - 1]);
    }
    a[0] = 4096;
    for (i = 1, j = 10; i <= 5; i++, j--) {
        t0 = L_add(f1[i], f2[i]);
        a[i] = extract_l(L_shr_r(t0, 13));
        t0 = L_sub(f1[i], f2[i]);
        a[j] = extract_l(L_shr_r(t0, 13));
    }
}

void g729_int_qlpc(const Word16 lsp_old[], const Word16 lsp_new[], Word16 az[])
{
    Word16 lsp[G729_M];
    int i;

    for (i = 0; i < G729_M; i++)
        lsp[i] = add(shr(lsp_new[i], 1), shr(lsp_old[i], 1));
    g729_lsp_az(lsp, az);
    g729_lsp_az(lsp_new, &az[G729_MP1]);
}

void g729_weight_az(const Word16 a[], Word16 gamma, Word16 ap[])
{
    Word16 fac = gamma;
    int i;

    ap[0] = a[0];
    for (i = 1; i < G729_M; i++) {
        ap[i] = g729_round(L_mult(a[i], fac));
        fac = g729_round(L_mult(fac, gamma));
    }
    ap[G729_M] = g729_round(L_mult(a[G729_M], fac));
}

void g729_residu(const Word16 a[], const Word16 x[], Word16 y[], int lg)
{
    int i, j;
    Word32 s;

    Word16 ar[G729_MP1];
    int32_t suma = 0, maxx = 0;

    for (j = 0; j <= G729_M; j++) {
        ar[j] = a[G729_M - j];
        suma += a[j] < 0 ? -(int32_t)a[j] : a[j];
    }
    for (i = -G729_M; i < lg; i++) {
        int32_t v = x[i] < 0 ? -(int32_t)x[i] : x[i];
        maxx = v > maxx ? v : maxx;
    }
    if (2 * (int64_t)suma * maxx <= MAX_32) {
        /* no partial sum can saturate anywhere in the block */
        for (i = 0; i < lg; i++) {
            int32_t acc = 0;
            for (j = 0; j <= G729_M; j++)
                acc += (int32_t)ar[j] * x[i - G729_M + j];
            y[i] = g729_round(L_shl(2 * acc, 3));
        }
        return;
    }
    for (i = 0; i < lg; i++) {
        if (!g729_mac_fast(0, ar, &x[i - G729_M], G729_MP1, &s)) {
            s = L_mult(x[i], a[0]);
            for (j = 1; j <= G729_M; j++)
                s = L_mac(s, a[j], x[i - j]);
        }
        s = L_shl(s, 3);
        y[i] = g729_round(s);
    }
}

/* One output of the L_msu chain of the synthesis filter, exactly. */
static Word32 syn_filt_sample(const Word16 a[], Word16 x, const Word16 *yy)
{
    /* fast when no partial sum can saturate (same bound as g729_mac_fast) */
    int32_t p = (int32_t)x * a[0], bound = abs32(p) >> 15;
    uint32_t acc = (uint32_t)p;
    Word32 s;
    int j;

    for (j = 1; j <= G729_M; j++) {
        p = (int32_t)a[j] * yy[-j];
        acc -= (uint32_t)p;
        bound += abs32(p) >> 15;
    }
    if ((((int64_t)bound + G729_MP1) << 16) <= MAX_32)
        return (Word32)(2u * acc);
    s = L_mult(x, a[0]);
    for (j = 1; j <= G729_M; j++)
        s = L_msu(s, a[j], yy[-j]);
    return s;
}

void g729_syn_filt(const Word16 a[], const Word16 x[], Word16 y[], int lg, Word16 mem[], int update)
{
    Word16 tmp[G729_M + G729_L_FRAME];
    Word16 *yy = tmp + G729_M;
    int32_t sum_a1 = 0, a0 = abs32(a[0]), maxy = 0;
    Word16 ar[G729_M]; /* a[10] .. a[1]: forward dot product with yy[i-10 .. i-1] */
    int i, j;

    for (j = 0; j < G729_M; j++)
        ar[j] = a[G729_M - j];

    /* maxy: running maximum of |past outputs| (memory included), so that
     * 2 (|x a0| + maxy sum|a_j|) bounds every partial sum of the chain */
    for (j = 1; j <= G729_M; j++)
        sum_a1 += abs32(a[j]);
    for (i = 0; i < G729_M; i++) {
        tmp[i] = mem[i];
        maxy = abs32(mem[i]) > maxy ? abs32(mem[i]) : maxy;
    }
    for (i = 0; i < lg; i++) {
        Word32 s;
        if (2 * ((int64_t)abs32(x[i]) * a0 + (int64_t)sum_a1 * maxy) <= MAX_32) {
            int32_t acc = 0;
            for (j = 0; j < G729_M; j++)
                acc += (int32_t)ar[j] * yy[i - G729_M + j];
            s = 2 * ((int32_t)x[i] * a[0] - acc);
        } else {
            s = syn_filt_sample(a, x[i], &yy[i]);
        }
        yy[i] = g729_round(L_shl(s, 3));
        maxy = abs32(yy[i]) > maxy ? abs32(yy[i]) : maxy;
    }
    for (i = 0; i < lg; i++)
        y[i] = yy[i];
    if (update)
        for (i = 0; i < G729_M; i++)
            mem[i] = y[lg - G729_M + i];
}

void g729_lsf_lsp2(const Word16 lsf[], Word16 lsp[])
{
    int i;

    for (i = 0; i < G729_M; i++) {
        Word16 freq = mult(lsf[i], 20861); /* 1/(2 pi) in Q17 */
        Word16 ind = shr(freq, 8);
        Word16 offset = (Word16)(freq & 0x00ff);
        Word32 t;

        if (ind > 63)
            ind = 63;
        if (ind < 0)
            ind = 0;
        t = L_mult(g729_slope_cos[ind], offset);
        lsp[i] = add(g729_table2[ind], extract_l(L_shr(t, 13)));
    }
}

void g729_lsp_lsf2(const Word16 lsp[], Word16 lsf[])
{
    int i;
    Word16 ind = 63;

    for (i = G729_M - 1; i >= 0; i--) {
        Word16 offset, freq;
        Word32 t;

        while (sub(g729_table2[ind], lsp[i]) < 0) {
            ind = sub(ind, 1);
            if (ind <= 0)
                break;
        }
        offset = sub(lsp[i], g729_table2[ind]);
        t = L_mult(g729_slope_acos[ind], offset);
        freq = add(shl(ind, 9), extract_l(L_shr(t, 12)));
        lsf[i] = mult(freq, 25736); /* 2 pi in Q12 */
    }
}

void g729_lsp_expand(Word16 buf[], Word16 gap, int from, int to)
{
    int j;

    for (j = from; j < to; j++) {
        Word16 diff = sub(buf[j - 1], buf[j]);
        Word16 tmp = shr(add(diff, gap), 1);
        if (tmp > 0) {
            buf[j - 1] = sub(buf[j - 1], tmp);
            buf[j] = add(buf[j], tmp);
        }
    }
}

void g729_lsp_expand_1_2(Word16 buf[], Word16 gap)
{
    g729_lsp_expand(buf, gap, 1, G729_M);
}

void g729_lsp_prev_extract(const Word16 lsp[], Word16 lsp_ele[], const Word16 fg[][G729_M],
                           const g729_lsfq_state *st, const Word16 fg_sum_inv[])
{
    int j, k;

    for (j = 0; j < G729_M; j++) {
        Word32 t = L_deposit_h(lsp[j]);
        Word16 tmp;
        for (k = 0; k < G729_MA_NP; k++)
            t = L_msu(t, st->freq_prev[k][j], fg[k][j]);
        tmp = extract_h(t);
        t = L_mult(tmp, fg_sum_inv[j]);
        lsp_ele[j] = extract_h(L_shl(t, 3));
    }
}

void g729_lsp_prev_update(const Word16 lsp_ele[], g729_lsfq_state *st)
{
    int j, k;

    for (k = G729_MA_NP - 1; k > 0; k--)
        for (j = 0; j < G729_M; j++)
            st->freq_prev[k][j] = st->freq_prev[k - 1][j];
    for (j = 0; j < G729_M; j++)
        st->freq_prev[0][j] = lsp_ele[j];
}

void g729_lsfq_reset(g729_lsfq_state *st)
{
    int j, k;

    for (k = 0; k < G729_MA_NP; k++)
        for (j = 0; j < G729_M; j++)
            st->freq_prev[k][j] = g729_freq_prev_reset[j];
}

void g729_lsp_stability(Word16 buf[])
{
    int j;

    for (j = 0; j < G729_M - 1; j++) {
        if ((Word32)buf[j + 1] - (Word32)buf[j] < 0) {
            Word16 tmp = buf[j + 1];
            buf[j + 1] = buf[j];
            buf[j] = tmp;
        }
    }
    if (sub(buf[0], G729_L_LIMIT) < 0)
        buf[0] = G729_L_LIMIT;
    for (j = 0; j < G729_M - 1; j++) {
        if ((Word32)buf[j + 1] - (Word32)buf[j] < G729_GAP3)
            buf[j + 1] = add(buf[j], G729_GAP3);
    }
    if (sub(buf[G729_M - 1], G729_M_LIMIT) > 0)
        buf[G729_M - 1] = G729_M_LIMIT;
}

void g729_lsp_get_quant(int code0, int code1, int code2, int mode, g729_lsfq_state *st, Word16 lspq[])
{
    Word16 buf[G729_M];
    int j, k;

    for (j = 0; j < G729_NC; j++)
        buf[j] = add(g729_lspcb1[code0][j], g729_lspcb2[code1][j]);
    for (j = G729_NC; j < G729_M; j++)
        buf[j] = add(g729_lspcb1[code0][j], g729_lspcb2[code2][j]);
    g729_lsp_expand_1_2(buf, G729_GAP1);
    g729_lsp_expand_1_2(buf, G729_GAP2);

    /* compose with the MA prediction */
    for (j = 0; j < G729_M; j++) {
        Word32 acc = L_mult(buf[j], g729_fg_sum[mode][j]);
        for (k = 0; k < G729_MA_NP; k++)
            acc = L_mac(acc, st->freq_prev[k][j], g729_fg[mode][k][j]);
        lspq[j] = extract_h(acc);
    }
    g729_lsp_prev_update(buf, st);
    g729_lsp_stability(lspq);
}

void g729_pred_lt_3(Word16 exc[], int T0, int frac, int L_subfr)
{
    const Word16 *x0 = &exc[-T0];
    int i, j, k;

    frac = -frac;
    if (frac < 0) {
        frac += G729_UP_SAMP;
        x0--;
    }
    /* 20-tap filter over x0[j-9] .. x0[j+10]: the left half uses the phase
     * frac, the right half the phase UP_SAMP - frac (sum order does not
     * matter while nothing saturates; g729_mac_n checks that). */
    Word16 taps[2 * G729_L_INTER10];
    for (i = 0, k = 0; i < G729_L_INTER10; i++, k += G729_UP_SAMP) {
        taps[G729_L_INTER10 - 1 - i] = g729_inter_3l[frac + k];
        taps[G729_L_INTER10 + i] = g729_inter_3l[G729_UP_SAMP - frac + k];
    }
    /* running maximum of |input| over everything the filter reads (outputs
     * written into exc are read back when T0 < L_subfr): while
     * 2 * sum|taps| * max stays below MAX_32 nothing can saturate */
    int32_t sum_taps = 0, maxx = 0;
    for (i = 0; i < 2 * G729_L_INTER10; i++)
        sum_taps += abs32(taps[i]);
    for (i = -(G729_L_INTER10 - 1); i <= L_subfr + G729_L_INTER10; i++)
        maxx = abs32(x0[i]) > maxx ? abs32(x0[i]) : maxx;
    for (j = 0; j < L_subfr; j++) {
        Word32 s;
        if (2 * (int64_t)sum_taps * maxx <= MAX_32) {
            int32_t acc = 0;
            for (i = 0; i < 2 * G729_L_INTER10; i++)
                acc += (int32_t)taps[i] * x0[i - (G729_L_INTER10 - 1)];
            s = 2 * acc;
        } else if (!g729_mac_fast(0, taps, x0 - (G729_L_INTER10 - 1), 2 * G729_L_INTER10, &s)) {
            /* saturating: the Recommendation's summation order */
            const Word16 *c1 = &g729_inter_3l[frac], *c2 = &g729_inter_3l[G729_UP_SAMP - frac];
            s = 0;
            for (i = 0, k = 0; i < G729_L_INTER10; i++, k += G729_UP_SAMP) {
                s = L_mac(s, x0[-i], c1[k]);
                s = L_mac(s, x0[1 + i], c2[k]);
            }
        }
        x0++;
        exc[j] = g729_round(s);
        maxx = abs32(exc[j]) > maxx ? abs32(exc[j]) : maxx;
    }
}

Word16 g729_parity_pitch(Word16 pitch_index)
{
    Word16 temp = shr(pitch_index, 1), sum = 1;
    int i;

    for (i = 0; i <= 5; i++) {
        temp = shr(temp, 1);
        sum = add(sum, (Word16)(temp & 1));
    }
    return (Word16)(sum & 1);
}

void g729_gain_predict(const Word16 past_qua_en[], const Word16 code[], Word16 *gcode0, Word16 *exp_gcode0)
{
    Word16 exp, frac;
    Word32 t = 0;
    int i;

    for (i = 0; i < G729_L_SUBFR; i++)
        t = L_mac(t, code[i], code[i]);

    /* 127.2879 - 3.0103 log2(energy of the Q13 code over 40 samples) */
    g729_log2(t, &exp, &frac);
    t = Mpy_32_16(exp, frac, -24660);
    t = L_mac(t, 32588, 32);
    t = L_shl(t, 10);
    for (i = 0; i < 4; i++)
        t = L_mac(t, g729_pred[i], past_qua_en[i]);
    *gcode0 = extract_h(t);

    /* gcode0 = 10^(gcode0/20) = 2^(0.166 gcode0) */
    t = L_mult(*gcode0, 5439);
    t = L_shr(t, 8);
    L_Extract(t, &exp, &frac);
    *gcode0 = extract_l(g729_pow2(14, frac));
    *exp_gcode0 = sub(14, exp);
}

void g729_gain_update(Word16 past_qua_en[], Word32 L_gbk12)
{
    Word16 exp, frac, tmp;
    Word32 acc;
    int i;

    for (i = 3; i > 0; i--)
        past_qua_en[i] = past_qua_en[i - 1];
    /* 20 log10(gbk12) = 6.0206 log2(gbk12) */
    g729_log2(L_gbk12, &exp, &frac);
    acc = L_Comp(sub(exp, 13), frac);
    tmp = extract_h(L_shl(acc, 13));
    past_qua_en[0] = mult(tmp, 24660);
}

void g729_gain_update_erasure(Word16 past_qua_en[])
{
    Word32 t = 0;
    Word16 av;
    int i;

    for (i = 0; i < 4; i++)
        t = L_add(t, L_deposit_l(past_qua_en[i]));
    av = extract_l(L_shr(t, 2));
    av = sub(av, 4096);
    if (sub(av, -14336) < 0)
        av = -14336;
    for (i = 3; i > 0; i--)
        past_qua_en[i] = past_qua_en[i - 1];
    past_qua_en[0] = av;
}
