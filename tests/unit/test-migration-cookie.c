/* Unit tests of the migration cookie: round trips, the golden files of
 * tests/data/cookies (so the format stays stable), and every malformed shape
 * a peer could send. Each error is checked for its code and for a part of
 * its message that says what was wrong. */
#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "md-error.h"
#include "migration-cookie.h"

static const char *const known_features[] = { "stats", "migration-params", NULL };

#define UUID "dcf47dbd-46d1-4d5b-b442-262a806a333a"
#define HOST_UUID "4a802f00-4cba-5df6-9679-a08c4c5b577f"

/* A valid cookie to start the malformed ones from. */
#define BASE "{\"format\": \"migrationd-cookie\", \"version\": 1, \"name\": \"vm1\", " \
        "\"uuid\": \"" UUID "\", \"hostname\": \"src\", \"host_uuid\": \"" HOST_UUID "\", " \
        "\"protocol\": 3, \"features\": [{\"name\": \"stats\", \"mandatory\": false}], " \
        "\"stats\": {\"downtime\": {\"type\": \"t\", \"value\": 48}}}"

static MigrationCookie *decode_len(const char *data, gsize len, GError **error) {
        return migration_cookie_decode((const guint8 *) data, len, known_features, error);
}

static MigrationCookie *decode(const char *json, GError **error) {
        return decode_len(json, strlen(json), error);
}

static MigrationCookie *decode_ok(const char *json) {
        g_autoptr(GError) error = NULL;
        MigrationCookie *cookie = decode(json, &error);

        g_assert_no_error(error);
        g_assert_nonnull(cookie);
        return cookie;
}

static void assert_message(const GError *error, const char *want) {
        if (!strstr(error->message, want)) {
                g_test_message("error \"%s\" does not mention \"%s\"", error->message, want);
                g_test_fail();
        }
}

static void assert_error_len(const char *data, gsize len, int code, const char *want) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = decode_len(data, len, &error);

        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, code);
        assert_message(error, want);
}

static void assert_invalid(const char *json, const char *want) {
        assert_error_len(json, strlen(json), MD_ERROR_INVALID_COOKIE, want);
}

/* BASE with @member set to the JSON text @value, spliced in verbatim (so
 * that json-glib does not normalize it first), or removed when NULL. */
static char *base_with(const char *member, const char *value) {
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

static void assert_member_invalid(const char *member, const char *value, const char *want) {
        g_autofree char *json = base_with(member, value);

        assert_invalid(json, want);
}

static void assert_member_ok(const char *member, const char *value) {
        g_autofree char *json = base_with(member, value);
        g_autoptr(MigrationCookie) cookie = decode_ok(json);

        g_assert_nonnull(cookie->name);
}

static char *read_golden(const char *name) {
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

static GVariant *lookup_stat(const MigrationCookie *cookie, const char *key, const char *type) {
        GVariant *value = g_variant_lookup_value(cookie->stats, key, G_VARIANT_TYPE(type));

        g_assert_nonnull(value);
        return value;
}

static const MigrationCookieFeature *feature_at(const MigrationCookie *cookie, guint i) {
        g_assert_cmpuint(i, <, cookie->features->len);
        return cookie->features->pdata[i];
}

static MigrationCookie *full_cookie(void) {
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

static void assert_cookies_equal(const MigrationCookie *a, const MigrationCookie *b) {
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

static MigrationCookie *round_trip(const MigrationCookie *cookie, GBytes **ret_bytes) {
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

/* ---- Round trips ---- */

static void test_round_trip_full(void) {
        g_autoptr(MigrationCookie) cookie = full_cookie();
        g_autoptr(GBytes) bytes = NULL, again_bytes = NULL;
        g_autoptr(MigrationCookie) decoded = round_trip(cookie, &bytes);
        g_autoptr(MigrationCookie) again = round_trip(decoded, &again_bytes);
        g_autofree char *text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));

        assert_cookies_equal(cookie, decoded);
        assert_cookies_equal(cookie, again);
        /* Stable: encoding the decoded cookie gives the same bytes. */
        g_assert_true(g_bytes_equal(bytes, again_bytes));
        /* Compact, and the order of the golden files. */
        g_assert_true(g_str_has_prefix(text, "{\"format\":\"migrationd-cookie\",\"version\":1,\"name\":"));
        g_assert_null(strchr(text, '\n'));
        g_assert_nonnull(strstr(text, "\"data_total\":{\"type\":\"t\",\"value\":\"18446744073709551615\"}"));
        g_assert_nonnull(strstr(text, "\"downtime\":{\"type\":\"t\",\"value\":48}"));
        g_assert_true(g_variant_is_of_type(decoded->stats, G_VARIANT_TYPE_VARDICT));
        g_assert_false(g_variant_is_floating(decoded->stats));
}

static void test_round_trip_minimal(void) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_new();
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(MigrationCookie) decoded = NULL;
        g_autofree char *text = NULL;

        cookie->name = g_strdup("v");
        cookie->uuid = g_strdup(UUID);
        cookie->hostname = g_strdup("h");
        cookie->host_uuid = g_strdup(HOST_UUID);
        cookie->protocol = 2;
        decoded = round_trip(cookie, &bytes);
        assert_cookies_equal(cookie, decoded);
        g_assert_null(decoded->stats);
        g_assert_null(decoded->persistent_xml);
        g_assert_cmpint(decoded->source_stop_time_ms, ==, 0);
        text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
        g_assert_cmpstr(text, ==, "{\"format\":\"migrationd-cookie\",\"version\":1,\"name\":\"v\",\"uuid\":\"" UUID
                        "\",\"hostname\":\"h\",\"host_uuid\":\"" HOST_UUID "\",\"protocol\":2,\"features\":[]}");
}

/* The source QEMU's RAM size, which the destination's must match. */
static void test_round_trip_ram_kib(void) {
        g_autoptr(MigrationCookie) cookie = full_cookie();
        g_autoptr(MigrationCookie) decoded = NULL;
        g_autoptr(GBytes) bytes = NULL;

        cookie->ram_kib = 65544;
        decoded = round_trip(cookie, &bytes);
        assert_cookies_equal(cookie, decoded);
        g_assert_nonnull(g_strstr_len(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), "\"ram_kib\":65544"));
}

/* Storage migration: the disks the source copies, the destination's NBD port. */
static void test_round_trip_nbd(void) {
        g_autoptr(MigrationCookie) cookie = full_cookie();
        g_autoptr(MigrationCookie) decoded = NULL;
        g_autoptr(GBytes) bytes = NULL;

        migration_cookie_set_nbd_backing(migration_cookie_add_nbd_disk(cookie, "vda", "qcow2", 1 << 30),
                                         "/var/lib/images/base image.qcow2", "qcow2");
        migration_cookie_add_nbd_disk(cookie, "vdb", "raw", 4096);
        cookie->nbd_port = 49153;
        decoded = round_trip(cookie, &bytes);
        assert_cookies_equal(cookie, decoded);
        g_assert_cmpint(migration_cookie_find_nbd_disk(decoded, "vdb")->capacity, ==, 4096);
        g_assert_cmpstr(migration_cookie_find_nbd_disk(decoded, "vda")->backing, ==,
                        "/var/lib/images/base image.qcow2");
        g_assert_cmpstr(migration_cookie_find_nbd_disk(decoded, "vda")->backing_format, ==, "qcow2");
        g_assert_null(migration_cookie_find_nbd_disk(decoded, "vdb")->backing);
        g_assert_null(migration_cookie_find_nbd_disk(decoded, "vdb")->backing_format);
        g_assert_null(migration_cookie_find_nbd_disk(decoded, "vdc"));
        g_assert_nonnull(g_strstr_len(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                                      "\"nbd\":{\"port\":49153,\"disks\":[{\"target\":\"vda\""));
}

/* What encoding refuses, so that every cookie it writes decodes. */
static void test_encode_nbd_invalid(void) {
        static const struct { const char *target, *format; gint64 capacity; gint64 port; const char *want; } cases[] = {
                { NULL, "qcow2", 1, 0, "invalid target or format" },
                { "vda", NULL, 1, 0, "invalid target or format" },
                { "vd a", "qcow2", 1, 0, "invalid target or format" },
                { "vda", "qcow2", 0, 0, "no positive capacity" },
                { "vda", "qcow2", -5, 0, "no positive capacity" },
                { "vda", "qcow2", 1, 65536, "port out of range" },
                { "vda", "qcow2", 1, -1, "port out of range" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(MigrationCookie) cookie = full_cookie();
                g_autoptr(GError) error = NULL;
                g_autoptr(GBytes) bytes = NULL;

                migration_cookie_add_nbd_disk(cookie, cases[i].target, cases[i].format, cases[i].capacity);
                cookie->nbd_port = cases[i].port;
                bytes = migration_cookie_encode(cookie, &error);
                g_assert_null(bytes);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE);
                g_assert_nonnull(strstr(error->message, cases[i].want));
        }
}

/* NON_SHARED_INC's backing file: what encoding refuses (the destination
 * hands it to qemu-img create -b). */
static void test_encode_nbd_backing_invalid(void) {
        g_autofree char *long_path = g_strnfill(MIGRATION_COOKIE_MAX_PATH + 1, 'a');
        static const struct { const char *backing, *format, *want; } cases[] = {
                { "/base.qcow2", NULL, "backing file without its format" },
                { NULL, "qcow2", "format without a backing file" },
                { "base.qcow2", "qcow2", "invalid backing file" },
                { "json:{\"file\":{\"filename\":\"/etc/shadow\"}}", "raw", "invalid backing file" },
                { "nbd://evil.example/x", "raw", "invalid backing file" },
                { "/images/../etc/shadow", "raw", "invalid backing file" },
                { "/images/./base", "raw", "invalid backing file" },
                { "/images//base", "raw", "invalid backing file" },
                { "/images/base/", "raw", "invalid backing file" },
                { "/images/ba\nse", "raw", "invalid backing file" },
                { "/images/ba\x7fse", "raw", "invalid backing file" },
                { "/images/\xff\xfe", "raw", "invalid backing file" },
                { "/images/base", "raw,file.filename=/etc/shadow", "invalid backing format" },
                { "/images/base", "", "invalid backing format" },
                { NULL, NULL, "invalid backing file" },  /* long_path */
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                gboolean last = i == G_N_ELEMENTS(cases) - 1;
                g_autoptr(MigrationCookie) cookie = full_cookie();
                g_autoptr(GError) error = NULL;
                g_autoptr(GBytes) bytes = NULL;

                long_path[0] = '/';
                migration_cookie_set_nbd_backing(migration_cookie_add_nbd_disk(cookie, "vda", "qcow2", 1),
                                                 last ? long_path : cases[i].backing,
                                                 last ? "raw" : cases[i].format);
                bytes = migration_cookie_encode(cookie, &error);
                g_assert_null(bytes);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE);
                g_assert_nonnull(strstr(error->message, cases[i].want));
                g_assert_nonnull(strstr(error->message, "Disk vda"));
        }
}

