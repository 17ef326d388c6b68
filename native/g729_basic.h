/* Saturating 16/32-bit fixed-point primitives of the ITU-T fixed-point
 * description (the "basic operators" whose exact rounding and saturation
 * define bit-exact G.729 behaviour), plus the double-precision helpers.
 * Responsible for: arithmetic only.  Must not hold codec state; the overflow
 * flag is per thread and is only read where the algorithm tests it. */
#ifndef G729_BASIC_H
#define G729_BASIC_H

#include <stdint.h>

typedef int16_t Word16;
typedef int32_t Word32;

#define MAX_16 ((Word16)0x7fff)
#define MIN_16 ((Word16)0x8000)
#define MAX_32 ((Word32)0x7fffffffL)
#define MIN_32 ((Word32)0x80000000L)

extern __thread int g729_overflow;

static inline Word16 sature(Word32 x)
{
    if (x > 32767) { g729_overflow = 1; return MAX_16; }
    if (x < -32768) { g729_overflow = 1; return MIN_16; }
    return (Word16)x;
}
static inline Word16 add(Word16 a, Word16 b) { return sature((Word32)a + b); }
static inline Word16 sub(Word16 a, Word16 b) { return sature((Word32)a - b); }
static inline Word16 abs_s(Word16 a) { return a == MIN_16 ? MAX_16 : (Word16)(a < 0 ? -a : a); }
static inline Word16 negate(Word16 a) { return a == MIN_16 ? MAX_16 : (Word16)-a; }
static inline Word16 extract_h(Word32 x) { return (Word16)(x >> 16); }
static inline Word16 extract_l(Word32 x) { return (Word16)x; }
static inline Word32 L_deposit_h(Word16 a) { return (Word32)((uint32_t)(uint16_t)a << 16); }
static inline Word32 L_deposit_l(Word16 a) { return (Word32)a; }

static inline Word16 shr(Word16 a, Word16 n);
static inline Word16 shl(Word16 a, Word16 n)
{
    if (n < 0) return shr(a, (Word16)-n);
    if (n > 15) {
        if (a == 0) return 0;
        g729_overflow = 1;
        return a > 0 ? MAX_16 : MIN_16;
    }
    Word32 r = (Word32)a * (1 << n);
    if (r != (Word16)r) { g729_overflow = 1; return a > 0 ? MAX_16 : MIN_16; }
    return (Word16)r;
}
static inline Word16 shr(Word16 a, Word16 n)
{
    if (n < 0) return shl(a, (Word16)-n);
    if (n >= 15) return a < 0 ? -1 : 0;
    return (Word16)(a >> n);
}
static inline Word16 mult(Word16 a, Word16 b) { return sature(((Word32)a * b) >> 15); }
static inline Word16 mult_r(Word16 a, Word16 b) { return sature(((Word32)a * b + 0x4000) >> 15); }

static inline Word32 L_mult(Word16 a, Word16 b)
{
    Word32 p = (Word32)a * b;
    if (p == 0x40000000) { g729_overflow = 1; return MAX_32; }
    return p * 2;
}
static inline Word32 L_add(Word32 a, Word32 b)
{
    Word32 s;
    if (__builtin_add_overflow(a, b, &s)) { g729_overflow = 1; return a < 0 ? MIN_32 : MAX_32; }
    return s;
}
static inline Word32 L_sub(Word32 a, Word32 b)
{
    Word32 s;
    if (__builtin_sub_overflow(a, b, &s)) { g729_overflow = 1; return a < 0 ? MIN_32 : MAX_32; }
    return s;
}
static inline Word32 L_mac(Word32 acc, Word16 a, Word16 b) { return L_add(acc, L_mult(a, b)); }
static inline Word32 L_msu(Word32 acc, Word16 a, Word16 b) { return L_sub(acc, L_mult(a, b)); }
static inline Word32 L_negate(Word32 a) { return a == MIN_32 ? MAX_32 : -a; }
static inline Word32 L_abs(Word32 a) { return a == MIN_32 ? MAX_32 : (a < 0 ? -a : a); }
static inline Word16 g729_round(Word32 x) { return extract_h(L_add(x, 0x8000)); }

