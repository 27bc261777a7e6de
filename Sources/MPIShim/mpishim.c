#include "mpishim.h"
#include "watchdog.h"
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK ((int64_t)1 << 20)
#define ENTERED_TAG 7301

int mpishim_init(int required, int *provided) { return MPI_Init_thread(NULL, NULL, required, provided); }
int mpishim_initialized(int *flag) { return MPI_Initialized(flag); }
int mpishim_finalized(int *flag) { return MPI_Finalized(flag); }
int mpishim_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int mpishim_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }

double shim_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- watchdog state (one training thread per rank makes every MPI call) ---- */
static MPI_Comm control = MPI_COMM_NULL;   /* entered-counts travel here, apart from the data */
static MPI_Comm gradients = MPI_COMM_NULL; /* gradient buckets, whose start order differs from the other collectives' */
static int me = 0, world = 1;
static double deadline_s = 0;
static int64_t entered = 0;
static int64_t *heard = NULL;              /* newest count heard from each rank */
static double *heard_at = NULL;            /* when each rank was last heard from */
static int64_t *outbox = NULL;             /* one send buffer and request per peer */
static MPI_Request *outreq = NULL;

int mpishim_watch_init(void) {
    if (control != MPI_COMM_NULL) return MPI_SUCCESS;
    int rc = MPI_Comm_rank(MPI_COMM_WORLD, &me);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_dup(MPI_COMM_WORLD, &control);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_dup(MPI_COMM_WORLD, &gradients);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(control, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(gradients, MPI_ERRORS_RETURN);
    heard = calloc((size_t)world, sizeof *heard);
    heard_at = calloc((size_t)world, sizeof *heard_at);
    outbox = calloc((size_t)world, sizeof *outbox);
    outreq = malloc((size_t)world * sizeof *outreq);
    for (int i = 0; i < world; i++) outreq[i] = MPI_REQUEST_NULL;
    return MPI_SUCCESS;
}

void mpishim_set_timeout(double timeout_s) { deadline_s = timeout_s; }
double mpishim_timeout(void) { return deadline_s; }
int64_t mpishim_entered(void) { return entered; }

void mpishim_peer_silence(double *seconds, int size) {
    double t = shim_now();
    for (int i = 0; i < size; i++) seconds[i] = (heard_at && i < world && heard_at[i] > 0) ? t - heard_at[i] : -1;
    if (me < size) seconds[me] = 0;
}

void mpishim_peer_entered(int64_t *counts, int size) {
    for (int i = 0; i < size; i++) counts[i] = (heard && i < world) ? heard[i] : 0;
    if (me < size) counts[me] = entered;
}

/* Takes in every count the other ranks have sent so far. */
static void drain(void) {
    if (control == MPI_COMM_NULL) return;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, ENTERED_TAG, control, &flag, &st) != MPI_SUCCESS || !flag) return;
        int64_t v = 0;
        if (MPI_Recv(&v, 1, MPI_INT64_T, st.MPI_SOURCE, ENTERED_TAG, control, MPI_STATUS_IGNORE) != MPI_SUCCESS) return;
        if (v > heard[st.MPI_SOURCE]) heard[st.MPI_SOURCE] = v;
        heard_at[st.MPI_SOURCE] = shim_now();
    }
}

/* Tells every other rank this rank's count; a peer whose previous message is still in flight
   gets the newer count next time. Sent on entering a collective and, while waiting in one,
   every half second, so a rank that falls silent (stopped, stuck) can be told from one that
   waits like the rest. */
static void announce(void) {
    if (control == MPI_COMM_NULL) return;
    heard[me] = entered;
    heard_at[me] = shim_now();
    for (int p = 0; p < world; p++) {
        if (p == me) continue;
        if (outreq[p] != MPI_REQUEST_NULL) {
            int done = 0;
            MPI_Test(&outreq[p], &done, MPI_STATUS_IGNORE);
            if (!done) continue;
        }
        outbox[p] = entered;
        MPI_Isend(&outbox[p], 1, MPI_INT64_T, p, ENTERED_TAG, control, &outreq[p]);
    }
    drain();
}

static void enter(void) {
    entered++;
    announce();
}

void shim_enter(void) { enter(); }
MPI_Comm shim_gradient_comm(void) { return gradients; }
int shim_rank(void) { return me; }
int shim_world(void) { return world; }

int shim_watch_tick(double started, double *last_announce) {
    drain();
    double t_now = shim_now(), t = t_now - started;
    if (deadline_s > 0 && t > deadline_s) return MPISHIM_ERR_TIMEOUT;
    if (t_now - *last_announce > 0.5) { announce(); *last_announce = t_now; }
    if (t > 2e-4) { const struct timespec pause = {0, 50000}; nanosleep(&pause, NULL); }
    return MPI_SUCCESS;
}


/* Polls `req` to completion or the deadline: spins for the first 200 µs (ranks in step
   meet there), then sleeps 50 µs between polls so a waiting rank leaves its core to others. */
static int wait_for(MPI_Request *req, double started) {
    double last_announce = started;
    for (;;) {
        int flag = 0;
        int rc = MPI_Test(req, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        if (flag) return MPI_SUCCESS;
        if ((rc = shim_watch_tick(started, &last_announce)) != MPI_SUCCESS) return rc;
    }
}

static int allreduce_chunked(void *buf, int64_t count, size_t elem, MPI_Datatype type, MPI_Op op) {
    enter();
    double started = shim_now();
    char *p = (char *)buf;
    for (int64_t off = 0; off < count; off += CHUNK) {
        int64_t n = count - off < CHUNK ? count - off : CHUNK;
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, p + off * (int64_t)elem, (int)n, type, op, MPI_COMM_WORLD, &req);
        if (rc == MPI_SUCCESS) rc = wait_for(&req, started);
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
    enter();
    double started = shim_now();
    char *p = (char *)buf;
    const int64_t chunk = CHUNK * 4;
    for (int64_t off = 0; off < nbytes; off += chunk) {
        int64_t n = nbytes - off < chunk ? nbytes - off : chunk;
        MPI_Request req;
        int rc = MPI_Ibcast(p + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD, &req);
        if (rc == MPI_SUCCESS) rc = wait_for(&req, started);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}
int mpishim_bcast_float(float *buf, int64_t count, int root) {
    return mpishim_bcast_bytes(buf, count * (int64_t)sizeof(float), root);
}
int mpishim_barrier(void) {
    enter();
    double started = shim_now();
    MPI_Request req;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
    return rc == MPI_SUCCESS ? wait_for(&req, started) : rc;
}

int mpishim_finalize(void) {
    /* Counts still in flight are not needed by anyone now. */
    if (control != MPI_COMM_NULL) {
        for (int p = 0; p < world; p++) {
            if (outreq[p] == MPI_REQUEST_NULL) continue;
            int done = 0;
            MPI_Test(&outreq[p], &done, MPI_STATUS_IGNORE);
            if (!done) { MPI_Cancel(&outreq[p]); MPI_Request_free(&outreq[p]); }
        }
        drain();
    }
    return MPI_Finalize();
}
int mpishim_abort(int errorcode) { return MPI_Abort(MPI_COMM_WORLD, errorcode); }
double mpishim_wtime(void) { return MPI_Wtime(); }

void mpishim_error_string(int code, char *buf, int buflen) {
    if (buflen <= 0) return;
    if (code == MPISHIM_ERR_TIMEOUT) {
        strncpy(buf, "the collective did not complete within the deadline", (size_t)buflen - 1);
        buf[buflen - 1] = 0;
        return;
    }
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