static void test_decode_nbd_backing(void) {
        g_autofree char *long_path = g_strnfill(MIGRATION_COOKIE_MAX_PATH, 'a');
        g_autofree char *too_long = NULL;

        assert_member_ok("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                "\"backing\":\"/srv/base.qcow2\",\"backing_format\":\"qcow2\"}]}");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":\"/srv/base.qcow2\"}]}", "backing file without its format");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing_format\":\"raw\"}]}", "format without a backing file");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":7,\"backing_format\":\"raw\"}]}",
                              "member 'backing' must be a string, not an integer");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":\"/srv/b\",\"backing_format\":null}]}",
                              "member 'backing_format' must be a string");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":\"/srv/../etc/shadow\",\"backing_format\":\"raw\"}]}",
                              "invalid backing file");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":\"json:{}\",\"backing_format\":\"raw\"}]}",
                              "invalid backing file");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":\"/srv/b\\u0000x\",\"backing_format\":\"raw\"}]}",
                              "NUL character");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":\"/srv/b\\u001b[2J\",\"backing_format\":\"raw\"}]}",
                              "invalid backing file");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                     "\"backing\":\"/srv/b\",\"backing_format\":\"raw -o x\"}]}",
                              "invalid backing format");
        long_path[0] = '/';
        too_long = g_strdup_printf("{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                   "\"backing\":\"%sa\",\"backing_format\":\"raw\"}]}", long_path);
        assert_member_invalid("nbd", too_long, "invalid backing file");
        g_free(too_long);
        too_long = g_strdup_printf("{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,"
                                   "\"backing\":\"%s\",\"backing_format\":\"raw\"}]}", long_path);
        assert_member_ok("nbd", too_long);
}

static void test_decode_nbd(void) {
        g_autoptr(GString) many = g_string_new("{\"disks\":[");

        assert_member_ok("nbd", "{}");
        assert_member_ok("nbd", "{\"port\":1,\"disks\":[]}");
        assert_member_ok("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"qcow2\",\"capacity\":1,\"x\":[]}],"
                                "\"future\":true}");
        assert_member_invalid("nbd", "[]", "member 'nbd' must be an object, not an array");
        assert_member_invalid("nbd", "null", "member 'nbd' must be an object, not null");
        assert_member_invalid("nbd", "{\"port\":0}", "port out of range");
        assert_member_invalid("nbd", "{\"port\":65536}", "port out of range");
        assert_member_invalid("nbd", "{\"port\":-1}", "port out of range");
        assert_member_invalid("nbd", "{\"port\":\"49153\"}", "member 'port' must be an integer, not a string");
        assert_member_invalid("nbd", "{\"disks\":{}}", "member 'disks' must be an array, not an object");
        assert_member_invalid("nbd", "{\"disks\":[1]}", "Disk 0 of the migration cookie's 'nbd' must be an object");
        assert_member_invalid("nbd", "{\"disks\":[{\"format\":\"raw\",\"capacity\":1}]}", "lacks member 'target'");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"capacity\":1}]}", "lacks member 'format'");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"raw\"}]}",
                              "lacks member 'capacity'");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"../x\",\"format\":\"raw\",\"capacity\":1}]}",
                              "invalid target or format");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"raw,x=y\",\"capacity\":1}]}",
                              "invalid target or format");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"raw\",\"capacity\":0}]}",
                              "no positive capacity");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"raw\",\"capacity\":1.5}]}",
                              "member 'capacity' must be an integer");
        assert_member_invalid("nbd", "{\"disks\":[{\"target\":\"vda\",\"format\":\"raw\",\"capacity\":1},"
                                     "{\"target\":\"vda\",\"format\":\"raw\",\"capacity\":2}]}",
                              "lists disk vda twice");
        for (guint i = 0; i <= MIGRATION_COOKIE_MAX_DISKS; i++)
                g_string_append_printf(many, "%s{\"target\":\"vd%u\",\"format\":\"raw\",\"capacity\":1}",
                                       i ? "," : "", i);
        g_string_append(many, "]}");
        assert_member_invalid("nbd", many->str, "lists more than 64 disks");
}

