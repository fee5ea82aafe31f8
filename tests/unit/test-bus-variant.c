/* a{sv} between sd-bus messages and GVariant. Messages are built, sealed and
 * read back on a bus object that has no peer: sd-bus makes messages only on
 * a started bus, so it is started on one end of a socketpair nobody reads. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus-glib.h"
#include "bus-variant.h"

typedef struct {
        sd_bus *bus;
        int peer;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        int fds[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        g_assert_cmpint(sd_bus_new(&f->bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(f->bus, fds[0], fds[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(f->bus), >=, 0);
        f->peer = fds[1];
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        sd_bus_close_unref(f->bus);
        close(f->peer);
}

static sd_bus_message *new_message(Fixture *f) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(f->bus, &m, "org.example.Migration1",
                                                       "/org/example/Migration1",
                                                       "org.example.Migration1.Manager", "Test"), >=, 0);
        return m;
}

/* Seals @m and puts the read position at its start, as a received message. */
static void seal(sd_bus_message *m) {
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, 1), >=, 0);
}

static GVariant *parse(const char *text) {
        g_autoptr(GError) error = NULL;
        GVariant *v = g_variant_parse(NULL, text, NULL, NULL, &error);

        g_assert_no_error(error);
        return v;       /* not floating */
}

/* Reads an a{sv} from @m expecting InvalidArgs whose message contains @mentions. */
static void assert_read_invalid(sd_bus_message *m, const char *mentions) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        GVariant *v = NULL;
        int r = bus_message_read_vardict(m, &v, &error);

        g_assert_cmpint(r, ==, -EINVAL);
        g_assert_null(v);
        g_assert_cmpstr(error.name, ==, SD_BUS_ERROR_INVALID_ARGS);
        if (!strstr(error.message, mentions))
                g_error("'%s' does not mention '%s'", error.message, mentions);
}

/* Every supported value type survives append, seal and read, in order, and
 * the read ends right after the dictionary. */
static void test_round_trip(Fixture *f, gconstpointer data) {
        g_autoptr(GVariant) dict = parse(
                "{'y': <byte 0xff>, 'b': <true>, 'n': <int16 -32768>, 'q': <uint16 65535>,"
                " 'i': <int32 -2147483648>, 'u': <uint32 4294967295>, 'x': <int64 -9223372036854775808>,"
                " 't': <uint64 18446744073709551615>, 'd': <-0.5>, 's': <'héllo'>, 'o': <objectpath '/a/b'>,"
                " 'g': <signature 'a{sv}'>, 'as': <['a', '', 'c']>, 'empty': <@as []>}");
        g_autoptr(sd_bus_message) m = new_message(f);
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GVariant) back = NULL;
        uint32_t after = 0;

        g_assert_cmpint(bus_message_append_vardict(m, dict), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "u", 7), >=, 0);
        seal(m);
        g_assert_cmpint(bus_message_read_vardict(m, &back, &error), ==, 0);
        g_assert_false(sd_bus_error_is_set(&error));
        g_assert_false(g_variant_is_floating(back));
        g_assert_true(g_variant_equal(dict, back));
        g_assert_cmpint(sd_bus_message_read(m, "u", &after), >, 0);
        g_assert_cmpuint(after, ==, 7);
}

static void test_empty(Fixture *f, gconstpointer data) {
        g_autoptr(GVariant) dict = parse("@a{sv} {}");
        g_autoptr(sd_bus_message) m = new_message(f);
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GVariant) back = NULL;

        g_assert_cmpint(bus_message_append_vardict(m, dict), >=, 0);
        seal(m);
        g_assert_cmpint(bus_message_read_vardict(m, &back, &error), ==, 0);
        g_assert_cmpuint(g_variant_n_children(back), ==, 0);
        g_assert_true(g_variant_is_of_type(back, G_VARIANT_TYPE_VARDICT));
}

