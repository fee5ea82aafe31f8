/* Migration flags and typed parameters: every rule, in the documented order,
 * with the error code and the words a user needs in the message. */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "md-error.h"
#include "params-test.h"

#define IMPLEMENTED_FLAGS (MIGRATE_LIVE | MIGRATE_PERSIST_DEST | MIGRATE_UNDEFINE_SOURCE | MIGRATE_PAUSED | \
                           MIGRATE_CHANGE_PROTECTION | MIGRATE_UNSAFE | MIGRATE_COMPRESSED | \
                           MIGRATE_AUTO_CONVERGE | MIGRATE_PARALLEL | MIGRATE_NON_SHARED_DISK)

/* ---- Flags ---- */

static void test_flag_names(void) {
        g_assert_cmpstr(migration_flag_name(MIGRATE_LIVE), ==, "LIVE");
        g_assert_cmpstr(migration_flag_name(MIGRATE_PERSIST_DEST), ==, "PERSIST_DEST");
        g_assert_cmpstr(migration_flag_name(MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES), ==,
                        "NON_SHARED_SYNCHRONOUS_WRITES");
        g_assert_cmpstr(migration_flag_name(MIGRATE_ZEROCOPY), ==, "ZEROCOPY");
        g_assert_null(migration_flag_name(0));
        g_assert_null(migration_flag_name(1u << 21));
        g_assert_null(migration_flag_name(MIGRATE_LIVE | MIGRATE_PAUSED));
        /* The enum and the table agree bit by bit. */
        for (guint i = 0; i <= 20; i++)
                g_assert_nonnull(migration_flag_name(1u << i));
}

static void test_flags_unknown(void) {
        static const guint cases[] = { 1u << 21, 1u << 31, 0xffffffffu, MIGRATE_LIVE | (1u << 25) };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *hex = g_strdup_printf("0x%x", cases[i] & ~(guint) _MIGRATE_FLAGS_ALL);

                g_assert_false(migration_flags_check(cases[i], &error));
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                assert_mentions(error, (const char *const[]) { "Unknown migration flags", hex, NULL });
                /* Unknown bits come first, before even an unknown key. */
                assert_params_error("{'nope': <1>}", cases[i], MD_ERROR_INVALID_ARGS, "Unknown migration flags",
                                    NULL);
        }
}

/* Each combination rule, with the flags it names. Flags outside the rule
 * are implemented ones, so nothing but the rule can fail. */
static const struct {
        guint flags;
        const char *first, *second;
} combinations[] = {
        { MIGRATE_OFFLINE, "OFFLINE", "PERSIST_DEST" },
        { MIGRATE_OFFLINE | MIGRATE_PERSIST_DEST | MIGRATE_LIVE, "OFFLINE", "LIVE" },
        { MIGRATE_OFFLINE | MIGRATE_PERSIST_DEST | MIGRATE_NON_SHARED_DISK, "OFFLINE", "NON_SHARED_DISK" },
        { MIGRATE_OFFLINE | MIGRATE_PERSIST_DEST | MIGRATE_NON_SHARED_INC, "OFFLINE", "NON_SHARED_INC" },
        { MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC, "NON_SHARED_DISK", "NON_SHARED_INC" },
        { MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES, "NON_SHARED_SYNCHRONOUS_WRITES", "NON_SHARED_DISK" },
        { MIGRATE_TUNNELLED, "TUNNELLED", "PEER2PEER" },
        { MIGRATE_TUNNELLED | MIGRATE_PEER2PEER | MIGRATE_POSTCOPY, "TUNNELLED", "POSTCOPY" },
        { MIGRATE_TUNNELLED | MIGRATE_PEER2PEER | MIGRATE_PARALLEL, "TUNNELLED", "PARALLEL" },
        { MIGRATE_ZEROCOPY, "ZEROCOPY", "PARALLEL" },
        { MIGRATE_POSTCOPY_RESUME, "POSTCOPY_RESUME", "POSTCOPY" },
        { MIGRATE_POSTCOPY | MIGRATE_PARALLEL, "POSTCOPY", "PARALLEL" },
};

