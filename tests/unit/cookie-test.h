/* What the migration cookie's unit tests share: a valid cookie to start
 * from, decoding with the daemon's known features, and the checks. */
#pragma once

#include <gio/gio.h>

#include "migration-cookie.h"

#define UUID "dcf47dbd-46d1-4d5b-b442-262a806a333a"
#define HOST_UUID "4a802f00-4cba-5df6-9679-a08c4c5b577f"

/* A valid cookie to start the malformed ones from. */
#define BASE "{\"format\": \"migrationd-cookie\", \"version\": 1, \"name\": \"vm1\", " \
        "\"uuid\": \"" UUID "\", \"hostname\": \"src\", \"host_uuid\": \"" HOST_UUID "\", " \
        "\"protocol\": 3, \"features\": [{\"name\": \"stats\", \"mandatory\": false}], " \
        "\"stats\": {\"downtime\": {\"type\": \"t\", \"value\": 48}}}"

MigrationCookie *decode_len(const char *data, gsize len, GError **error);
MigrationCookie *decode(const char *json, GError **error);
MigrationCookie *decode_ok(const char *json);
void assert_message(const GError *error, const char *want);
void assert_error_len(const char *data, gsize len, int code, const char *want);
void assert_invalid(const char *json, const char *want);
/* BASE with @member set to the JSON text @value, spliced in verbatim (so
 * that json-glib does not normalize it first), or removed when NULL. */
char *base_with(const char *member, const char *value);
void assert_member_invalid(const char *member, const char *value, const char *want);
void assert_member_ok(const char *member, const char *value);
char *read_golden(const char *name);
GVariant *lookup_stat(const MigrationCookie *cookie, const char *key, const char *type);
const MigrationCookieFeature *feature_at(const MigrationCookie *cookie, guint i);
MigrationCookie *full_cookie(void);
void assert_cookies_equal(const MigrationCookie *a, const MigrationCookie *b);
MigrationCookie *round_trip(const MigrationCookie *cookie, GBytes **ret_bytes);

void migration_cookie_nbd_add_tests(void);
void migration_cookie_decode_add_tests(void);
