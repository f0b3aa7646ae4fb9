/* Passwords (libsodium argon2id) and bearer tokens.  A token is
 * base64url("v1\n<user>\n<role>\n<expires unix s>") "." base64url(HMAC)
 * keyed with the cluster secret that the cluster-init command replicated,
 * so a token made by any node is accepted by every node. */
#ifndef GD_AUTH_H
#define GD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_SECRET_BYTES 32
#define AUTH_TOKEN_MAX 512
#define AUTH_NAME_MAX 64

/* One-time libsodium setup; 0 or GD_EIO. */
int auth_init(void);
/* argon2id hash string (malloc'd, caller frees).  Slow by design: call it
 * off the event loop or at start-up. */
int auth_hash_password(const char *password, char **hash);
/* 1 when password matches hash, 0 otherwise.  Slow: use a worker. */
int auth_verify_password(const char *hash, const char *password);
/* Random bytes and random hex string (cap >= 2*nbytes+1). */
void auth_random(unsigned char *buf, size_t n);
void auth_random_hex(char *out, size_t nbytes);
/* Makes a token into out (cap >= AUTH_TOKEN_MAX). */
int auth_token_make(const unsigned char secret[AUTH_SECRET_BYTES],
                    const char *user, const char *role, uint64_t expires,
                    char *out, size_t cap);
/* Checks a token: 0 and user/role filled, or GD_EAUTH (bad MAC, malformed,
 * expired at now). */
int auth_token_check(const unsigned char secret[AUTH_SECRET_BYTES],
                     const char *token, uint64_t now, char *user,
                     char *role);

/* Tokens already checked, so that a client sending the same token with
 * every request is not decoded and MAC-checked each time.  A hit needs the
 * whole token string to be equal and is still refused after its expiry;
 * one instance per event loop (no locking). */
#define AUTH_CACHE_SLOTS 32

struct auth_cache_slot {
    char token[AUTH_TOKEN_MAX + 1]; /* "" when free */
    char user[AUTH_NAME_MAX], role[AUTH_NAME_MAX];
    uint64_t expires;
};

struct auth_cache {
    struct auth_cache_slot slot[AUTH_CACHE_SLOTS];
    unsigned next; /* slot to replace next */
    uint64_t hits, misses;
};

/* auth_token_check through the cache c (zeroed before first use). */
int auth_token_check_cached(struct auth_cache *c,
                            const unsigned char secret[AUTH_SECRET_BYTES],
                            const char *token, uint64_t now, char *user,
                            char *role);

#endif
