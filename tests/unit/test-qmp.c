/* QMP framing against transcripts recorded from QEMU 7.2 (tests/data/qmp,
 * made by record.py there): NAME.out is what QEMU wrote, NAME.in what the
 * client must write for the same session, byte for byte. */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "md-error.h"
#include "qmp-harness.h"

/* ---- transcripts ---- */

typedef enum {
        FEED_WHOLE,
        FEED_BYTEWISE,
        FEED_RANDOM,
} FeedMode;

static const char *const transcripts[] = {
        "handshake", "stop-cont", "error", "migrate", "migration", "quit",
};

/* Issues the commands of NAME.in before the greeting, feeds NAME.out, and
 * checks that the client wrote NAME.in exactly. */
static Harness *run_transcript(const char *name, FeedMode mode, Reply **ret_replies,
                               guint *ret_n) {
        g_autofree char *in = load(name, "in");
        g_autofree char *out = load(name, "out");
        g_auto(GStrv) lines = g_strsplit(in, "\n", -1);
        guint n = g_strv_length(lines) - 2;     /* without qmp_capabilities and the "" */
        Reply *replies = g_new0(Reply, n);
        Harness *h = harness_new(TRUE);
        gsize len = strlen(out);

        for (guint i = 0; i < n; i++) {
                g_autoptr(JsonNode) node = json_from_string(lines[i + 1], NULL);
                JsonObject *o = json_node_get_object(node);
                JsonNode *args = json_object_dup_member(o, "arguments");

                replies[i].harness = h;
                qmp_client_execute_async(h->client, json_object_get_string_member(o, "execute"),
                                         args, NULL, on_reply, &replies[i]);
        }
        g_assert_cmpuint(h->written->len, ==, 0);

        for (gsize pos = 0; pos < len;) {
                gsize chunk = len - pos;

                if (mode == FEED_BYTEWISE)
                        chunk = 1;
                else if (mode == FEED_RANDOM) {
                        gsize random = g_test_rand_int_range(1, 200);

                        chunk = MIN(chunk, random);
                }
                g_autoptr(GError) error = NULL;

                qmp_client_feed(h->client, out + pos, chunk, &error);
                g_assert_no_error(error);
                pos += chunk;
        }
        pump();

        g_assert_cmpstr(h->written->str, ==, in);
        g_assert_cmpuint(h->n_ready, ==, 1);
        g_assert_no_error(h->ready_error);
        g_assert_true(qmp_client_is_ready(h->client));
        for (guint i = 0; i < n; i++)
                g_assert_true(replies[i].done);
        *ret_replies = replies;
        *ret_n = n;
        return h;
}

static void replies_free(Reply *replies, guint n) {
        for (guint i = 0; i < n; i++)
                reply_clear(&replies[i]);
        g_free(replies);
}

static void test_transcript_handshake(void) {
        Reply *r;
        guint n;
        g_autoptr(Harness) h = run_transcript("handshake", FEED_WHOLE, &r, &n);
        JsonObject *version;

        g_assert_cmpuint(n, ==, 2);
        assert_status(&r[0], "running");
        g_assert_no_error(r[1].error);
        version = json_object_get_object_member(json_node_get_object(r[1].result), "qemu");
        g_assert_cmpint(json_object_get_int_member(version, "major"), ==, 7);
        g_assert_cmpint(json_object_get_int_member(version, "minor"), ==, 2);
        g_assert_cmpuint(h->events->len, ==, 0);
        replies_free(r, n);
}

static void test_transcript_stop_cont(void) {
        static const char *const events[] = { "STOP", "RESUME", NULL };
        Reply *r;
        guint n;
        g_autoptr(Harness) h = run_transcript("stop-cont", FEED_WHOLE, &r, &n);
        g_autofree char *empty = NULL;

        g_assert_cmpuint(n, ==, 4);
        g_assert_no_error(r[0].error);
        empty = node_to_string(r[0].result);
        g_assert_cmpstr(empty, ==, "{}");
        assert_status(&r[1], "paused");
        g_assert_no_error(r[2].error);
        assert_status(&r[3], "running");
        assert_events(h, events);
        replies_free(r, n);
}

static void test_transcript_error(void) {
        Reply *r;
        guint n;
        g_autoptr(Harness) h = run_transcript("error", FEED_WHOLE, &r, &n);

        g_assert_cmpuint(n, ==, 3);
        g_assert_error(r[0].error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r[0].error->message, ==,
                        "QEMU refused no-such-command: The command no-such-command has not been found");
        g_assert_cmpstr(r[0].error_class, ==, "CommandNotFound");
        /* The connection goes on after an error reply. */
        assert_status(&r[1], "running");
        g_assert_null(r[1].error_class);
        g_assert_error(r[2].error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r[2].error_class, ==, "GenericError");
        g_assert_true(g_str_has_prefix(r[2].error->message, "QEMU refused migrate-set-capabilities: "));
        g_assert_true(qmp_client_is_ready(h->client));
        replies_free(r, n);
}

