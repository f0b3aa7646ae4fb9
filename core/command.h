/* Commands: what goes into one Raft log entry.  A batch of commands (ticket
 * events, user and membership changes, the cluster's birth record) is
 * encoded by the proposer and decoded by every replica's FSM apply.  The
 * record types here are also the storage values for users, members and the
 * cluster record, so each has its own versioned codec. */
#ifndef GD_COMMAND_H
#define GD_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/event.h"
#include "core/kb.h"

#define CMD_CODEC_VERSION 1 /* batches and records */
#define CMD_BATCH_MAX 4096  /* commands in one batch */
#define CLUSTER_SECRET_LEN 32

enum cmd_type {
    CMD_TICKET = 1,       /* ev */
    CMD_USER_PUT = 2,     /* user */
    CMD_MEMBER_PUT = 3,   /* member */
    CMD_MEMBER_DEL = 4,   /* member (only id matters) */
    CMD_CLUSTER_INIT = 5, /* cluster, and user: the first admin (user.name
                             NULL: none) */
    CMD_KB = 6,           /* kb: a knowledge-base change (core/kb.h) */
};

/* Every char* below is owned by its struct (malloc'd) or NULL, freed by the
 * matching _clear.  Codecs carry any string of at most GD_FIELD_MAX bytes of
 * UTF-8 (or nil); what a valid name or role is, the user module says. */
struct user_rec {
    char *name;
    char *role;   /* "admin" | "agent" | ... */
    char *pwhash; /* password hash string (e.g. libsodium crypto_pwhash_str) */
    uint64_t hlc; /* when last written */
};
struct member_rec {
    uint64_t id; /* raft server id */
    char *raft;  /* raft address host:port */
    char *http;  /* API address host:port */
};
struct cluster_rec {
    char *cluster_id;
    char *region;
    unsigned char secret[CLUSTER_SECRET_LEN]; /* token MAC key, made by the
                                                 proposer */
};

/* Only the part that type names is encoded; the others stay initialised. */
struct command {
    int type;
    struct event ev;
    struct user_rec user;
    struct member_rec member;
    struct cluster_rec cluster;
    struct kb_op kb;
};

void user_rec_init(struct user_rec *u);
void member_rec_init(struct member_rec *m);
void cluster_rec_init(struct cluster_rec *c);
/* Free strings (wiping pwhash and secret first) and re-init. */
void user_rec_clear(struct user_rec *u);
void member_rec_clear(struct member_rec *m);
void cluster_rec_clear(struct cluster_rec *c);

/* All parts zero/NULL; command_clear frees them and re-inits. */
void command_init(struct command *c);
void command_clear(struct command *c);

/* Encodes cmds[0..n) as [version, [command...]] into a fresh malloc'd *buf
 * (caller frees), *len.  A command is [type, body], body being the event
 * wire form (event_pack) or one of the record forms below; CLUSTER_INIT is
 * [type, cluster, user].  0; GD_EINVAL for an unknown command type or a
 * body the decoder would refuse; GD_ETOOBIG for n > CMD_BATCH_MAX or an
 * oversized string; GD_ENOMEM. */
int cmd_batch_encode(const struct command *cmds, size_t n, char **buf,
                     size_t *len);

/* Strict inverse: on success *cmds is a malloc'd array of *n initialised
 * commands (never NULL, even for n == 0), freed with cmd_batch_free.  On
 * error GD_ECORRUPT with a message (truncated, trailing bytes, wrong types,
 * unknown version or command type, more than CMD_BATCH_MAX commands, bad
 * body) or GD_ENOMEM, with *cmds NULL and *n 0. */
int cmd_batch_decode(const char *buf, size_t len, struct command **cmds,
                     size_t *n, struct gd_err *err);

/* cmd_batch_decode with the unpacked objects in zone (see gd_mp_decode_in):
 * the FSM keeps one for the entries it applies. */
struct msgpack_zone;
int cmd_batch_decode_in(struct msgpack_zone *zone, const char *buf,
                        size_t len, struct command **cmds, size_t *n,
                        struct gd_err *err);

/* Clears cmds[0..n) and frees the array (NULL is fine). */
void cmd_batch_free(struct command *cmds, size_t n);

/* Record codecs (storage values).  Wire forms:
 *   user    [version, name|nil, role|nil, pwhash|nil, hlc]
 *   member  [version, id, raft|nil, http|nil]
 *   cluster [version, cluster_id|nil, region|nil, secret (bin, 32 bytes)]
 * encode: malloc'd *buf (caller frees); 0, GD_EINVAL (not UTF-8),
 * GD_ETOOBIG, GD_ENOMEM.  decode: the record must be initialised (old
 * contents freed) and is left cleared on error; GD_ECORRUPT with a message
 * for anything but exactly one valid record, or GD_ENOMEM. */
int user_rec_encode(const struct user_rec *u, char **buf, size_t *len);
int user_rec_decode(const char *buf, size_t len, struct user_rec *u,
                    struct gd_err *err);
int member_rec_encode(const struct member_rec *m, char **buf, size_t *len);
int member_rec_decode(const char *buf, size_t len, struct member_rec *m,
                      struct gd_err *err);
int cluster_rec_encode(const struct cluster_rec *c, char **buf, size_t *len);
int cluster_rec_decode(const char *buf, size_t len, struct cluster_rec *c,
                       struct gd_err *err);

#endif