static void test_flags_combinations(void) {
        for (guint i = 0; i < G_N_ELEMENTS(combinations); i++) {
                g_autoptr(GError) error = NULL;
                guint flags = combinations[i].flags;

                g_assert_false(migration_flags_check(flags, &error));
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                assert_mentions(error, (const char *const[]) { combinations[i].first, combinations[i].second, NULL });
                assert_params_error(NULL, flags, MD_ERROR_INVALID_ARGS, combinations[i].first,
                                    combinations[i].second, NULL);
        }
}

/* Each unimplemented flag is Unsupported naming it, with a reason where
 * there is one. Flags a rule needs are added; flags refused for a reason are
 * reported before those merely not implemented yet, then in bit order (so
 * NON_SHARED_SYNCHRONOUS_WRITES and POSTCOPY_RESUME are reached once the
 * flags they need are implemented). */
static void test_flags_implemented(void) {
        static const struct {
                guint flags;
                const char *name;
                const char *also;       /* extra words in the message */
        } unsupported[] = {
                { MIGRATE_TUNNELLED | MIGRATE_PEER2PEER, "TUNNELLED", "tunnelled" },
                { MIGRATE_ABORT_ON_ERROR, "ABORT_ON_ERROR", "yet" },
                { MIGRATE_RDMA_PIN_ALL, "RDMA_PIN_ALL", "RDMA" },
                { MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES | MIGRATE_NON_SHARED_DISK, "NON_SHARED_SYNCHRONOUS_WRITES",
                  "non-shared storage" },
                { MIGRATE_POSTCOPY_RESUME | MIGRATE_POSTCOPY, "POSTCOPY_RESUME", "yet" },
                { MIGRATE_ZEROCOPY | MIGRATE_PARALLEL, "ZEROCOPY", "zero-copy" },
                /* Several: the reasoned one wins over bit order. */
                { MIGRATE_PEER2PEER | MIGRATE_RDMA_PIN_ALL, "RDMA_PIN_ALL", "RDMA" },
        };
        g_autoptr(GError) error = NULL;

        g_assert_true(migration_flags_check(0, &error));
        g_assert_true(migration_flags_check(IMPLEMENTED_FLAGS, &error));
        /* NON_SHARED_INC excludes NON_SHARED_DISK, so not in IMPLEMENTED_FLAGS. */
        g_assert_true(migration_flags_check((IMPLEMENTED_FLAGS & ~MIGRATE_NON_SHARED_DISK) | MIGRATE_NON_SHARED_INC,
                                            &error));
        g_assert_no_error(error);

        for (guint i = 0; i < G_N_ELEMENTS(unsupported); i++) {
                guint flags = unsupported[i].flags;
                g_autofree char *expected = g_strdup_printf("Migration flag %s is not supported",
                                                            unsupported[i].name);
                g_autoptr(GError) e = NULL;

                g_assert_false(migration_flags_check(flags, &e));
                g_assert_error(e, MD_ERROR, MD_ERROR_UNSUPPORTED);
                assert_mentions(e, (const char *const[]) { expected, unsupported[i].also, NULL });
                assert_params_error(NULL, flags, MD_ERROR_UNSUPPORTED, expected, NULL);
        }
}

/* ---- Parameters ---- */

static void test_no_params(void) {
        g_autoptr(MigrationParams) p = params_ok(NULL, MIGRATE_LIVE);
        g_autoptr(MigrationParams) q = params_ok("@a{sv} {}", 0);

        g_assert_cmpuint(p->flags, ==, MIGRATE_LIVE);
        g_assert_null(p->migrate_uri);
        g_assert_null(p->destination_name);
        g_assert_null(p->destination_xml);
        g_assert_false(p->has_bandwidth);
        g_assert_null(p->compression);
        g_assert_null(q->migrate_uri);
}

static void test_implemented_keys(void) {
        g_autoptr(MigrationParams) p = params_ok(
                "{'migrate_uri': <'tcp:192.0.2.1:49152'>, 'destination_name': <'vm2'>,"
                " 'destination_xml': <'<domain/>'>, 'bandwidth': <uint64 100>}",
                IMPLEMENTED_FLAGS);
        g_autoptr(MigrationParams) zero = params_ok("{'bandwidth': <uint64 0>}", 0);

        g_assert_cmpuint(p->flags, ==, IMPLEMENTED_FLAGS);
        g_assert_cmpstr(p->migrate_uri, ==, "tcp:192.0.2.1:49152");
        g_assert_cmpstr(p->destination_name, ==, "vm2");
        g_assert_cmpstr(p->destination_xml, ==, "<domain/>");
        g_assert_true(p->has_bandwidth);
        g_assert_cmpuint(p->bandwidth, ==, 100);
        /* Given as 0 (unlimited) is not the same as not given. */
        g_assert_true(zero->has_bandwidth);
        g_assert_cmpuint(zero->bandwidth, ==, 0);
}

