/* Gradient buckets summed while backward goes on (PyTorch DDP's overlap): each bucket starts
   non-blocking, `progress` moves every started bucket along between layers, and `finish` waits
   for all of them under the watchdog's deadline as one collective. Two transports: Open MPI's
   MPI_Iallreduce (libnbc runs an in-place one as a binomial reduce + broadcast) and a ring of
   point-to-point messages (reduce-scatter, then all-gather: 2(N-1)/N of the buffer per link),
   which may carry bf16 or fp16 on the wire. Buckets travel on their own communicator, in the
   same order on every rank, so their interleaving with other collectives does not matter. */
#include "mpishim.h"
#include "watchdog.h"
#include <immintrin.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64
#define TAG_BASE 7400
#define MPI_PIECE ((int64_t)1 << 20)   /* as the blocking sums: 4 MB per MPI_Iallreduce */

typedef struct {
    int active, transport, wire;
    float *buf;
    int64_t count;
    int step;                /* ring: 0 … 2(N-1)-1 */
    MPI_Request req[2];      /* ring: this step's receive and send */
    MPI_Request *pieces;     /* mpi: one MPI_Iallreduce per piece, all started at once */
    int npieces, piece_cap;
    void *send, *recv;       /* ring: staging in the wire format */
    size_t cap;              /* bytes each staging buffer holds */
} slot_t;

static slot_t slots[SLOTS];

/* ---- the wire formats: round to nearest even, NaN kept a NaN ---- */
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static inline float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint16_t to_f16(float f) {
    _Float16 h = (_Float16)f;
    uint16_t u;
    memcpy(&u, &h, 2);
    return u;
}
static inline float from_f16(uint16_t u) {
    _Float16 h;
    memcpy(&h, &u, 2);
    return (float)h;
}
/* fp16 through F16C, 8 at a time, where the CPU has it (a scalar _Float16 conversion is a
   library call per value here: measured 1.7x the bf16 ring's time on the same link). */
static int has_f16c(void) {
    static int known = -1;
    if (known < 0) { __builtin_cpu_init(); known = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx"); }
    return known;
}
__attribute__((target("f16c,avx")))
static int64_t encode_f16c(const float *x, uint16_t *out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    return i;
}
__attribute__((target("f16c,avx")))
static int64_t decode_f16c(const uint16_t *in, float *y, int64_t n, int add) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i)));
        _mm256_storeu_ps(y + i, add ? _mm256_add_ps(_mm256_loadu_ps(y + i), v) : v);
    }
    return i;
}
static void encode(const float *x, uint16_t *out, int64_t n, int wire) {
    if (wire == MPISHIM_WIRE_BF16) { for (int64_t i = 0; i < n; i++) out[i] = to_bf16(x[i]); return; }
    for (int64_t i = has_f16c() ? encode_f16c(x, out, n) : 0; i < n; i++) out[i] = to_f16(x[i]);
}
static void decode_add(const uint16_t *in, float *y, int64_t n, int wire) {
    if (wire == MPISHIM_WIRE_BF16) { for (int64_t i = 0; i < n; i++) y[i] += from_bf16(in[i]); return; }
    for (int64_t i = has_f16c() ? decode_f16c(in, y, n, 1) : 0; i < n; i++) y[i] += from_f16(in[i]);
}
static void decode(const uint16_t *in, float *y, int64_t n, int wire) {
    if (wire == MPISHIM_WIRE_BF16) { for (int64_t i = 0; i < n; i++) y[i] = from_bf16(in[i]); return; }
    for (int64_t i = has_f16c() ? decode_f16c(in, y, n, 0) : 0; i < n; i++) y[i] = from_f16(in[i]);
}

void mpishim_wire_round(float *buf, int64_t count, int wire) {
    if (wire == MPISHIM_WIRE_F32) return;
    uint16_t tmp[1024];
    for (int64_t off = 0; off < count; off += 1024) {
        int64_t n = count - off < 1024 ? count - off : 1024;
        encode(buf + off, tmp, n, wire);
        decode(tmp, buf + off, n, wire);
    }
}

/* ---- the ring ---- */
static int mod(int a, int n) { return ((a % n) + n) % n; }
static int64_t seg_lo(const slot_t *s, int k) { return s->count * k / shim_world(); }
static int64_t seg_len(const slot_t *s, int k) { return seg_lo(s, k + 1) - seg_lo(s, k); }

/* Which segment this rank sends and which it receives at step `st`. Reduce-scatter (st < N-1):
   send r-st, receive r-st-1 and add it; rank r then owns segment r+1 summed. All-gather: send
   r+1-t, receive r-t and keep it. */
static void ring_segments(int st, int *send_k, int *recv_k) {
    int n = shim_world(), r = shim_rank();
    if (st < n - 1) { *send_k = mod(r - st, n); *recv_k = mod(r - st - 1, n); }
    else { int t = st - (n - 1); *send_k = mod(r + 1 - t, n); *recv_k = mod(r - t, n); }
}

