/* The closed sets of values the service layer branches on, as enums, and
 * their names: the strings stored in the database and shown on the wire
 * (client metadata, CLI output, audit data), which never change.
 *
 * Each enum has a pair: *_name(value) gives the stored string (a static
 * string; NULL for a value out of range) and *_from_name(s) gives the value,
 * or the enum's UNKNOWN member for NULL or a string that is not a name.
 * Code of src/iga/ compares these enums instead of strings, so that a typo
 * is a compile error and a switch names every case. Grant types and client
 * authentication methods are not here: their rows in the registries
 * (iga/registry.h) are the one list of each. */
#ifndef MDT_IGA_NAMES_H
#define MDT_IGA_NAMES_H

/* The status of a client (stored; "expired" is also derived from
 * expires_at and the inactivity rule of self-registered clients). */
typedef enum {
    MDT_CLIENT_STATUS_UNKNOWN = 0,
    MDT_CLIENT_ACTIVE,
    MDT_CLIENT_PENDING,   /* a self-registration waiting for approval */
    MDT_CLIENT_SUSPENDED, /* kill switch: nothing of it is accepted */
    MDT_CLIENT_EXPIRED,
} mdt_client_status;

/* The kind of a client (metadata member "kind"). */
typedef enum {
    MDT_CLIENT_KIND_UNKNOWN = 0,
    MDT_CLIENT_KIND_AGENT,
    MDT_CLIENT_KIND_SERVICE,
    MDT_CLIENT_KIND_WEB,
    MDT_CLIENT_KIND_NATIVE,
    MDT_CLIENT_KIND_CLI,
} mdt_client_kind;

/* The type of a credential row (credentials.h). */
typedef enum {
    MDT_CRED_TYPE_UNKNOWN = 0,
    MDT_CRED_SECRET,       /* generated client secret */
    MDT_CRED_API_KEY,      /* generated API key (apikey.h) */
    MDT_CRED_JWK,          /* a registered key or jwks_uri (derived) */
    MDT_CRED_CERTIFICATE,  /* an RFC 8705 certificate binding (derived) */
    MDT_CRED_WORKLOAD,     /* a workload identity (derived) */
    MDT_CRED_REGISTRATION, /* a registration access token (RFC 7592) */
} mdt_cred_type;

/* The status of an approval request (requests.h; "expired" is derived,
 * never stored). */
typedef enum {
    MDT_REQUEST_STATUS_UNKNOWN = 0,
    MDT_REQUEST_PENDING,
    MDT_REQUEST_APPROVED,
    MDT_REQUEST_DENIED,
    MDT_REQUEST_EXPIRED,
} mdt_request_state;

const char *mdt_client_status_name(mdt_client_status s);
mdt_client_status mdt_client_status_from_name(const char *s);
const char *mdt_client_kind_name(mdt_client_kind k);
mdt_client_kind mdt_client_kind_from_name(const char *s);
const char *mdt_cred_type_name(mdt_cred_type t);
mdt_cred_type mdt_cred_type_from_name(const char *s);
const char *mdt_request_state_name(mdt_request_state s);
mdt_request_state mdt_request_state_from_name(const char *s);

#endif
