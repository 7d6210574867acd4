/* The help of the command line: one table, one row per command, read by
 * `mandate --help` (every command's usage line), `mandate COMMAND... --help`
 * and `mandate help COMMAND...` (the command's usage, what it does, its
 * options and an example; for a group, every command of the group). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *group;   /* the first word: "client" */
    const char *words;   /* the words after it: "apikey create"; "" for the group itself */
    const char *args;    /* what follows the words in the usage line */
    const char *what;    /* one sentence (or a few) */
    const char *options; /* "  --name VALUE  text\n" lines; NULL when none */
    const char *example; /* a command line that works as written (after its setup) */
} help_row;

#define JSON_OPT "  --json               print one JSON document instead of text\n"

static const help_row rows[] = {
    {"init", "", "[--json]",
     "Creates the data directory, the database schema (or migrates it), the master key and the "
     "first signing key. Idempotent: run it again after an upgrade.",
     JSON_OPT, "mandate init"},
    {"serve", "", "[--dev]",
     "Runs the server until SIGTERM or SIGINT.",
     "  --dev                zero configuration: data in ./var, HTTP on 127.0.0.1:8080, runs init\n"
     "                       itself and creates the user admin on first start\n",
     "mandate serve --dev"},

    {"client", "", "COMMAND ...", "Manages clients (applications, agents, services) and their "
     "credentials.", NULL, NULL},
    {"client", "create", "[--json] < metadata.json",
     "Registers a client from RFC 7591 metadata (JSON, with Mandate's extensions) read on "
     "standard input, without registration policy, and prints the registration response. A "
     "generated client_secret is shown once.",
     JSON_OPT,
     "echo '{\"client_name\":\"Report bot\",\"grant_types\":[\"client_credentials\"],"
     "\"scope\":\"read\"}' | mandate client create"},
    {"client", "list", "[--json]", "Lists every client with its status.", JSON_OPT,
     "mandate client list --json"},
    {"client", "show", "ID [--json]",
     "Shows a client's metadata, status and credentials.", JSON_OPT,
     "mandate client show 3f6c1e0a-7b1d-4d0e-9a55-1c2d3e4f5a6b"},
    {"client", "update", "ID [--json] < metadata.json",
     "Merges the metadata read on standard input into the client's.", JSON_OPT,
     "echo '{\"scope\":\"read write\"}' | mandate client update ID"},
    {"client", "suspend", "ID [--json]",
     "Suspends a client: every token and refresh token it holds stops working at once, and it "
     "gets no new ones until resumed.", JSON_OPT, "mandate client suspend ID"},
    {"client", "resume", "ID [--json]", "Resumes a suspended client.", JSON_OPT,
     "mandate client resume ID"},
    {"client", "delete", "ID [--json]", "Deletes a client and its credentials and tokens.",
     JSON_OPT, "mandate client delete ID"},
    {"client", "secret rotate", "ID [--keep DURATION] [--json]",
     "Generates a new client secret (shown once).",
     "  --keep DURATION      the old secret stays valid this long (default 0: not at all)\n" JSON_OPT,
     "mandate client secret rotate ID --keep 1h"},
    {"client", "apikey create", "ID [--expires DURATION] [--json]",
     "Creates an API key for the client (shown once), exchanged at the token endpoint for "
     "access tokens.",
     "  --expires DURATION   the key stops working after this long (default: never)\n" JSON_OPT,
     "mandate client apikey create ID --expires 90d"},
    {"client", "apikey revoke", "ID KEYID [--json]", "Revokes one API key of the client.",
     JSON_OPT, "mandate client apikey revoke ID KEYID"},
    {"client", "credential expire", "ID CREDID [--in DURATION] [--json]",
     "Sets the expiry of one of the client's credentials (any type: secret, API key, key, "
     "certificate binding, workload identity), for example to retire it after a rotation.",
     "  --in DURATION        expire it this long from now (default 0: now)\n" JSON_OPT,
     "mandate client credential expire ID CREDID --in 1d"},

    {"scope", "", "COMMAND ...", "Manages scopes.", NULL, NULL},
    {"scope", "create", "NAME [--description TEXT] [--sensitivity none|consent|approval] "
     "[--resource URI]... [--json]",
     "Creates a scope.",
     "  --description TEXT   shown to people on the consent page\n"
     "  --sensitivity LEVEL  none, consent (a person consents) or approval (an approver "
     "decides)\n"
     "  --resource URI       a resource the scope is for (repeatable)\n" JSON_OPT,
     "mandate scope create read --description \"Read your reports\" --resource "
     "https://api.example.com"},
    {"scope", "list", "[--json]", "Lists the scopes.", JSON_OPT, "mandate scope list"},

    {"user", "", "COMMAND ...", "Manages people: those who sign in, approve and administer.",
     NULL, NULL},
    {"user", "create", "USERNAME [--name TEXT] [--email E] [--role admin|approver|auditor]... "
     "--password-stdin [--json]",
     "Creates a user whose password is the first line of standard input.",
     "  --name TEXT          display name\n"
     "  --email E            e-mail address\n"
     "  --role ROLE          admin, approver or auditor (repeatable)\n"
     "  --password-stdin     read the password from the first line of standard input\n" JSON_OPT,
     "printf '%s\\n' \"$PASSWORD\" | mandate user create ann --role approver --password-stdin"},
    {"user", "list", "[--json]", "Lists the users.", JSON_OPT, "mandate user list"},
    {"user", "passwd", "USERNAME --password-stdin [--json]",
     "Sets a user's password from the first line of standard input.",
     "  --password-stdin     read the password from the first line of standard input\n" JSON_OPT,
     "printf '%s\\n' \"$PASSWORD\" | mandate user passwd ann --password-stdin"},
    {"user", "disable", "USERNAME [--json]", "Disables a user: they can no longer sign in.",
     JSON_OPT, "mandate user disable ann"},

    {"iat", "", "COMMAND ...", "Initial access tokens, which let a client register itself "
     "within a policy (RFC 7591).", NULL, NULL},
    {"iat", "create", "[--max-uses N] [--expires DURATION] [--policy JSON] [--json]",
     "Creates an initial access token (shown once).",
     "  --max-uses N         how many registrations it allows (default 1)\n"
     "  --expires DURATION   it stops working after this long (default: never)\n"
     "  --policy JSON        what clients registered with it may have: {\"grant_types\",\n"
     "                       \"scopes\", \"kinds\", \"owner\"}\n" JSON_OPT,
     "mandate iat create --max-uses 5 --expires 1d --policy '{\"scopes\":[\"read\"]}'"},

    {"request", "", "COMMAND ...", "Requests waiting for a person's decision: registrations and "
     "access requests.", NULL, NULL},
    {"request", "list", "[--status pending|approved|denied|expired] [--json]",
     "Lists requests, oldest first.",
     "  --status STATUS      only requests in this status\n" JSON_OPT,
     "mandate request list --status pending"},
    {"request", "approve", "ID [--for DURATION] [--by USERNAME] [--note TEXT] [--json]",
     "Approves a request.",
     "  --for DURATION       the approval lasts this long (a registration: default no end;\n"
     "                       an access request: at most what it asked and\n"
     "                       [access_requests] max_duration)\n"
     "  --by USERNAME        who decides: an approver, an admin or the client's owner\n"
     "  --note TEXT          recorded with the decision\n" JSON_OPT,
     "mandate request approve ID --by ann --note \"checked with the team\""},
    {"request", "deny", "ID [--by USERNAME] [--note TEXT] [--json]", "Denies a request.",
     "  --by USERNAME        who decides: an approver, an admin or the client's owner\n"
     "  --note TEXT          recorded with the decision\n" JSON_OPT,
     "mandate request deny ID --by ann --note \"not for production\""},

    {"review", "", "[--json] | certify|revoke ID ...",
     "Access review: lists the findings about clients (ownerless, unused entitlements, old "
     "credentials, symmetric credentials on high-tier clients, clients that never "
     "authenticated, expired clients holding refresh tokens) that hold and are not certified.",
     JSON_OPT, "mandate review --json"},
    {"review", "certify", "ID --note TEXT --until DATE|DURATION [--by USERNAME] [--json]",
     "Certifies a finding: it stays quiet until then, and reappears if it still holds.",
     "  --note TEXT          why (required)\n"
     "  --until WHEN         an RFC 3339 time or a duration from now (at most [review]\n"
     "                       max_certify)\n"
     "  --by USERNAME        who decides: an admin, or the client's owner\n" JSON_OPT,
     "mandate review certify fnd_... --note \"batch job, runs quarterly\" --until 90d"},
    {"review", "revoke", "ID [--by USERNAME] [--note TEXT] [--json]",
     "Revokes a finding: removes the unused scope, expires the old or symmetric credentials, "
     "suspends an ownerless or never-used client, or revokes an expired client's refresh "
     "tokens.",
     "  --by USERNAME        who decides: an admin, or the client's owner\n"
     "  --note TEXT          recorded with the decision\n" JSON_OPT,
     "mandate review revoke fnd_... --by ann"},

    {"policy", "", "COMMAND ...",
     "Manages and tests the Cedar policies of the embedded policy decision point (kept in the "
     "database: every node decides alike and picks up a change within a second).", NULL, NULL},
    {"policy", "add", "ID [--file FILE] [--description TEXT] [--replace] [--json]",
     "Stores a text of Cedar policies (standard input without --file) under ID "
     "([A-Za-z0-9._:-], at most 128). Its policies are named ID (one policy), ID.0, ID.1, ... "
     "(several), or by their @id annotation. Refused when it does not parse (the error names "
     "line and column) or when a policy id would be used twice.",
     "  --file FILE          read the text from FILE\n"
     "  --description TEXT   what the policies are for\n"
     "  --replace            replace the text stored under ID\n" JSON_OPT,
     "echo 'forbid(principal, action, resource) when { principal.risk_tier == \"high\" };' | "
     "mandate policy add no-high-tier"},
    {"policy", "list", "[--json]",
     "Lists the stored policy texts: id, description, times, SHA-256 of the text and the ids of "
     "its policies.",
     JSON_OPT, "mandate policy list"},
    {"policy", "show", "ID [--json]", "Shows a stored policy text.", JSON_OPT,
     "mandate policy show no-high-tier"},
    {"policy", "remove", "ID [--json]", "Removes a stored policy text.", JSON_OPT,
     "mandate policy remove no-high-tier"},
    {"policy", "validate", "[--file FILE] [--json]",
     "Parses a policy text (standard input without --file) and prints the ids of its policies, "
     "or the error with its line and column (exit status 1). Stores nothing and needs no "
     "database.",
     "  --file FILE          read the text from FILE\n" JSON_OPT,
     "mandate policy validate --file my-policies.cedar"},
    {"policy", "eval", "[--policies FILE] [--entities FILE] --json",
     "Decides one AuthZEN evaluation request read on standard input and prints the AuthZEN "
     "response {\"decision\", \"context\": {\"reasons\", \"errors\"}}. Without --policies, the "
     "server's policies; without --entities, the server's data (clients, users, scopes, "
     "resources and the files of [policy] entities).",
     "  --policies FILE      decide with the Cedar policies of FILE instead\n"
     "  --entities FILE      decide over the Cedar entity JSON of FILE instead\n" JSON_OPT,
     "echo '{\"subject\":{\"type\":\"Client\",\"id\":\"bot\"},\"action\":{\"name\":"
     "\"token.issue\"},\"resource\":{\"type\":\"Scope\",\"id\":\"read\"}}' | "
     "mandate policy eval --json"},

    {"keys", "", "COMMAND ...", "Signing keys.", NULL, NULL},
    {"keys", "list", "[--json]", "Lists the signing keys and their schedule.", JSON_OPT,
     "mandate keys list"},
    {"keys", "rotate", "[--json]",
     "Adds a signing key, published at once and signing after the activation delay; the old "
     "one retires then.", JSON_OPT, "mandate keys rotate"},

    {"audit", "", "COMMAND ...", "The hash-chained audit log.", NULL, NULL},
    {"audit", "verify", "[--checkpoint FILE] [--json]",
     "Checks the whole chain: each event's HMAC under the audit key, the links and the signed "
     "checkpoints; exits non-zero naming the first event that does not verify.",
     "  --checkpoint FILE    also check against a checkpoint exported earlier (audit checkpoint\n"
     "                       --json): detects events deleted after it\n" JSON_OPT,
     "mandate audit verify --checkpoint audit-checkpoint.json"},
    {"audit", "checkpoint", "[--json]",
     "Signs a checkpoint of the chain's head (unless the last one covers it) and prints the "
     "latest; with --json, the document to keep on another system.",
     JSON_OPT, "mandate audit checkpoint --json > audit-checkpoint.json"},
    {"audit", "export", "[--since TIME] [--client ID]",
     "Writes the events as NDJSON on standard output; with --client, one client's whole "
     "history (its tokens, refusals, authentication, changes and approvals).",
     "  --since TIME         only events at or after this RFC 3339 time\n"
     "  --client ID          only the events about this client\n",
     "mandate audit export --client billing-agent > billing-agent.ndjson"},
    {"audit", "tail", "[--lines N]", "Prints the last events, then new ones as they come, "
     "until interrupted.",
     "  --lines N            how many past events to print first (default 10)\n",
     "mandate audit tail --lines 50"},

    {"db", "", "COMMAND ...", "The database itself: backups, and the move to PostgreSQL.", NULL,
     NULL},
    {"db", "backup", "FILE [--json]",
     "Copies a SQLite database to FILE while the server runs: one consistent snapshot (the "
     "audit chain in it verifies), owner-only, checked for integrity and written under a "
     "temporary name first. FILE must not exist. The master key and the audit key are files "
     "beside the database: back them up separately, and keep them apart from the copy.",
     JSON_OPT, "mandate db backup /backup/mandate-2026-12-07.db"},
    {"db", "copy", "--to URL [--json]",
     "Copies the configured SQLite database into the empty PostgreSQL database of URL: "
     "clients, credentials, keys, users, consents, sessions, live tokens and codes, replay "
     "caches, rate counters and the audit chain as they are, in one transaction (all or "
     "nothing). Refused when the destination holds rows. Stop the server first, then point "
     "[storage] database at URL and start it with the same master key and audit key. The "
     "password in URL is never printed.",
     "  --to URL             postgresql://USER:PASSWORD@HOST/DB (or postgres://)\n" JSON_OPT,
     "mandate db copy --to postgresql://mandate@db.internal/mandate"},

    {"config-reference", "", "",
     "Prints the reference of every configuration key (Markdown), as in "
     "docs/configuration.md.", NULL, "mandate config-reference > configuration.md"},
    {"help", "", "[COMMAND...]",
     "Prints the help of a command, or of every command of a group; the same as "
     "`mandate COMMAND... --help`.", NULL, "mandate help client apikey create"},
};

