#include "unit.h"

#include <stdio.h>
#include <unistd.h>

#include "core/config.h"


/* Every key of SPEC §2.2 and the brief, as "section", "key", "env". */
static const char *const all_keys[][3] = {
    {"server", "issuer", "MANDATE_SERVER_ISSUER"},
    {"server", "listen", "MANDATE_SERVER_LISTEN"},
    {"server", "tls_cert", "MANDATE_SERVER_TLS_CERT"},
    {"server", "tls_key", "MANDATE_SERVER_TLS_KEY"},
    {"server", "tls_client_ca", "MANDATE_SERVER_TLS_CLIENT_CA"},
    {"server", "trusted_proxies", "MANDATE_SERVER_TRUSTED_PROXIES"},
    {"server", "threads", "MANDATE_SERVER_THREADS"},
    {"server", "max_body_bytes", "MANDATE_SERVER_MAX_BODY_BYTES"},
    {"server", "shutdown_grace", "MANDATE_SERVER_SHUTDOWN_GRACE"},
    {"storage", "database", "MANDATE_STORAGE_DATABASE"},
    {"storage", "data_dir", "MANDATE_STORAGE_DATA_DIR"},
    {"keys", "master_key_file", "MANDATE_KEYS_MASTER_KEY_FILE"},
    {"keys", "key_activation_delay", "MANDATE_KEYS_KEY_ACTIVATION_DELAY"},
    {"keys", "jwks_cache_ttl", "MANDATE_KEYS_JWKS_CACHE_TTL"},
    {"tokens", "access_token_ttl", "MANDATE_TOKENS_ACCESS_TOKEN_TTL"},
    {"tokens", "access_token_format", "MANDATE_TOKENS_ACCESS_TOKEN_FORMAT"},
    {"tokens", "refresh_token_ttl", "MANDATE_TOKENS_REFRESH_TOKEN_TTL"},
    {"tokens", "signing_alg", "MANDATE_TOKENS_SIGNING_ALG"},
    {"audit", "max_batch", "MANDATE_AUDIT_MAX_BATCH"},
    {"log", "level", "MANDATE_LOG_LEVEL"},
    {"log", "access_log", "MANDATE_LOG_ACCESS_LOG"},
};

/* Removes every MANDATE_* variable so that the caller's environment cannot leak in. */
static void clear_env(void)
{
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_keys); i++)
        unsetenv(all_keys[i][2]);
}

