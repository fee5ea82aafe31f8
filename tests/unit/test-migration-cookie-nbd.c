/* The migration cookie's storage migration members: the disks the source
 * copies, their backing chains, the destination's NBD port. */
#include <string.h>

#include "cookie-test.h"
#include "md-error.h"

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

void migration_cookie_nbd_add_tests(void) {
        g_test_add_func("/migration-cookie/round-trip/nbd", test_round_trip_nbd);
        g_test_add_func("/migration-cookie/encode/nbd-invalid", test_encode_nbd_invalid);
        g_test_add_func("/migration-cookie/decode/nbd", test_decode_nbd);
        g_test_add_func("/migration-cookie/encode/nbd-backing-invalid", test_encode_nbd_backing_invalid);
        g_test_add_func("/migration-cookie/decode/nbd-backing", test_decode_nbd_backing);
}
