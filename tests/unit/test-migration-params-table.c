/* The migration parameters' table operations: walking every key, the
 * dictionary a job reports back, and the disks of a storage migration. */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "md-error.h"
#include "migration-disks-uri.h"
#include "params-test.h"

/* Keys the plain-argument forms carry (migration_params_new_plain()). */
static const char *const plain_keys[] = { "migrate_uri", "destination_name", "destination_xml", "bandwidth", NULL };

/* A value of the key's type, different for @n = 0 and 1. */
static GVariant *sample(const char *type, guint n) {
        const char *const strv[][2] = { { "a", NULL }, { "b", NULL } };

        if (g_str_equal(type, "s"))
                return g_variant_ref_sink(g_variant_new_string(n ? "two" : "one"));
        if (g_str_equal(type, "as"))
                return g_variant_ref_sink(g_variant_new_strv(strv[n], -1));
        if (g_str_equal(type, "t"))
                return g_variant_ref_sink(g_variant_new_uint64(7 + n));
        if (g_str_equal(type, "i"))
                return g_variant_ref_sink(g_variant_new_int32(3 + n));
        g_error("No sample value of type %s: teach this test the new type", type);
}

static void assert_only_key(const MigrationParams *p, const char *key, GVariant *expected) {
        g_autoptr(GVariant) dict = g_variant_ref_sink(migration_params_to_variant(p));
        g_autoptr(GVariant) value = g_variant_lookup_value(dict, key, NULL);

        g_assert_cmpuint(g_variant_n_children(dict), ==, 1);
        g_assert_nonnull(value);
        g_assert_true(g_variant_equal(value, expected));
}

/* Every row of the table, alone: to_variant() writes it, fill_from() copies
 * it into a struct that lacks it and leaves one that has it alone,
 * beyond_plain() names it unless the plain forms carry it, and free() frees
 * it (the sanitizer and valgrind runs see a leak). A row whose field one of
 * them misses fails here. */
static void test_table_walk(void) {
        g_autoptr(GVariant) wrong = g_variant_ref_sink(g_variant_new_boolean(TRUE));
        const char *key, *type;
        guint i;

        for (i = 0; migration_params_nth_key(i, &key, &type); i++) {
                g_autoptr(GVariant) one = sample(type, 0);
                g_autoptr(GVariant) two = sample(type, 1);
                g_autoptr(MigrationParams) p = g_new0(MigrationParams, 1);
                g_autoptr(MigrationParams) empty = g_new0(MigrationParams, 1);
                g_autoptr(MigrationParams) full = g_new0(MigrationParams, 1);

                g_test_message("key %s (%s)", key, type);
                g_assert_true(migration_params_set_unchecked(p, key, one));
                g_assert_false(migration_params_set_unchecked(p, key, wrong));
                assert_only_key(p, key, one);

                migration_params_fill_from(empty, p);
                assert_only_key(empty, key, one);
                g_assert_true(migration_params_set_unchecked(full, key, two));
                migration_params_fill_from(full, p);
                assert_only_key(full, key, two);

                g_assert_cmpstr(migration_params_beyond_plain(p), ==,
                                g_strv_contains(plain_keys, key) ? NULL : key);
        }
        g_assert_cmpuint(i, >, G_N_ELEMENTS(plain_keys));
}

/* What a peer receives: every key set, in the table's order; the first key
 * beyond the plain forms is the first such in that order. */
static void test_to_variant(void) {
        g_autoptr(GVariant) in = parse(
                "{'migrate_disks': <['vda']>, 'compression': <['zstd']>, 'auto_converge.increment': <5>,"
                " 'auto_converge.initial': <20>, 'parallel.connections': <4>,"
                " 'bandwidth.postcopy': <uint64 32>, 'bandwidth': <uint64 64>, 'tls.destination': <'dst'>,"
                " 'listen_address': <'::'>, 'persistent_xml': <'<p/>'>, 'destination_xml': <'<d/>'>,"
                " 'destination_name': <'vm2'>, 'migrate_uri': <'tcp:dst:49152'>}");
        g_autoptr(MigrationParams) p = g_new0(MigrationParams, 1);
        g_autoptr(MigrationParams) copy = g_new0(MigrationParams, 1);
        g_autoptr(GVariant) out = NULL;
        g_autoptr(GVariant) copied = NULL;
        g_autofree char *text = NULL;
        GVariantIter iter;
        const char *key;
        GVariant *value;

        g_variant_iter_init(&iter, in);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
                g_assert_true(migration_params_set_unchecked(p, key, value));
        out = g_variant_ref_sink(migration_params_to_variant(p));
        text = g_variant_print(out, TRUE);
        g_assert_cmpstr(text, ==,
                        "{'migrate_uri': <'tcp:dst:49152'>, 'destination_name': <'vm2'>, "
                        "'destination_xml': <'<d/>'>, 'persistent_xml': <'<p/>'>, 'listen_address': <'::'>, "
                        "'tls.destination': <'dst'>, 'bandwidth': <uint64 64>, 'bandwidth.postcopy': <uint64 32>, "
                        "'parallel.connections': <4>, 'auto_converge.initial': <20>, "
                        "'auto_converge.increment': <5>, 'compression': <['zstd']>, 'migrate_disks': <['vda']>}");
        g_assert_cmpstr(migration_params_beyond_plain(p), ==, "persistent_xml");

        migration_params_fill_from(copy, p);
        copied = g_variant_ref_sink(migration_params_to_variant(copy));
        g_assert_true(g_variant_equal(copied, out));
}

