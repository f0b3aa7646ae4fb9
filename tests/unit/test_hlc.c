/* Unit tests for core/hlc: monotonicity under a wall clock that stalls,
 * jumps back and forth, logical overflow into the ms part, receive events,
 * clamping and saturation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/hlc.h"

static void test_pack_helpers(void **state)
{
    (void)state;
    uint64_t t = hlc_pack(1795306530123ULL, 7);
    assert_int_equal(hlc_ms(t), 1795306530123ULL);
    assert_int_equal(hlc_logical(t), 7);
    assert_int_equal(hlc_pack(5, 0x1ffff), hlc_pack(5, 0xffff));
    assert_int_equal(hlc_ms(hlc_pack(HLC_MS_MAX, 0xffff)), HLC_MS_MAX);
    assert_int_equal(hlc_pack(HLC_MS_MAX, 0xffff), UINT64_MAX);
}

static void test_init_and_first_tick(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h);
    assert_int_equal(h.last, 0);
    assert_int_equal(hlc_now(&h, 1000), hlc_pack(1000, 0));
    /* wall 0 on a fresh clock still gives something > 0 */
    hlc_init(&h);
    assert_int_equal(hlc_now(&h, 0), 1);
}

static void test_same_ms_counts_logical(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h);
    for (uint32_t i = 0; i < 100; i++) {
        uint64_t t = hlc_now(&h, 5000);
        assert_int_equal(hlc_ms(t), 5000);
        assert_int_equal(hlc_logical(t), i);
    }
    /* wall moves on: logical resets */
    assert_int_equal(hlc_now(&h, 5001), hlc_pack(5001, 0));
}

static void test_wall_backwards(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h);
    uint64_t a = hlc_now(&h, 10000);
    uint64_t b = hlc_now(&h, 9000); /* NTP step back by a second */
    uint64_t c = hlc_now(&h, 1);
    assert_true(b > a);
    assert_true(c > b);
    assert_int_equal(hlc_ms(c), 10000);
    assert_int_equal(hlc_logical(c), 2);
    /* once the wall catches up, it takes over again */
    assert_int_equal(hlc_now(&h, 10001), hlc_pack(10001, 0));
}

static void test_logical_overflow_rolls_into_ms(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h);
    h.last = hlc_pack(7000, 0xfffe);
    uint64_t a = hlc_now(&h, 7000);
    assert_int_equal(a, hlc_pack(7000, 0xffff));
    uint64_t b = hlc_now(&h, 7000);
    assert_true(b > a);
    assert_int_equal(b, hlc_pack(7001, 0));
    /* a burst of 200k events in one (stuck) millisecond stays ordered */
    uint64_t prev = b;
    for (int i = 0; i < 200000; i++) {
        uint64_t t = hlc_now(&h, 7000);
        assert_true(t > prev);
        prev = t;
    }
    assert_true(hlc_ms(prev) >= 7003);
}

static void test_observe(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h);
    uint64_t a = hlc_now(&h, 1000);
    /* remote ahead of us and of the wall: we move just past it */
    uint64_t r = hlc_pack(2000, 5);
    uint64_t b = hlc_observe(&h, r, 1000);
    assert_int_equal(b, hlc_pack(2000, 6));
    assert_true(b > a);
    /* remote behind: still strictly greater than our last */
    uint64_t c = hlc_observe(&h, hlc_pack(10, 0), 1000);
    assert_int_equal(c, b + 1);
    /* wall ahead of both: wall wins with logical 0 */
    assert_int_equal(hlc_observe(&h, hlc_pack(2500, 3), 3000),
                     hlc_pack(3000, 0));
    /* observing our own last value gives something greater */
    uint64_t d = hlc_observe(&h, h.last, 0);
    assert_true(d > hlc_pack(3000, 0));
    /* remote at logical max rolls over */
    assert_int_equal(hlc_observe(&h, hlc_pack(9000, 0xffff), 0),
                     hlc_pack(9001, 0));
    /* a send after a receive is greater than the received value */
    assert_true(hlc_now(&h, 0) > hlc_pack(9001, 0));
}

static void test_clamp_and_saturate(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h);
    /* a wall value beyond 48 bits does not wrap into a small one */
    uint64_t a = hlc_now(&h, UINT64_MAX);
    assert_int_equal(a, hlc_pack(HLC_MS_MAX, 0));
    uint64_t b = hlc_now(&h, UINT64_MAX);
    assert_true(b > a);
    /* saturation at the very end of time */
    h.last = UINT64_MAX;
    assert_int_equal(hlc_now(&h, 0), UINT64_MAX);
    assert_int_equal(hlc_observe(&h, UINT64_MAX, 0), UINT64_MAX);
}

static void test_plausible(void **state)
{
    (void)state;
    assert_true(hlc_remote_plausible(hlc_pack(1000, 9), 1000, 0));
    assert_true(hlc_remote_plausible(hlc_pack(500, 0), 1000, 0));
    assert_true(hlc_remote_plausible(hlc_pack(61000, 0), 1000, 60000));
    assert_false(hlc_remote_plausible(hlc_pack(61001, 0), 1000, 60000));
    assert_false(hlc_remote_plausible(UINT64_MAX, 1000, 60000));
}

/* Deterministic pseudo-random walk: walls jump both ways, sends and
 * receives interleave; every value must exceed every earlier one and every
 * observed remote value. */
static void test_random_walk(void **state)
{
    (void)state;
    struct hlc h;
    uint64_t seed = 0x9e3779b97f4a7c15ULL, prev = 0, wall = 1795306530123ULL;
    hlc_init(&h);
    for (int i = 0; i < 500000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t)(seed >> 33);
        uint64_t t;
        switch (r % 4) {
        case 0: wall += r % 50; break;
        case 1: wall -= r % 30; break; /* clock steps back */
        default: break;
        }
        if (r & 0x100) {
            uint64_t remote = hlc_pack(wall + (r % 200) - 100, r & 0xffff);
            t = hlc_observe(&h, remote, wall);
            assert_true(t > remote);
        } else {
            t = hlc_now(&h, wall);
            assert_true(hlc_ms(t) >= wall);
        }
        assert_true(t > prev);
        prev = t;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_helpers),
        cmocka_unit_test(test_init_and_first_tick),
        cmocka_unit_test(test_same_ms_counts_logical),
        cmocka_unit_test(test_wall_backwards),
        cmocka_unit_test(test_logical_overflow_rolls_into_ms),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_clamp_and_saturate),
        cmocka_unit_test(test_plausible),
        cmocka_unit_test(test_random_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