/* Appending handles nested containers; reading refuses them, naming key and type. */
static void test_nested(Fixture *f, gconstpointer data) {
        static const struct {
                const char *dict;
                const char *mentions;
        } cases[] = {
                { "{'stats': <{'a': <uint64 1>, 'b': <['x']>}>}", "Parameter 'stats' has unsupported type a{sv}" },
                { "{'ints': <[1, 2]>}", "Parameter 'ints' has unsupported type ai" },
                { "{'pair': <('a', 1)>}", "Parameter 'pair' has unsupported type (si)" },
                { "{'v': <<'inner'>>}", "Parameter 'v' has unsupported type v" },
                { "{'aas': <[['a']]>}", "Parameter 'aas' has unsupported type aas" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GVariant) dict = parse(cases[i].dict);
                g_autoptr(sd_bus_message) m = new_message(f);

                g_assert_cmpint(bus_message_append_vardict(m, dict), >=, 0);
                seal(m);
                assert_read_invalid(m, cases[i].mentions);
        }
}

/* What D-Bus cannot carry is refused, not mangled. */
static void test_append_unrepresentable(Fixture *f, gconstpointer data) {
        static const char *const dicts[] = {
                "{'maybe': <@ms 'x'>}",
                "{'handle': <handle 0>}",
                "{'unit': <()>}",
        };

        for (guint i = 0; i < G_N_ELEMENTS(dicts); i++) {
                g_autoptr(GVariant) dict = parse(dicts[i]);
                g_autoptr(sd_bus_message) m = new_message(f);

                g_assert_cmpint(bus_message_append_vardict(m, dict), <, 0);
        }
}

static void test_duplicate_key(Fixture *f, gconstpointer data) {
        g_autoptr(sd_bus_message) m = new_message(f);

        /* A GVariant dictionary may repeat keys too, but build it the bus way. */
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "bandwidth", "t", (uint64_t) 1,
                                              "bandwidth", "t", (uint64_t) 2), >=, 0);
        seal(m);
        assert_read_invalid(m, "Parameter 'bandwidth' is given more than once");
}

static void test_too_many(Fixture *f, gconstpointer data) {
        for (int n = BUS_VARDICT_MAX; n <= BUS_VARDICT_MAX + 1; n++) {
                g_autoptr(sd_bus_message) m = new_message(f);
                g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
                g_autoptr(GVariant) back = NULL;

                g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
                for (int i = 0; i < n; i++) {
                        g_autofree char *key = g_strdup_printf("k%d", i);
                        g_assert_cmpint(sd_bus_message_append(m, "{sv}", key, "i", i), >=, 0);
                }
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
                seal(m);
                if (n == BUS_VARDICT_MAX) {
                        g_assert_cmpint(bus_message_read_vardict(m, &back, &error), ==, 0);
                        g_assert_cmpuint(g_variant_n_children(back), ==, BUS_VARDICT_MAX);
                } else
                        assert_read_invalid(m, "More than 64 parameters");
        }
}

/* A key in an error message is cut short and has no control characters. */
static void test_key_quoted(Fixture *f, gconstpointer data) {
        g_autoptr(sd_bus_message) m = new_message(f);
        g_autofree char *key = g_strnfill(1000, 'k');

        key[1] = '\n';
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, key, "ai", 0), >=, 0);
        seal(m);
        assert_read_invalid(m, "Parameter 'k?kkk");
}

/* Not an a{sv} at all: sd-bus' own error, @error untouched. */
static void test_wrong_signature(Fixture *f, gconstpointer data) {
        g_autoptr(sd_bus_message) m = new_message(f);
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        GVariant *v = NULL;

        g_assert_cmpint(sd_bus_message_append(m, "a{ss}", 1, "k", "v"), >=, 0);
        seal(m);
        g_assert_cmpint(bus_message_read_vardict(m, &v, &error), <, 0);
        g_assert_null(v);
        g_assert_false(sd_bus_error_is_set(&error));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
#define ADD(path, func) g_test_add("/bus-variant/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
        ADD("round-trip", test_round_trip);
        ADD("empty", test_empty);
        ADD("nested", test_nested);
        ADD("append-unrepresentable", test_append_unrepresentable);
        ADD("duplicate-key", test_duplicate_key);
        ADD("too-many", test_too_many);
        ADD("key-quoted", test_key_quoted);
        ADD("wrong-signature", test_wrong_signature);
        return g_test_run();
}
