#define _GNU_SOURCE
#include "app/env.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>


mdt_rc mdt_mkdirs(const char *path, mdt_err *err)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return mdt_fail(err, MDT_ERR_CONFIG, "bad directory path");
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return mdt_failf(err, MDT_ERR_IO, "cannot create directory", "cannot create %s: %s",
                             buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return mdt_failf(err, MDT_ERR_IO, "cannot create directory", "cannot create %s: %s", buf,
                         strerror(errno));
    return MDT_OK;
}

const char *mdt_env_config_source(const mdt_env *env)
{
    return env->config_file ? env->config_file : "built-in defaults (no ./mandate.conf here)";
}

const mdt_resources *mdt_env_resources(const mdt_env *env)
{
    return __atomic_load_n(&env->resources, __ATOMIC_ACQUIRE);
}

mdt_pdp *mdt_env_pdp(const mdt_env *env)
{
    return __atomic_load_n(&env->pdp, __ATOMIC_ACQUIRE);
}

mdt_webhooks *mdt_env_webhooks(const mdt_env *env)
{
    return __atomic_load_n(&env->webhooks, __ATOMIC_ACQUIRE);
}
