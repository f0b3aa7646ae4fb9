/* Unit tests for consensus/segfill: posix_fallocate() writes zeros only
 * into new "open-*" files of registered directories, never changes data
 * that is there, leaves every other call to the C library, and stops after
 * segfill_unregister. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "consensus/segfill.h"
#include "core/error.h"

#define SEG (1 << 20)

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gd-segfill-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int open_in(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_DSYNC, 0600);
}

static struct segfill_stats stats(void)
{
    struct segfill_stats st;
    segfill_stats(&st);
    return st;
}

static uint64_t filled(void)
{
    return stats().segments;
}

static void test_registered_open_segment_is_zero_filled(void **state)
{
    (void)state;
    assert_int_equal(segfill_register(dir), 0);
    uint64_t before = filled();
    int fd = open_in("open-1");
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, SEG), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, SEG);
    /* written, not just reserved: the blocks are there */
    assert_true((long long)st.st_blocks * 512 >= SEG);
    assert_int_equal(filled(), before + 1);
    char buf[4096];
    assert_int_equal(pread(fd, buf, sizeof buf, SEG - (off_t)sizeof buf),
                     (ssize_t)sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    close(fd);
    segfill_unregister(dir);
}

/* Creates name in dir and has it allocated to SEG bytes. */
static void allocate_segment(const char *name)
{
    int fd = open_in(name);
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, SEG), 0);
    close(fd);
}

/* open-1, the segment a starting node's first write waits for, is filled
 * at full speed; later ones are filled ahead of need, with pauses. */
static void test_only_later_segments_are_paced(void **state)
{
    (void)state;
    assert_int_equal(segfill_register(dir), 0);
    struct segfill_stats s0 = stats();
    allocate_segment("open-1");
    assert_int_equal(stats().segments, s0.segments + 1);
    assert_int_equal(stats().paced, s0.paced);
    allocate_segment("open-12");
    assert_int_equal(stats().segments, s0.segments + 2);
    assert_int_equal(stats().paced, s0.paced + 1);
    segfill_unregister(dir);
}

static void test_existing_data_is_never_overwritten(void **state)
{
    (void)state;
    assert_int_equal(segfill_register(dir), 0);
    uint64_t before = filled();
    int fd = open_in("open-2");
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "entry", 5, 0), 5);
    /* data at and after offset 0: the C library's posix_fallocate */
    assert_int_equal(posix_fallocate(fd, 0, SEG), 0);
    char buf[5];
    assert_int_equal(pread(fd, buf, 5, 0), 5);
    assert_memory_equal(buf, "entry", 5);
    assert_int_equal(filled(), before);
    close(fd);
    segfill_unregister(dir);
}

static void test_other_files_and_dirs_are_left_to_libc(void **state)
{
    (void)state;
    uint64_t before = filled();
    /* registered dir, not a segment name */
    assert_int_equal(segfill_register(dir), 0);
    int fd = open_in("metadata1");
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, SEG), 0);
    close(fd);
    segfill_unregister(dir);
    /* a segment name, dir no longer registered */
    fd = open_in("open-3");
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, SEG), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, SEG); /* the real one still allocates */
    close(fd);
    assert_int_equal(filled(), before);
    /* bad arguments get the C library's answer, not a fill */
    assert_int_equal(posix_fallocate(-1, 0, SEG), EBADF);
    assert_int_equal(filled(), before);
}

static void test_register_refuses_missing_dir(void **state)
{
    (void)state;
    assert_int_equal(segfill_register("/nonexistent/gd-segfill"), GD_EIO);
    segfill_unregister("/nonexistent/gd-segfill"); /* a no-op */
}

static void test_registry_full_is_an_error(void **state)
{
    (void)state;
    int i;
    for (i = 0; i < SEGFILL_DIRS_MAX; i++)
        assert_int_equal(segfill_register(dir), 0);
    assert_int_equal(segfill_register(dir), GD_ENOMEM);
    /* one registration goes per call */
    for (i = 0; i < SEGFILL_DIRS_MAX; i++)
        segfill_unregister(dir);
    int fd = open_in("open-4");
    uint64_t before = filled();
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, SEG), 0);
    assert_int_equal(filled(), before);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_open_segment_is_zero_filled),
        cmocka_unit_test(test_only_later_segments_are_paced),
        cmocka_unit_test(test_existing_data_is_never_overwritten),
        cmocka_unit_test(test_other_files_and_dirs_are_left_to_libc),
        cmocka_unit_test(test_register_refuses_missing_dir),
        cmocka_unit_test(test_registry_full_is_an_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
