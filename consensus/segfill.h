/* Zero-filled Raft log segments.  raft_uv 0.15 creates each open segment
 * with posix_fallocate(), which on ext4 and XFS leaves unwritten extents:
 * every O_DIRECT|O_DSYNC append into one must convert the extent in the
 * journal, cannot be done with RWF_NOWAIT, and so goes through libuv's
 * threadpool (two extra loop wake-ups per write).  Writing zeros into the
 * new segment instead, as PostgreSQL does with its WAL files
 * (wal_init_zero), makes every later append a plain overwrite that the
 * kernel completes asynchronously on the loop.
 *
 * This module defines posix_fallocate() for the process (libraft calls it
 * through the PLT) and zero-fills only new "open-*" files in the
 * directories registered here; every other call goes to the C library. */
#ifndef GD_SEGFILL_H
#define GD_SEGFILL_H

#include <stdint.h>

/* Zero-fills the segments libraft creates in dir from now on.  Returns 0,
 * GD_EIO when dir cannot be resolved, GD_ENOMEM when the registry is full
 * (SEGFILL_DIRS_MAX directories) or out of memory. */
#define SEGFILL_DIRS_MAX 16
int segfill_register(const char *dir);

/* Stops zero-filling in dir (a no-op for a dir never registered). */
void segfill_unregister(const char *dir);

/* Segments zero-filled so far in this process, and the seconds spent;
 * paced: those filled with pauses (every segment but an "open-1"). */
struct segfill_stats {
    uint64_t segments;
    uint64_t paced;
    uint64_t bytes;
    double seconds;
};
void segfill_stats(struct segfill_stats *out);

#endif
