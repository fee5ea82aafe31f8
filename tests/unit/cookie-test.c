#include <string.h>
#include <json-glib/json-glib.h>

#include "cookie-test.h"
#include "md-error.h"

static const char *const known_features[] = { "stats", "migration-params", NULL };

MigrationCookie *decode_len(const char *data, gsize len, GError **error) {
        return migration_cookie_decode((const guint8 *) data, len, known_features, error);
}

MigrationCookie *decode(const char *json, GError **error) {
        return decode_len(json, strlen(json), error);
}

MigrationCookie *decode_ok(const char *json) {
        g_autoptr(GError) error = NULL;
        MigrationCookie *cookie = decode(json, &error);

        g_assert_no_error(error);
        g_assert_nonnull(cookie);
        return cookie;
}

void assert_message(const GError *error, const char *want) {
        if (!strstr(error->message, want)) {
                g_test_message("error \"%s\" does not mention \"%s\"", error->message, want);
                g_test_fail();
        }
}

void assert_error_len(const char *data, gsize len, int code, const char *want) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = decode_len(data, len, &error);

        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, code);
        assert_message(error, want);
}

void assert_invalid(const char *json, const char *want) {
        assert_error_len(json, strlen(json), MD_ERROR_INVALID_COOKIE, want);
}

/* BASE with @member set to the JSON text @value, spliced in verbatim (so
 * that json-glib does not normalize it first), or removed when NULL. */
char *base_with(const char *member, const char *value) {
        g_autoptr(JsonNode) root = json_from_string(BASE, NULL);
        g_autofree char *text = NULL;

        json_object_remove_member(json_node_get_object(root), member);
        text = json_to_string(root, FALSE);
        if (!value)
                return g_steal_pointer(&text);
        g_assert_true(g_str_has_suffix(text, "}"));
        text[strlen(text) - 1] = '\0';
        return g_strdup_printf("%s,\"%s\":%s}", text, member, value);
}

void assert_member_invalid(const char *member, const char *value, const char *want) {
        g_autofree char *json = base_with(member, value);

        assert_invalid(json, want);
}

void assert_member_ok(const char *member, const char *value) {
        g_autofree char *json = base_with(member, value);
        g_autoptr(MigrationCookie) cookie = decode_ok(json);

        g_assert_nonnull(cookie->name);
}

char *read_golden(const char *name) {
        const char *dir = g_getenv("MD_TEST_DATA_DIR");
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        char *contents = NULL;

        g_assert_nonnull(dir);
        path = g_build_filename(dir, "cookies", name, NULL);
        g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
        g_assert_no_error(error);
        return contents;
}

GVariant *lookup_stat(const MigrationCookie *cookie, const char *key, const char *type) {
        GVariant *value = g_variant_lookup_value(cookie->stats, key, G_VARIANT_TYPE(type));

        g_assert_nonnull(value);
        return value;
}

const MigrationCookieFeature *feature_at(const MigrationCookie *cookie, guint i) {
        g_assert_cmpuint(i, <, cookie->features->len);
        return cookie->features->pdata[i];
}