/* disks_port and disks_uri: types, ranges, URI forms (hostile ones too),
 * the flags they need and libvirt's rules for their combination. */
static void test_disks(void) {
        const guint storage = MIGRATE_LIVE | MIGRATE_NON_SHARED_DISK;
        static const char *const bad_uris[] = {
                "", "tcp://", "tcp://:5000", "tcp://[::1", "tcp://host:99999", "tcp://host:-1",
                "tcp://user@host:5000", "tcp://host:5000/path", "tcp://host:5000?x=1", "tcp://host:5000#f",
                "tcp://-host:5000", "tcp://ho st:5000", "tcp://h%00st:5000", "tcp:host:5000", "nbd://host:5000",
                "unix://", "unix:///", "unix://host/sock", "unix:///sock?x", "unix://:5/sock", "unix:relative",
                "unix:///a%0Ab", "unix:///%00", "http://host/", "host:5000", "/path/only", "\x01",
                "unix:///" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                NULL,
        };
        struct {
                const char *uri, *host, *socket;
                guint16 port;
        } good[] = {
                { "tcp://127.0.0.1:5000", "127.0.0.1", NULL, 5000 },
                { "tcp://dst.example.org", "dst.example.org", NULL, 0 },
                { "tcp://[::1]:49153/", "::1", NULL, 49153 },
                { "TCP://host:0", "host", NULL, 0 },
                { "unix:///run/nbd.sock", NULL, "/run/nbd.sock", 0 },
                { "unix:/run/nbd.sock", NULL, "/run/nbd.sock", 0 },
        };

        for (guint i = 0; bad_uris[i]; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariantBuilder) b = g_variant_builder_new(G_VARIANT_TYPE_VARDICT);
                g_autoptr(GVariant) v = NULL;
                MigrationParams *p;

                if (migration_disks_uri_parse(bad_uris[i], NULL, &error))
                        g_error("disks_uri '%s' was accepted", bad_uris[i]);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                g_clear_error(&error);
                g_variant_builder_add(b, "{sv}", "disks_uri", g_variant_new_string(bad_uris[i]));
                v = g_variant_ref_sink(g_variant_builder_end(b));
                p = migration_params_new(v, storage, &error);
                g_assert_null(p);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                g_assert_nonnull(strstr(error->message, "disks_uri"));
        }
        for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
                g_auto(MigrationDisksUri) uri = { 0 };
                g_autoptr(GError) error = NULL;

                g_assert_true(migration_disks_uri_parse(good[i].uri, &uri, &error));
                g_assert_no_error(error);
                g_assert_cmpstr(uri.host, ==, good[i].host);
                g_assert_cmpstr(uri.socket, ==, good[i].socket);
                g_assert_cmpuint(uri.port, ==, good[i].port);
        }

        assert_params_error("{'disks_port': <65536>}", storage, MD_ERROR_INVALID_ARGS, "disks_port", "65535", NULL);
        assert_params_error("{'disks_port': <-1>}", storage, MD_ERROR_INVALID_ARGS, "disks_port", NULL);
        assert_params_error("{'disks_port': <uint32 5000>}", storage, MD_ERROR_INVALID_ARGS, "disks_port", "int32",
                            NULL);
        assert_params_error("{'disks_port': <'5000'>}", storage, MD_ERROR_INVALID_ARGS, "disks_port", NULL);
        assert_params_error("{'disks_uri': <5000>}", storage, MD_ERROR_INVALID_ARGS, "disks_uri", NULL);
        assert_params_error("{'disks_uri': <'tcp://h:1'>, 'disks_uri': <'tcp://h:2'>}", storage,
                            MD_ERROR_INVALID_ARGS, "disks_uri", NULL);
        /* Only with a storage flag, never tunnelled; port and URI exclude each other; no TLS over UNIX. */
        assert_params_error("{'disks_port': <5000>}", MIGRATE_LIVE, MD_ERROR_INVALID_ARGS, "disks_port",
                            "NON_SHARED_DISK", NULL);
        assert_params_error("{'disks_uri': <'tcp://h:1'>}", MIGRATE_LIVE, MD_ERROR_INVALID_ARGS, "disks_uri", NULL);
        assert_params_error("{'disks_port': <5000>, 'disks_uri': <'tcp://h'>}", storage, MD_ERROR_INVALID_ARGS,
                            "disks_port", "disks_uri", NULL);
        assert_params_error("{'disks_uri': <'unix:///run/x.sock'>}", storage | MIGRATE_TLS, MD_ERROR_UNSUPPORTED,
                            "UNIX", "TLS", NULL);
        {
                g_autoptr(MigrationParams) p = params_ok("{'disks_port': <49200>}", storage);
                g_autoptr(MigrationParams) q = params_ok("{'disks_port': <0>, 'disks_uri': <'tcp://h:7'>}", storage);
                g_autoptr(MigrationParams) r = params_ok("{'disks_uri': <'tcp://h:7'>}", storage | MIGRATE_TLS);

                g_assert_true(p->has_disks_port);
                g_assert_cmpint(p->disks_port, ==, 49200);
                g_assert_cmpstr(q->disks_uri, ==, "tcp://h:7");
                g_assert_cmpstr(r->disks_uri, ==, "tcp://h:7");
        }
}

void migration_params_table_add_tests(void) {
        g_test_add_func("/migration-params/table-walk", test_table_walk);
        g_test_add_func("/migration-params/to-variant", test_to_variant);
        g_test_add_func("/migration-params/disks", test_disks);
}