/* Writes text to a fresh temporary file, loads it, removes it. path receives its name. */
static mdt_rc load_text(const char *text, mdt_config *cfg, mdt_err *err, char path[64])
{
    FILE *f;
    int fd;
    mdt_rc rc;

    snprintf(path, 64, "/tmp/mdt-test-config-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    rc = mdt_config_load(cfg, path, err);
    unlink(path);
    return rc;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static void test_defaults(void **state)
{
    mdt_config cfg;
    mdt_err err = {0};
    (void)state;

    clear_env();
    assert_int_equal(mdt_config_defaults(&cfg, &err), MDT_OK);
    assert_string_equal(cfg.issuer, "http://127.0.0.1:8080");
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.tls_cert, "");
    assert_string_equal(cfg.tls_key, "");
    assert_string_equal(cfg.tls_client_ca, "");
    assert_string_equal(cfg.trusted_proxies, "");
    assert_int_equal(cfg.threads, 0);
    assert_int_equal(cfg.max_body_bytes, 65536);
    assert_int_equal(cfg.shutdown_grace, 10);
    assert_string_equal(cfg.database, "sqlite:var/mandate.db");
    assert_string_equal(cfg.data_dir, "var");
    assert_string_equal(cfg.master_key_file, "");
    assert_int_equal(cfg.key_activation_delay, 0);
    assert_int_equal(cfg.jwks_cache_ttl, 300);
    assert_int_equal(cfg.access_token_ttl, 600);
    assert_string_equal(cfg.access_token_format, "jwt");
    assert_int_equal(cfg.refresh_token_ttl, 30 * 86400);
    assert_string_equal(cfg.signing_alg, "ES256");
    assert_int_equal(cfg.audit_max_batch, 256);
    assert_string_equal(cfg.log_level, "info");
    assert_true(cfg.access_log);
    assert_int_equal(mdt_config_validate(&cfg, &err), MDT_OK);
    mdt_config_free(&cfg);
    assert_null(cfg.issuer);

    /* no file: defaults, and master_key_file resolved under data_dir */
    assert_int_equal(mdt_config_load(&cfg, NULL, &err), MDT_OK);
    assert_string_equal(cfg.master_key_file, "var/master.key");
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    mdt_config_free(&cfg);
}

static void test_every_key(void **state)
{
    static const char text[] =
        "; Mandate configuration\n"
        "# hash comment\n"
        "[server]\n"
        "issuer = https://auth.example.com/tenant1\n"
        "listen = 0.0.0.0:8443 , [::1]:8443,localhost:9000\n"
        "tls_cert = /etc/mandate/cert.pem\n"
        "tls_key = /etc/mandate/key.pem\n"
        "tls_client_ca = /etc/mandate/ca.pem\n"
        "trusted_proxies = 10.0.0.0/8, 192.168.1.7, fd00::/8, ::1/128\n"
        "threads = 16\n"
        "max_body_bytes = 1048576\n"
        "shutdown_grace = 1m\n"
        "\n"
        "[storage]\n"
        "database = postgresql://mandate:s3cret@db.internal:5432/mandate\n"
        "data_dir = /srv/mandate/\n"
        "[keys]\n"
        "master_key_file = /run/secrets/master.key\n"
        "key_activation_delay = 1h\n"
        "jwks_cache_ttl = 90\n"
        "[tokens]\n"
        "access_token_ttl = 1d\n"
        "access_token_format = opaque\n"
        "refresh_token_ttl = 8h\n"
        "signing_alg = EdDSA\n"
        "[audit]\n"
        "max_batch = 10000\n"
        "[log]\n"
        "level = debug\n"
        "access_log = off\n";
    mdt_config cfg;
    mdt_err err = {0};
    char path[64];
    (void)state;

    clear_env();
    assert_int_equal(load_text(text, &cfg, &err, path), MDT_OK);
    assert_string_equal(cfg.issuer, "https://auth.example.com/tenant1");
    assert_string_equal(cfg.listen, "0.0.0.0:8443,[::1]:8443,localhost:9000");
    assert_string_equal(cfg.tls_cert, "/etc/mandate/cert.pem");
    assert_string_equal(cfg.tls_key, "/etc/mandate/key.pem");
    assert_string_equal(cfg.tls_client_ca, "/etc/mandate/ca.pem");
    assert_string_equal(cfg.trusted_proxies, "10.0.0.0/8,192.168.1.7,fd00::/8,::1/128");
    assert_int_equal(cfg.threads, 16);
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.shutdown_grace, 60);
    assert_string_equal(cfg.database, "postgresql://mandate:s3cret@db.internal:5432/mandate");
    assert_string_equal(cfg.data_dir, "/srv/mandate/");
    assert_string_equal(cfg.master_key_file, "/run/secrets/master.key");
    assert_int_equal(cfg.key_activation_delay, 3600);
    assert_int_equal(cfg.jwks_cache_ttl, 90);
    assert_int_equal(cfg.access_token_ttl, 86400);
    assert_string_equal(cfg.access_token_format, "opaque");
    assert_int_equal(cfg.refresh_token_ttl, 8 * 3600);
    assert_string_equal(cfg.signing_alg, "EdDSA");
    assert_int_equal(cfg.audit_max_batch, 10000);
    assert_string_equal(cfg.log_level, "debug");
    assert_false(cfg.access_log);
    mdt_config_free(&cfg);
}

