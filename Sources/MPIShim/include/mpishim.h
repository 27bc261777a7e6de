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

#ifdef __cplusplus
}
#endif
#endif
