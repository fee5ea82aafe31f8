/* Unit tests of the cookie's "graphics" member (libvirt's graphics cookie):
 * its golden file, what the destination puts in it, and every malformed
 * shape a peer could send. Apart from test-migration-cookie.c, which is
 * long enough. */
#include <string.h>
#include <json-glib/json-glib.h>

#include "domain-def.h"
#include "md-error.h"
#include "migration-cookie.h"

#define UUID "dcf47dbd-46d1-4d5b-b442-262a806a333a"
#define HOST_UUID "4a802f00-4cba-5df6-9679-a08c4c5b577f"
#define BASE "{\"format\": \"migrationd-cookie\", \"version\": 1, \"name\": \"vm1\", " \
        "\"uuid\": \"" UUID "\", \"hostname\": \"dst\", \"host_uuid\": \"" HOST_UUID "\", " \
        "\"protocol\": 3, \"features\": [], \"graphics\": %s}"

static MigrationCookie *decode_graphics(const char *graphics, GError **error) {
        g_autofree char *json = g_strdup_printf(BASE, graphics);

        return migration_cookie_decode((const guint8 *) json, strlen(json), NULL, error);
}

static void assert_invalid(const char *graphics, const char *want) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = decode_graphics(graphics, &error);

        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE);
        if (!strstr(error->message, want)) {
                g_test_message("%s: error \"%s\" does not mention \"%s\"", graphics, error->message, want);
                g_test_fail();
        }
}

static MigrationCookie *decode_ok(const char *graphics) {
        g_autoptr(GError) error = NULL;
        MigrationCookie *cookie = decode_graphics(graphics, &error);

        g_assert_no_error(error);
        g_assert_nonnull(cookie->graphics);
        return cookie;
}

static void test_golden(void) {
        g_autofree char *path = g_build_filename(g_getenv("MD_TEST_DATA_DIR"), "cookies", "v1-graphics.json", NULL);
        g_autofree char *json = NULL;
        g_autofree char *text = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(JsonNode) expected = NULL, actual = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(path, &json, &len, &error));
        cookie = migration_cookie_decode((const guint8 *) json, len, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(cookie->phase, ==, "prepare3");
        g_assert_nonnull(cookie->graphics);
        g_assert_cmpstr(cookie->graphics->type, ==, "spice");
        g_assert_cmpstr(cookie->graphics->listen, ==, "192.0.2.7");
        g_assert_cmpint(cookie->graphics->port, ==, 5901);
        g_assert_cmpint(cookie->graphics->tls_port, ==, 5902);
        /* Encoding what was decoded gives the same JSON tree. */
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_no_error(error);
        text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
        expected = json_from_string(json, NULL);
        actual = json_from_string(text, NULL);
        g_assert_true(json_node_equal(expected, actual));
}

static void test_accepted(void) {
        g_autoptr(MigrationCookie) vnc = decode_ok("{\"type\": \"vnc\", \"listen\": \"::1\", \"port\": 5900}");
        /* A type this version does not know, unknown members: kept, ignored. */
        g_autoptr(MigrationCookie) other = decode_ok("{\"type\": \"rdp\", \"listen\": \"dst.example.org\", "
                                                     "\"port\": 3389, \"tls_subject\": \"CN=x\", \"z\": [null]}");

        g_assert_cmpstr(vnc->graphics->listen, ==, "::1");
        g_assert_cmpint(vnc->graphics->tls_port, ==, 0);
        g_assert_cmpstr(other->graphics->type, ==, "rdp");
        g_assert_cmpstr(other->graphics->listen, ==, "dst.example.org");
        g_clear_pointer(&vnc, migration_cookie_free);
        /* Without listen (libvirt's cookie may lack it): the source uses the cookie's hostname. */
        vnc = decode_ok("{\"type\": \"spice\", \"port\": 5901}");
        g_assert_null(vnc->graphics->listen);
}