static void test_inline_comments(void **state)
{
    static const char text[] =
        "[server]   ; the server\n"
        "  listen = 127.0.0.1:9000 ; where to listen\n"
        "    threads = 4\t; indented keys are keys, not continuations\n"
        "tls_cert =          ; PEM\n"
        "[storage]\r\n"
        "data_dir = /srv/a;b\r\n"
        "# database = mysql://nope\n"
        "[log]\n"
        "access_log = YES ; case-insensitive\n";
    mdt_config cfg;
    mdt_err err = {0};
    char path[64];
    (void)state;

    clear_env();
    assert_int_equal(load_text(text, &cfg, &err, path), MDT_OK);
    assert_string_equal(cfg.listen, "127.0.0.1:9000");
    assert_int_equal(cfg.threads, 4);
    assert_string_equal(cfg.tls_cert, "");
    assert_string_equal(cfg.data_dir, "/srv/a;b"); /* ';' without a blank before it is data */
    assert_string_equal(cfg.master_key_file, "/srv/a;b/master.key");
    assert_string_equal(cfg.database, "sqlite:var/mandate.db");
    assert_true(cfg.access_log);
    mdt_config_free(&cfg);
}

static void test_env_overrides(void **state)
{
    static const char text[] =
        "[server]\n"
        "threads = 4\n"
        "tls_cert = /c.pem\n"
        "[log]\n"
        "level = warn\n";
    mdt_config cfg;
    mdt_err err = {0};
    char path[64];
    (void)state;

    clear_env();
    setenv("MANDATE_SERVER_THREADS", "8", 1);
    setenv("MANDATE_SERVER_TLS_KEY", "/k.pem", 1); /* completes tls_cert from the file */
    setenv("MANDATE_TOKENS_ACCESS_TOKEN_TTL", " 15m ", 1);
    setenv("MANDATE_LOG_ACCESS_LOG", "0", 1);
    setenv("MANDATE_STORAGE_DATA_DIR", "/data", 1);
    assert_int_equal(load_text(text, &cfg, &err, path), MDT_OK);
    assert_int_equal(cfg.threads, 8);
    assert_string_equal(cfg.tls_cert, "/c.pem");
    assert_string_equal(cfg.tls_key, "/k.pem");
    assert_int_equal(cfg.access_token_ttl, 900);
    assert_false(cfg.access_log);
    assert_string_equal(cfg.log_level, "warn"); /* file value kept when no override */
    assert_string_equal(cfg.master_key_file, "/data/master.key");
    mdt_config_free(&cfg);

    /* a bad environment value names the variable */
    setenv("MANDATE_SERVER_THREADS", "many", 1);
    assert_int_equal(load_text(text, &cfg, &err, path), MDT_ERR_CONFIG);
    assert_true(contains(err.detail, "MANDATE_SERVER_THREADS: [server] threads:"));
    assert_null(cfg.issuer); /* freed on failure */

    /* a cross-key error caused by the environment names the variable */
    clear_env();
    setenv("MANDATE_SERVER_ISSUER", "http://auth.example.com", 1);
    assert_int_equal(mdt_config_load(&cfg, NULL, &err), MDT_ERR_CONFIG);
    assert_true(contains(err.detail, "MANDATE_SERVER_ISSUER: [server] issuer: must be https"));
    clear_env();
}

