#include "ckernels.h"
#include <math.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <limits.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CK_X86 1
#endif

// MARK: - scalar bodies (portable; same formulas as the vector ones)

static inline float gelu1(float x) {
    float z = fabsf(x) * 0.7071067812f;
    float t = 1.0f / (1.0f + 0.3275911f * z);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    p = p * t;
    float q = p * expf(-z * z);
    float cdf2 = x < 0 ? q : 2.0f - q;
    return 0.5f * x * cdf2;
}

static void bias_gelu_rows_scalar(float *p, ptrdiff_t ld, const float *bias, ptrdiff_t rows, ptrdiff_t cols, int gelu) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *q = p + r * ld; float b = bias ? bias[r] : 0.0f;
        for (ptrdiff_t i = 0; i < cols; i++) { float v = q[i] + b; q[i] = gelu ? gelu1(v) : v; }
    }
}

static void bias_residual_rows_scalar(float *y, ptrdiff_t ldy, const float *res, ptrdiff_t ldr, const float *bias,
                                      ptrdiff_t rows, ptrdiff_t cols, int gelu) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *q = y + r * ldy; const float *s = res + r * ldr; float b = bias ? bias[r] : 0.0f;
        for (ptrdiff_t i = 0; i < cols; i++) { float v = q[i] + b + s[i]; q[i] = gelu ? gelu1(v) : v; }
    }
}

static void bias_gelu_lastdim_scalar(float *p, const float *bias, ptrdiff_t n, ptrdiff_t c, int gelu) {
    for (ptrdiff_t i = 0; i < n; i++) { float v = p[i] + (bias ? bias[i % c] : 0.0f); p[i] = gelu ? gelu1(v) : v; }
}

static void dw3x3_row_scalar(const float *in0, const float *in1, const float *in2, const float *w, float bias,
                             float *out, ptrdiff_t width, int gelu) {
    const float *rows[3] = {in0, in1, in2};
    for (ptrdiff_t j = 0; j < width; j++) {
        float s = bias;
        for (int i = 0; i < 3; i++) {
            const float *r = rows[i];
            if (!r) continue;
            if (j > 0) s += w[i * 3] * r[j - 1];
            s += w[i * 3 + 1] * r[j];
            if (j + 1 < width) s += w[i * 3 + 2] * r[j + 1];
        }
        out[j] = gelu ? gelu1(s) : s;
    }
}

static void dw3x3_nhwc_scalar(const float *x, const float *w9, const float *bias, float *y,
                              ptrdiff_t h, ptrdiff_t w, ptrdiff_t c) {
    for (ptrdiff_t i = 0; i < h; i++) for (ptrdiff_t j = 0; j < w; j++) {
        float *o = y + (i * w + j) * c;
        for (ptrdiff_t k = 0; k < c; k++) o[k] = bias ? bias[k] : 0.0f;
        for (int di = -1; di <= 1; di++) for (int dj = -1; dj <= 1; dj++) {
            ptrdiff_t ii = i + di, jj = j + dj;
            if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
            const float *s = x + (ii * w + jj) * c, *wt = w9 + ((di + 1) * 3 + dj + 1) * c;
            for (ptrdiff_t k = 0; k < c; k++) o[k] += wt[k] * s[k];
        }
    }
}

#ifdef CK_X86
// MARK: - AVX2 + FMA bodies

#define AVX __attribute__((target("avx2,fma")))

AVX static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 er = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256 two = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ki, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(er, two);
}

AVX static inline __m256 gelu8(__m256 x) {
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.7071067812f));
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), z, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 q = _mm256_mul_ps(p, exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z), z)));
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 cdf2 = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), q), q, neg);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), cdf2);
}

AVX static inline __m256 act8(__m256 v, int gelu) { return gelu ? gelu8(v) : v; }