static int print_usage(FILE *out, const help_row *r)
{
    return fprintf(out, "mandate %s%s%s%s%s\n", r->group, *r->words ? " " : "", r->words,
                   *r->args ? " " : "", r->args);
}

static void print_full(const help_row *r)
{
    printf("usage: ");
    print_usage(stdout, r);
    printf("\n%s\n", r->what);
    if (r->options)
        printf("\noptions:\n%s", r->options);
    if (r->example)
        printf("\nexample:\n  %s\n", r->example);
}

/* Does row r's command start with words[0..n)? */
static bool row_matches(const help_row *r, const char *const *words, int n)
{
    const char *w = r->words;

    if (n == 0 || strcmp(r->group, words[0]) != 0)
        return false;
    for (int i = 1; i < n; i++) {
        size_t len = strlen(words[i]);
        if (strncmp(w, words[i], len) != 0 || (w[len] != ' ' && w[len] != '\0'))
            return false;
        w += len + (w[len] == ' ');
    }
    return true;
}

/* A group's own row ("client COMMAND ..."), which only introduces it. */
static bool is_group_row(const help_row *r)
{
    return !*r->words && mdt_str_eq(r->args, "COMMAND ...");
}

int mdt_cli_usage(FILE *out)
{
    fprintf(out, "usage: mandate [--config FILE] COMMAND [ARGS...] [--json]\n"
                 "       mandate COMMAND... --help   or   mandate help COMMAND...\n"
                 "         (what a command does, its options and an example)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < MDT_ARRAY_LEN(rows); i++) {
        if (is_group_row(&rows[i])) {
            fprintf(out, "\n  %s: %s\n", rows[i].group, rows[i].what);
            continue;
        }
        if (!*rows[i].words && i > 0 && *rows[i - 1].words)
            fprintf(out, "\n");
        fprintf(out, "  ");
        print_usage(out, &rows[i]);
    }
    return out == stdout ? 0 : 1;
}

static size_t count_matches(const char *const *words, int n)
{
    size_t found = 0;

    for (size_t i = 0; i < MDT_ARRAY_LEN(rows); i++)
        found += row_matches(&rows[i], words, n);
    return found;
}

int mdt_cli_help(int n, const char *const *words)
{
    bool first = true;

    if (n == 0)
        return mdt_cli_usage(stdout);
    /* the longest known command among the words: "client show ID" is "client show" */
    while (n > 1 && count_matches(words, n) == 0)
        n--;
    if (count_matches(words, n) == 0)
        return mdt_cli_fail("unknown command '%s' (see mandate --help)", words[0]);
    for (size_t i = 0; i < MDT_ARRAY_LEN(rows); i++) {
        if (!row_matches(&rows[i], words, n))
            continue;
        if (!first)
            printf("\n");
        first = false;
        print_full(&rows[i]);
    }
    return fflush(stdout) != 0;
}