static int ring_post(slot_t *s, int tag) {
    int n = shim_world(), r = shim_rank(), sk, rk;
    MPI_Comm comm = shim_gradient_comm();
    ring_segments(s->step, &sk, &rk);
    int64_t sn = seg_len(s, sk), rn = seg_len(s, rk);
    int gather = s->step >= n - 1;
    void *src = s->buf + seg_lo(s, sk), *dst = gather ? (void *)(s->buf + seg_lo(s, rk)) : s->recv;
    MPI_Datatype type = MPI_FLOAT;
    if (s->wire != MPISHIM_WIRE_F32) {
        type = MPI_UINT16_T;
        encode(s->buf + seg_lo(s, sk), (uint16_t *)s->send, sn, s->wire);
        src = s->send;
        dst = s->recv;
    }
    int rc = MPI_Irecv(dst, (int)rn, type, mod(r - 1, n), tag, comm, &s->req[0]);
    if (rc == MPI_SUCCESS) rc = MPI_Isend(src, (int)sn, type, mod(r + 1, n), tag, comm, &s->req[1]);
    return rc;
}

static void ring_received(slot_t *s) {
    int n = shim_world(), sk, rk;
    ring_segments(s->step, &sk, &rk);
    float *seg = s->buf + seg_lo(s, rk);
    int64_t len = seg_len(s, rk);
    if (s->step < n - 1) {
        if (s->wire == MPISHIM_WIRE_F32) { const float *in = s->recv; for (int64_t i = 0; i < len; i++) seg[i] += in[i]; }
        else decode_add(s->recv, seg, len, s->wire);
        /* The owned segment is complete: every rank keeps what the wire will carry of it. */
        if (s->step == n - 2) mpishim_wire_round(seg, len, s->wire);
    } else if (s->wire != MPISHIM_WIRE_F32) {
        decode(s->recv, seg, len, s->wire);
    }
}

static int staging(slot_t *s) {
    int n = shim_world();
    size_t elem = s->wire == MPISHIM_WIRE_F32 ? sizeof(float) : sizeof(uint16_t);
    size_t need = (size_t)(s->count / n + 1) * elem;
    if (need <= s->cap) return MPI_SUCCESS;
    free(s->send); free(s->recv);
    s->send = malloc(need); s->recv = malloc(need);
    s->cap = s->send && s->recv ? need : 0;
    return s->cap ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

/* ---- buckets ---- */
/* Every piece starts here, in order: collectives must start in the same order on every rank,
   and progress reaches the ranks' buckets in different orders. */
static int mpi_post(slot_t *s) {
    int n = (int)((s->count + MPI_PIECE - 1) / MPI_PIECE);
    if (n > s->piece_cap) {
        MPI_Request *p = realloc(s->pieces, (size_t)n * sizeof *p);
        if (!p) return MPI_ERR_NO_MEM;
        s->pieces = p; s->piece_cap = n;
    }
    s->npieces = n;
    for (int i = 0; i < n; i++) {
        int64_t off = (int64_t)i * MPI_PIECE, len = s->count - off < MPI_PIECE ? s->count - off : MPI_PIECE;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, s->buf + off, (int)len, MPI_FLOAT, MPI_SUM, shim_gradient_comm(), &s->pieces[i]);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int mpishim_gsum_start(int slot, float *buf, int64_t count, int transport, int wire) {
    if (slot < 0 || slot >= SLOTS || slots[slot].active) return MPI_ERR_ARG;
    if (transport == MPISHIM_TRANSPORT_MPI && wire != MPISHIM_WIRE_F32) return MPI_ERR_ARG;
    if (shim_world() == 1 || count == 0) return MPI_SUCCESS;
    slot_t *s = &slots[slot];
    s->transport = transport; s->wire = wire; s->buf = buf; s->count = count;
    s->step = 0;
    s->req[0] = s->req[1] = MPI_REQUEST_NULL;
    int rc = transport == MPISHIM_TRANSPORT_MPI ? mpi_post(s) : staging(s);
    if (rc == MPI_SUCCESS && transport == MPISHIM_TRANSPORT_RING) rc = ring_post(s, TAG_BASE + slot);
    if (rc == MPI_SUCCESS) s->active = 1;
    return rc;
}

/* Advances one bucket as far as its messages allow; never waits. */
static int advance(int slot) {
    slot_t *s = &slots[slot];
    while (s->active) {
        int done = 0, rc;
        if (s->transport == MPISHIM_TRANSPORT_MPI) {
            if ((rc = MPI_Testall(s->npieces, s->pieces, &done, MPI_STATUSES_IGNORE)) != MPI_SUCCESS) return rc;
            if (done) s->active = 0;
            return MPI_SUCCESS;
        } else {
            if ((rc = MPI_Testall(2, s->req, &done, MPI_STATUSES_IGNORE)) != MPI_SUCCESS) return rc;
            if (!done) return MPI_SUCCESS;
            ring_received(s);
            if (++s->step == 2 * (shim_world() - 1)) { s->active = 0; return MPI_SUCCESS; }
            if ((rc = ring_post(s, TAG_BASE + slot)) != MPI_SUCCESS) return rc;
        }
    }
    return MPI_SUCCESS;
}

int mpishim_gsum_progress(void) {
    for (int i = 0; i < SLOTS; i++) {
        int rc = advance(i);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int mpishim_gsum_active(int slot) { return slot >= 0 && slot < SLOTS && slots[slot].active; }

int mpishim_gsum_finish(void) {
    shim_enter();
    double started = shim_now(), last_announce = started;
    for (;;) {
        int rc = mpishim_gsum_progress(), busy = 0;
        if (rc != MPI_SUCCESS) return rc;
        for (int i = 0; i < SLOTS; i++) busy |= slots[i].active;
        if (!busy) return MPI_SUCCESS;
        if ((rc = shim_watch_tick(started, &last_announce)) != MPI_SUCCESS) return rc;
    }
}