AVX static void bias_gelu_rows_avx(float *p, ptrdiff_t ld, const float *bias, ptrdiff_t rows, ptrdiff_t cols, int gelu) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *q = p + r * ld; float b = bias ? bias[r] : 0.0f;
        __m256 bv = _mm256_set1_ps(b);
        ptrdiff_t i = 0;
        for (; i + 8 <= cols; i += 8) _mm256_storeu_ps(q + i, act8(_mm256_add_ps(_mm256_loadu_ps(q + i), bv), gelu));
        for (; i < cols; i++) { float v = q[i] + b; q[i] = gelu ? gelu1(v) : v; }
    }
}

AVX static void bias_residual_rows_avx(float *y, ptrdiff_t ldy, const float *res, ptrdiff_t ldr, const float *bias,
                                       ptrdiff_t rows, ptrdiff_t cols, int gelu) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *q = y + r * ldy; const float *s = res + r * ldr; float b = bias ? bias[r] : 0.0f;
        __m256 bv = _mm256_set1_ps(b);
        ptrdiff_t i = 0;
        for (; i + 8 <= cols; i += 8) {
            __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(q + i), bv), _mm256_loadu_ps(s + i));
            _mm256_storeu_ps(q + i, act8(v, gelu));
        }
        for (; i < cols; i++) { float v = q[i] + b + s[i]; q[i] = gelu ? gelu1(v) : v; }
    }
}

AVX static void bias_gelu_lastdim_avx(float *p, const float *bias, ptrdiff_t n, ptrdiff_t c, int gelu) {
    if (!bias || c % 8 != 0) {
        if (!bias) { bias_gelu_rows_avx(p, n, NULL, 1, n, gelu); return; }
        bias_gelu_lastdim_scalar(p, bias, n, c, gelu); return;
    }
    for (ptrdiff_t base = 0; base < n; base += c)
        for (ptrdiff_t k = 0; k < c; k += 8)
            _mm256_storeu_ps(p + base + k, act8(_mm256_add_ps(_mm256_loadu_ps(p + base + k), _mm256_loadu_ps(bias + k)), gelu));
}

/// Sum of one input row's three taps into acc at columns j..j+7 (1 ≤ j, j + 8 < width + 1 handled by caller).
AVX static void dw3x3_row_avx(const float *in0, const float *in1, const float *in2, const float *w, float bias,
                              float *out, ptrdiff_t width, int gelu) {
    const float *rows[3] = {in0, in1, in2};
    __m256 wv[9];
    for (int i = 0; i < 9; i++) wv[i] = _mm256_set1_ps(w[i]);
    __m256 bv = _mm256_set1_ps(bias);
    // Interior: columns 1 .. width-2 need j-1 ≥ 0 and j+1 < width.
    ptrdiff_t j = 1;
    for (; j + 8 <= width - 1; j += 8) {
        __m256 acc = bv;
        for (int i = 0; i < 3; i++) {
            const float *r = rows[i];
            if (!r) continue;
            acc = _mm256_fmadd_ps(wv[i * 3], _mm256_loadu_ps(r + j - 1), acc);
            acc = _mm256_fmadd_ps(wv[i * 3 + 1], _mm256_loadu_ps(r + j), acc);
            acc = _mm256_fmadd_ps(wv[i * 3 + 2], _mm256_loadu_ps(r + j + 1), acc);
        }
        _mm256_storeu_ps(out + j, act8(acc, gelu));
    }
    // Edges: column 0 and the columns the vectors did not cover.
    for (ptrdiff_t jj = 0; jj < width; jj++) {
        if (jj == 1) { jj = j; if (jj >= width) break; }
        float s = bias;
        for (int i = 0; i < 3; i++) {
            const float *r = rows[i];
            if (!r) continue;
            if (jj > 0) s = fmaf(w[i * 3], r[jj - 1], s);
            s = fmaf(w[i * 3 + 1], r[jj], s);
            if (jj + 1 < width) s = fmaf(w[i * 3 + 2], r[jj + 1], s);
        }
        out[jj] = gelu ? gelu1(s) : s;
    }
}