static void test_unknown_key(void) {
        assert_params_error("{'graphics_uri': <'spice://x'>}", 0, MD_ERROR_UNSUPPORTED,
                            "Unknown migration parameter 'graphics_uri'", NULL);
        assert_params_error("{'': <1>}", 0, MD_ERROR_UNSUPPORTED, "Unknown migration parameter ''", NULL);
        /* Keys are case-sensitive, as libvirt's. */
        assert_params_error("{'Bandwidth': <uint64 1>}", 0, MD_ERROR_UNSUPPORTED, "'Bandwidth'", NULL);
        /* Unknown keys come before type errors of known ones, wherever they are. */
        assert_params_error("{'bandwidth': <'fast'>, 'nope': <1>}", 0, MD_ERROR_UNSUPPORTED, "'nope'", NULL);
        /* A hostile key is cut short and loses its control characters. */
        assert_params_error("{'a\\nb': <1>}", 0, MD_ERROR_UNSUPPORTED, "'a?b'", NULL);
}

/* Every key with a value of the wrong type names key, letter and word. */
static void test_wrong_types(void) {
        static const struct {
                const char *key;
                const char *expected;
                const char *wrong;      /* a value of another type */
                const char *wrong_type;
        } cases[] = {
                { "migrate_uri", "s (string)", "<uint64 1>", "not t" },
                { "destination_name", "s (string)", "<['vm']>", "not as" },
                { "destination_xml", "s (string)", "<objectpath '/x'>", "not o" },
                { "persistent_xml", "s (string)", "<true>", "not b" },
                { "bandwidth", "t (uint64)", "<'fast'>", "not s" },
                { "bandwidth", "t (uint64)", "<int32 100>", "not i" },
                { "bandwidth.postcopy", "t (uint64)", "<uint32 100>", "not u" },
                { "listen_address", "s (string)", "<byte 1>", "not y" },
                { "parallel.connections", "i (int32)", "<uint64 4>", "not t" },
                { "compression", "as (array of strings)", "<'zstd'>", "not s" },
                { "auto_converge.initial", "i (int32)", "<int64 20>", "not x" },
                { "auto_converge.increment", "i (int32)", "<2.5>", "not d" },
                { "tls.destination", "s (string)", "<<'host'>>", "not v" },
                { "migrate_disks", "as (array of strings)", "<{'vda': <1>}>", "not a{sv}" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *dict = g_strdup_printf("{'%s': %s}", cases[i].key, cases[i].wrong);
                g_autofree char *quoted = g_strdup_printf("Migration parameter '%s' must be of type %s",
                                                          cases[i].key, cases[i].expected);

                assert_params_error(dict, 0, MD_ERROR_INVALID_ARGS, quoted, cases[i].wrong_type, NULL);
        }
}

static void test_duplicate_key(void) {
        assert_params_error("[{'bandwidth', <uint64 1>}, {'bandwidth', <uint64 2>}]", 0, MD_ERROR_INVALID_ARGS,
                            "'bandwidth' is given more than once", NULL);
        assert_params_error("[{'compression', <['zlib']>}, {'compression', <['zstd']>}]",
                            MIGRATE_COMPRESSED | MIGRATE_PARALLEL, MD_ERROR_INVALID_ARGS,
                            "'compression' is given more than once", NULL);
}

/* Bad values of keys whose flags are set; each fails before "unsupported". */
static void test_bad_values(void) {
        static const struct {
                const char *dict;
                guint flags;
                const char *mentions;
        } cases[] = {
                { "{'migrate_uri': <''>}", 0, "'migrate_uri' must not be empty" },
                { "{'destination_name': <''>}", 0, "'destination_name' must not be empty" },
                { "{'destination_xml': <''>}", 0, "'destination_xml' must not be empty" },
                { "{'persistent_xml': <''>}", MIGRATE_PERSIST_DEST, "'persistent_xml' must not be empty" },
                { "{'listen_address': <''>}", 0, "'listen_address' must not be empty" },
                { "{'tls.destination': <''>}", MIGRATE_TLS, "'tls.destination' must not be empty" },
                { "{'destination_name': <'a/b'>}", 0, "'destination_name' is not a valid domain name" },
                { "{'destination_name': <'.hidden'>}", 0, "not a valid domain name" },
                { "{'destination_name': <'a\\tb'>}", 0, "not a valid domain name" },
                { "{'listen_address': <'a b'>}", 0, "host name or an IP address, not 'a b'" },
                { "{'tls.destination': <'-x'>}", MIGRATE_TLS, "'tls.destination' must be a host name" },
                { "{'bandwidth': <uint64 18446744073709551615>}", 0, "'bandwidth' must be at most 8796093022207" },
                { "{'bandwidth.postcopy': <uint64 8796093022208>}", MIGRATE_POSTCOPY, "'bandwidth.postcopy' must be at most" },
                { "{'parallel.connections': <0>}", MIGRATE_PARALLEL, "'parallel.connections' must be between 1 and 255, not 0" },
                { "{'parallel.connections': <256>}", MIGRATE_PARALLEL, "between 1 and 255, not 256" },
                { "{'parallel.connections': <-1>}", MIGRATE_PARALLEL, "not -1" },
                { "{'auto_converge.initial': <-1>}", MIGRATE_AUTO_CONVERGE, "'auto_converge.initial' must be between 0 and 100" },
                { "{'auto_converge.initial': <101>}", MIGRATE_AUTO_CONVERGE, "not 101" },
                { "{'auto_converge.increment': <0>}", MIGRATE_AUTO_CONVERGE, "'auto_converge.increment' must be between 1 and 100" },
                { "{'auto_converge.increment': <101>}", MIGRATE_AUTO_CONVERGE, "not 101" },
                { "{'compression': <['lzo']>}", MIGRATE_COMPRESSED, "Unknown compression method 'lzo'" },
                { "{'compression': <['mt']>}", MIGRATE_COMPRESSED, "use xbzrle, zlib or zstd" },
                { "{'compression': <['zstd', 'zstd']>}", MIGRATE_COMPRESSED | MIGRATE_PARALLEL, "'zstd' is listed twice" },
                { "{'compression': <@as []>}", MIGRATE_COMPRESSED, "'compression' lists no method" },
                { "{'migrate_disks': <@as []>}", MIGRATE_NON_SHARED_DISK, "'migrate_disks' must list 1 to 256" },
                { "{'migrate_disks': <['vda', '']>}", MIGRATE_NON_SHARED_DISK, "has '', which is not a disk target" },
                { "{'migrate_disks': <['vda', 'vda']>}", MIGRATE_NON_SHARED_DISK, "Disk 'vda' is listed twice" },
                { "{'migrate_disks': <['/dev/sda']>}", MIGRATE_NON_SHARED_INC, "not a disk target" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GVariant) v = parse(cases[i].dict);
                g_autoptr(GError) error = NULL;
                g_autoptr(MigrationParams) p = migration_params_new(v, cases[i].flags, &error);

                g_assert_null(p);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                assert_mentions(error, (const char *const[]) { cases[i].mentions, NULL });
        }
}

static void test_migrate_uri(void) {
        static const char *const good[] = {
                "tcp:dst:49152", "tcp://dst:49152", "tcp:192.0.2.7:1", "tcp://[2001:db8::1]:65535",
                "tcp:[::1]:4444", "tcp://host-1.example.org:5000", "tcp:my_host:80",
        };
        static const char *const bad[] = {
                "dst:49152", "tcp:dst", "tcp://dst", "tcp://dst:", "tcp://dst:0", "tcp://dst:65536",
                "tcp://:49152", "rdma://dst:49152", "unix:/tmp/sock", "TCP://dst:1", "tcp://u@dst:1",
                "tcp://dst:1/path", "tcp://dst:1/", "tcp://dst:1?x=y", "tcp://dst:1#f", "tcp:::1:4444",
                "tcp://dst name:1", "tcp://-dst:1", "tcp://dst:1x", "tcp:", "tcp://",
        };

        for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autofree char *dict = g_strdup_printf("{'migrate_uri': <'%s'>}", good[i]);
                g_autoptr(MigrationParams) p = params_ok(dict, 0);
                g_autoptr(GError) error = NULL;
                g_autofree char *host = NULL;
                guint16 port = 0;

                g_assert_cmpstr(p->migrate_uri, ==, good[i]);
                g_assert_true(migration_uri_parse(good[i], &host, &port, &error));
                g_assert_no_error(error);
                g_assert_nonnull(host);
                g_assert_cmpuint(port, >, 0);
        }
        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *dict = g_strdup_printf("{'migrate_uri': <'%s'>}", bad[i]);
                g_autofree char *quoted = g_strdup_printf("not '%s'", bad[i]);

                assert_params_error(dict, 0, MD_ERROR_INVALID_ARGS,
                                    "'migrate_uri' must look like tcp:HOST:PORT or tcp://HOST:PORT", quoted, NULL);
        }

        {
                g_autoptr(GError) error = NULL;
                g_autofree char *host = NULL;
                guint16 port = 0;

                g_assert_true(migration_uri_parse("tcp:[2001:db8::1]:4444", &host, &port, &error));
                g_assert_cmpstr(host, ==, "2001:db8::1");
                g_assert_cmpuint(port, ==, 4444);
                g_clear_pointer(&host, g_free);
                g_assert_true(migration_uri_parse("tcp://dst.example:49152", &host, &port, &error));
                g_assert_cmpstr(host, ==, "dst.example");
                g_assert_cmpuint(port, ==, 49152);
        }
}

