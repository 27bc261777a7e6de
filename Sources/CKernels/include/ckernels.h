#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>

/// Hand-written kernels for the frozen encoder's memory-bound work. Each has an AVX2+FMA body
/// (chosen at run time with __builtin_cpu_supports, so the package needs no compiler flags) and
/// a portable scalar body with the same arithmetic. GELU is the exact (erf) form, erf by
/// Abramowitz–Stegun 7.1.26 and a Cephes-style exp, as in Sources/Network/Ops/SIMDMath.swift.

/// p[r*ld + i] = gelu(p[r*ld + i] + bias[r]) for r < rows, i < cols (bias may be NULL).
void ck_bias_gelu_rows(float *p, ptrdiff_t ld, const float *bias, ptrdiff_t rows, ptrdiff_t cols, int gelu);

/// y[r*ldy + i] = act(y[r*ldy + i] + bias[r] + res[r*ldr + i]) (bias may be NULL; act = GELU if gelu).
void ck_bias_residual_rows(float *y, ptrdiff_t ldy, const float *res, ptrdiff_t ldr, const float *bias,
                           ptrdiff_t rows, ptrdiff_t cols, int gelu);

/// p[i] = gelu(p[i] + bias[i % c]) over n values of a [..., c] tensor (bias may be NULL).
void ck_bias_gelu_lastdim(float *p, const float *bias, ptrdiff_t n, ptrdiff_t c, int gelu);

/// One output row of a depthwise 3×3, stride 1, padding 1 convolution on one channel:
/// out[j] = act(bias + Σ_{i,t} w[i*3+t] · in_i[j + t − 1]) for j < width, where in_0, in_1, in_2 are
/// the input rows above, at and below (NULL for a padding row) and columns −1 and width read 0.
void ck_dw3x3_row(const float *in0, const float *in1, const float *in2, const float *w, float bias,
                  float *out, ptrdiff_t width, int gelu);

/// Depthwise 3×3, stride 1, padding 1 on channels-last tokens: x, y [h, w, c] (one image),
/// w9 [9, c] (tap-major), bias [c] or NULL. y = x*w + bias.
void ck_dw3x3_nhwc(const float *x, const float *w9, const float *bias, float *y,
                   ptrdiff_t h, ptrdiff_t w, ptrdiff_t c);

/// glibc: keep freed blocks in the heap (no mmap for big blocks in the main arena, no trimming);
/// max_block is advisory.
/// Returns 0 where the C library has no mallopt.
int ck_malloc_reuse(int max_block);

#endif