static void test_round_trip_upper_case_uuid(void) {
        g_autoptr(MigrationCookie) cookie = full_cookie();
        g_autoptr(MigrationCookie) decoded = NULL;

        g_free(cookie->uuid);
        cookie->uuid = g_ascii_strup(UUID, -1);
        decoded = round_trip(cookie, NULL);
        g_assert_cmpstr(decoded->uuid, ==, UUID);
}

static void test_round_trip_empty_stats(void) {
        g_autoptr(MigrationCookie) cookie = full_cookie();
        g_autoptr(MigrationCookie) decoded = NULL;

        g_variant_unref(cookie->stats);
        cookie->stats = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
        decoded = round_trip(cookie, NULL);
        g_assert_nonnull(decoded->stats);
        g_assert_cmpuint(g_variant_n_children(decoded->stats), ==, 0);
}

/* ---- Golden files ---- */

/* Encoding what was decoded gives the same JSON tree as the file. */
static void assert_reencodes_to(const MigrationCookie *cookie, const char *golden) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes = migration_cookie_encode(cookie, &error);
        g_autofree char *text = NULL;
        g_autoptr(JsonNode) expected = json_from_string(golden, NULL);
        g_autoptr(JsonNode) actual = NULL;

        g_assert_no_error(error);
        text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
        actual = json_from_string(text, &error);
        g_assert_no_error(error);
        g_assert_true(json_node_equal(expected, actual));
}

static void test_golden_full(void) {
        g_autofree char *json = read_golden("v1-full.json");
        g_autoptr(MigrationCookie) cookie = decode_ok(json);
        g_autoptr(GVariant) time_elapsed = NULL, downtime = NULL, memory_total = NULL, memory_bps = NULL;
        g_autoptr(GVariant) offset = NULL, page = NULL, throttle = NULL, progress = NULL, success = NULL, phase = NULL;

        g_assert_cmpuint(cookie->version, ==, 1);
        g_assert_cmpstr(cookie->name, ==, "upstream");
        g_assert_cmpstr(cookie->uuid, ==, UUID);
        g_assert_cmpstr(cookie->hostname, ==, "src.example.org");
        g_assert_cmpstr(cookie->host_uuid, ==, HOST_UUID);
        g_assert_cmpuint(cookie->protocol, ==, 3);
        g_assert_cmpuint(cookie->features->len, ==, 2);
        g_assert_cmpstr(feature_at(cookie, 0)->name, ==, "stats");
        g_assert_false(feature_at(cookie, 0)->mandatory);
        g_assert_cmpstr(feature_at(cookie, 1)->name, ==, "migration-params");
        g_assert_true(feature_at(cookie, 1)->mandatory);
        g_assert_cmpint(cookie->source_stop_time_ms, ==, 1700000000123);

        g_assert_cmpuint(g_variant_n_children(cookie->stats), ==, 10);
        time_elapsed = lookup_stat(cookie, "time_elapsed", "t");
        g_assert_cmpuint(g_variant_get_uint64(time_elapsed), ==, 12034);
        downtime = lookup_stat(cookie, "downtime", "t");
        g_assert_cmpuint(g_variant_get_uint64(downtime), ==, 48);
        memory_total = lookup_stat(cookie, "memory_total", "t");
        g_assert_cmpuint(g_variant_get_uint64(memory_total), ==, 1073741824);
        memory_bps = lookup_stat(cookie, "memory_bps", "t");
        g_assert_cmpuint(g_variant_get_uint64(memory_bps), ==, G_MAXUINT64);
        offset = lookup_stat(cookie, "clock_offset_ms", "x");
        g_assert_cmpint(g_variant_get_int64(offset), ==, -3);
        page = lookup_stat(cookie, "memory_page_size", "u");
        g_assert_cmpuint(g_variant_get_uint32(page), ==, 4096);
        throttle = lookup_stat(cookie, "auto_converge_throttle", "i");
        g_assert_cmpint(g_variant_get_int32(throttle), ==, 20);
        progress = lookup_stat(cookie, "progress", "d");
        g_assert_cmpfloat(g_variant_get_double(progress), ==, 99.5);
        success = lookup_stat(cookie, "success", "b");
        g_assert_true(g_variant_get_boolean(success));
        phase = lookup_stat(cookie, "phase", "s");
        g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "perform3_done");

        g_assert_cmpstr(cookie->persistent_xml, ==,
                        "<domain type='kvm'>\n  <name>upstream</name>\n  <uuid>" UUID "</uuid>\n"
                        "  <description>café \"quoted\"</description>\n</domain>\n");
        assert_reencodes_to(cookie, json);
}

