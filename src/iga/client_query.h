/* Lists of clients for people and programs: filter by kind, owner, status
 * and risk tier, sort by a column in either order, and cut into pages. The
 * one query behind the console's applications page and the admin API's
 * client list: callers parse their parameters with the *_from_name
 * functions below and render the page they get; no caller filters or sorts
 * by itself.
 *
 * It works over the typed records of the store (each client's record, its
 * effective status as mdt_client_list_json gives it, and the last use of
 * its credentials), read in two statements; filtering, sorting and paging
 * are a pure function of those (mdt_client_query_select), unit-tested
 * without a store.
 *
 * Paging is by offset: a page starts at `offset` and holds at most `limit`
 * items; `next` is the offset of the following page, or -1 on the last one.
 * The same filter and sort with next gives the following page (an API
 * cursor is that offset as text).
 *
 * Memory: everything returned lives in the caller's arena. */
#ifndef MDT_IGA_CLIENT_QUERY_H
#define MDT_IGA_CLIENT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"

#define MDT_CLIENT_QUERY_LIMIT 50      /* items of a page when the caller says 0 */
#define MDT_CLIENT_QUERY_LIMIT_MAX 200 /* the most items of one page */
#define MDT_CLIENT_QUERY_OWNER_NONE "-" /* the owner filter for clients without one */

/* The columns a list sorts by; ties are broken by client_id, ascending. */
typedef enum {
    MDT_CLIENT_SORT_ID = 0, /* client_id (the default) */
    MDT_CLIENT_SORT_NAME,   /* client_name, else client_id */
    MDT_CLIENT_SORT_CREATED,
    MDT_CLIENT_SORT_KIND,
    MDT_CLIENT_SORT_OWNER,
    MDT_CLIENT_SORT_STATUS,
    MDT_CLIENT_SORT_TIER,   /* low < medium < high */
    MDT_CLIENT_SORT_LAST_USED,
    MDT_CLIENT_SORT_UNKNOWN,
} mdt_client_sort;

/* What to list. NULL or "" in a filter: any value. status is the effective
 * status (an active client past its expires_at is "expired"). owner "-"
 * (MDT_CLIENT_QUERY_OWNER_NONE): clients without an owner. */
typedef struct {
    const char *kind, *owner, *status, *tier;
    mdt_client_sort sort;
    bool desc;
    size_t offset;
    size_t limit; /* 0: MDT_CLIENT_QUERY_LIMIT; at most MDT_CLIENT_QUERY_LIMIT_MAX */
} mdt_client_filter;

/* One client as lists show it. owner, name: "" when none. */
typedef struct {
    const char *client_id, *name, *kind, *owner, *status, *tier;
    int64_t created_at, expires_at;
    int64_t last_used_at; /* latest last_used_at of its credentials; 0: never */
} mdt_client_summary;

typedef struct {
    mdt_client_summary *items;
    size_t n;      /* items on this page */
    size_t total;  /* clients matching the filter, on every page */
    int64_t next;  /* offset of the next page; -1: this is the last */
} mdt_client_page;

/* The sort column named s ("client_id", "name", "created", "kind",
 * "owner", "status", "tier", "last_used"); NULL or "": MDT_CLIENT_SORT_ID;
 * anything else MDT_CLIENT_SORT_UNKNOWN. And its name back. */
mdt_client_sort mdt_client_sort_from_name(const char *s);
const char *mdt_client_sort_name(mdt_client_sort sort);

/* Checks f: known kind, status and tier names (or empty), an owner of at
 * most MDT_CLIENT_OWNER_MAX bytes, a known sort, a limit within bounds.
 * MDT_ERR_INVALID_REQUEST naming the bad parameter. */
mdt_rc mdt_client_filter_check(const mdt_client_filter *f, mdt_err *err) MDT_WARN_UNUSED;

/* Whether the client c passes the filters of f (kind, owner, status,
 * tier; sort and page are not read). The admin API filters its documents
 * with it. */
bool mdt_client_filter_match(const mdt_client_filter *f, const mdt_client_summary *c);

/* The page of the clients matching f (checked with mdt_client_filter_check
 * first), sorted, at ctx->now. MDT_ERR_INVALID_REQUEST for a bad filter;
 * store faults keep their codes. */
mdt_rc mdt_client_query(mdt_env *env, mdt_ctx *ctx, const mdt_client_filter *f, mdt_arena *a,
                        mdt_client_page *out, mdt_err *err) MDT_WARN_UNUSED;

/* The pure part of mdt_client_query: keeps the items of all[0..n) that
 * match f (reordering all in place), sorts them by f's column and order
 * (stable; ties by client_id) and sets *out to the page of f (pointing into
 * all). f must be checked. a: scratch space for the sort (MDT_ERR_NOMEM). */
mdt_rc mdt_client_query_select(const mdt_client_filter *f, mdt_client_summary *all, size_t n,
                               mdt_arena *a, mdt_client_page *out, mdt_err *err) MDT_WARN_UNUSED;

#endif