static const struct {
    const char *text;
    int line;
    const char *want; /* after "path:line: " */
} bad_files[] = {
    {"[server]\nlisen = 127.0.0.1:1\n", 2, "[server] lisen: unknown key"},
    {"[srv]\nthreads = 1\n", 1, "[srv]: unknown section"},
    {"[server]\n[bogus]\n", 2, "[bogus]: unknown section"},
    {"threads = 1\n", 1, "threads: key outside of any [section]"},
    {"[server]\nthis line has no equals sign\n", 2, "syntax error"},
    {"[server]\n\nshutdown_grace = 5x\n", 3, "[server] shutdown_grace: not a duration"},
    {"[keys]\njwks_cache_ttl = -1\n", 2, "[keys] jwks_cache_ttl: not a duration"},
    {"[tokens]\naccess_token_ttl = 2d\n", 2, "[tokens] access_token_ttl: must be from 1s to 1d"},
    {"[tokens]\naccess_token_ttl = 0\n", 2, "[tokens] access_token_ttl: must be from 1s to 1d"},
    {"[server]\nthreads = 257\n", 2, "[server] threads: must be an integer from 0 to 256"},
    {"[server]\nthreads = -1\n", 2, "[server] threads: must be an integer"},
    {"[server]\nthreads = 4x\n", 2, "[server] threads: must be an integer"},
    {"[server]\nmax_body_bytes = 1023\n", 2, "[server] max_body_bytes: must be an integer"},
    {"[audit]\nmax_batch = 0\n", 2, "[audit] max_batch: must be an integer from 1 to 10000"},
    {"[tokens]\nsigning_alg = HS256\n", 2,
     "[tokens] signing_alg: must be one of ES256, RS256, PS256, EdDSA"},
    {"[tokens]\naccess_token_format = JWT\n", 2, "[tokens] access_token_format: must be one of"},
    {"[log]\nlevel = verbose\n", 2, "[log] level: must be one of debug, info, warn, error"},
    {"[log]\naccess_log = maybe\n", 2, "[log] access_log: must be true or false"},
    {"[server]\nlisten = 127.0.0.1\n", 2, "[server] listen: \"127.0.0.1\": missing :port"},
    {"[server]\nlisten = 127.0.0.1:0\n", 2, "[server] listen: \"127.0.0.1:0\": port must be"},
    {"[server]\nlisten = 127.0.0.1:65536\n", 2, "[server] listen: \"127.0.0.1:65536\": port must be 1-65535"},
    {"[server]\nlisten = ::1:8080\n", 2, "[server] listen: \"::1:8080\": IPv6 addresses must"},
    {"[server]\nlisten = [::g]:8080\n", 2, "[server] listen: \"[::g]:8080\": bad IPv6 address"},
    {"[server]\nlisten = 300.1.1.1:80\n", 2, "[server] listen: \"300.1.1.1:80\": bad host"},
    {"[server]\nlisten = a:1,,b:2\n", 2, "[server] listen: \"\": empty entry"},
    {"[server]\nlisten =\n", 2, "[server] listen: must not be empty"},
    {"[server]\ntrusted_proxies = 10.0.0.0/33\n", 2,
     "[server] trusted_proxies: \"10.0.0.0/33\": bad prefix length"},
    {"[server]\ntrusted_proxies = 10.0.0.1/8\n", 2,
     "[server] trusted_proxies: \"10.0.0.1/8\": address has bits set"},
    {"[server]\ntrusted_proxies = ::1/129\n", 2,
     "[server] trusted_proxies: \"::1/129\": bad prefix length"},
    {"[server]\ntrusted_proxies = 10.0.0.0/8, proxy.local\n", 2,
     "[server] trusted_proxies: \"proxy.local\": not an IP address"},
    {"[server]\ntrusted_proxies = 10.0.0.0/\n", 2,
     "[server] trusted_proxies: \"10.0.0.0/\": bad prefix length"},
    {"[server]\nissuer = http://auth.example.com\n", 2,
     "[server] issuer: must be https unless the host is loopback"},
    {"[server]\nissuer = http://127.0.0.1.example.com\n", 2, "[server] issuer: must be https"},
    {"[server]\nissuer = https://auth.example.com/\n", 2, "[server] issuer: must not end with"},
    {"[server]\nissuer = https://auth.example.com?a=b\n", 2, "[server] issuer: must not have a query"},
    {"[server]\nissuer = https://auth.example.com#f\n", 2, "[server] issuer: must not have a query"},
    {"[server]\nissuer = https://u@auth.example.com\n", 2, "[server] issuer: must not contain user"},
    {"[server]\nissuer = ftp://auth.example.com\n", 2, "[server] issuer: must be an https://"},
    {"[server]\nissuer = https://auth.example.com:0\n", 2, "[server] issuer: port must be"},
    {"[server]\n\ntls_cert = /c.pem\n", 3, "[server] tls_cert: set without tls_key"},
    {"[server]\ntls_key = /k.pem\n", 2, "[server] tls_key: set without tls_cert"},
    {"[server]\ntls_client_ca = /ca.pem\n", 2, "[server] tls_client_ca: needs tls_cert"},
    {"[server]\noutbound_ca_file = /nonexistent/ca.pem\n", 2,
     "[server] outbound_ca_file: file not found"},
    {"[server]\noutbound_ca_file = /dev/null\n", 2, "[server] outbound_ca_file: not a regular file"},
    {"[server]\noutbound_ca_file = /dev/zero\n", 2, "[server] outbound_ca_file: not a regular file"},
    {"[server]\noutbound_ca_file = /\n", 2, "[server] outbound_ca_file: not a regular file"},
    {"[storage]\ndatabase = mysql://db/x\n", 2, "[storage] database: must start with sqlite:"},
    {"[storage]\ndatabase = sqlite:\n", 2, "[storage] database: sqlite: needs a path"},
    {"[storage]\ndata_dir =\n", 2, "[storage] data_dir: must not be empty"},
    {"[server]\nthreads = 2\nthreads = 3\n", 3,
     "[server] threads: duplicated key (first set on line 2)"},
    {"[server]\nthreads = 2\n[log]\nlevel = info\n[server]\nthreads = 3\n", 6,
     "[server] threads: duplicated key"},
};