static void test_golden_minimal(void) {
        g_autofree char *json = read_golden("v1-minimal.json");
        g_autoptr(MigrationCookie) cookie = decode_ok(json);

        g_assert_cmpstr(cookie->name, ==, "vm1");
        g_assert_cmpstr(cookie->uuid, ==, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
        g_assert_cmpstr(cookie->hostname, ==, "dst.example.org");
        g_assert_cmpstr(cookie->host_uuid, ==, "8d2f1c5e-3b4a-4c6d-9e8f-0a1b2c3d4e5f");
        g_assert_cmpuint(cookie->protocol, ==, 2);
        g_assert_cmpuint(cookie->features->len, ==, 0);
        g_assert_cmpint(cookie->source_stop_time_ms, ==, 0);
        g_assert_null(cookie->stats);
        g_assert_null(cookie->persistent_xml);
        assert_reencodes_to(cookie, json);
}

static void test_golden_forward_compat(void) {
        g_autofree char *json = read_golden("v1-forward-compat.json");
        g_autoptr(MigrationCookie) cookie = decode_ok(json);
        g_autoptr(GVariant) downtime = NULL;

        g_assert_cmpstr(cookie->uuid, ==, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
        g_assert_cmpstr(cookie->host_uuid, ==, "8d2f1c5e-3b4a-4c6d-9e8f-0a1b2c3d4e5f");
        /* The unknown optional feature is kept for the caller to see. */
        g_assert_cmpuint(cookie->features->len, ==, 2);
        g_assert_true(migration_cookie_has_feature(cookie, "stats"));
        g_assert_true(migration_cookie_has_feature(cookie, "memory-hotplug"));
        g_assert_false(feature_at(cookie, 1)->mandatory);
        g_assert_cmpuint(g_variant_n_children(cookie->stats), ==, 1);
        downtime = lookup_stat(cookie, "downtime", "t");
        g_assert_cmpuint(g_variant_get_uint64(downtime), ==, 48);
        /* Known since: a display without its address (test-migration-cookie-graphics.c). */
        g_assert_nonnull(cookie->graphics);
        g_assert_null(cookie->graphics->listen);
        g_assert_cmpint(cookie->graphics->port, ==, 5901);
}

/* A storage migration's Begin (disks) and Prepare (port) in one. */
static void test_golden_nbd(void) {
        g_autofree char *json = read_golden("v1-nbd.json");
        g_autoptr(MigrationCookie) cookie = decode_ok(json);
        const MigrationCookieDisk *vda, *sdb;

        g_assert_cmpint(cookie->nbd_port, ==, 49153);
        g_assert_cmpuint(cookie->nbd_disks->len, ==, 2);
        vda = migration_cookie_find_nbd_disk(cookie, "vda");
        sdb = migration_cookie_find_nbd_disk(cookie, "sdb");
        g_assert_cmpstr(vda->format, ==, "qcow2");
        g_assert_cmpint(vda->capacity, ==, 1073741824);
        g_assert_cmpstr(sdb->format, ==, "raw");
        g_assert_cmpint(sdb->capacity, ==, G_MAXINT64);
        assert_reencodes_to(cookie, json);
}

/* The answer of Finish3, the only cookie a successful Confirm3 takes. */
static void test_golden_finish(void) {
        g_autofree char *json = read_golden("v1-finish.json");
        g_autoptr(MigrationCookie) cookie = decode_ok(json);

        g_assert_cmpstr(cookie->name, ==, "vm1");
        g_assert_cmpuint(cookie->protocol, ==, 3);
        g_assert_cmpstr(cookie->phase, ==, "finish3");
        g_assert_cmpuint(cookie->features->len, ==, 0);
        g_assert_null(cookie->persistent_xml);
        assert_reencodes_to(cookie, json);
}

/* ---- Malformed input ---- */

static void test_decode_size(void) {
        g_autofree char *big = NULL;
        g_autofree char *exact = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        gsize base = strlen(BASE);

        assert_error_len("", 0, MD_ERROR_INVALID_COOKIE, "is empty");
        assert_error_len(NULL, 0, MD_ERROR_INVALID_COOKIE, "is empty");

        /* Exactly at the limit (BASE padded with whitespace) is fine, one byte more is not. */
        exact = g_malloc(MIGRATION_COOKIE_MAX_SIZE + 1);
        memset(exact, ' ', MIGRATION_COOKIE_MAX_SIZE + 1);
        memcpy(exact, BASE, base);
        cookie = decode_len(exact, MIGRATION_COOKIE_MAX_SIZE, NULL);
        g_assert_nonnull(cookie);
        assert_error_len(exact, MIGRATION_COOKIE_MAX_SIZE + 1, MD_ERROR_INVALID_COOKIE,
                         "is 65537 bytes, more than the limit of 65536 bytes");

        big = g_strnfill(10 * 1024 * 1024, 'x');
        assert_error_len(big, 10 * 1024 * 1024, MD_ERROR_INVALID_COOKIE, "more than the limit");
}

static void test_decode_not_json(void) {
        assert_invalid("not json", "malformed: an unexpected character at byte 1");
        assert_invalid("{", "not valid JSON");
        assert_invalid("{\"format\": ", "not valid JSON");
        assert_invalid("{\"format\" \"x\"}", "not valid JSON");
        assert_invalid("[]", "the top level is an array, not an object");
        assert_invalid("[" BASE "]", "the top level is an array, not an object");
        assert_invalid("42", "the top level is an integer, not an object");
        assert_invalid("4.5", "the top level is a floating-point number, not an object");
        assert_invalid("\"string\"", "the top level is a string, not an object");
        assert_invalid("true", "the top level is a boolean, not an object");
        assert_invalid("null", "the top level is null, not an object");
        assert_invalid(" \n\t ", "not valid JSON");
        assert_invalid(BASE " {}", "data after the top-level value");
        assert_invalid(BASE "x", "unexpected character at byte");
        assert_invalid("{\"format\": \"migrationd-cookie\",}", "not valid JSON");

        /* json-glib quotes the token cut to a fixed length, here inside an 'é'. */
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(MigrationCookie) cookie =
                        decode("{\"format\": \"ééééééééééééééééééééééééééééééééééééééééééééé\" \"x\"}", &error);

                g_assert_null(cookie);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE);
                assert_message(error, "unexpected string constant");
                g_assert_true(g_utf8_validate(error->message, -1, NULL));
        }
}

/* json-glib 1.6 parses a second value after the top-level one and leaks
 * its tree (a cookie's worth per Prepare), so anything there is refused
 * before json-glib sees it; whitespace is fine. */
static void test_decode_after_value(void) {
        g_autoptr(MigrationCookie) cookie = NULL;

        assert_invalid("4" BASE, "is malformed: data after the top-level value at byte 1");
        assert_invalid("4 " BASE, "data after the top-level value at byte 2");
        assert_invalid("-1.5e3" BASE, "data after the top-level value at byte 6");
        assert_invalid("true" BASE, "data after the top-level value at byte 4");
        assert_invalid("null []", "data after the top-level value at byte 5");
        assert_invalid("\"s\"" BASE, "data after the top-level value at byte 3");
        assert_invalid("[]" BASE, "data after the top-level value at byte 2");
        assert_invalid(BASE BASE, "data after the top-level value");
        assert_invalid(BASE "\n[[1], [2]]", "data after the top-level value");
        assert_invalid(BASE " 1", "data after the top-level value");
        assert_invalid(BASE "\"x\"", "data after the top-level value");
        assert_invalid(BASE "]", "data after the top-level value");
        assert_invalid(BASE "garbage", "unexpected character at byte");
        assert_invalid("]" BASE, "an unbalanced ']' at byte 0");
        assert_invalid(", " BASE, "unexpected ',' at byte 0");
        /* A lone surrogate makes json-glib swallow the closing quote, so it
         * would see "} [[1], [2]]" as structure after the object. */
        assert_invalid("{\"a\": \"\\ud800\" \"} [[1], [2]]\"}", "unpaired UTF-16 surrogate");

        cookie = decode_ok(" \t\r\n" BASE " \t\r\n");
        g_assert_cmpstr(cookie->name, ==, "vm1");
}

/* Every prefix of a valid cookie is refused, none crashes. */
static void test_decode_truncated(void) {
        g_autofree char *json = read_golden("v1-full.json");
        gsize len = strlen(json);

        while (len > 0 && g_ascii_isspace(json[len - 1]))
                len--;
        for (gsize i = 1; i < len; i++)
                assert_error_len(json, i, MD_ERROR_INVALID_COOKIE, "Migration cookie");
}

static void test_decode_encoding(void) {
        static const char nul_inside[] = "{\"format\": \"migrationd-\0cookie\"}";
        static const char nul_after[] = BASE "\0";

        assert_error_len(nul_inside, sizeof(nul_inside) - 1, MD_ERROR_INVALID_COOKIE, "a NUL byte at byte 23");
        assert_error_len(nul_after, sizeof(nul_after) - 1, MD_ERROR_INVALID_COOKIE, "a NUL byte");
        assert_invalid("{\"name\": \"\xff\"}", "invalid UTF-8 at byte 10");
        assert_invalid("{\"name\": \"\xc0\xaf\"}", "invalid UTF-8");               /* overlong '/' */
        assert_invalid("{\"name\": \"\xed\xa0\x80\"}", "invalid UTF-8");           /* encoded surrogate */
        assert_invalid("{\"name\": \"\xe2\x82\"}", "invalid UTF-8");               /* cut sequence */
        assert_invalid("\xef\xbb\xbf" BASE, "unexpected character at byte 0");      /* BOM */

        /* Escapes json-glib 1.6 would mangle: a lone surrogate swallows the
         * next character (even the closing quote) or yields invalid UTF-8. */
        assert_invalid("{\"a\": \"\\ud800\", \"b\": 1}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\ud800x\"}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\udc00\\ud800\"}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\ud800\\u0041\"}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\u00\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\uzzzz\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\q\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\101\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\x41\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\u0000\"}", "NUL character (\\u0000)");
        assert_invalid("{\"a\": \"x\ny\"}", "control character in a string");
        assert_invalid("{\"a\": \"open", "string is not terminated");

        /* json-glib 1.6 extensions that are not JSON. */
        assert_invalid("{'format': 'migrationd-cookie'}", "unexpected character at byte 1");
        assert_invalid("{\"a\": /* \" */ 1}", "unexpected character at byte 6");
        assert_invalid("{\"a\": 1} // x", "unexpected character at byte 9");
        assert_invalid("{\"a\": 0x10}", "unexpected character at byte 7");
        assert_invalid("{\"a\": $10}", "unexpected character");
        assert_invalid("var cookie = " BASE ";", "unexpected character at byte 0");

        /* Standard escapes are fine, a valid pair too. */
        {
                g_autofree char *json = base_with("hostname", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"");
                g_autoptr(MigrationCookie) cookie = decode_ok(json);

                g_assert_cmpstr(cookie->hostname, ==, "\"\\/\b\f\n\r\té\xf0\x9f\x98\x80");
        }
}

