/* Unit tests of the migration cookie: round trips, the golden files of
 * tests/data/cookies (so the format stays stable) and encoding; the storage
 * migration's members in test-migration-cookie-nbd.c, every malformed shape
 * a peer could send in test-migration-cookie-decode.c. Each error is
 * checked for its code and for a part of its message that says what was
 * wrong. */
#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "cookie-test.h"
#include "md-error.h"

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
        g_test_add_func("/migration-cookie/phase", test_phase);
        g_test_add_func("/migration-cookie/encode/invalid", test_encode_invalid);
        g_test_add_func("/migration-cookie/encode/size-limit", test_encode_size_limit);
        g_test_add_func("/migration-cookie/features-api", test_features_api);
        migration_cookie_nbd_add_tests();
        migration_cookie_decode_add_tests();
        return g_test_run();
}
