/* Arbitrary bytes as a peer's migration cookie: decoding either fails with
 * InvalidCookie or Unsupported and a valid UTF-8 message, or yields a cookie
 * that encodes and decodes again to the same fields and the same bytes. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "md-error.h"
#include "migration-cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known_features[] = { "stats", "migration-params", NULL };

#define CHECK(x)                                                                        \
        do {                                                                            \
                if (!(x)) {                                                             \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

static void check_same(const MigrationCookie *a, const MigrationCookie *b) {
        CHECK(g_str_equal(a->name, b->name));
        CHECK(g_str_equal(a->uuid, b->uuid));
        CHECK(g_str_equal(a->hostname, b->hostname));
        CHECK(g_str_equal(a->host_uuid, b->host_uuid));
        CHECK(a->protocol == b->protocol);
        CHECK(a->source_stop_time_ms == b->source_stop_time_ms);
        CHECK(a->features->len == b->features->len);
        for (guint i = 0; i < a->features->len; i++) {
                const MigrationCookieFeature *fa = a->features->pdata[i], *fb = b->features->pdata[i];

                CHECK(g_str_equal(fa->name, fb->name));
                CHECK(fa->mandatory == fb->mandatory);
        }
        CHECK((a->stats == NULL) == (b->stats == NULL));
        CHECK(!a->stats || g_variant_equal(a->stats, b->stats));
        CHECK(g_strcmp0(a->persistent_xml, b->persistent_xml) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = migration_cookie_decode(data, size, known_features, &error);
        g_autoptr(MigrationCookie) again = NULL;
        g_autoptr(GBytes) bytes = NULL, bytes_again = NULL;

        if (!cookie) {
                CHECK(error);
                CHECK(g_error_matches(error, MD_ERROR, MD_ERROR_INVALID_COOKIE) ||
                      g_error_matches(error, MD_ERROR, MD_ERROR_UNSUPPORTED));
                CHECK(g_utf8_validate(error->message, -1, NULL));
                return 0;
        }
        CHECK(!error);
        CHECK(g_uuid_string_is_valid(cookie->uuid) && g_uuid_string_is_valid(cookie->host_uuid));
        CHECK(!cookie->stats || g_variant_is_of_type(cookie->stats, G_VARIANT_TYPE_VARDICT));

        bytes = migration_cookie_encode(cookie, &error);
        if (!bytes) {
                /* Only the size may fail: the input may spell a value shorter
                 * than the encoder does (1e5 for 100000.0). */
                CHECK(g_error_matches(error, MD_ERROR, MD_ERROR_INVALID_COOKIE));
                CHECK(strstr(error->message, "more than the limit"));
                return 0;
        }
        again = migration_cookie_decode(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                                        known_features, &error);
        CHECK(again);
        check_same(cookie, again);

        /* The encoder is deterministic: what it wrote, it writes again. */
        bytes_again = migration_cookie_encode(again, &error);
        CHECK(bytes_again);
        CHECK(g_bytes_equal(bytes, bytes_again));
        return 0;
}