static char *nested(const char *open, const char *close, guint depth) {
        GString *s = g_string_new("{\"format\": \"migrationd-cookie\", \"junk\": ");

        for (guint i = 0; i < depth; i++)
                g_string_append(s, open);
        for (guint i = 0; i < depth; i++)
                g_string_append(s, close);
        g_string_append(s, "}");
        return g_string_free(s, FALSE);
}

/* The top-level object is level 1. */
static void test_decode_nesting(void) {
        g_autofree char *ok = NULL, *arrays = NULL, *objects = NULL, *max = NULL, *huge = NULL;
        g_autofree char *unclosed = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        gsize len;

        /* At the limit, in an unknown member: parsed, then ignored (here: the
         * cookie lacks version, so that is the error). */
        ok = nested("[", "]", MIGRATION_COOKIE_MAX_DEPTH - 1);
        assert_invalid(ok, "lacks member 'version'");
        arrays = nested("[", "]", MIGRATION_COOKIE_MAX_DEPTH);
        assert_invalid(arrays, "more than 32 levels deep");
        objects = nested("{\"a\":", "}", MIGRATION_COOKIE_MAX_DEPTH);
        assert_invalid(objects, "more than 32 levels deep");

        /* The deepest nesting 64 KiB allow: json-glib 1.6 would need over 6 MiB of stack. */
        len = (MIGRATION_COOKIE_MAX_SIZE - 48) / 2;
        max = nested("[", "]", len);
        g_assert_cmpuint(strlen(max), <=, MIGRATION_COOKIE_MAX_SIZE);
        assert_invalid(max, "more than 32 levels deep");
        unclosed = g_strnfill(MIGRATION_COOKIE_MAX_SIZE, '[');
        assert_error_len(unclosed, MIGRATION_COOKIE_MAX_SIZE, MD_ERROR_INVALID_COOKIE, "more than 32 levels deep");
        huge = nested("[", "]", 100000);
        assert_invalid(huge, "more than the limit");

        /* Brackets inside strings do not count. */
        {
                g_autofree char *in_string = g_strnfill(1000, '[');
                g_autofree char *quoted = g_strdup_printf("\"%s\\\"]]]\"", in_string);
                g_autofree char *json = base_with("persistent_xml", quoted);

                cookie = decode(json, &error);
                g_assert_no_error(error);
                g_assert_true(g_str_has_prefix(cookie->persistent_xml, "[[["));
        }
}

static void test_decode_format(void) {
        assert_member_invalid("format", NULL, "lacks member 'format'");
        assert_member_invalid("format", "\"libvirt-cookie\"", "member 'format' is not \"migrationd-cookie\"");
        assert_member_invalid("format", "\"Migrationd-Cookie\"", "is not \"migrationd-cookie\"");
        assert_member_invalid("format", "\"\"", "is not \"migrationd-cookie\"");
        assert_member_invalid("format", "1", "member 'format' must be a string, not an integer");
        assert_member_invalid("format", "null", "member 'format' must be a string, not null");
        assert_member_invalid("format", "[\"migrationd-cookie\"]", "must be a string, not an array");
}

static void test_decode_version(void) {
        assert_member_invalid("version", NULL, "lacks member 'version'");
        assert_member_invalid("version", "\"1\"", "member 'version' must be an integer, not a string");
        assert_member_invalid("version", "1.0", "member 'version' must be an integer, not a floating-point number");
        assert_member_invalid("version", "1.5", "must be an integer");
        assert_member_invalid("version", "1e30", "must be an integer");
        assert_member_invalid("version", "true", "must be an integer, not a boolean");
        assert_member_invalid("version", "null", "must be an integer, not null");
        assert_member_invalid("version", "{}", "must be an integer, not an object");
        assert_member_invalid("version", "0", "version 0 is invalid; versions start at 1");
        assert_member_invalid("version", "-1", "version -1 is invalid");
        assert_member_invalid("version", "-9223372036854775808", "is invalid");
        assert_member_invalid("version", "2", "version 2 is newer than this host supports (version 1)");
        assert_member_invalid("version", "9223372036854775807", "is newer than this host supports (version 1)");
        /* json-glib 1.6 wraps integer literals beyond 64 bits: this one reads as -1. */
        assert_member_invalid("version", "18446744073709551615", "is invalid");
}

static const char *const required_strings[] = { "name", "uuid", "hostname", "host_uuid" };

static void test_decode_required(void) {
        static const char *const required[] = { "name", "uuid", "hostname", "host_uuid", "protocol", "features" };
        static const struct {
                const char *json;
                const char *kind;
        } not_strings[] = {
                { "1", "an integer" }, { "1.5", "a floating-point number" }, { "true", "a boolean" },
                { "null", "null" }, { "[]", "an array" }, { "{}", "an object" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(required); i++) {
                g_autofree char *want = g_strdup_printf("lacks member '%s'", required[i]);

                assert_member_invalid(required[i], NULL, want);
        }
        for (guint i = 0; i < G_N_ELEMENTS(required_strings); i++) {
                const char *member = required_strings[i];
                g_autofree char *empty = g_strdup_printf("member '%s' is empty", member);

                for (guint j = 0; j < G_N_ELEMENTS(not_strings); j++) {
                        g_autofree char *want = g_strdup_printf("member '%s' must be a string, not %s",
                                                                member, not_strings[j].kind);

                        assert_member_invalid(member, not_strings[j].json, want);
                }
                if (g_str_has_suffix(member, "uuid"))
                        assert_member_invalid(member, "\"\"", "is not a valid UUID");
                else
                        assert_member_invalid(member, "\"\"", empty);
        }
}

static void test_decode_string_limits(void) {
        g_autofree char *name_max = g_strnfill(1024, 'n');
        g_autofree char *name_long = g_strnfill(1025, 'n');
        g_autofree char *host_max = g_strnfill(255, 'h');
        g_autofree char *host_long = g_strnfill(256, 'h');
        g_autofree char *json = NULL;

        json = g_strdup_printf("\"%s\"", name_max);
        assert_member_ok("name", json);
        g_free(json);
        json = g_strdup_printf("\"%s\"", name_long);
        assert_member_invalid("name", json, "member 'name' is longer than 1024 bytes");
        g_free(json);
        json = g_strdup_printf("\"%s\"", host_max);
        assert_member_ok("hostname", json);
        g_free(json);
        json = g_strdup_printf("\"%s\"", host_long);
        assert_member_invalid("hostname", json, "member 'hostname' is longer than 255 bytes");
}

static void test_decode_uuids(void) {
        static const char *const bad[] = {
                "\"dcf47dbd46d14d5bb442262a806a333a\"",
                "\"{dcf47dbd-46d1-4d5b-b442-262a806a333a}\"",
                "\"dcf47dbd-46d1-4d5b-b442-262a806a333\"",
                "\"dcf47dbd-46d1-4d5b-b442-262a806a333aa\"",
                "\"gcf47dbd-46d1-4d5b-b442-262a806a333a\"",
                "\"dcf47dbd_46d1_4d5b_b442_262a806a333a\"",
                "\" dcf47dbd-46d1-4d5b-b442-262a806a333a\"",
                "\"upstream\"",
        };

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
                assert_member_invalid("uuid", bad[i], "member 'uuid' is not a valid UUID");
                assert_member_invalid("host_uuid", bad[i], "member 'host_uuid' is not a valid UUID");
        }
        {
                g_autofree char *json = base_with("uuid", "\"DCF47DBD-46D1-4D5B-B442-262A806A333A\"");
                g_autoptr(MigrationCookie) cookie = decode_ok(json);

                g_assert_cmpstr(cookie->uuid, ==, UUID);
        }
}

