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

#include "core/mdt.h"

/* An advanceable clock for expiry and rotation tests. */
typedef struct {
    int64_t t;
} test_clock;

static inline int64_t test_clock_now(void *ctx) { return ((test_clock *)ctx)->t; }

#endif
