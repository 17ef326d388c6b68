/* Constants and table declarations of the G.729 Annex A codec.
 * Responsible for: the sizes of the CS-ACELP frame structure and the
 * normative constant tables.  No code here. */
#ifndef G729_TABLES_H
#define G729_TABLES_H

#include <stdint.h>

#define G729_L_TOTAL 240       /* samples in the speech analysis buffer */
#define G729_L_WINDOW 240      /* samples in the LPC analysis window */
#define G729_L_NEXT 40         /* look-ahead samples */
#define G729_L_FRAME 80        /* samples per 10 ms frame */
#define G729_L_SUBFR 40        /* samples per 5 ms subframe */
#define G729_M 10              /* LPC order */
#define G729_MP1 (G729_M + 1)
#define G729_PIT_MIN 20        /* smallest pitch lag, samples */
#define G729_PIT_MAX 143       /* largest pitch lag, samples */
#define G729_L_INTERPOL (10 + 1)
#define G729_L_INTER10 10
#define G729_UP_SAMP 3
#define G729_FIR_SIZE_SYN (G729_UP_SAMP * G729_L_INTER10 + 1)
#define G729_GRID_POINTS 50
#define G729_NC (G729_M / 2)
#define G729_MA_NP 4
#define G729_MODE 2
#define G729_NC0_B 7
#define G729_NC0 (1 << G729_NC0_B)
#define G729_NC1_B 5
#define G729_NC1 (1 << G729_NC1_B)
#define G729_NCODE1_B 3
#define G729_NCODE1 (1 << G729_NCODE1_B)
#define G729_NCODE2_B 4
#define G729_NCODE2 (1 << G729_NCODE2_B)
#define G729_NCAN1 4
#define G729_NCAN2 8
#define G729_PRM_SIZE 11       /* parameters per frame */
#define G729_SERIAL_BYTES 10   /* bytes per coded frame */

extern const int16_t g729_hamwindow[G729_L_WINDOW];
extern const int16_t g729_lag_h[G729_M];
extern const int16_t g729_lag_l[G729_M];
extern const int16_t g729_grid[G729_GRID_POINTS + 1];
extern const int16_t g729_table2[64];
extern const int16_t g729_slope_cos[64];
extern const int16_t g729_slope_acos[64];
extern const int16_t g729_lspcb1[G729_NC0][G729_M];
extern const int16_t g729_lspcb2[G729_NC1][G729_M];
extern const int16_t g729_fg[2][G729_MA_NP][G729_M];
extern const int16_t g729_fg_sum[2][G729_M];
extern const int16_t g729_fg_sum_inv[2][G729_M];
extern const int16_t g729_freq_prev_reset[G729_M];
extern const int16_t g729_inter_3l[G729_FIR_SIZE_SYN];
extern const int16_t g729_pred[4];
extern const int16_t g729_gbk1[G729_NCODE1][2];
extern const int16_t g729_gbk2[G729_NCODE2][2];
extern const int16_t g729_map1[G729_NCODE1];
extern const int16_t g729_map2[G729_NCODE2];
extern const int16_t g729_imap1[G729_NCODE1];
extern const int16_t g729_imap2[G729_NCODE2];
extern const int16_t g729_coef[2][2];
extern const int32_t g729_L_coef[2][2];
extern const int16_t g729_thr1[G729_NCODE1 - G729_NCAN1];
extern const int16_t g729_thr2[G729_NCODE2 - G729_NCAN2];
extern const int16_t g729_b140[3];
extern const int16_t g729_a140[3];
extern const int16_t g729_b100[3];
extern const int16_t g729_a100[3];
extern const int16_t g729_tabpow[33];
extern const int16_t g729_tablog[33];
extern const int16_t g729_tabsqr[49];

/* Annex B (comfort noise generation in the decoder) */
extern const int16_t g729_tab_sidgain[32];
extern const int16_t g729_noise_fg[2][G729_MA_NP][G729_M];
extern const int16_t g729_noise_fg_sum[2][G729_M];
extern const int16_t g729_ptrtab_1[32];
extern const int16_t g729_ptrtab_2[2][16];

#endif