static void test_decode_protocol(void) {
        assert_member_invalid("protocol", "1", "member 'protocol' is 1; this host speaks migration protocols 2 and 3");
        assert_member_invalid("protocol", "4", "member 'protocol' is 4;");
        assert_member_invalid("protocol", "0", "member 'protocol' is 0;");
        assert_member_invalid("protocol", "-3", "member 'protocol' is -3;");
        assert_member_invalid("protocol", "4294967299", "member 'protocol' is 4294967299;");
        assert_member_invalid("protocol", "\"3\"", "member 'protocol' must be an integer, not a string");
        assert_member_invalid("protocol", "3.0", "must be an integer, not a floating-point number");
        assert_member_invalid("protocol", "[3]", "must be an integer, not an array");
        assert_member_ok("protocol", "2");
        assert_member_ok("protocol", "3");
}

static void test_decode_features(void) {
        g_autofree char *long_name = g_strnfill(65, 'f');
        g_autofree char *long_json = g_strdup_printf("[{\"name\": \"%s\", \"mandatory\": false}]", long_name);
        g_autofree char *max_name = g_strnfill(64, 'f');
        g_autofree char *max_json = g_strdup_printf("[{\"name\": \"%s\", \"mandatory\": false}]", max_name);

        assert_member_invalid("features", "{}", "member 'features' must be an array, not an object");
        assert_member_invalid("features", "\"stats\"", "member 'features' must be an array, not a string");
        assert_member_invalid("features", "null", "must be an array, not null");
        assert_member_invalid("features", "[\"stats\"]", "Entry 0 of the migration cookie's 'features' must be an object, not a string");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": false}, 1]", "Entry 1 of the migration cookie's 'features' must be an object, not an integer");
        assert_member_invalid("features", "[[]]", "must be an object, not an array");
        assert_member_invalid("features", "[{\"mandatory\": false}]", "Entry 0 of the migration cookie's 'features' lacks a string member 'name'");
        assert_member_invalid("features", "[{\"name\": 1, \"mandatory\": false}]", "lacks a string member 'name'");
        assert_member_invalid("features", "[{\"name\": \"stats\"}]", "Entry 0 of the migration cookie's 'features' lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": \"true\"}]", "lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": 1}]", "lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": null}]", "lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"\", \"mandatory\": false}]", "Entry 0 of the migration cookie's 'features' has an invalid name");
        assert_member_invalid("features", "[{\"name\": \"a b\", \"mandatory\": false}]", "has an invalid name");
        assert_member_invalid("features", "[{\"name\": \"a/b\", \"mandatory\": false}]", "has an invalid name");
        assert_member_invalid("features", "[{\"name\": \"caf\\u00e9\", \"mandatory\": false}]", "has an invalid name");
        assert_member_invalid("features", long_json, "has an invalid name; a feature name is 1 to 64 characters");
        assert_member_ok("features", max_json);
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": false}, {\"name\": \"stats\", \"mandatory\": true}]", "lists feature 'stats' twice");
        assert_member_invalid("features", "[{\"name\": \"new\", \"mandatory\": false}, {\"name\": \"new\", \"mandatory\": false}]", "lists feature 'new' twice");
}

static void test_decode_mandatory(void) {
        g_autofree char *unknown = base_with("features", "[{\"name\": \"stats\", \"mandatory\": false}, "
                                             "{\"name\": \"teleport\", \"mandatory\": true}]");
        g_autofree char *optional = base_with("features", "[{\"name\": \"teleport\", \"mandatory\": false, \"x\": [1]}]");
        g_autofree char *known = base_with("features", "[{\"name\": \"migration-params\", \"mandatory\": true}]");
        g_autoptr(MigrationCookie) cookie = NULL;
        g_autoptr(GError) error = NULL;

        assert_error_len(unknown, strlen(unknown), MD_ERROR_UNSUPPORTED,
                         "The migration cookie requires feature 'teleport', which this host does not support");

        cookie = decode_ok(optional);
        g_assert_true(migration_cookie_has_feature(cookie, "teleport"));
        g_assert_false(migration_cookie_has_feature(cookie, "stats"));
        g_clear_pointer(&cookie, migration_cookie_free);

        cookie = decode_ok(known);
        g_assert_true(feature_at(cookie, 0)->mandatory);
        g_clear_pointer(&cookie, migration_cookie_free);

        /* No known features at all. */
        cookie = migration_cookie_decode((const guint8 *) known, strlen(known), NULL, &error);
        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        assert_message(error, "requires feature 'migration-params'");
        g_clear_error(&error);
        cookie = migration_cookie_decode((const guint8 *) optional, strlen(optional), NULL, &error);
        g_assert_no_error(error);
        g_clear_pointer(&cookie, migration_cookie_free);

        /* A newer sender's unknown mandatory feature wins over what else it
         * changed, so the error names the real reason. */
        {
                g_autoptr(JsonNode) root = json_from_string(unknown, NULL);
                g_autofree char *json = NULL;

                json_object_set_int_member(json_node_get_object(root), "protocol", 4);
                json_object_set_int_member(json_node_get_object(root), "name", 1);
                json = json_to_string(root, FALSE);
                assert_error_len(json, strlen(json), MD_ERROR_UNSUPPORTED, "requires feature 'teleport'");
        }
}

static void test_decode_stats(void) {
        static const struct {
                const char *stats;
                const char *want;
        } bad[] = {
                { "[]", "member 'stats' must be an object, not an array" },
                { "\"x\"", "member 'stats' must be an object, not a string" },
                { "1", "must be an object, not an integer" },
                { "null", "must be an object, not null" },
                { "{\"a\": 1}", "statistic 'a' must be an object, not an integer" },
                { "{\"a\": [\"t\", 1]}", "statistic 'a' must be an object, not an array" },
                { "{\"a\": {\"value\": 1}}", "statistic 'a' lacks a string member 'type'" },
                { "{\"a\": {\"type\": 116, \"value\": 1}}", "lacks a string member 'type'" },
                { "{\"a\": {\"type\": \"ay\", \"value\": \"x\"}}", "statistic 'a' has an unsupported type" },
                { "{\"a\": {\"type\": \"v\", \"value\": 1}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"a{sv}\", \"value\": {}}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"as\", \"value\": [\"x\"]}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"(t)\", \"value\": [1]}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"o\", \"value\": \"/\"}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"\", \"value\": 1}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"tt\", \"value\": 1}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"t\"}}", "statistic 'a' lacks a member 'value' that is a valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": [1]}}", "lacks a member 'value' that is a valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": {\"type\": \"t\", \"value\": 1}}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": null}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": -1}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": 1.5}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"abc\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"-1\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"+1\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"18446744073709551616\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"x\", \"value\": 1.5}}", "valid 'x'" },
                { "{\"a\": {\"type\": \"x\", \"value\": \"1\"}}", "valid 'x'" },
                { "{\"a\": {\"type\": \"u\", \"value\": 4294967296}}", "valid 'u'" },
                { "{\"a\": {\"type\": \"u\", \"value\": -1}}", "valid 'u'" },
                { "{\"a\": {\"type\": \"i\", \"value\": 2147483648}}", "valid 'i'" },
                { "{\"a\": {\"type\": \"i\", \"value\": -2147483649}}", "valid 'i'" },
                { "{\"a\": {\"type\": \"i\", \"value\": true}}", "valid 'i'" },
                { "{\"a\": {\"type\": \"d\", \"value\": \"1\"}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"d\", \"value\": true}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"d\", \"value\": 1e999}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"d\", \"value\": -1e999}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"b\", \"value\": 1}}", "valid 'b'" },
                { "{\"a\": {\"type\": \"b\", \"value\": \"true\"}}", "valid 'b'" },
                { "{\"a\": {\"type\": \"s\", \"value\": 1}}", "valid 's'" },
                { "{\"a\": {\"type\": \"s\", \"value\": [\"x\"]}}", "valid 's'" },
                { "{\"\": {\"type\": \"t\", \"value\": 1}}", "a statistic with an invalid name" },
                { "{\"a b\": {\"type\": \"t\", \"value\": 1}}", "a statistic with an invalid name" },
                { "{\"ok\": {\"type\": \"t\", \"value\": 1}, \"bad\": {\"type\": \"z\", \"value\": 1}}", "statistic 'bad'" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
                assert_member_invalid("stats", bad[i].stats, bad[i].want);
}