/* Keys against flags: each names key and flag(s). */
static void test_key_flag_combinations(void) {
        static const struct {
                const char *dict;
                guint flags;
                const char *key, *flag;
        } cases[] = {
                { "{'parallel.connections': <4>}", 0, "'parallel.connections'", "PARALLEL" },
                { "{'compression': <['xbzrle']>}", 0, "'compression'", "COMPRESSED" },
                { "{'auto_converge.initial': <20>}", 0, "'auto_converge.initial'", "AUTO_CONVERGE" },
                { "{'auto_converge.increment': <10>}", 0, "'auto_converge.increment'", "AUTO_CONVERGE" },
                { "{'bandwidth.postcopy': <uint64 10>}", 0, "'bandwidth.postcopy'", "POSTCOPY" },
                { "{'tls.destination': <'dst'>}", 0, "'tls.destination'", "TLS" },
                { "{'persistent_xml': <'<domain/>'>}", 0, "'persistent_xml'", "PERSIST_DEST" },
                { "{'migrate_disks': <['vda']>}", 0, "'migrate_disks'", "NON_SHARED_DISK or NON_SHARED_INC" },
                { "{'migrate_disks': <['vda']>}", MIGRATE_NON_SHARED_DISK | MIGRATE_TUNNELLED | MIGRATE_PEER2PEER,
                  "'migrate_disks' cannot be used", "TUNNELLED" },
                { "{'migrate_uri': <'tcp:dst:1'>}", MIGRATE_TUNNELLED | MIGRATE_PEER2PEER,
                  "'migrate_uri' cannot be used", "TUNNELLED" },
                /* QEMU compresses multifd with zlib/zstd only, and xbzrle only without it. */
                { "{'compression': <['zstd']>}", MIGRATE_COMPRESSED, "'zstd'", "PARALLEL" },
                { "{'compression': <['zlib']>}", MIGRATE_COMPRESSED, "'zlib'", "PARALLEL" },
                { "{'compression': <['xbzrle']>}", MIGRATE_COMPRESSED | MIGRATE_PARALLEL, "'xbzrle'", "PARALLEL" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
                assert_params_error(cases[i].dict, cases[i].flags, MD_ERROR_INVALID_ARGS, cases[i].key,
                                    cases[i].flag, NULL);
}

/* Each unimplemented key, valid and with the flags it needs. Those flags
 * are unimplemented too and reported first (step 6: flags, then keys); a
 * key that needs no unimplemented flag is reported itself. */
static void test_unimplemented_keys(void) {
        /* Implemented since the rest of the surface landed: accepted as given. */
        static const struct {
                const char *dict;
                guint flags;
        } accepted[] = {
                { "{'persistent_xml': <'<domain/>'>}", MIGRATE_PERSIST_DEST },
                { "{'listen_address': <'0.0.0.0'>}", 0 },
                { "{'listen_address': <'::'>}", 0 },
                { "{'listen_address': <'dst.example'>, 'bandwidth': <uint64 1>}", MIGRATE_LIVE },
                { "{'bandwidth.postcopy': <uint64 10>}", MIGRATE_POSTCOPY },
                { "{'parallel.connections': <4>}", MIGRATE_PARALLEL },
                { "{'compression': <['xbzrle']>}", MIGRATE_COMPRESSED },
                { "{'compression': <['zlib']>}", MIGRATE_COMPRESSED | MIGRATE_PARALLEL },
                { "{'auto_converge.initial': <20>}", MIGRATE_AUTO_CONVERGE },
                { "{'auto_converge.increment': <10>}", MIGRATE_AUTO_CONVERGE },
                { "{'tls.destination': <'dst.example'>}", MIGRATE_TLS },
                { "{'migrate_disks': <['vda', 'sdb']>}", MIGRATE_NON_SHARED_INC },
        };

        for (guint i = 0; i < G_N_ELEMENTS(accepted); i++) {
                g_autoptr(MigrationParams) p = params_ok(accepted[i].dict, accepted[i].flags);
                g_assert_cmpuint(p->flags, ==, accepted[i].flags);
        }
}

/* The documented order: each step wins over every later one. */
static void test_order(void) {
        /* 2 before 3: an unknown key before a wrong type. */
        assert_params_error("{'bandwidth': <'x'>, 'zzz': <1>}", 0, MD_ERROR_UNSUPPORTED, "'zzz'", NULL);
        /* 3 before 4: a wrong type before a bad value. */
        assert_params_error("{'migrate_uri': <'bad'>, 'bandwidth': <'x'>}", 0, MD_ERROR_INVALID_ARGS,
                            "'bandwidth' must be of type", NULL);
        /* 4 before 5: a bad value before a bad combination. */
        assert_params_error("{'destination_name': <''>}", MIGRATE_OFFLINE, MD_ERROR_INVALID_ARGS,
                            "'destination_name' must not be empty", NULL);
        /* 5 before 6: a bad combination before an unimplemented flag or key. */
        assert_params_error(NULL, MIGRATE_TUNNELLED, MD_ERROR_INVALID_ARGS, "PEER2PEER", NULL);
        assert_params_error("{'parallel.connections': <4>}", MIGRATE_LIVE, MD_ERROR_INVALID_ARGS,
                            "requires migration flag PARALLEL", NULL);
        /* 6: unimplemented flags before unimplemented keys. */
        assert_params_error("{'tls.destination': <'dst'>}", MIGRATE_TLS | MIGRATE_ABORT_ON_ERROR,
                            MD_ERROR_UNSUPPORTED, "Migration flag ABORT_ON_ERROR", NULL);
}

/* The plain forms build exactly what the dictionary builds. */
static void test_plain(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationParams) dict = params_ok(
                "{'destination_xml': <'<domain/>'>, 'destination_name': <'vm2'>,"
                " 'migrate_uri': <'tcp://dst:49152'>, 'bandwidth': <uint64 64>}", MIGRATE_LIVE);
        g_autoptr(MigrationParams) plain = migration_params_new_plain("<domain/>", "vm2", "tcp://dst:49152", 64,
                                                                      MIGRATE_LIVE, &error);
        g_autoptr(MigrationParams) empty = NULL;
        g_autoptr(MigrationParams) nulls = NULL;

        g_assert_no_error(error);
        g_assert_cmpuint(plain->flags, ==, dict->flags);
        g_assert_cmpstr(plain->destination_xml, ==, dict->destination_xml);
        g_assert_cmpstr(plain->destination_name, ==, dict->destination_name);
        g_assert_cmpstr(plain->migrate_uri, ==, dict->migrate_uri);
        g_assert_cmpint(plain->has_bandwidth, ==, dict->has_bandwidth);
        g_assert_cmpuint(plain->bandwidth, ==, dict->bandwidth);

        /* Empty strings and a zero bandwidth are "not given". */
        empty = migration_params_new_plain("", "", "", 0, 0, &error);
        g_assert_no_error(error);
        nulls = migration_params_new_plain(NULL, NULL, NULL, 0, 0, &error);
        g_assert_no_error(error);
        g_assert_null(empty->destination_xml);
        g_assert_null(empty->destination_name);
        g_assert_null(empty->migrate_uri);
        g_assert_false(empty->has_bandwidth);
        g_assert_null(nulls->migrate_uri);
        g_assert_false(nulls->has_bandwidth);
}

/* COMPRESSED means xbzrle unless a list names only multifd methods: the
 * migration safety rule (TCG before QEMU 9.0) hangs on this answer. */
static void test_use_xbzrle(void) {
        static const struct {
                const char *params;
                guint flags;
                gboolean xbzrle;
        } cases[] = {
                { "{}", MIGRATE_LIVE, FALSE },
                { "{}", MIGRATE_LIVE | MIGRATE_COMPRESSED, TRUE },
                { "{'compression': <['xbzrle']>}", MIGRATE_LIVE | MIGRATE_COMPRESSED, TRUE },
                { "{'compression': <['zstd']>}", MIGRATE_LIVE | MIGRATE_COMPRESSED | MIGRATE_PARALLEL, FALSE },
                { "{'compression': <['zlib']>}", MIGRATE_LIVE | MIGRATE_COMPRESSED | MIGRATE_PARALLEL, FALSE },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(MigrationParams) p = params_ok(cases[i].params, cases[i].flags);
                g_assert_cmpint(migration_params_use_xbzrle(p), ==, cases[i].xbzrle);
        }
}

/* ... and refuse what it refuses, with the same messages. */
static void test_plain_errors(void) {
        static const struct {
                const char *dxml, *dname, *uri;
                guint64 bandwidth;
                guint flags;
                gint code;
                const char *mentions;
        } cases[] = {
                { NULL, "a/b", NULL, 0, 0, MD_ERROR_INVALID_ARGS, "'destination_name' is not a valid domain name" },
                { NULL, NULL, "udp://x:1", 0, 0, MD_ERROR_INVALID_ARGS, "'migrate_uri' must look like" },
                { NULL, NULL, NULL, G_MAXUINT64, 0, MD_ERROR_INVALID_ARGS, "'bandwidth' must be at most" },
                { NULL, NULL, NULL, 0, 1u << 22, MD_ERROR_INVALID_ARGS, "Unknown migration flags 0x400000" },
                { NULL, NULL, NULL, 0, MIGRATE_OFFLINE, MD_ERROR_INVALID_ARGS, "PERSIST_DEST" },
                { NULL, NULL, NULL, 0, MIGRATE_ABORT_ON_ERROR, MD_ERROR_UNSUPPORTED, "Migration flag ABORT_ON_ERROR" },
                { NULL, "vm\xff", NULL, 0, 0, MD_ERROR_INVALID_ARGS, "'destination_name' is not valid UTF-8" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(MigrationParams) p = migration_params_new_plain(cases[i].dxml, cases[i].dname,
                                                                          cases[i].uri, cases[i].bandwidth,
                                                                          cases[i].flags, &error);

                g_assert_null(p);
                g_assert_error(error, MD_ERROR, cases[i].code);
                assert_mentions(error, (const char *const[]) { cases[i].mentions, NULL });
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/migration-params/flags/names", test_flag_names);
        g_test_add_func("/migration-params/flags/unknown", test_flags_unknown);
        g_test_add_func("/migration-params/flags/combinations", test_flags_combinations);
        g_test_add_func("/migration-params/flags/implemented", test_flags_implemented);
        g_test_add_func("/migration-params/keys/none", test_no_params);
        g_test_add_func("/migration-params/keys/implemented", test_implemented_keys);
        g_test_add_func("/migration-params/keys/unknown", test_unknown_key);
        g_test_add_func("/migration-params/keys/wrong-types", test_wrong_types);
        g_test_add_func("/migration-params/keys/duplicate", test_duplicate_key);
        g_test_add_func("/migration-params/keys/bad-values", test_bad_values);
        g_test_add_func("/migration-params/keys/migrate-uri", test_migrate_uri);
        g_test_add_func("/migration-params/keys/flag-combinations", test_key_flag_combinations);
        g_test_add_func("/migration-params/keys/unimplemented", test_unimplemented_keys);
        g_test_add_func("/migration-params/order", test_order);
        g_test_add_func("/migration-params/plain", test_plain);
        g_test_add_func("/migration-params/plain-errors", test_plain_errors);
        g_test_add_func("/migration-params/use-xbzrle", test_use_xbzrle);
        migration_params_table_add_tests();
        return g_test_run();
}