static void test_bad_files(void **state)
{
    (void)state;
    clear_env();
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad_files); i++) {
        mdt_config cfg;
        mdt_err err = {0};
        char path[64], want[320];
        mdt_rc rc = load_text(bad_files[i].text, &cfg, &err, path);

        snprintf(want, sizeof(want), "%s:%d: %s", path, bad_files[i].line, bad_files[i].want);
        if (rc != MDT_ERR_CONFIG || !contains(err.detail, want))
            fail_msg("case %zu: rc %d detail \"%s\", want \"%s\"", i, rc, err.detail, want);
        assert_int_equal(err.rc, MDT_ERR_CONFIG);
        assert_non_null(err.msg);
        assert_null(cfg.issuer); /* freed and zeroed on failure */
    }
}

static void test_no_secret_in_errors(void **state)
{
    mdt_config cfg;
    mdt_err err = {0};
    char path[64];
    (void)state;

    clear_env();
    assert_int_equal(load_text("[storage]\ndatabase = mysql://u:hunter2@db/x\n", &cfg, &err, path),
                     MDT_ERR_CONFIG);
    assert_false(contains(err.detail, "hunter2"));
    assert_false(contains(err.msg, "hunter2"));
}

static void test_loopback_issuers(void **state)
{
    static const char *const ok[] = {
        "http://localhost:8080", "http://LOCALHOST", "http://127.5.0.1", "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]", "https://auth.example.com", "https://[2001:db8::1]:8443/x",
    };
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(ok); i++) {
        mdt_config cfg;
        mdt_err err = {0};
        assert_int_equal(mdt_config_defaults(&cfg, &err), MDT_OK);
        if (mdt_config_set(&cfg, "server", "issuer", ok[i], NULL, 0, &err) != MDT_OK ||
            mdt_config_validate(&cfg, &err) != MDT_OK)
            fail_msg("%s: %s", ok[i], err.detail);
        mdt_config_free(&cfg);
    }
}

/* A bundle is accepted when a certificate marker is anywhere in it, also
 * across the boundary of two reads. */