static void test_decode_stats_accepted(void) {
        g_autofree char *json = base_with("stats", "{\"d\": {\"type\": \"d\", \"value\": 3, \"unit\": \"x\"}, "
                                          "\"t\": {\"type\": \"t\", \"value\": \"0042\"}, "
                                          "\"s\": {\"type\": \"s\", \"value\": \"\"}, "
                                          "\"dup\": {\"type\": \"u\", \"value\": 1}, "
                                          "\"dup\": {\"type\": \"s\", \"value\": \"last\"}}");
        g_autoptr(MigrationCookie) cookie = decode_ok(json);
        g_autoptr(GVariant) d = lookup_stat(cookie, "d", "d");
        g_autoptr(GVariant) t = lookup_stat(cookie, "t", "t");
        g_autoptr(GVariant) dup = lookup_stat(cookie, "dup", "s");

        /* An integral double may be written as an integer. */
        g_assert_cmpfloat(g_variant_get_double(d), ==, 3.0);
        g_assert_cmpuint(g_variant_get_uint64(t), ==, 42);
        /* json-glib keeps the last of repeated members. */
        g_assert_cmpuint(g_variant_n_children(cookie->stats), ==, 4);
        g_assert_cmpstr(g_variant_get_string(dup, NULL), ==, "last");
}

static void test_decode_optional_members(void) {
        assert_member_invalid("source_stop_time_ms", "-1", "member 'source_stop_time_ms' is negative");
        assert_member_invalid("source_stop_time_ms", "1.5", "member 'source_stop_time_ms' must be an integer, not a floating-point number");
        assert_member_invalid("source_stop_time_ms", "\"5\"", "must be an integer, not a string");
        assert_member_invalid("source_stop_time_ms", "null", "must be an integer, not null");
        assert_member_invalid("persistent_xml", "1", "member 'persistent_xml' must be a string, not an integer");
        assert_member_invalid("persistent_xml", "{}", "member 'persistent_xml' must be a string, not an object");
        assert_member_ok("source_stop_time_ms", "0");
        assert_member_ok("persistent_xml", "\"\"");
        assert_member_invalid("ram_kib", "-8", "member 'ram_kib' is negative");
        assert_member_invalid("ram_kib", "\"65544\"", "member 'ram_kib' must be an integer, not a string");
        assert_member_ok("ram_kib", "65544");
        assert_member_ok("unknown_member", "{\"x\": [1, 2, {\"y\": null}]}");
}

/* ---- Encoding ---- */

static void assert_encode_invalid(const MigrationCookie *cookie, const char *want) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes = migration_cookie_encode(cookie, &error);

        g_assert_null(bytes);
        g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE);
        assert_message(error, want);
}

static void set_stats(MigrationCookie *cookie, GVariant *stats) {
        g_clear_pointer(&cookie->stats, g_variant_unref);
        cookie->stats = g_variant_ref_sink(stats);
}

/* "phase" is optional (older senders write none) and a name: what a
 * receiver does not know it only compares. */
static void test_phase(void) {
        g_autoptr(MigrationCookie) absent = decode_ok(BASE);
        g_autofree char *newer = base_with("phase", "\"finish4\"");
        g_autoptr(MigrationCookie) unknown = decode_ok(newer);
        g_autoptr(MigrationCookie) cookie = full_cookie();

        g_assert_null(absent->phase);
        g_assert_cmpstr(unknown->phase, ==, "finish4");
        assert_member_invalid("phase", "3", "Migration cookie member 'phase' must be a string, not an integer");
        assert_member_invalid("phase", "null", "Migration cookie member 'phase' must be a string, not null");
        assert_member_invalid("phase", "\"\"", "'phase' is not a phase name");
        assert_member_invalid("phase", "\"finish 3\"", "'phase' is not a phase name");

        g_free(cookie->phase);
        cookie->phase = g_strdup("finish/3");
        assert_encode_invalid(cookie, "'phase' is not a phase name");
        g_clear_pointer(&cookie->phase, g_free);
        g_clear_pointer(&absent, migration_cookie_free);
        absent = round_trip(cookie, NULL);
        g_assert_null(absent->phase);
}

static void test_encode_invalid(void) {
        g_autoptr(MigrationCookie) cookie = full_cookie();
        MigrationCookieFeature *duplicate;

        g_clear_pointer(&cookie->name, g_free);
        assert_encode_invalid(cookie, "lacks member 'name'");
        cookie->name = g_strdup("");
        assert_encode_invalid(cookie, "member 'name' is empty");
        g_free(cookie->name);
        cookie->name = g_strdup("bad \xff utf-8");
        assert_encode_invalid(cookie, "member 'name' is not valid UTF-8");
        g_free(cookie->name);
        cookie->name = g_strdup("vm1");

        g_free(cookie->uuid);
        cookie->uuid = g_strdup("not-a-uuid");
        assert_encode_invalid(cookie, "member 'uuid' is not a valid UUID");
        g_free(cookie->uuid);
        cookie->uuid = g_strdup(UUID);

        g_clear_pointer(&cookie->host_uuid, g_free);
        assert_encode_invalid(cookie, "lacks member 'host_uuid'");
        cookie->host_uuid = g_strdup(HOST_UUID);

        cookie->protocol = 4;
        assert_encode_invalid(cookie, "member 'protocol' is 4");
        cookie->protocol = 3;

        cookie->source_stop_time_ms = -5;
        assert_encode_invalid(cookie, "'source_stop_time_ms' is negative");
        cookie->source_stop_time_ms = 0;

        g_free(cookie->persistent_xml);
        cookie->persistent_xml = g_strdup("<domain>\xc0</domain>");
        assert_encode_invalid(cookie, "member 'persistent_xml' is not valid UTF-8");
        g_clear_pointer(&cookie->persistent_xml, g_free);

        migration_cookie_add_feature(cookie, "bad name", FALSE);
        assert_encode_invalid(cookie, "has an invalid name");
        g_ptr_array_set_size(cookie->features, 2);
        duplicate = g_new0(MigrationCookieFeature, 1);
        duplicate->name = g_strdup("stats");
        g_ptr_array_add(cookie->features, duplicate);
        assert_encode_invalid(cookie, "lists feature 'stats' twice");
        g_ptr_array_set_size(cookie->features, 2);

        set_stats(cookie, g_variant_new_parsed("{'a': 'b'}"));
        assert_encode_invalid(cookie, "statistics are of type 'a{ss}', not 'a{sv}'");
        set_stats(cookie, g_variant_new_parsed("{'a': <['x']>}"));
        assert_encode_invalid(cookie, "statistic 'a' is of type 'as'");
        set_stats(cookie, g_variant_new_parsed("{'a': <{'b': <1>}>}"));
        assert_encode_invalid(cookie, "statistic 'a' is of type 'a{sv}'");
        set_stats(cookie, g_variant_new_parsed("{'a': <<1>>}"));
        assert_encode_invalid(cookie, "statistic 'a' is of type 'v'");
        set_stats(cookie, g_variant_new_parsed("{'a': <byte 1>}"));
        assert_encode_invalid(cookie, "statistic 'a' is of type 'y'");
        set_stats(cookie, g_variant_new_parsed("{'a': <objectpath '/'>}"));
        assert_encode_invalid(cookie, "statistic 'a' is of type 'o'");
        set_stats(cookie, g_variant_new_parsed("{'a': <%d>}", NAN));
        assert_encode_invalid(cookie, "statistic 'a' is not a finite number");
        set_stats(cookie, g_variant_new_parsed("{'a': <%d>}", -INFINITY));
        assert_encode_invalid(cookie, "statistic 'a' is not a finite number");
        set_stats(cookie, g_variant_new_parsed("[{'a', <1>}, {'a', <2>}]"));
        assert_encode_invalid(cookie, "has statistic 'a' twice");
        set_stats(cookie, g_variant_new_parsed("{'bad key': <1>}"));
        assert_encode_invalid(cookie, "a statistic with an invalid name");
        set_stats(cookie, g_variant_new_parsed("@a{sv} {}"));
        {
                g_autoptr(GBytes) bytes = migration_cookie_encode(cookie, NULL);

                g_assert_nonnull(bytes);
        }
}

