/* Fuzz target for every core decoder: events, tickets, command batches and
 * the user/member/cluster records.  Anything that decodes must re-encode,
 * and re-encoding must be a fixed point (decode(encode(x)) encodes to the
 * same bytes), so that replicas agree on canonical bytes.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_decode.c
 * core/{util,event,catalog,ticket,command,hlc,error}.c \ -lmsgpackc -o
 * /tmp/fuzz_decode /tmp/fuzz_decode -max_total_time=60 corpus/
 *
 * Without libFuzzer, build with -DGD_FUZZ_MAIN to replay files given as
 * arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/command.h"
#include "core/error.h"
#include "core/event.h"
#include "core/ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_bytes(const char *a, size_t la, const char *b, size_t lb)
{
    if (la != lb || memcmp(a, b, la) != 0)
        abort();
}

static void fuzz_event(const char *buf, size_t len)
{
    struct event e, f;
    char *out, *out2;
    size_t n, n2;

    event_init(&e);
    event_init(&f);
    if (event_decode(buf, len, &e, NULL) == 0) {
        if (event_encode(&e, &out, &n) != 0)
            abort();
        if (event_decode(out, n, &f, NULL) != 0 || event_cmp(&e, &f) != 0)
            abort();
        if (event_encode(&f, &out2, &n2) != 0)
            abort();
        same_bytes(out, n, out2, n2);
        free(out);
        free(out2);
    }
    event_clear(&e);
    event_clear(&f);
}

static void fuzz_ticket(const char *buf, size_t len)
{
    struct ticket t, u;
    char *out, *out2;
    size_t n, n2;

    ticket_init(&t);
    ticket_init(&u);
    if (ticket_decode(buf, len, &t, NULL) == 0) {
        if (ticket_encode(&t, &out, &n) != 0)
            abort();
        if (ticket_decode(out, n, &u, NULL) != 0)
            abort();
        if (ticket_encode(&u, &out2, &n2) != 0)
            abort();
        same_bytes(out, n, out2, n2);
        free(out);
        free(out2);
    }
    ticket_clear(&t);
    ticket_clear(&u);
}

static void fuzz_batch(const char *buf, size_t len)
{
    struct command *cmds, *again;
    size_t n, n2, l, l2;
    char *out, *out2;

    if (cmd_batch_decode(buf, len, &cmds, &n, NULL) != 0)
        return;
    if (cmd_batch_encode(cmds, n, &out, &l) != 0)
        abort();
    if (cmd_batch_decode(out, l, &again, &n2, NULL) != 0 || n2 != n)
        abort();
    if (cmd_batch_encode(again, n2, &out2, &l2) != 0)
        abort();
    same_bytes(out, l, out2, l2);
    free(out);
    free(out2);
    cmd_batch_free(cmds, n);
    cmd_batch_free(again, n2);
}

static void fuzz_records(const char *buf, size_t len)
{
    struct user_rec u;
    struct member_rec m;
    struct cluster_rec c;
    char *out;
    size_t n;

    user_rec_init(&u);
    member_rec_init(&m);
    cluster_rec_init(&c);
    if (user_rec_decode(buf, len, &u, NULL) == 0) {
        if (user_rec_encode(&u, &out, &n) != 0)
            abort();
        free(out);
    }
    if (member_rec_decode(buf, len, &m, NULL) == 0) {
        if (member_rec_encode(&m, &out, &n) != 0)
            abort();
        free(out);
    }
    if (cluster_rec_decode(buf, len, &c, NULL) == 0) {
        if (cluster_rec_encode(&c, &out, &n) != 0)
            abort();
        free(out);
    }
    user_rec_clear(&u);
    member_rec_clear(&m);
    cluster_rec_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;

    fuzz_event(buf, size);
    fuzz_ticket(buf, size);
    fuzz_batch(buf, size);
    fuzz_records(buf, size);
    return 0;
}

#ifdef GD_FUZZ_MAIN
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        char *buf = NULL;
        size_t len = 0, cap = 0, r;
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        do {
            if (len == cap) {
                cap = cap ? cap * 2 : 4096;
                buf = realloc(buf, cap);
                if (buf == NULL)
                    return 1;
            }
            r = fread(buf + len, 1, cap - len, f);
            len += r;
        } while (r > 0);
        fclose(f);
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
    }
    return 0;
}
#endif