static inline Word32 L_shr(Word32 x, Word16 n);
static inline Word32 L_shl(Word32 x, Word16 n)
{
    if (n <= 0) return L_shr(x, (Word16)-n);
    if (n >= 31) {
        if (x == 0) return 0;
        g729_overflow = 1;
        return x > 0 ? MAX_32 : MIN_32;
    }
    int64_t r = (int64_t)x * ((int64_t)1 << n);
    if (r > MAX_32) { g729_overflow = 1; return MAX_32; }
    if (r < MIN_32) { g729_overflow = 1; return MIN_32; }
    return (Word32)r;
}
static inline Word32 L_shr(Word32 x, Word16 n)
{
    if (n < 0) return L_shl(x, (Word16)-n);
    if (n >= 31) return x < 0 ? -1 : 0;
    return x >> n;
}
static inline Word32 L_shr_r(Word32 x, Word16 n)
{
    if (n > 31) return 0;
    Word32 r = L_shr(x, n);
    if (n > 0 && (x & ((Word32)1 << (n - 1)))) r++;
    return r;
}
static inline Word16 norm_s(Word16 a)
{
    if (a == 0) return 0;
    if (a == -1) return 15;
    if (a < 0) a = (Word16)~a;
    return (Word16)(__builtin_clz((uint32_t)a) - 17);
}
static inline Word16 norm_l(Word32 x)
{
    if (x == 0) return 0;
    if (x == -1) return 31;
    if (x < 0) x = ~x;
    return (Word16)(__builtin_clz((uint32_t)x) - 1);
}
/* Fractional division a/b with 0 <= a <= b; out-of-domain inputs (which the
 * reference treats as fatal) return a saturated value instead of aborting. */
static inline Word16 div_s(Word16 a, Word16 b)
{
    if (b <= 0 || a < 0) return 0;
    if (a >= b) return MAX_16;
    return (Word16)(((Word32)a << 15) / b);
}

/* Double precision: x = hi<<16 + lo<<1. */
static inline void L_Extract(Word32 x, Word16 *hi, Word16 *lo)
{
    *hi = extract_h(x);
    *lo = extract_l(L_msu(L_shr(x, 1), *hi, 16384));
}
static inline Word32 L_Comp(Word16 hi, Word16 lo) { return L_mac(L_deposit_h(hi), lo, 1); }
static inline Word32 Mpy_32(Word16 hi1, Word16 lo1, Word16 hi2, Word16 lo2)
{
    Word32 x = L_mult(hi1, hi2);
    x = L_mac(x, mult(hi1, lo2), 1);
    return L_mac(x, mult(lo1, hi2), 1);
}
static inline Word32 Mpy_32_16(Word16 hi, Word16 lo, Word16 n)
{
    return L_mac(L_mult(hi, n), mult(lo, n), 1);
}

/* init + sum 2*x[i]*y[i] with exactly the result (and overflow flag) of a
 * chain of L_mac: when the sum of the absolute products shows that no
 * partial sum can saturate, plain integer arithmetic gives the same value
 * (and the loop vectorises); otherwise the saturating chain is run. */
/* Fast half of g729_mac_n: 1 and *out set when no partial sum can
 * saturate (in any summation order), 0 otherwise. */
static inline int g729_mac_fast(Word32 init, const Word16 *x, const Word16 *y, int n, Word32 *out)
{
    /* s: the sum of products, wrapping (exact whenever the bound holds);
     * a: sum of |product| >> 15, so that sum |product| <= (a + n) << 15.
     * Everything stays in 32-bit lanes so that the loop vectorises. */
    uint32_t s = 0;
    int32_t a = 0;
    int i;

    for (i = 0; i < n; i++) {
        int32_t p = (int32_t)x[i] * y[i];
        int32_t m = p >> 31;
        s += (uint32_t)p;
        a += ((p ^ m) - m) >> 15;
    }
    if ((((int64_t)a + n) << 16) + (init < 0 ? -(int64_t)init : init) > MAX_32)
        return 0;
    *out = (Word32)((uint32_t)init + 2u * s);
    return 1;
}

static inline Word32 g729_mac_n(Word32 init, const Word16 *x, const Word16 *y, int n)
{
    Word32 acc;
    int i;

    if (g729_mac_fast(init, x, y, n, &acc))
        return acc;
    acc = init;
    for (i = 0; i < n; i++)
        acc = L_mac(acc, x[i], y[i]);
    return acc;
}

Word32 g729_div_32(Word32 num, Word16 denom_hi, Word16 denom_lo);
Word32 g729_pow2(Word16 exponent, Word16 fraction);
void g729_log2(Word32 x, Word16 *exponent, Word16 *fraction);
Word32 g729_inv_sqrt(Word32 x);

#endif