static void test_outbound_ca_file(void **state)
{
    static const char marker[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    static const size_t pads[] = {0, 4000, 4090, 4096, 9000};
    char path[] = "/tmp/mandate-ca-XXXXXX";
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(pads); i++) {
        mdt_config cfg;
        mdt_err err = {0};
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        assert_non_null(f);
        for (size_t j = 0; j < pads[i]; j++)
            fputc(j % 64 == 63 ? '\n' : '#', f);
        fputs(marker, f);
        fclose(f);
        assert_int_equal(mdt_config_defaults(&cfg, &err), MDT_OK);
        if (mdt_config_set(&cfg, "server", "outbound_ca_file", path, NULL, 0, &err) != MDT_OK ||
            mdt_config_validate(&cfg, &err) != MDT_OK)
            fail_msg("padding %zu: %s", pads[i], err.detail);
        assert_string_equal(cfg.outbound_ca_file, path);
        mdt_config_free(&cfg);
        unlink(path);
        memcpy(path + strlen(path) - 6, "XXXXXX", 6);
    }
    { /* a regular file without a certificate */
        mdt_config cfg;
        mdt_err err = {0};
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        assert_non_null(f);
        fputs("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", f);
        fclose(f);
        assert_int_equal(mdt_config_defaults(&cfg, &err), MDT_OK);
        assert_int_equal(mdt_config_set(&cfg, "server", "outbound_ca_file", path, NULL, 0, &err),
                         MDT_OK);
        assert_int_equal(mdt_config_validate(&cfg, &err), MDT_ERR_CONFIG);
        assert_true(contains(err.detail, "[server] outbound_ca_file: holds no PEM certificate"));
        mdt_config_free(&cfg);
        unlink(path);
    }
}

static void test_missing_file(void **state)
{
    mdt_config cfg;
    mdt_err err = {0};
    (void)state;

    clear_env();
    assert_int_equal(mdt_config_load(&cfg, "/nonexistent/mandate.conf", &err), MDT_ERR_CONFIG);
    assert_true(contains(err.detail, "/nonexistent/mandate.conf"));
    assert_true(contains(err.detail, "No such file"));
    assert_null(cfg.issuer);
}

static void test_long_line(void **state)
{
    char text[600];
    mdt_config cfg;
    mdt_err err = {0};
    char path[64];
    (void)state;

    clear_env();
    memset(text, 0, sizeof(text));
    memcpy(text, "[storage]\ndata_dir = ", 21);
    memset(text + 21, 'a', 400);
    text[421] = '\n';
    assert_int_equal(load_text(text, &cfg, &err, path), MDT_ERR_CONFIG);
    assert_true(contains(err.detail, ":2: line longer than"));
}

static void test_set_and_validate(void **state)
{
    mdt_config cfg = {0};
    mdt_err err = {0};
    (void)state;

    mdt_config_free(&cfg); /* a zeroed struct is fine */
    assert_int_equal(mdt_config_validate(&cfg, &err), MDT_ERR_CONFIG);
    assert_true(contains(err.detail, "[server] issuer: not set"));

    assert_int_equal(mdt_config_defaults(&cfg, &err), MDT_OK);
    assert_int_equal(mdt_config_set(&cfg, "server", "nope", "1", NULL, 0, &err), MDT_ERR_CONFIG);
    assert_string_equal(err.detail, "[server] nope: unknown key");
    assert_int_equal(mdt_config_set(&cfg, "nope", "threads", "1", "x.conf", 7, &err),
                     MDT_ERR_CONFIG);
    assert_string_equal(err.detail, "x.conf:7: [nope] threads: unknown section");
    /* a failed set leaves the old value */
    assert_int_equal(mdt_config_set(&cfg, "log", "level", "loud", NULL, 0, &err), MDT_ERR_CONFIG);
    assert_string_equal(cfg.log_level, "info");
    assert_int_equal(mdt_config_set(&cfg, "log", "level", "error", NULL, 0, &err), MDT_OK);
    assert_string_equal(cfg.log_level, "error");
    /* the cross-key error names where the key was set */
    assert_int_equal(mdt_config_set(&cfg, "server", "tls_key", "/k", "a.conf", 3, &err), MDT_OK);
    assert_int_equal(mdt_config_validate(&cfg, &err), MDT_ERR_CONFIG);
    assert_string_equal(err.detail, "a.conf:3: [server] tls_key: set without tls_cert");
    assert_int_equal(mdt_config_set(&cfg, "server", "tls_cert", "/c", NULL, 0, &err), MDT_OK);
    assert_int_equal(mdt_config_validate(&cfg, &err), MDT_OK);
    /* every key of the list is known to the table */
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_keys); i++) {
        mdt_rc rc = mdt_config_set(&cfg, all_keys[i][0], all_keys[i][1], "", NULL, 0, &err);
        if (rc != MDT_OK && contains(err.detail, "unknown"))
            fail_msg("%s", err.detail);
    }
    mdt_config_free(&cfg);
}