static void test_transcript_migrate(void) {
        Reply *r;
        guint n;
        g_autoptr(Harness) h = run_transcript("migrate", FEED_WHOLE, &r, &n);
        JsonArray *caps;

        g_assert_cmpuint(n, ==, 3);
        g_assert_cmpuint(h->events->len, ==, 0);
        g_assert_no_error(r[0].error);
        g_assert_no_error(r[1].error);
        g_assert_cmpuint(json_object_get_size(json_node_get_object(r[1].result)), ==, 0);
        g_assert_no_error(r[2].error);
        caps = json_node_get_array(r[2].result);
        g_assert_cmpuint(json_array_get_length(caps), >, 10);
        for (guint i = 0; i < json_array_get_length(caps); i++) {
                JsonObject *cap = json_array_get_object_element(caps, i);

                if (g_str_equal(json_object_get_string_member(cap, "capability"), "events"))
                        g_assert_true(json_object_get_boolean_member(cap, "state"));
        }
        replies_free(r, n);
}

static void test_transcript_migration(void) {
        static const char *const events[] = {
                "MIGRATION {\"status\":\"setup\"}",
                "MIGRATION_PASS {\"pass\":1}",
                "MIGRATION {\"status\":\"active\"}",
                "STOP",
                "MIGRATION_PASS {\"pass\":2}",
                "MIGRATION {\"status\":\"completed\"}",
                NULL
        };
        Reply *r;
        guint n;
        g_autoptr(Harness) h = run_transcript("migration", FEED_WHOLE, &r, &n);

        g_assert_cmpuint(n, ==, 3);
        g_assert_no_error(r[1].error);
        assert_status(&r[2], "completed");
        assert_events(h, events);
        replies_free(r, n);
}

static void test_transcript_quit(void) {
        static const char *const events[] = {
                "SHUTDOWN {\"guest\":false,\"reason\":\"host-qmp-quit\"}", NULL
        };
        Reply *r;
        guint n;
        g_autoptr(Harness) h = run_transcript("quit", FEED_WHOLE, &r, &n);

        g_assert_cmpuint(n, ==, 2);
        assert_status(&r[0], "running");
        g_assert_no_error(r[1].error);
        assert_events(h, events);
        g_assert_cmpuint(h->n_closed, ==, 0);
        /* QEMU hangs up after answering quit. */
        qmp_client_feed_eof(h->client);
        qmp_client_feed_eof(h->client);
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_error(h->closed_error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_false(qmp_client_is_ready(h->client));
        replies_free(r, n);
}

/* Any split of the input gives the same session as the whole of it. */
static void check_split(FeedMode mode, guint rounds) {
        for (guint t = 0; t < G_N_ELEMENTS(transcripts); t++)
                for (guint round = 0; round < rounds; round++) {
                        Reply *whole, *split;
                        guint n, m;
                        g_autoptr(Harness) a = run_transcript(transcripts[t], FEED_WHOLE, &whole, &n);
                        g_autoptr(Harness) b = run_transcript(transcripts[t], mode, &split, &m);

                        g_assert_cmpuint(n, ==, m);
                        for (guint i = 0; i < n; i++) {
                                g_autofree char *x = whole[i].result ? node_to_string(whole[i].result) : NULL;
                                g_autofree char *y = split[i].result ? node_to_string(split[i].result) : NULL;

                                g_assert_cmpstr(x, ==, y);
                                g_assert_cmpstr(whole[i].error ? whole[i].error->message : NULL, ==,
                                                split[i].error ? split[i].error->message : NULL);
                        }
                        g_assert_cmpuint(a->events->len, ==, b->events->len);
                        for (guint i = 0; i < a->events->len; i++)
                                g_assert_cmpstr(a->events->pdata[i], ==, b->events->pdata[i]);
                        replies_free(whole, n);
                        replies_free(split, m);
                }
}

static void test_split_bytewise(void) {
        check_split(FEED_BYTEWISE, 1);
}

static void test_split_random(void) {
        check_split(FEED_RANDOM, g_test_thorough() ? 500 : 50);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/qmp/transcript/handshake", test_transcript_handshake);
        g_test_add_func("/qmp/transcript/stop-cont", test_transcript_stop_cont);
        g_test_add_func("/qmp/transcript/error", test_transcript_error);
        g_test_add_func("/qmp/transcript/migrate", test_transcript_migrate);
        g_test_add_func("/qmp/transcript/migration", test_transcript_migration);
        g_test_add_func("/qmp/transcript/quit", test_transcript_quit);
        g_test_add_func("/qmp/split/bytewise", test_split_bytewise);
        g_test_add_func("/qmp/split/random", test_split_random);
        qmp_protocol_add_tests();
        qmp_socket_add_tests();
        return g_test_run();
}
