/* Zero-filled Raft log segments: posix_fallocate() for the process, which
 * writes zeros into new raft_uv segments of registered directories and
 * hands every other call to the C library.  See segfill.h. */
#include "consensus/segfill.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

/* Zeros go 256 KiB at a time through a second, O_DIRECT descriptor: the
 * segment's own is O_DSYNC, which would flush the disk cache after every
 * chunk, and a buffered fill would leave 64 MiB dirty for one long flush;
 * either stalls the log writes of every node on the disk.  One fdatasync
 * at the end makes the zeros and their extents durable.  The buffer is in
 * .bss and only ever read: it maps the kernel's zero page.
 *
 * Every segment but a process's first ("open-1": libraft counts from 1 at
 * each start, and the first write waits for it) is filled ahead of need,
 * so its fill is paced: FILL_PAUSE_NS after each chunk keeps it under
 * 128 MiB/s and leaves the disk's queue to the log's own writes, which
 * the I/O class alone does not (mq-deadline and none ignore it or only
 * age it).  A 64 MiB segment then takes at least 0.5 s to fill; at 10,000
 * ticket creates/s the log uses one in about 8 s, with two in reserve. */
#define FILL_CHUNK (256u << 10)
#define FILL_PAUSE_NS 2000000L
#define FILL_ALIGN 4096
static char zeros[FILL_CHUNK] __attribute__((aligned(FILL_ALIGN)));

/* ioprio_set(2) has no glibc wrapper; linux/ioprio.h's values. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_IDLE (3 << 13)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *dirs[SEGFILL_DIRS_MAX];
static struct segfill_stats totals;

typedef int (*fallocate_fn)(int, off_t, off_t);
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static fallocate_fn real_fn;

static void find_real(void)
{
    real_fn = (fallocate_fn)dlsym(RTLD_NEXT, "posix_fallocate");
}

static int real_posix_fallocate(int fd, off_t offset, off_t len)
{
    pthread_once(&real_once, find_real);
    return real_fn != NULL ? real_fn(fd, offset, len) : ENOSYS;
}

int segfill_register(const char *dir)
{
    char *path = realpath(dir, NULL);
    int rc = GD_ENOMEM;

    if (path == NULL)
        return errno == ENOMEM ? GD_ENOMEM : GD_EIO;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < SEGFILL_DIRS_MAX; i++) {
        if (dirs[i] == NULL) {
            dirs[i] = path;
            path = NULL;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    free(path);
    return rc;
}

void segfill_unregister(const char *dir)
{
    char *path = realpath(dir, NULL);

    if (path == NULL)
        return;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < SEGFILL_DIRS_MAX; i++) {
        if (dirs[i] != NULL && strcmp(dirs[i], path) == 0) {
            free(dirs[i]);
            dirs[i] = NULL;
            break; /* one registration per rnode */
        }
    }
    pthread_mutex_unlock(&mu);
    free(path);
}

void segfill_stats(struct segfill_stats *out)
{
    pthread_mutex_lock(&mu);
    *out = totals;
    pthread_mutex_unlock(&mu);
}

/* Whether fd is a regular file named "open-*" in a registered directory,
 * with nothing at or after offset (so writing zeros there changes no
 * data, which posix_fallocate must never do); *first says whether it is
 * "open-1". */
static int is_new_segment(int fd, off_t offset, char link[64], int *first)
{
    char path[PATH_MAX];
    struct stat st;
    ssize_t n;
    char *slash;
    int found = 0;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > offset)
        return 0;
    snprintf(link, 64, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    slash = strrchr(path, '/');
    if (slash == NULL || strncmp(slash + 1, "open-", 5) != 0)
        return 0;
    *first = strcmp(slash + 1, "open-1") == 0;
    *slash = '\0';
    pthread_mutex_lock(&mu);
    for (int i = 0; i < SEGFILL_DIRS_MAX && !found; i++)
        found = dirs[i] != NULL && strcmp(dirs[i], path) == 0;
    pthread_mutex_unlock(&mu);
    return found;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes zeros over [offset, offset + len) of fd (reached again through
 * link, for an O_DIRECT descriptor when the range is block-aligned) and
 * makes them and the extents they allocated durable.  Returns 0 or an
 * errno value, as posix_fallocate does: ENOSPC when the disk is full. */
static int zero_fill(int fd, const char *link, off_t offset, off_t len,
                     int paced)
{
    const struct timespec pause = {0, FILL_PAUSE_NS};
    double t0 = mono_s();
    off_t at = offset, end = offset + len;
    int old = (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
    int dfd = -1, wfd = fd, rc = 0;

    if (offset % FILL_ALIGN == 0 && len % FILL_ALIGN == 0) {
        dfd = open(link, O_WRONLY | O_DIRECT | O_CLOEXEC);
        if (dfd >= 0)
            wfd = dfd;
    }
    /* The fill runs on a libuv worker thread, ahead of need (libraft keeps
     * two segments prepared): in the idle I/O class it yields the disk to
     * the log writes of this and the other nodes. */
    if (old >= 0)
        syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_IDLE);
    while (at < end) {
        size_t chunk = end - at < (off_t)FILL_CHUNK ? (size_t)(end - at)
                                                     : FILL_CHUNK;
        ssize_t w = pwrite(wfd, zeros, chunk, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? errno : EIO;
            break;
        }
        at += w;
        if (paced && at < end)
            nanosleep(&pause, NULL);
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = errno;
    if (old >= 0)
        syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, old);
    if (dfd >= 0)
        close(dfd);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&mu);
    totals.segments++;
    totals.paced += paced ? 1 : 0;
    totals.bytes += (uint64_t)len;
    totals.seconds += mono_s() - t0;
    pthread_mutex_unlock(&mu);
    return 0;
}

int posix_fallocate(int fd, off_t offset, off_t len)
{
    char link[64];
    int first = 0;

    if (offset >= 0 && len > 0 && offset <= INT64_MAX - len &&
        is_new_segment(fd, offset, link, &first)) {
        int rc = zero_fill(fd, link, offset, len, !first);
        /* A fill the disk or the file system refuses for another reason
         * (an O_DIRECT alignment it wants larger, say) must not fail the
         * segment: what zeros were written read as fallocate's would. */
        if (rc == 0 || rc == ENOSPC)
            return rc;
    }
    return real_posix_fallocate(fd, offset, len);
}