typedef struct {
    char seen[8][64];
    int n;
} diff_seen;

static void seen_key(void *ctx, const char *section, const char *key, const char *at)
{
    diff_seen *d = ctx;
    if (d->n < 8)
        snprintf(d->seen[d->n++], sizeof(d->seen[0]), "%s.%s@%s", section, key, at ? at : "-");
}

static bool not_pdp(const char *section, const char *key)
{
    (void)key;
    return strcmp(section, "pdp") != 0;
}

/* SIGHUP compares the running configuration with the file: every kind of
 * key, and where the new value was set. */
static void test_diff(void **state)
{
    mdt_config a = {0}, b = {0};
    mdt_err err = {0};
    diff_seen d = {0};
    (void)state;

    assert_int_equal(mdt_config_defaults(&a, &err), MDT_OK);
    assert_int_equal(mdt_config_defaults(&b, &err), MDT_OK);
    assert_int_equal(mdt_config_diff(&a, &b, seen_key, &d), 0);
    assert_int_equal(mdt_config_set(&b, "pdp", "mode", "embedded", "m.conf", 3, &err), MDT_OK);
    assert_int_equal(mdt_config_set(&b, "pdp", "log_only", "true", "m.conf", 4, &err), MDT_OK);
    assert_int_equal(mdt_config_set(&b, "tokens", "access_token_ttl", "5m", "m.conf", 5, &err),
                     MDT_OK);
    assert_int_equal(mdt_config_set(&b, "log", "level", "info", "m.conf", 6, &err), MDT_OK);
    assert_int_equal(mdt_config_diff(&a, &b, seen_key, &d), 3); /* level: same value */
    assert_string_equal(d.seen[0], "tokens.access_token_ttl@m.conf:5");
    assert_string_equal(d.seen[1], "pdp.mode@m.conf:3");
    assert_string_equal(d.seen[2], "pdp.log_only@m.conf:4");
    /* the keys kept at their running value: only [pdp] still differs */
    assert_int_equal(mdt_config_keep(&b, &a, not_pdp, &err), MDT_OK);
    assert_int_equal(b.access_token_ttl, a.access_token_ttl);
    assert_string_equal(b.pdp_mode, "embedded");
    assert_int_equal(mdt_config_diff(&a, &b, NULL, NULL), 2);
    mdt_config_free(&a);
    mdt_config_free(&b);
}

static void test_reference(void **state)
{
    char *doc = NULL, want[128];
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    (void)state;

    assert_non_null(f);
    assert_int_equal(mdt_config_write_reference(f), 0);
    assert_int_equal(fclose(f), 0);
    assert_true(len > 0);
    assert_true(strncmp(doc, "# ", 2) == 0);
    assert_true(contains(doc, "MANDATE_<SECTION>_<KEY>"));
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_keys); i++) {
        snprintf(want, sizeof(want), "\n## [%s]\n", all_keys[i][0]);
        assert_true(contains(doc, want));
        snprintf(want, sizeof(want), "\n| `%s` |", all_keys[i][1]);
        if (!contains(doc, want))
            fail_msg("reference lacks %s", want);
        snprintf(want, sizeof(want), "| `%s` |\n", all_keys[i][2]);
        if (!contains(doc, want))
            fail_msg("reference lacks %s", want);
    }
    assert_true(contains(doc, "| `access_token_ttl` | duration, 1s to 1d | `10m` |"));
    assert_true(contains(doc, "| `threads` | integer, 0 to 256 | `0` |"));
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_inline_comments),
        cmocka_unit_test(test_env_overrides),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_no_secret_in_errors),
        cmocka_unit_test(test_loopback_issuers),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_outbound_ca_file),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_set_and_validate),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_reference),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
