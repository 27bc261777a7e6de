#ifndef AUTOSAM_MPISHIM_H
#define AUTOSAM_MPISHIM_H
/* The only door to MPI. Swift cannot see Open MPI's handle macros (MPI_COMM_WORLD, MPI_FLOAT,
   MPI_IN_PLACE are casts of addresses of globals), so every call goes through a plain C
   function here. The header does not include mpi.h: Swift sees only ints and pointers.
   Every function returns the MPI error code (0 on success). The communicator is always
   MPI_COMM_WORLD. */
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

enum { MPISHIM_THREAD_SINGLE = 0, MPISHIM_THREAD_FUNNELED = 1,
       MPISHIM_THREAD_SERIALIZED = 2, MPISHIM_THREAD_MULTIPLE = 3 };

int mpishim_init(int required, int *provided);
int mpishim_initialized(int *flag);
int mpishim_finalized(int *flag);
int mpishim_finalize(void);
int mpishim_rank(int *rank);
int mpishim_size(int *size);
/* In-place sums; large buffers travel in 4 MB pieces (Open MPI's temporary for one huge
   call is re-mmapped on every call, measured 2.3x slower). */
int mpishim_allreduce_sum_float(float *buf, int64_t count);
int mpishim_allreduce_sum_double(double *buf, int64_t count);
int mpishim_allreduce_sum_int64(int64_t *buf, int64_t count);
int mpishim_allreduce_max_int64(int64_t *buf, int64_t count);
int mpishim_bcast_bytes(void *buf, int64_t nbytes, int root);
int mpishim_bcast_float(float *buf, int64_t count, int root);
int mpishim_barrier(void);
int mpishim_abort(int errorcode);
double mpishim_wtime(void);
/* Writes a NUL-terminated message for an MPI error code into buf. */
void mpishim_error_string(int code, char *buf, int buflen);
void mpishim_library_version(char *buf, int buflen);
/* Returns errors to the caller instead of aborting, so Swift can name what failed. */
int mpishim_set_errors_return(void);

/* The collective watchdog. Every collective above runs as its non-blocking form and is
   polled until it completes or `timeout_s` passes (<= 0: no deadline); then it returns
   MPISHIM_ERR_TIMEOUT and leaves the operation pending (the caller is expected to abort).
   Each rank counts the collectives it has entered and, on entering one, tells every other
   rank its count on a private duplicate of the communicator, so a rank that times out can
   say which ranks never arrived (as PyTorch's flight recorder does). Call watch_init once
   after init, before any collective. */
enum { MPISHIM_ERR_TIMEOUT = 0x7A7A0001 };
int mpishim_watch_init(void);
void mpishim_set_timeout(double timeout_s);
double mpishim_timeout(void);
/* Collectives this rank has entered so far. */
int64_t mpishim_entered(void);
/* The newest count of collectives entered that this rank has heard from each rank
   (its own count at its own index); `counts` holds `size` values. */
void mpishim_peer_entered(int64_t *counts, int size);
/* Seconds since this rank last heard from each rank (-1: never; its own index 0). A rank
   waiting in a collective speaks every half second, so a long silence means it stopped. */
void mpishim_peer_silence(double *seconds, int size);

/* Gradient buckets (gradient_sums.c): `start` begins summing `count` floats at `buf` over the
   ranks and returns at once (the buffer must stay untouched until `finish`); `progress` moves
   every started bucket along without waiting; `finish` waits for all of them as one collective
   under the deadline. Up to 64 slots; the ring transport may carry bf16 or fp16, after which
   every rank holds the same sums rounded to that format. */
enum { MPISHIM_TRANSPORT_MPI = 0, MPISHIM_TRANSPORT_RING = 1 };
enum { MPISHIM_WIRE_F32 = 0, MPISHIM_WIRE_BF16 = 1, MPISHIM_WIRE_F16 = 2 };
int mpishim_gsum_start(int slot, float *buf, int64_t count, int transport, int wire);
int mpishim_gsum_progress(void);
int mpishim_gsum_finish(void);
/* Whether a slot's sum is still under way. */
int mpishim_gsum_active(int slot);
/* Rounds floats in place to a wire format and back (what a compressed sum keeps). */
void mpishim_wire_round(float *buf, int64_t count, int wire);

#ifdef __cplusplus
}
#endif
#endif
