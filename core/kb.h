/* Knowledge base (知识库): articles, their versions and status, the agents'
 * proposals (知识申请) and the curators' reviews, as pure data with strict
 * msgpack codecs and the rules that decide what a change may do.  No I/O:
 * the FSM (consensus/fsm.c) reads and writes the records, search/ indexes
 * them.
 *
 * Every change to an article is a kb_op carried by one Raft command (CMD_KB)
 * and stamped by the leader (hlc, actor).  Applying it is a function of the
 * op and the stored records only. */
#ifndef GD_KB_H
#define GD_KB_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct msgpack_packer;
struct msgpack_object;

#define KB_ID_MAX 64
#define KB_TITLE_MAX 200
#define KB_CATEGORY_MAX 200
#define KB_TEXT_MAX 16000
#define KB_KEYWORDS_MAX 32
#define KB_KEYWORD_MAX 64
#define KB_SOURCES_MAX 16
#define KB_SOURCE_TITLE_MAX 200
#define KB_REGION_MAX 16
#define KB_NOTE_MAX 1000
#define KB_TICKETS_KEPT 100 /* linked ticket ids kept on the article */

enum kb_status {
    KB_DRAFT = 0,
    KB_REVIEW,
    KB_PUBLISHED,
    KB_RETIRED,
    KB_STATUS__COUNT
};

/* Text fields, in the order of search/'s enum sr_field after title. */
enum kb_text {
    KB_FAULT = 0, /* 故障描述 */
    KB_CAUSE,     /* 原因分析 */
    KB_SOLUTION,  /* 解决方案 */
    KB_SCRIPT,    /* 应答话术 */
    KB_TEXT__COUNT
};

/* Bits naming article fields (what an edit set, what a version changed). */
enum kb_field_bit {
    KB_F_TITLE = 1u << 0,
    KB_F_CATEGORY = 1u << 1,
    KB_F_FAULT = 1u << 2,
    KB_F_CAUSE = 1u << 3,
    KB_F_SOLUTION = 1u << 4,
    KB_F_SCRIPT = 1u << 5,
    KB_F_KEYWORDS = 1u << 6,
    KB_F_SOURCES = 1u << 7,
    KB_F_REGION = 1u << 8,
    KB_F_STATUS = 1u << 9,
    KB_F__ALL = (1u << 10) - 1
};

/* Sources: where the knowledge comes from. */
enum kb_source_type {
    KB_SRC_POLICY = 0,
    KB_SRC_LAW,
    KB_SRC_STANDARD,
    KB_SRC_MANUAL,
    KB_SRC_CASE,
    KB_SRC__COUNT
};

struct kb_source {
    int type;
    char *title;
};

/* An article at one version.  Every char* is owned (malloc'd) or NULL
 * (NULL and "" read the same).  Times are HLC values of the ops. */
struct kb_article {
    char *id;
    char *title;
    char *category;
    char *text[KB_TEXT__COUNT];
    char **keywords;
    size_t n_keywords;
    struct kb_source *sources;
    size_t n_sources;
    char *region;
    int status;
    uint32_t version;
    uint32_t docno; /* search document number, fixed at creation */
    uint64_t created_hlc, updated_hlc;
    char *created_by, *updated_by;
    char *note;       /* the note of the change that made this version */
    uint32_t changed; /* kb_field_bit set of that change */
    uint32_t uses;
    char **tickets; /* linked tickets, oldest first, at most KB_TICKETS_KEPT */
    size_t n_tickets;
};

enum kb_proposal_status { KB_P_PENDING = 0, KB_P_APPROVED, KB_P_REJECTED };

struct kb_proposal {
    char *id;
    int status;
    char *ticket;  /* the ticket it came from, or NULL */
    char *article; /* the article it amends, or NULL (a new article) */
    struct kb_article content; /* proposed fields (id/version unused) */
    char *reason;
    char *proposed_by;
    uint64_t proposed_hlc;
    char *reviewed_by;
    uint64_t reviewed_hlc;
    char *decision_reason;
    char *result_article;
    uint32_t result_version;
};

enum kb_op_type {
    KB_OP_CREATE = 1, /* art (id may be NULL: generated) */
    KB_OP_UPDATE,     /* art fields named by mask on art.id */
    KB_OP_IMPORT,     /* art: create, or new version of an existing id */
    KB_OP_STATUS,     /* art.id, status */
    KB_OP_LINK,       /* art.id, ticket */
    KB_OP_PROPOSE,    /* proposal (id generated) */
    KB_OP_REVIEW,     /* proposal id, decision, reason, publish */
};

