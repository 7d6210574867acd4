/* Common includes of the cmocka unit tests. */
#ifndef MDT_TESTS_UNIT_H
#define MDT_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include "core/mdt.h"

/* An advanceable clock for expiry and rotation tests. */
typedef struct {
    int64_t t;
} test_clock;

static inline int64_t test_clock_now(void *ctx) { return ((test_clock *)ctx)->t; }

/* Removes a flat temporary directory (a test's database and its -wal/-shm). */
static inline void test_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (d) {
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(dir);
}

#endif
