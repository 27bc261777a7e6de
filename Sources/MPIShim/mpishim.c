#include "mpishim.h"
#include <mpi.h>
#include <string.h>

#define CHUNK ((int64_t)1 << 20)

int mpishim_init(int required, int *provided) { return MPI_Init_thread(NULL, NULL, required, provided); }
int mpishim_initialized(int *flag) { return MPI_Initialized(flag); }
int mpishim_finalized(int *flag) { return MPI_Finalized(flag); }
int mpishim_finalize(void) { return MPI_Finalize(); }
int mpishim_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int mpishim_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }

static int allreduce_chunked(void *buf, int64_t count, size_t elem, MPI_Datatype type, MPI_Op op) {
    char *p = (char *)buf;
    for (int64_t off = 0; off < count; off += CHUNK) {
        int64_t n = count - off < CHUNK ? count - off : CHUNK;
        int rc = MPI_Allreduce(MPI_IN_PLACE, p + off * (int64_t)elem, (int)n, type, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int mpishim_allreduce_sum_float(float *buf, int64_t count) {
    return allreduce_chunked(buf, count, sizeof(float), MPI_FLOAT, MPI_SUM);
}
int mpishim_allreduce_sum_double(double *buf, int64_t count) {
    return allreduce_chunked(buf, count, sizeof(double), MPI_DOUBLE, MPI_SUM);
}
int mpishim_allreduce_sum_int64(int64_t *buf, int64_t count) {
    return allreduce_chunked(buf, count, sizeof(int64_t), MPI_INT64_T, MPI_SUM);
}
int mpishim_allreduce_max_int64(int64_t *buf, int64_t count) {
    return allreduce_chunked(buf, count, sizeof(int64_t), MPI_INT64_T, MPI_MAX);
}

int mpishim_bcast_bytes(void *buf, int64_t nbytes, int root) {
    char *p = (char *)buf;
    const int64_t chunk = CHUNK * 4;
    for (int64_t off = 0; off < nbytes; off += chunk) {
        int64_t n = nbytes - off < chunk ? nbytes - off : chunk;
        int rc = MPI_Bcast(p + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}
int mpishim_bcast_float(float *buf, int64_t count, int root) {
    return mpishim_bcast_bytes(buf, count * (int64_t)sizeof(float), root);
}
int mpishim_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
int mpishim_abort(int errorcode) { return MPI_Abort(MPI_COMM_WORLD, errorcode); }
double mpishim_wtime(void) { return MPI_Wtime(); }

void mpishim_error_string(int code, char *buf, int buflen) {
    if (buflen <= 0) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) { strncpy(msg, "unknown MPI error", sizeof msg); len = (int)strlen(msg); }
    int n = len < buflen - 1 ? len : buflen - 1;
    memcpy(buf, msg, (size_t)n);
    buf[n] = 0;
}
void mpishim_library_version(char *buf, int buflen) {
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    int n = len < buflen - 1 ? len : buflen - 1;
    memcpy(buf, v, (size_t)(n > 0 ? n : 0));
    if (buflen > 0) buf[n > 0 ? n : 0] = 0;
}
int mpishim_set_errors_return(void) { return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); }