/* One change, as proposed and replicated. */
struct kb_op {
    int op;
    char *actor;  /* user name, stamped by the node that took the request */
    uint64_t hlc; /* stamped by the leader */
    struct kb_article art;
    uint32_t mask;           /* UPDATE: fields to set; IMPORT: KB_F_STATUS
                                when the row gave a status */
    uint32_t expect_version; /* UPDATE: 0 = any, else must be current */
    int status;              /* STATUS: target; CREATE/IMPORT: unused
                                (art.status) */
    char *note;
    char *ticket;     /* LINK, PROPOSE */
    char *target;     /* PROPOSE: article amended; REVIEW: proposal id */
    int approve;      /* REVIEW */
    int publish;      /* REVIEW approve: publish at once */
    char *reason;     /* PROPOSE: why; REVIEW: decision reason */
};

void kb_article_init(struct kb_article *a);
void kb_article_clear(struct kb_article *a);
/* Deep copy into dst (initialised; old contents freed).  GD_ENOMEM. */
int kb_article_copy(struct kb_article *dst, const struct kb_article *src);
void kb_proposal_init(struct kb_proposal *p);
void kb_proposal_clear(struct kb_proposal *p);
void kb_op_init(struct kb_op *o);
void kb_op_clear(struct kb_op *o);

/* Names ("draft", "policy", ...) and their inverses (-1 when unknown). */
const char *kb_status_name(int status);
int kb_status_parse(const char *s);
const char *kb_source_name(int type);
int kb_source_parse(const char *s);
const char *kb_proposal_status_name(int status);
int kb_proposal_status_parse(const char *s);
const char *kb_text_name(int field); /* "fault", "cause", ... */
/* Name of one kb_field_bit ("title", ...), NULL for anything else. */
const char *kb_field_name(uint32_t bit);

/* 1 if the status may move from → to (see docs/API.md). */
int kb_status_move_ok(int from, int to);

/* 1 if category c is cat or below it ("a/b" is below "a", "ab" is not). */
int kb_category_under(const char *c, const char *cat);

/* 1 if s is a valid article/proposal id: 1..KB_ID_MAX of [A-Za-z0-9._-]. */
int kb_id_valid(const char *s);

/* Checks an article's content as a whole: title and category present and
 * within limits, category levels non-empty, at least one text field,
 * keywords and sources within limits, region a code or "", every string
 * UTF-8 without control characters (text fields may hold \n and \t).
 * GD_EINVAL with a message naming the field. */
int kb_article_check(const struct kb_article *a, struct gd_err *err);

/* Bits of the content fields (title..region, status) that differ. */
uint32_t kb_article_diff(const struct kb_article *a,
                         const struct kb_article *b);

/* Sets the fields named by mask in dst from src.  GD_ENOMEM. */
int kb_article_assign(struct kb_article *dst, const struct kb_article *src,
                      uint32_t mask);

/* Formats an id "KB-yyyymmdd-0001" / "KP-..." from a prefix, the op's HLC
 * (date in +08:00) and a sequence number. */
void kb_id_format(char *out, size_t cap, const char *prefix, uint64_t hlc,
                  uint32_t seq);

/* Codecs.  Storage values and the CMD_KB body.  encode: malloc'd *buf;
 * GD_EINVAL/GD_ETOOBIG for what decode would refuse, GD_ENOMEM.  decode:
 * the target must be initialised (old contents freed) and is left cleared
 * on error; GD_ECORRUPT with a message, GD_ENOMEM. */
int kb_article_encode(const struct kb_article *a, char **buf, size_t *len);
int kb_article_decode(const char *buf, size_t len, struct kb_article *a,
                      struct gd_err *err);
int kb_proposal_encode(const struct kb_proposal *p, char **buf, size_t *len);
int kb_proposal_decode(const char *buf, size_t len, struct kb_proposal *p,
                       struct gd_err *err);
/* In-place forms for core/command.c. */
int kb_op_pack(struct msgpack_packer *pk, const struct kb_op *o);
int kb_op_unpack(const struct msgpack_object *obj, struct kb_op *o,
                 struct gd_err *err);

#endif
