/* Helpers shared by the registry's record files. */
#ifndef KILN_REGISTRY_PRIVATE_H
#define KILN_REGISTRY_PRIVATE_H

#include <stdint.h>

#include "registry/registry.h"

struct registry {
        sqlite3 *db;
        int last_rc;  /* extended code of the last failure, to tell busy from broken */
        bool dry_run; /* write transactions roll back once they succeed (kiln_ctx_set_dry_run) */
};

typedef sqlite3_stmt registry_stmt_t;
sqlite3_stmt *registry_stmt_free(sqlite3_stmt *st);
KILN_DEFINE_AUTOPTR(sqlite3_stmt, registry_stmt_free)

int registry_fail(registry *r, kiln_error **err, const char *what);
sqlite3_stmt *registry_prepare(registry *r, const char *sql, kiln_error **err);
int registry_bind_text(registry *r, sqlite3_stmt *st, int i, const char *s, kiln_error **err);
int registry_bind_all(registry *r, sqlite3_stmt *st, const char *const *values, kiln_error **err);
int registry_step_done(registry *r, sqlite3_stmt *st, kiln_error **err);
/* Runs one statement with ?1.. bound to the NULL-terminated args (args may be NULL). */
int registry_exec(registry *r, const char *sql, const char *const *args, kiln_error **err);
char *registry_col_text(sqlite3_stmt *st, int i);
/* The first column of every row of one query (args as registry_exec), as a string array. */
int registry_query_strv(registry *r, const char *sql, const char *const *args, char ***ret,
                        size_t *ret_n, kiln_error **err);
int64_t registry_next_seq(registry *r, const char *table);
/* The tags of a whole listing in one query (a query per item would cost thousands of
 * statements at the limits): sql selects (resource_id, key, value) in the listing's order, and
 * item i (ids[i]) gets its tags in *tags[i] and *n_tags[i]. */
int registry_tags_merge(registry *r, const char *sql, const char *const *args,
                        const char *const *ids, kiln_tag **const *tags, size_t *const *n_tags,
                        size_t n, kiln_error **err);

#endif
