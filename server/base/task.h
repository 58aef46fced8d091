/* task.h -- a reader-pool task that finishes on the event loop's thread.
 *
 * A srv_task is a store_task (run on a pool thread against its own
 * connection) with a second half, done(), which whoever drains the pool
 * calls on the loop thread. Every room that reads the database off the loop
 * thread (collab's sessions, net's hello and rights, api's routes) embeds
 * one; how a task reaches a pool is the submitter's business (an
 * environment hands collab a submit function, see collab.h).
 * Invariant: done() runs exactly once for a task whose submit returned 0,
 * and never for one whose submit failed. */
#ifndef CHORUS_SERVER_BASE_TASK_H
#define CHORUS_SERVER_BASE_TASK_H

#include "storage/store.h"

typedef struct srv_task srv_task;
typedef void (*srv_task_done)(srv_task *t);
struct srv_task {
    store_task base;              /* run on a pool thread */
    srv_task_done done;           /* then this, on the loop thread */
};

#endif