MigrationCookie *full_cookie(void) {
        MigrationCookie *cookie = migration_cookie_new();
        g_auto(GVariantBuilder) stats = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

        cookie->name = g_strdup("vm-ünïcode \"quoted\" \\ /");
        cookie->uuid = g_strdup(UUID);
        cookie->hostname = g_strdup("src.example.org");
        cookie->host_uuid = g_strdup(HOST_UUID);
        cookie->protocol = 3;
        cookie->phase = g_strdup("perform3");
        cookie->source_stop_time_ms = 1700000000123;
        migration_cookie_add_feature(cookie, "stats", FALSE);
        migration_cookie_add_feature(cookie, "migration-params", TRUE);
        g_variant_builder_add(&stats, "{sv}", "data_total", g_variant_new_uint64(G_MAXUINT64));
        g_variant_builder_add(&stats, "{sv}", "downtime", g_variant_new_uint64(48));
        g_variant_builder_add(&stats, "{sv}", "t_max_int", g_variant_new_uint64(G_MAXINT64));
        g_variant_builder_add(&stats, "{sv}", "x_min", g_variant_new_int64(G_MININT64));
        g_variant_builder_add(&stats, "{sv}", "x_max", g_variant_new_int64(G_MAXINT64));
        g_variant_builder_add(&stats, "{sv}", "u_max", g_variant_new_uint32(G_MAXUINT32));
        g_variant_builder_add(&stats, "{sv}", "i_min", g_variant_new_int32(G_MININT32));
        g_variant_builder_add(&stats, "{sv}", "progress", g_variant_new_double(0.1));
        g_variant_builder_add(&stats, "{sv}", "tiny", g_variant_new_double(-2.5e-300));
        g_variant_builder_add(&stats, "{sv}", "integral", g_variant_new_double(100.0));
        g_variant_builder_add(&stats, "{sv}", "success", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&stats, "{sv}", "errmsg", g_variant_new_string("tab\tnl\n\x01 \"q\" é"));
        g_variant_builder_add(&stats, "{sv}", "empty", g_variant_new_string(""));
        cookie->stats = g_variant_ref_sink(g_variant_builder_end(&stats));
        cookie->persistent_xml = g_strdup("<domain type='kvm'>\n  <name>vm1</name>\n"
                                          "  <description>&lt;\"x\"&gt; \u2603</description>\n</domain>\n");
        return cookie;
}

void assert_cookies_equal(const MigrationCookie *a, const MigrationCookie *b) {
        g_assert_cmpuint(a->version, ==, b->version);
        g_assert_cmpstr(a->name, ==, b->name);
        g_assert_cmpstr(a->uuid, ==, b->uuid);
        g_assert_cmpstr(a->hostname, ==, b->hostname);
        g_assert_cmpstr(a->host_uuid, ==, b->host_uuid);
        g_assert_cmpuint(a->protocol, ==, b->protocol);
        g_assert_cmpstr(a->phase, ==, b->phase);
        g_assert_cmpint(a->source_stop_time_ms, ==, b->source_stop_time_ms);
        g_assert_cmpuint(a->features->len, ==, b->features->len);
        for (guint i = 0; i < a->features->len; i++) {
                g_assert_cmpstr(feature_at(a, i)->name, ==, feature_at(b, i)->name);
                g_assert_cmpint(feature_at(a, i)->mandatory, ==, feature_at(b, i)->mandatory);
        }
        g_assert_true((a->stats == NULL) == (b->stats == NULL));
        if (a->stats)
                g_assert_true(g_variant_equal(a->stats, b->stats));
        g_assert_cmpstr(a->persistent_xml, ==, b->persistent_xml);
        g_assert_cmpint(a->ram_kib, ==, b->ram_kib);
        g_assert_cmpint(a->nbd_port, ==, b->nbd_port);
        g_assert_true((a->nbd_disks == NULL) == (b->nbd_disks == NULL));
        for (guint i = 0; a->nbd_disks && i < a->nbd_disks->len; i++) {
                const MigrationCookieDisk *x = a->nbd_disks->pdata[i], *y = b->nbd_disks->pdata[i];

                g_assert_cmpuint(a->nbd_disks->len, ==, b->nbd_disks->len);
                g_assert_cmpstr(x->target, ==, y->target);
                g_assert_cmpstr(x->format, ==, y->format);
                g_assert_cmpint(x->capacity, ==, y->capacity);
                g_assert_cmpstr(x->backing, ==, y->backing);
                g_assert_cmpstr(x->backing_format, ==, y->backing_format);
        }
}

MigrationCookie *round_trip(const MigrationCookie *cookie, GBytes **ret_bytes) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes = migration_cookie_encode(cookie, &error);
        MigrationCookie *decoded;
        gsize len;
        const char *data;

        g_assert_no_error(error);
        g_assert_nonnull(bytes);
        data = g_bytes_get_data(bytes, &len);
        g_assert_cmpuint(len, <=, MIGRATION_COOKIE_MAX_SIZE);
        decoded = decode_len(data, len, &error);
        g_assert_no_error(error);
        g_assert_nonnull(decoded);
        if (ret_bytes)
                *ret_bytes = g_steal_pointer(&bytes);
        return decoded;
}
