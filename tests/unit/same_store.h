/* Shared by the FSM tests: two replicas hold byte-identical state (their
 * whole dumps).  Include after <cmocka.h>. */
#ifndef GD_TEST_SAME_STORE_H
#define GD_TEST_SAME_STORE_H

#include <stdlib.h>

#include "storage/store.h"

static void assert_same_store(struct store *a, struct store *b)
{
    char *da, *db;
    size_t la, lb;
    struct gd_err err;

    assert_int_equal(store_dump(a, malloc, &da, &la, &err), 0);
    assert_int_equal(store_dump(b, malloc, &db, &lb, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da);
    free(db);
}

#endif