AVX static void dw3x3_nhwc_avx(const float *x, const float *w9, const float *bias, float *y,
                               ptrdiff_t h, ptrdiff_t w, ptrdiff_t c) {
    if (c % 8 != 0) { dw3x3_nhwc_scalar(x, w9, bias, y, h, w, c); return; }
    for (ptrdiff_t i = 0; i < h; i++) for (ptrdiff_t j = 0; j < w; j++) {
        float *o = y + (i * w + j) * c;
        for (ptrdiff_t k = 0; k < c; k += 8) {
            __m256 acc = bias ? _mm256_loadu_ps(bias + k) : _mm256_setzero_ps();
            for (int di = -1; di <= 1; di++) {
                ptrdiff_t ii = i + di;
                if (ii < 0 || ii >= h) continue;
                for (int dj = -1; dj <= 1; dj++) {
                    ptrdiff_t jj = j + dj;
                    if (jj < 0 || jj >= w) continue;
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(w9 + ((di + 1) * 3 + dj + 1) * c + k),
                                          _mm256_loadu_ps(x + (ii * w + jj) * c + k), acc);
                }
            }
            _mm256_storeu_ps(o + k, acc);
        }
    }
}

static int have_avx2(void) {
    static int cached = -1;
    if (cached < 0) { __builtin_cpu_init(); cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
    return cached;
}
#define DISPATCH(avx, scalar) if (have_avx2()) { avx; } else { scalar; }
#else
#define DISPATCH(avx, scalar) { scalar; }
#endif

void ck_bias_gelu_rows(float *p, ptrdiff_t ld, const float *bias, ptrdiff_t rows, ptrdiff_t cols, int gelu) {
    DISPATCH(bias_gelu_rows_avx(p, ld, bias, rows, cols, gelu), bias_gelu_rows_scalar(p, ld, bias, rows, cols, gelu))
}
void ck_bias_residual_rows(float *y, ptrdiff_t ldy, const float *res, ptrdiff_t ldr, const float *bias,
                           ptrdiff_t rows, ptrdiff_t cols, int gelu) {
    DISPATCH(bias_residual_rows_avx(y, ldy, res, ldr, bias, rows, cols, gelu),
             bias_residual_rows_scalar(y, ldy, res, ldr, bias, rows, cols, gelu))
}
void ck_bias_gelu_lastdim(float *p, const float *bias, ptrdiff_t n, ptrdiff_t c, int gelu) {
    DISPATCH(bias_gelu_lastdim_avx(p, bias, n, c, gelu), bias_gelu_lastdim_scalar(p, bias, n, c, gelu))
}
void ck_dw3x3_row(const float *in0, const float *in1, const float *in2, const float *w, float bias,
                  float *out, ptrdiff_t width, int gelu) {
    DISPATCH(dw3x3_row_avx(in0, in1, in2, w, bias, out, width, gelu),
             dw3x3_row_scalar(in0, in1, in2, w, bias, out, width, gelu))
}
void ck_dw3x3_nhwc(const float *x, const float *w9, const float *bias, float *y,
                   ptrdiff_t h, ptrdiff_t w, ptrdiff_t c) {
    DISPATCH(dw3x3_nhwc_avx(x, w9, bias, y, h, w, c), dw3x3_nhwc_scalar(x, w9, bias, y, h, w, c))
}

int ck_malloc_reuse(int max_block) {
#if defined(__GLIBC__)
    // glibc caps M_MMAP_THRESHOLD at 32 MB, below our activations: use the heap for every block
    // the main arena serves (other threads' arenas still fall back to mmap when their heap is full).
    (void)max_block;
    return mallopt(M_MMAP_MAX, 0) && mallopt(M_TRIM_THRESHOLD, INT_MAX);
#else
    (void)max_block; return 0;
#endif
}
