/* Passwords and tokens with libsodium: see auth.h. */
#include "node/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int auth_init(void)
{
    return sodium_init() < 0 ? GD_EIO : 0;
}

int auth_hash_password(const char *password, char **hash)
{
    char *out = malloc(crypto_pwhash_STRBYTES);
    if (out == NULL) {
        return GD_ENOMEM;
    }
    if (crypto_pwhash_str(out, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        free(out);
        return GD_ENOMEM; /* argon2 could not get its memory */
    }
    *hash = out;
    return 0;
}

int auth_verify_password(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void auth_random(unsigned char *buf, size_t n)
{
    randombytes_buf(buf, n);
}

void auth_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw) {
        nbytes = sizeof raw;
    }
    randombytes_buf(raw, nbytes);
    sodium_bin2hex(out, nbytes * 2 + 1, raw, nbytes);
}

#define B64V sodium_base64_VARIANT_URLSAFE_NO_PADDING

int auth_token_make(const unsigned char secret[AUTH_SECRET_BYTES],
                    const char *user, const char *role, uint64_t expires,
                    char *out, size_t cap)
{
    char payload[256];
    unsigned char mac[crypto_auth_BYTES];
    int n = snprintf(payload, sizeof payload, "v1\n%s\n%s\n%llu", user, role,
                     (unsigned long long)expires);
    size_t plen;

    if (n < 0 || (size_t)n >= sizeof payload) {
        return GD_EINVAL;
    }
    crypto_auth(mac, (const unsigned char *)payload, (size_t)n, secret);
    plen = sodium_base64_ENCODED_LEN((size_t)n, B64V);
    if (plen + sodium_base64_ENCODED_LEN(sizeof mac, B64V) + 1 > cap) {
        return GD_EINVAL;
    }
    sodium_bin2base64(out, cap, (const unsigned char *)payload, (size_t)n,
                      B64V);
    plen = strlen(out);
    out[plen] = '.';
    sodium_bin2base64(out + plen + 1, cap - plen - 1, mac, sizeof mac, B64V);
    return 0;
}

/* auth_token_check, also giving the token's expiry time. */
static int check_token(const unsigned char secret[AUTH_SECRET_BYTES],
                       const char *token, uint64_t now, char *user, char *role,
                       uint64_t *expires)
{
    unsigned char payload[256], mac[crypto_auth_BYTES + 4];
    size_t plen = 0, mlen = 0;
    const char *dot, *end;
    char *p, *f1, *f2, *f3, *endp;
    unsigned long long exp;

    if (token == NULL || strlen(token) > AUTH_TOKEN_MAX) {
        return GD_EAUTH;
    }
    dot = strchr(token, '.');
    if (dot == NULL) {
        return GD_EAUTH;
    }
    if (sodium_base642bin(payload, sizeof payload - 1, token,
                          (size_t)(dot - token), NULL, &plen, &end,
                          B64V) != 0 ||
        end != dot) {
        return GD_EAUTH;
    }
    if (sodium_base642bin(mac, sizeof mac, dot + 1, strlen(dot + 1), NULL,
                          &mlen, &end, B64V) != 0 ||
        *end != '\0' || mlen != crypto_auth_BYTES) {
        return GD_EAUTH;
    }
    if (crypto_auth_verify(mac, payload, plen, secret) != 0) {
        return GD_EAUTH;
    }
    payload[plen] = '\0';
    p = (char *)payload;
    if (strncmp(p, "v1\n", 3) != 0) {
        return GD_EAUTH;
    }
    f1 = p + 3;
    f2 = strchr(f1, '\n');
    if (f2 == NULL) {
        return GD_EAUTH;
    }
    *f2++ = '\0';
    f3 = strchr(f2, '\n');
    if (f3 == NULL) {
        return GD_EAUTH;
    }
    *f3++ = '\0';
    exp = strtoull(f3, &endp, 10);
    if (*endp != '\0' || exp < now) {
        return GD_EAUTH;
    }
    if (strlen(f1) >= AUTH_NAME_MAX || strlen(f2) >= AUTH_NAME_MAX) {
        return GD_EAUTH;
    }
    strcpy(user, f1);
    strcpy(role, f2);
    *expires = exp;
    return 0;
}

int auth_token_check(const unsigned char secret[AUTH_SECRET_BYTES],
                     const char *token, uint64_t now, char *user, char *role)
{
    uint64_t exp;
    return check_token(secret, token, now, user, role, &exp);
}

int auth_token_check_cached(struct auth_cache *c,
                            const unsigned char secret[AUTH_SECRET_BYTES],
                            const char *token, uint64_t now, char *user,
                            char *role)
{
    size_t len = strnlen(token, AUTH_TOKEN_MAX + 1);
    struct auth_cache_slot *sl;
    uint64_t exp;
    int rc;

    if (len == 0 || len > AUTH_TOKEN_MAX) {
        return GD_EAUTH;
    }
    for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++) {
        sl = &c->slot[i];
        if (sl->token[0] != '\0' && memcmp(sl->token, token, len + 1) == 0) {
            if (sl->expires < now) {
                return GD_EAUTH;
            }
            c->hits++;
            strcpy(user, sl->user);
            strcpy(role, sl->role);
            return 0;
        }
    }
    c->misses++;
    rc = check_token(secret, token, now, user, role, &exp);
    if (rc != 0) {
        return rc; /* bad tokens are not remembered */
    }
    sl = &c->slot[c->next];
    c->next = (c->next + 1) % AUTH_CACHE_SLOTS;
    memcpy(sl->token, token, len + 1);
    snprintf(sl->user, sizeof sl->user, "%s", user);
    snprintf(sl->role, sizeof sl->role, "%s", role);
    sl->expires = exp;
    return 0;
}