/* The encoder refuses rather than truncates; one byte under the limit is fine. */
static void test_encode_size_limit(void) {
        g_autoptr(MigrationCookie) cookie = full_cookie();
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(GError) error = NULL;
        gsize overhead;

        g_free(cookie->persistent_xml);
        cookie->persistent_xml = g_strdup("");
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_no_error(error);
        overhead = g_bytes_get_size(bytes);
        g_clear_pointer(&bytes, g_bytes_unref);

        g_free(cookie->persistent_xml);
        cookie->persistent_xml = g_strnfill(MIGRATION_COOKIE_MAX_SIZE - overhead, 'x');
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(bytes), ==, MIGRATION_COOKIE_MAX_SIZE);
        {
                g_autoptr(MigrationCookie) decoded = decode_len(g_bytes_get_data(bytes, NULL),
                                                                g_bytes_get_size(bytes), &error);

                g_assert_no_error(error);
                g_assert_cmpstr(decoded->persistent_xml, ==, cookie->persistent_xml);
        }

        g_free(cookie->persistent_xml);
        cookie->persistent_xml = g_strnfill(MIGRATION_COOKIE_MAX_SIZE - overhead + 1, 'x');
        assert_encode_invalid(cookie, "would be 65537 bytes, more than the limit of 65536 bytes; the persistent "
                              "domain XML takes");
        /* Escapes count: every '\n' is two bytes. */
        g_free(cookie->persistent_xml);
        cookie->persistent_xml = g_strnfill(MIGRATION_COOKIE_MAX_SIZE / 2, '\n');
        assert_encode_invalid(cookie, "more than the limit");
}

static void test_features_api(void) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_new();

        g_assert_cmpuint(cookie->version, ==, MIGRATION_COOKIE_VERSION);
        g_assert_cmpuint(cookie->features->len, ==, 0);
        g_assert_false(migration_cookie_has_feature(cookie, "stats"));
        migration_cookie_add_feature(cookie, "stats", FALSE);
        migration_cookie_add_feature(cookie, "postcopy", TRUE);
        migration_cookie_add_feature(cookie, "stats", TRUE);
        g_assert_cmpuint(cookie->features->len, ==, 2);
        g_assert_true(migration_cookie_has_feature(cookie, "stats"));
        g_assert_true(feature_at(cookie, 0)->mandatory);
        g_assert_false(migration_cookie_has_feature(cookie, "stat"));
        migration_cookie_free(NULL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/migration-cookie/round-trip/full", test_round_trip_full);
        g_test_add_func("/migration-cookie/round-trip/minimal", test_round_trip_minimal);
        g_test_add_func("/migration-cookie/round-trip/ram-kib", test_round_trip_ram_kib);
        g_test_add_func("/migration-cookie/round-trip/upper-case-uuid", test_round_trip_upper_case_uuid);
        g_test_add_func("/migration-cookie/round-trip/empty-stats", test_round_trip_empty_stats);
        g_test_add_func("/migration-cookie/golden/full", test_golden_full);
        g_test_add_func("/migration-cookie/golden/minimal", test_golden_minimal);
        g_test_add_func("/migration-cookie/golden/forward-compat", test_golden_forward_compat);
        g_test_add_func("/migration-cookie/golden/finish", test_golden_finish);
        g_test_add_func("/migration-cookie/golden/nbd", test_golden_nbd);
        g_test_add_func("/migration-cookie/round-trip/nbd", test_round_trip_nbd);
        g_test_add_func("/migration-cookie/encode/nbd-invalid", test_encode_nbd_invalid);
        g_test_add_func("/migration-cookie/decode/nbd", test_decode_nbd);
        g_test_add_func("/migration-cookie/encode/nbd-backing-invalid", test_encode_nbd_backing_invalid);
        g_test_add_func("/migration-cookie/decode/nbd-backing", test_decode_nbd_backing);
        g_test_add_func("/migration-cookie/decode/size", test_decode_size);
        g_test_add_func("/migration-cookie/decode/not-json", test_decode_not_json);
        g_test_add_func("/migration-cookie/decode/after-value", test_decode_after_value);
        g_test_add_func("/migration-cookie/decode/truncated", test_decode_truncated);
        g_test_add_func("/migration-cookie/decode/encoding", test_decode_encoding);
        g_test_add_func("/migration-cookie/decode/nesting", test_decode_nesting);
        g_test_add_func("/migration-cookie/decode/format", test_decode_format);
        g_test_add_func("/migration-cookie/decode/version", test_decode_version);
        g_test_add_func("/migration-cookie/decode/required", test_decode_required);
        g_test_add_func("/migration-cookie/decode/string-limits", test_decode_string_limits);
        g_test_add_func("/migration-cookie/decode/uuids", test_decode_uuids);
        g_test_add_func("/migration-cookie/decode/protocol", test_decode_protocol);
        g_test_add_func("/migration-cookie/decode/features", test_decode_features);
        g_test_add_func("/migration-cookie/decode/mandatory", test_decode_mandatory);
        g_test_add_func("/migration-cookie/decode/stats", test_decode_stats);
        g_test_add_func("/migration-cookie/decode/stats-accepted", test_decode_stats_accepted);
        g_test_add_func("/migration-cookie/decode/optional-members", test_decode_optional_members);
        g_test_add_func("/migration-cookie/phase", test_phase);
        g_test_add_func("/migration-cookie/encode/invalid", test_encode_invalid);
        g_test_add_func("/migration-cookie/encode/size-limit", test_encode_size_limit);
        g_test_add_func("/migration-cookie/features-api", test_features_api);

        return g_test_run();
}
