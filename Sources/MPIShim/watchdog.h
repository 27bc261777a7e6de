#ifndef AUTOSAM_MPISHIM_WATCHDOG_H
#define AUTOSAM_MPISHIM_WATCHDOG_H
/* Inside the shim only: the watchdog's state for the files beside mpishim.c. */
#include <mpi.h>

double shim_now(void);
/* Counts one collective entered and tells the other ranks. */
void shim_enter(void);
/* One wait iteration: takes in the others' counts, speaks every half second, sleeps after the
   first 200 µs; MPISHIM_ERR_TIMEOUT once `started` is older than the deadline. */
int shim_watch_tick(double started, double *last_announce);
/* The duplicate of MPI_COMM_WORLD that gradient buckets travel on. */
MPI_Comm shim_gradient_comm(void);
int shim_rank(void);
int shim_world(void);
#endif