static void test_hostile(void) {
        g_autofree char *long_type = g_strnfill(65, 'a');
        g_autofree char *long_host = g_strnfill(256, 'h');
        g_autofree char *long_type_json = g_strdup_printf("{\"type\": \"%s\", \"listen\": \"h\", \"port\": 1}", long_type);
        g_autofree char *long_host_json = g_strdup_printf("{\"type\": \"spice\", \"listen\": \"%s\", \"port\": 1}",
                                                          long_host);
        static const struct {
                const char *graphics;
                const char *want;
        } cases[] = {
                { "[]", "must be an object" },
                { "null", "must be an object" },
                { "\"spice\"", "must be an object" },
                { "{}", "invalid 'type'" },
                { "{\"type\": 1, \"listen\": \"h\", \"port\": 1}", "invalid 'type'" },
                { "{\"type\": \"\", \"listen\": \"h\", \"port\": 1}", "invalid 'type'" },
                { "{\"type\": \"sp ice\", \"listen\": \"h\", \"port\": 1}", "invalid 'type'" },
                { "{\"type\": \"spice\", \"listen\": null, \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"0.0.0.0\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"::\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"[::1]\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"a b\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"a\\nb\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"-opt\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"caf\\u00e9\", \"port\": 1}", "invalid 'listen'" },
                { "{\"type\": \"spice\", \"listen\": \"h\"}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 0}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": -1}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 65536}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 4294972196}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": \"5900\"}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 5900.5}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": true}", "invalid 'port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 1, \"tls_port\": 0}", "invalid 'tls_port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 1, \"tls_port\": 65536}", "invalid 'tls_port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 1, \"tls_port\": null}", "invalid 'tls_port'" },
                { "{\"type\": \"spice\", \"listen\": \"h\", \"port\": 1, \"tls_port\": \"1\"}", "invalid 'tls_port'" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                assert_invalid(cases[i].graphics, cases[i].want);
        assert_invalid(long_type_json, "invalid 'type'");
        assert_invalid(long_host_json, "invalid 'listen'");
}

/* Encoding checks by the same rules: what is sent decodes again. */
static void test_encode_invalid(void) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes = NULL;

        cookie->name = g_strdup("vm1");
        cookie->uuid = g_strdup(UUID);
        cookie->hostname = g_strdup("dst");
        cookie->host_uuid = g_strdup(HOST_UUID);
        cookie->graphics = g_new0(MigrationCookieGraphics, 1);
        cookie->graphics->type = g_strdup("spice");
        cookie->graphics->listen = g_strdup("0.0.0.0");
        cookie->graphics->port = 5900;
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_null(bytes);
        g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE);
}

static DomainDef *parse_devices(const char *devices) {
        g_autofree char *xml = g_strdup_printf(
                "<domain type='qemu'><name>vm1</name><uuid>" UUID "</uuid><memory unit='MiB'>64</memory>"
                "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>%s</devices></domain>", devices);
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(xml, -1, &error);

        g_assert_no_error(error);
        return def;
}

static void test_from_def(void) {
        g_autoptr(DomainDef) both = parse_devices("<graphics type='vnc' autoport='yes' listen='0.0.0.0'/>"
                                                  "<graphics type='spice' autoport='yes' listen='0.0.0.0'/>");
        g_autoptr(DomainDef) vnc = parse_devices("<graphics type='vnc' autoport='yes'/>");
        g_autoptr(DomainDef) v6 = parse_devices("<graphics type='spice' port='5930' autoport='no' listen='::'/>");
        g_autoptr(DomainDef) none = parse_devices("");
        g_autoptr(MigrationCookieGraphics) g = NULL;

        /* Ports not chosen yet (autoport before launch): nothing to tell. */
        g_assert_null(migration_cookie_graphics_from_def(both, "dst.example.org"));
        g_assert_null(migration_cookie_graphics_from_def(none, "dst.example.org"));
        domain_def_set_graphics_port(both, 0, 5900);
        domain_def_set_graphics_port(both, 1, 5901);
        /* SPICE wins; the wildcard becomes the host the source migrates to. */
        g = migration_cookie_graphics_from_def(both, "192.0.2.7");
        g_assert_cmpstr(g->type, ==, "spice");
        g_assert_cmpstr(g->listen, ==, "192.0.2.7");
        g_assert_cmpint(g->port, ==, 5901);
        g_assert_cmpint(g->tls_port, ==, 0);
        g_clear_pointer(&g, migration_cookie_graphics_free);
        domain_def_set_graphics_port(vnc, 0, 5902);
        g = migration_cookie_graphics_from_def(vnc, "192.0.2.7");
        g_assert_cmpstr(g->type, ==, "vnc");
        g_assert_cmpstr(g->listen, ==, "127.0.0.1");     /* QEMU's and libvirt's default */
        g_assert_cmpint(g->port, ==, 5902);
        g_clear_pointer(&g, migration_cookie_graphics_free);
        g = migration_cookie_graphics_from_def(v6, "dst.example.org");
        g_assert_cmpstr(g->listen, ==, "dst.example.org");
        g_assert_cmpint(g->port, ==, 5930);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/migration-cookie-graphics/golden", test_golden);
        g_test_add_func("/migration-cookie-graphics/accepted", test_accepted);
        g_test_add_func("/migration-cookie-graphics/hostile", test_hostile);
        g_test_add_func("/migration-cookie-graphics/encode-invalid", test_encode_invalid);
        g_test_add_func("/migration-cookie-graphics/from-def", test_from_def);
        return g_test_run();
}
