/* Bearer tokens: made and checked with the cluster secret; the cache of
 * checked tokens answers exactly as the full check would (expiry, other
 * secret, tampering, bad tokens never cached). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "node/auth.h"

static const unsigned char SECRET[AUTH_SECRET_BYTES] = "0123456789abcdef0123456789abcde";

static void make(const char *user, const char *role, uint64_t exp,
                 char tok[AUTH_TOKEN_MAX])
{
    assert_int_equal(auth_token_make(SECRET, user, role, exp, tok,
                                     AUTH_TOKEN_MAX),
                     0);
}

static void test_token_check(void **state)
{
    char tok[AUTH_TOKEN_MAX], user[AUTH_NAME_MAX], role[AUTH_NAME_MAX];
    unsigned char other[AUTH_SECRET_BYTES];
    (void)state;

    assert_int_equal(auth_init(), 0);
    make("agent7", "agent", 2000, tok);
    assert_int_equal(auth_token_check(SECRET, tok, 1000, user, role), 0);
    assert_string_equal(user, "agent7");
    assert_string_equal(role, "agent");
    assert_int_equal(auth_token_check(SECRET, tok, 2001, user, role),
                     GD_EAUTH); /* expired */
    memcpy(other, SECRET, sizeof other);
    other[0] ^= 1;
    assert_int_equal(auth_token_check(other, tok, 1000, user, role),
                     GD_EAUTH);
    tok[3] = tok[3] == 'A' ? 'B' : 'A'; /* payload changed, MAC not */
    assert_int_equal(auth_token_check(SECRET, tok, 1000, user, role),
                     GD_EAUTH);
    assert_int_equal(auth_token_check(SECRET, "", 1000, user, role),
                     GD_EAUTH);
    assert_int_equal(auth_token_check(SECRET, "no-dot", 1000, user, role),
                     GD_EAUTH);
}

static void test_token_cache(void **state)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    char tok[AUTH_TOKEN_MAX], bad[AUTH_TOKEN_MAX];
    char user[AUTH_NAME_MAX], role[AUTH_NAME_MAX];
    (void)state;

    assert_non_null(c);
    make("lead1", "lead", 2000, tok);
    assert_int_equal(auth_token_check_cached(c, SECRET, tok, 1000, user, role),
                     0);
    assert_int_equal(c->misses, 1);
    memset(user, 0, sizeof user);
    assert_int_equal(auth_token_check_cached(c, SECRET, tok, 1500, user, role),
                     0);
    assert_int_equal(c->hits, 1); /* answered from the cache */
    assert_string_equal(user, "lead1");
    assert_string_equal(role, "lead");
    /* A cached token still expires. */
    assert_int_equal(auth_token_check_cached(c, SECRET, tok, 2001, user, role),
                     GD_EAUTH);

    /* A tampered token is checked in full, refused and not remembered. */
    strcpy(bad, tok);
    char *mac = strchr(bad, '.') + 5; /* a whole base64 digit of the MAC */
    *mac = *mac == 'A' ? 'B' : 'A';
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            auth_token_check_cached(c, SECRET, bad, 1000, user, role),
            GD_EAUTH);
    }
    assert_int_equal(c->misses, 3);
    /* A prefix of a cached token is not that token. */
    strcpy(bad, tok);
    bad[strlen(bad) - 1] = '\0';
    assert_int_equal(auth_token_check_cached(c, SECRET, bad, 1000, user, role),
                     GD_EAUTH);

    /* More tokens than slots: old ones are replaced and checked again. */
    for (int i = 0; i < AUTH_CACHE_SLOTS + 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        make(name, "agent", 3000, bad);
        assert_int_equal(
            auth_token_check_cached(c, SECRET, bad, 1000, user, role), 0);
        assert_string_equal(user, name);
    }
    uint64_t misses = c->misses;
    assert_int_equal(auth_token_check_cached(c, SECRET, tok, 1000, user, role),
                     0);
    assert_int_equal(c->misses, misses + 1);
    assert_string_equal(user, "lead1");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_check),
        cmocka_unit_test(test_token_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
