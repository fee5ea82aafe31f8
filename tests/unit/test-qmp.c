/* QMP framing against transcripts recorded from QEMU 7.2 (tests/data/qmp,
 * made by record.py there): NAME.out is what QEMU wrote, NAME.in what the
 * client must write for the same session, byte for byte. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
        "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_SENT "{\"execute\":\"qmp_capabilities\",\"id\":\"md-1\"}\n"
#define CAPS_REPLY "{\"return\": {}, \"id\": \"md-1\"}\r\n"
#define CLOSED_MESSAGE "QEMU monitor connection closed"

typedef struct {
        QmpClient *client;
        GString *written;
        GPtrArray *events;              /* "NAME" or "NAME {data}" */
        guint n_ready;
        GError *ready_error;
        guint n_closed;
        GError *closed_error;
        gboolean free_in_event;
        gboolean free_in_ready;
        GMainLoop *loop;                /* quit on close, for the socket tests */
} Harness;

typedef struct {
        Harness *harness;
        gboolean done;
        JsonNode *result;
        GError *error;
        char *error_class;
        gboolean free_client;           /* frees the client from the callback */
} Reply;

static void on_write(const char *data, gsize len, gpointer user_data) {
        Harness *h = user_data;

        g_string_append_len(h->written, data, len);
}

static void on_event(QmpClient *client, const char *event, JsonObject *data, gpointer user_data) {
        Harness *h = user_data;

        g_assert_true(client == h->client);
        if (data) {
                g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), data);
                g_autofree char *text = json_to_string(node, FALSE);

                g_ptr_array_add(h->events, g_strdup_printf("%s %s", event, text));
        } else
                g_ptr_array_add(h->events, g_strdup(event));
        if (h->free_in_event)
                g_clear_pointer(&h->client, qmp_client_free);
}

static void on_ready(QmpClient *client, const GError *error, gpointer user_data) {
        Harness *h = user_data;

        g_assert_true(client == h->client);
        h->n_ready++;
        if (error)
                h->ready_error = g_error_copy(error);
        if (h->free_in_ready)
                g_clear_pointer(&h->client, qmp_client_free);
}

static void on_closed(QmpClient *client, const GError *error, gpointer user_data) {
        Harness *h = user_data;

        g_assert_true(client == h->client);
        g_assert_nonnull(error);
        h->n_closed++;
        h->closed_error = g_error_copy(error);
        if (h->loop)
                g_main_loop_quit(h->loop);
}

static Harness *harness_new(gboolean with_write_func) {
        Harness *h = g_new0(Harness, 1);

        h->client = qmp_client_new();
        h->written = g_string_new(NULL);
        h->events = g_ptr_array_new_with_free_func(g_free);
        if (with_write_func)
                qmp_client_set_write_func(h->client, on_write, h);
        qmp_client_set_event_func(h->client, on_event, h);
        qmp_client_set_ready_func(h->client, on_ready, h);
        qmp_client_set_closed_func(h->client, on_closed, h);
        return h;
}

static void pump(void) {
        while (g_main_context_iteration(NULL, FALSE))
                ;
}

static void harness_free(Harness *h) {
        g_clear_pointer(&h->client, qmp_client_free);
        pump();
        g_string_free(h->written, TRUE);
        g_ptr_array_unref(h->events);
        g_clear_error(&h->ready_error);
        g_clear_error(&h->closed_error);
        g_clear_pointer(&h->loop, g_main_loop_unref);
        g_free(h);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Harness, harness_free)

static void reply_clear(Reply *r) {
        g_clear_pointer(&r->result, json_node_unref);
        g_clear_error(&r->error);
        g_clear_pointer(&r->error_class, g_free);
}

static void on_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        g_assert_null(source);
        g_assert_false(r->done);
        r->done = TRUE;
        r->result = qmp_client_execute_finish(r->harness ? r->harness->client : NULL, result,
                                              &r->error);
        g_assert_true((r->result == NULL) != (r->error == NULL));
        r->error_class = g_strdup(qmp_client_execute_error_class(result));
        if (r->free_client)
                g_clear_pointer(&r->harness->client, qmp_client_free);
}

static void execute(Harness *h, const char *command, const char *arguments,
                    GCancellable *cancellable, Reply *r) {
        JsonNode *args = arguments ? json_from_string(arguments, NULL) : NULL;

        r->harness = h;
        qmp_client_execute_async(h->client, command, args, cancellable, on_reply, r);
}

static void feed(Harness *h, const char *data) {
        g_autoptr(GError) error = NULL;

        g_assert_true(qmp_client_feed(h->client, data, strlen(data), &error));
        g_assert_no_error(error);
}

/* Feeds from inside a main loop dispatch, where GTask calls back at once:
 * the hardest case for reentrancy. */
typedef struct {
        Harness *h;
        const char *data;
} FeedLater;

static gboolean on_feed_later(gpointer user_data) {
        FeedLater *f = user_data;

        (void) qmp_client_feed(f->h->client, f->data, strlen(f->data), NULL);
        return G_SOURCE_REMOVE;
}

static void feed_in_dispatch(Harness *h, const char *data) {
        FeedLater f = { h, data };

        g_idle_add(on_feed_later, &f);
        pump();
}

static void feed_error(Harness *h, const char *data, gsize len, const char *message_part) {
        g_autoptr(GError) error = NULL;

        if (len == (gsize) -1)
                len = strlen(data);
        g_assert_false(qmp_client_feed(h->client, data, len, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        if (!strstr(error->message, message_part))
                g_error("Unexpected error \"%s\", wanted \"%s\"", error->message, message_part);
}

static char *load(const char *name, const char *ext) {
        const char *dir = g_getenv("MD_TEST_DATA_DIR");
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        char *contents = NULL;

        g_assert_nonnull(dir);
        path = g_strdup_printf("%s/qmp/%s.%s", dir, name, ext);
        g_file_get_contents(path, &contents, NULL, &error);
        g_assert_no_error(error);
        return contents;
}

static char *node_to_string(JsonNode *node) {
        return json_to_string(node, FALSE);
}

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

static void assert_events(Harness *h, const char *const *expected) {
        guint i;

        for (i = 0; expected[i]; i++) {
                g_assert_cmpuint(i, <, h->events->len);
                g_assert_cmpstr(h->events->pdata[i], ==, expected[i]);
        }
        g_assert_cmpuint(h->events->len, ==, i);
}

static void assert_status(Reply *r, const char *status) {
        g_assert_no_error(r->error);
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(r->result), "status"),
                        ==, status);
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

/* ---- protocol, step by step ---- */

static Harness *ready_harness(void) {
        Harness *h = harness_new(TRUE);

        feed(h, GREETING);
        feed(h, CAPS_REPLY);
        g_assert_true(qmp_client_is_ready(h->client));
        g_string_truncate(h->written, 0);
        return h;
}

static void test_handshake(void) {
        g_autoptr(Harness) h = harness_new(TRUE);

        g_assert_false(qmp_client_is_ready(h->client));
        g_assert_cmpuint(h->written->len, ==, 0);
        feed(h, GREETING);
        g_assert_cmpstr(h->written->str, ==, CAPS_SENT);
        g_assert_false(qmp_client_is_ready(h->client));
        g_assert_cmpuint(h->n_ready, ==, 0);
        feed(h, CAPS_REPLY);
        g_assert_true(qmp_client_is_ready(h->client));
        g_assert_cmpuint(h->n_ready, ==, 1);
        g_assert_no_error(h->ready_error);
        g_assert_cmpuint(h->n_closed, ==, 0);
}

static void test_queued_before_greeting(void) {
        g_autoptr(Harness) h = harness_new(TRUE);
        Reply a = { 0 }, b = { 0 };

        execute(h, "stop", NULL, NULL, &a);
        execute(h, "migrate", "{\"uri\":\"tcp:127.0.0.1:4444\"}", NULL, &b);
        pump();
        g_assert_cmpuint(h->written->len, ==, 0);
        feed(h, GREETING);
        g_assert_cmpstr(h->written->str, ==, CAPS_SENT);
        feed(h, CAPS_REPLY);
        g_assert_cmpstr(h->written->str, ==, CAPS_SENT
                        "{\"execute\":\"stop\",\"id\":\"md-2\"}\n"
                        "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:4444\"},\"id\":\"md-3\"}\n");
        feed(h, "{\"return\": {}, \"id\": \"md-2\"}\r\n{\"return\": {}, \"id\": \"md-3\"}\r\n");
        pump();
        g_assert_true(a.done && b.done);
        g_assert_no_error(a.error);
        g_assert_no_error(b.error);
        reply_clear(&a);
        reply_clear(&b);
}

static void test_reply_matching(void) {
        g_autoptr(Harness) h = ready_harness();
        Reply r[3] = { 0 };
        g_autofree char *x = NULL, *z = NULL;

        execute(h, "query-status", NULL, NULL, &r[0]);
        execute(h, "query-version", NULL, NULL, &r[1]);
        execute(h, "query-migrate", NULL, NULL, &r[2]);
        /* Out of order, plus ids that are not ours: all matched by id. */
        feed(h, "{\"return\": {\"x\": 3}, \"id\": \"md-4\"}\r\n");
        feed(h, "{\"return\": {}, \"id\": \"md-99\"}\r\n");
        feed(h, "{\"return\": {}, \"id\": 2}\r\n");
        feed(h, "{\"id\": \"md-2\", \"return\": {\"x\": 1}}\r\n");
        pump();
        g_assert_true(r[0].done && !r[1].done && r[2].done);
        x = node_to_string(r[0].result);
        z = node_to_string(r[2].result);
        g_assert_cmpstr(x, ==, "{\"x\":1}");
        g_assert_cmpstr(z, ==, "{\"x\":3}");
        /* The same id again is unknown now. */
        feed(h, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        feed(h, "{\"return\": [1, 2], \"id\": \"md-3\"}\n");
        pump();
        g_assert_true(r[1].done);
        g_assert_true(JSON_NODE_HOLDS_ARRAY(r[1].result));
        g_assert_cmpuint(h->n_closed, ==, 0);
        for (guint i = 0; i < 3; i++)
                reply_clear(&r[i]);
}

static void test_error_reply(void) {
        g_autoptr(Harness) h = ready_harness();
        Reply a = { 0 }, b = { 0 };

        execute(h, "migrate_cancel", NULL, NULL, &a);
        execute(h, "cont", NULL, NULL, &b);
        feed(h, "{\"id\": \"md-2\", \"error\": {\"class\": \"DeviceNotActive\", \"desc\": \"No migration\"}}\r\n");
        feed(h, "{\"id\": \"md-3\", \"error\": 42}\r\n");
        pump();
        g_assert_error(a.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(a.error->message, ==, "QEMU refused migrate_cancel: No migration");
        g_assert_cmpstr(a.error_class, ==, "DeviceNotActive");
        g_assert_error(b.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(b.error->message, ==, "QEMU refused cont: no reason given");
        g_assert_null(b.error_class);
        reply_clear(&a);
        reply_clear(&b);
}

static void test_events_interleaved(void) {
        g_autoptr(Harness) h = harness_new(TRUE);
        Reply r = { 0 };

        execute(h, "stop", NULL, NULL, &r);
        feed(h, GREETING);
        /* Before the answer to qmp_capabilities. */
        feed(h, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESUME\"}\r\n");
        g_assert_cmpuint(h->events->len, ==, 1);
        g_assert_false(qmp_client_is_ready(h->client));
        feed(h, CAPS_REPLY);
        /* Around the reply, and in the same chunk as it. */
        feed(h, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 3}}\r\n"
                "{\"return\": {}, \"id\": \"md-2\"}\r\n"
                "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}}\r\n");
        feed(h, "{\"event\": \"X\", \"data\": [1]}\r\n");
        feed(h, "{\"event\": 5}\r\n");
        pump();
        g_assert_true(r.done);
        g_assert_no_error(r.error);
        g_assert_cmpuint(h->events->len, ==, 4);
        g_assert_cmpstr(h->events->pdata[0], ==, "RESUME");
        g_assert_cmpstr(h->events->pdata[1], ==, "STOP");
        g_assert_cmpstr(h->events->pdata[2], ==, "MIGRATION {\"status\":\"setup\"}");
        g_assert_cmpstr(h->events->pdata[3], ==, "X");   /* data not an object */
        reply_clear(&r);
}

/* Every protocol error closes: pending commands fail, one notification. */
static void check_protocol_error(const char *data, gsize len, gboolean after_ready,
                                 const char *message_part) {
        g_autoptr(Harness) h = after_ready ? ready_harness() : harness_new(TRUE);
        Reply r = { 0 };

        execute(h, "query-status", NULL, NULL, &r);
        feed_error(h, data, len, message_part);
        pump();
        g_assert_true(r.done);
        g_assert_error(r.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r.error->message, ==, CLOSED_MESSAGE);
        g_assert_false(qmp_client_is_ready(h->client));
        if (after_ready) {
                g_assert_cmpuint(h->n_ready, ==, 1);
                g_assert_cmpuint(h->n_closed, ==, 1);
                g_assert_error(h->closed_error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        } else {
                g_assert_cmpuint(h->n_ready, ==, 1);
                g_assert_error(h->ready_error, MD_ERROR, MD_ERROR_QEMU_FAILED);
                g_assert_cmpuint(h->n_closed, ==, 0);
        }
        /* Closed for good. */
        feed_error(h, CAPS_REPLY, strlen(CAPS_REPLY), CLOSED_MESSAGE);
        reply_clear(&r);
}

#define CHECK(data, after_ready, part) check_protocol_error(data, sizeof(data) - 1, after_ready, part)

static void test_garbage(void) {
        CHECK("hello world\r\n", TRUE, "unexpected character at byte 0");
        CHECK("{\"return\": {}, \"id\": \"md-2\"\r\n", TRUE, "Failed to parse");
        CHECK("{\"return\" {}}\r\n", TRUE, "Failed to parse");
        CHECK("\x01\x02\x03\n", FALSE, "unexpected character at byte 0");
        CHECK("{\"event\": \"STOP\"} {\"event\": \"STOP\"}\r\n", TRUE,
                             "data after the top-level value");
        CHECK("{} x\r\n", TRUE, "unexpected character at byte 3");
        CHECK("{/* */ \"event\": \"STOP\"}\r\n", TRUE, "unexpected character at byte 1");
        CHECK("{'event': 'STOP'}\r\n", TRUE, "unexpected character at byte 1");
        CHECK("{\"event\": \"ST\xff\xfeOP\"}\r\n", TRUE, "UTF-8");
        CHECK("{\"event\": \"ST\0OP\"}\r\n", TRUE, "UTF-8");
        CHECK("{\"event\": \"STOP\"}\r\n", FALSE, "greeting");
}

/* json-glib 1.6 parses a second value after the first and leaks its tree,
 * even when it then fails; escapes it mangles (a lone surrogate swallows the
 * closing quote) move where it thinks the object ends. All of it is refused
 * before json-glib sees it; whitespace after the object is fine. */
static void test_after_object(void) {
        CHECK("4{\"event\": \"STOP\", \"data\": {\"a\": [1]}}\r\n", TRUE,
              "malformed: data after the top-level value at byte 1");
        CHECK("\"x\" [[1], [2]]\r\n", TRUE, "data after the top-level value at byte 4");
        CHECK("{\"event\": \"STOP\"}{\"event\": \"STOP\"}\r\n", TRUE, "data after the top-level value");
        CHECK("{\"event\": \"STOP\"} [[1], [2]]\r\n", TRUE, "data after the top-level value");
        CHECK("{\"event\": \"STOP\"}]\r\n", TRUE, "data after the top-level value");
        CHECK("{\"event\": \"STOP\"} garbage\r\n", TRUE, "unexpected character at byte 18");
        CHECK("]{\"event\": \"STOP\"}\r\n", TRUE, "unbalanced ']' at byte 0");
        CHECK("{\"event\": \"\\ud800\" \"} [[1], [2]]\"}\r\n", TRUE, "unpaired UTF-16 surrogate");
        CHECK("{\"event\": \"STOP\", \"data\": {\"a\": \"\\ud800\\u0041\"}}\r\n", TRUE,
              "unpaired UTF-16 surrogate");
        /* json-glib would hand on invalid UTF-8, or cut the string short. */
        CHECK("{\"event\": \"ST\\udc00OP\"}\r\n", TRUE, "unpaired UTF-16 surrogate");
        CHECK("{\"event\": \"ST\\u0000OP\"}\r\n", TRUE, "NUL character");
        CHECK("{\"event\": \"ST\\qOP\"}\r\n", TRUE, "invalid escape sequence");

        {
                g_autoptr(Harness) h = ready_harness();
                static const char *const expected[] = {
                        "STOP", "X {\"a\":\"\xf0\x90\x80\x80/\\\"\"}", NULL,
                };

                feed(h, "{\"event\": \"STOP\"} \t \r\n"
                        "{\"event\": \"X\", \"data\": {\"a\": \"\\ud800\\udc00\\/\\\"\"}}\n");
                assert_events(h, expected);
                g_assert_true(qmp_client_is_ready(h->client));
        }
}

static void test_non_object(void) {
        static const char *const lines[] = {
                "[1, 2]\r\n", "42\r\n", "\"QMP\"\r\n", "null\r\n", "true\n", "[{\"QMP\": {}}]\n",
        };

        for (guint i = 0; i < G_N_ELEMENTS(lines); i++) {
                check_protocol_error(lines[i], strlen(lines[i]), FALSE, "not a JSON object");
                check_protocol_error(lines[i], strlen(lines[i]), TRUE, "not a JSON object");
        }
        CHECK("{\"QMP\": 1}\r\n", FALSE, "malformed QMP greeting");
}

static void test_oversized(void) {
        g_autoptr(Harness) h = ready_harness();
        g_autofree char *chunk = g_malloc(64 * 1024);
        g_autoptr(GError) error = NULL;
        Reply r = { 0 };
        gsize fed = 0;
        gboolean ok = TRUE;

        execute(h, "query-status", NULL, NULL, &r);
        memset(chunk, ' ', 64 * 1024);
        /* No newline ever: refused as soon as the cap is passed, not at EOF. */
        while (ok && fed <= QMP_LINE_MAX) {
                ok = qmp_client_feed(h->client, chunk, 64 * 1024, &error);
                fed += 64 * 1024;
        }
        g_assert_false(ok);
        g_assert_cmpuint(fed, >, QMP_LINE_MAX);
        g_assert_cmpuint(fed, <=, QMP_LINE_MAX + 64 * 1024);
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_nonnull(strstr(error->message, "longer than"));
        pump();
        g_assert_error(r.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpuint(h->n_closed, ==, 1);
        reply_clear(&r);
}

static void test_large_line(void) {
        g_autoptr(Harness) h = ready_harness();
        g_autoptr(GString) line = g_string_new("{\"return\": {\"blob\": \"");
        Reply r = { 0 };

        /* Just under the cap, in one piece and across many feeds. */
        execute(h, "query-blob", NULL, NULL, &r);
        while (line->len < QMP_LINE_MAX - 100)
                g_string_append(line, "0123456789abcdef");
        g_string_append(line, "\"}, \"id\": \"md-2\"}\r\n");
        for (gsize pos = 0; pos < line->len; pos += 100000)
                g_assert_true(qmp_client_feed(h->client, line->str + pos,
                                              MIN(100000, line->len - pos), NULL));
        pump();
        g_assert_no_error(r.error);
        g_assert_cmpuint(strlen(json_object_get_string_member(json_node_get_object(r.result), "blob")),
                         >, QMP_LINE_MAX - 200);
        reply_clear(&r);
}

static void test_deep_nesting(void) {
        g_autoptr(GString) line = g_string_new("{\"event\": \"X\", \"data\": {\"a\": ");

        for (guint i = 0; i < 100000; i++)
                g_string_append_c(line, '[');
        for (guint i = 0; i < 100000; i++)
                g_string_append_c(line, ']');
        g_string_append(line, "}}\r\n");
        check_protocol_error(line->str, line->len, TRUE, "nested more than 1024 levels deep");

        /* Brackets inside strings do not count. */
        {
                g_autoptr(Harness) h = ready_harness();
                g_autoptr(GString) ok = g_string_new("{\"event\": \"X\", \"data\": {\"a\": \"");

                for (guint i = 0; i < 100000; i++)
                        g_string_append(ok, "[{\\\"");
                g_string_append(ok, "\"}}\r\n");
                feed(h, ok->str);
                g_assert_cmpuint(h->events->len, ==, 1);
        }
}

static void test_second_greeting(void) {
        check_protocol_error(GREETING, strlen(GREETING), TRUE, "second QMP greeting");
        /* Also while qmp_capabilities is pending. */
        {
                g_autoptr(Harness) h = harness_new(TRUE);

                feed(h, GREETING);
                feed_error(h, GREETING, strlen(GREETING), "second QMP greeting");
                g_assert_error(h->ready_error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        }
}

static void test_missing_id(void) {
        /* What QEMU sends when it cannot read a command: nobody's reply. */
        static const char line[] = "{\"error\": {\"class\": \"GenericError\", "
                                   "\"desc\": \"JSON parse error, invalid keyword 'x'\"}}\r\n";

        check_protocol_error(line, strlen(line), TRUE, "without an id");
        CHECK("{\"return\": {}}\r\n", TRUE, "without an id");
}

static void test_capabilities_refused(void) {
        g_autoptr(Harness) h = harness_new(TRUE);

        feed(h, GREETING);
        feed_error(h, "{\"id\": \"md-1\", \"error\": {\"class\": \"CommandNotFound\", "
                   "\"desc\": \"Capabilities negotiation is already complete\"}}\r\n",
                   -1, "QEMU refused qmp_capabilities: Capabilities negotiation");
        g_assert_cmpuint(h->n_ready, ==, 1);
        g_assert_nonnull(strstr(h->ready_error->message, "qmp_capabilities"));
}

static void test_eof_pending(void) {
        g_autoptr(Harness) h = ready_harness();
        Reply a = { 0 }, b = { 0 }, c = { 0 };

        execute(h, "query-status", NULL, NULL, &a);
        execute(h, "stop", NULL, NULL, &b);
        feed(h, "{\"return\": {\"status\": \"ru");   /* half a reply */
        qmp_client_feed_eof(h->client);
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_error(h->closed_error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(h->closed_error->message, ==, CLOSED_MESSAGE);
        pump();
        g_assert_error(a.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(a.error->message, ==, CLOSED_MESSAGE);
        g_assert_error(b.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        /* Later commands fail at once; later EOFs say nothing. */
        execute(h, "cont", NULL, NULL, &c);
        pump();
        g_assert_error(c.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        qmp_client_feed_eof(h->client);
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_cmpuint(h->n_ready, ==, 1);
        reply_clear(&a);
        reply_clear(&b);
        reply_clear(&c);
}

static void test_eof_before_ready(void) {
        g_autoptr(Harness) h = harness_new(TRUE);
        g_autoptr(Harness) g = harness_new(TRUE);

        /* The ready func hears about it, the closed func does not. */
        feed(h, GREETING);
        qmp_client_feed_eof(h->client);
        g_assert_cmpuint(h->n_ready, ==, 1);
        g_assert_error(h->ready_error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpuint(h->n_closed, ==, 0);

        /* Without a ready func, the closed func does. */
        qmp_client_set_ready_func(g->client, NULL, NULL);
        qmp_client_feed_eof(g->client);
        g_assert_cmpuint(g->n_closed, ==, 1);
}

static void test_cancel(void) {
        g_autoptr(Harness) h = harness_new(TRUE);
        g_autoptr(GCancellable) queued = g_cancellable_new();
        g_autoptr(GCancellable) sent = g_cancellable_new();
        g_autoptr(GCancellable) early = g_cancellable_new();
        Reply a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };

        execute(h, "query-status", NULL, queued, &a);
        g_cancellable_cancel(queued);
        pump();
        g_assert_error(a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

        g_cancellable_cancel(early);
        execute(h, "query-status", NULL, early, &d);
        pump();
        g_assert_error(d.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

        feed(h, GREETING);
        feed(h, CAPS_REPLY);
        /* Cancelled ones are never sent. */
        g_assert_cmpstr(h->written->str, ==, CAPS_SENT);
        execute(h, "stop", NULL, sent, &b);
        execute(h, "cont", NULL, NULL, &c);
        g_cancellable_cancel(sent);
        pump();
        g_assert_error(b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        /* Its late reply is dropped, the next one still matches. */
        feed(h, "{\"return\": {}, \"id\": \"md-2\"}\r\n{\"return\": {}, \"id\": \"md-3\"}\r\n");
        pump();
        g_assert_no_error(c.error);
        g_assert_cmpuint(h->n_closed, ==, 0);
        reply_clear(&a);
        reply_clear(&b);
        reply_clear(&c);
        reply_clear(&d);
}

static void test_bad_arguments(void) {
        g_autoptr(Harness) h = ready_harness();
        Reply r = { 0 };

        execute(h, "migrate", "[\"tcp:x\"]", NULL, &r);
        pump();
        g_assert_error(r.error, MD_ERROR, MD_ERROR_INVALID_ARGS);
        g_assert_cmpuint(h->written->len, ==, 0);
        reply_clear(&r);
}

static void test_free_pending(void) {
        Harness *h = harness_new(TRUE);
        Reply a = { 0 }, b = { 0 };

        execute(h, "query-status", NULL, NULL, &a);     /* queued */
        feed(h, GREETING);
        feed(h, CAPS_REPLY);
        execute(h, "stop", NULL, NULL, &b);             /* sent */
        qmp_client_free(g_steal_pointer(&h->client));
        /* Not from inside free(); later, from the main loop. */
        g_assert_false(a.done || b.done);
        pump();
        g_assert_error(a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_error(b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_cmpuint(h->n_closed, ==, 0);
        harness_free(h);
        reply_clear(&a);
        reply_clear(&b);
}

static void test_free_in_callbacks(void) {
        /* From the event func, with more lines in the same chunk. */
        {
                g_autoptr(Harness) h = ready_harness();
                Reply r = { 0 };

                execute(h, "stop", NULL, NULL, &r);
                h->free_in_event = TRUE;
                feed_in_dispatch(h, "{\"event\": \"STOP\"}\r\n{\"event\": \"RESUME\"}\r\n"
                                    "{\"return\": {}, \"id\": \"md-2\"}\r\n");
                g_assert_null(h->client);
                g_assert_cmpuint(h->events->len, ==, 1);
                g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
                reply_clear(&r);
        }
        /* From the ready func. */
        {
                g_autoptr(Harness) h = harness_new(TRUE);
                Reply r = { 0 };

                execute(h, "stop", NULL, NULL, &r);
                h->free_in_ready = TRUE;
                feed_in_dispatch(h, GREETING CAPS_REPLY "{\"event\": \"STOP\"}\r\n");
                g_assert_null(h->client);
                g_assert_cmpuint(h->events->len, ==, 0);
                g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
                reply_clear(&r);
        }
        /* From a reply's callback, run at once inside the feed. */
        {
                g_autoptr(Harness) h = ready_harness();
                Reply a = { .free_client = TRUE }, b = { 0 };

                execute(h, "stop", NULL, NULL, &a);
                execute(h, "cont", NULL, NULL, &b);
                pump();
                feed_in_dispatch(h, "{\"return\": {}, \"id\": \"md-2\"}\r\n"
                                    "{\"return\": {}, \"id\": \"md-3\"}\r\n");
                g_assert_null(h->client);
                g_assert_no_error(a.error);
                g_assert_error(b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
                reply_clear(&a);
                reply_clear(&b);
        }
        /* From the ready func of a failed handshake, inside close. */
        {
                g_autoptr(Harness) h = harness_new(TRUE);
                Reply r = { 0 };

                execute(h, "stop", NULL, NULL, &r);
                h->free_in_ready = TRUE;
                feed_in_dispatch(h, "garbage\r\n");
                g_assert_null(h->client);
                g_assert_nonnull(h->ready_error);
                g_assert_error(r.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
                reply_clear(&r);
        }
}

/* ---- a real socket: a fake QEMU replays a transcript on a socketpair ---- */

typedef struct {
        int fd;
        guint source;
        GString *input;
        gsize scanned;                  /* bytes of input without '\n' */
        GHashTable *answers;            /* id -> the lines QEMU wrote up to that reply */
        gsize big_read;                 /* length of the big command's argument */
} FakeQemu;

static void fake_write(FakeQemu *q, const char *data) {
        gsize len = strlen(data);

        /* Small writes into a socket buffer the client keeps draining. */
        g_assert_cmpint(write(q->fd, data, len), ==, (gssize) len);
}

static gboolean on_fake_readable(int fd, GIOCondition condition, gpointer user_data) {
        FakeQemu *q = user_data;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        char *nl;

        if (n < 0 && errno == EAGAIN)
                return G_SOURCE_CONTINUE;
        g_assert_cmpint(n, >, 0);
        g_string_append_len(q->input, buf, n);
        while ((nl = memchr(q->input->str + q->scanned, '\n', q->input->len - q->scanned))) {
                g_autofree char *line = g_strndup(q->input->str, nl - q->input->str);
                g_autoptr(JsonNode) node = json_from_string(line, NULL);
                JsonObject *o;
                const char *id, *answer;

                g_string_erase(q->input, 0, nl - q->input->str + 1);
                q->scanned = 0;
                g_assert_nonnull(node);
                o = json_node_get_object(node);
                id = json_object_get_string_member(o, "id");
                answer = g_hash_table_lookup(q->answers, id);
                if (answer) {
                        fake_write(q, answer);
                        continue;
                }
                /* The big one: answer with its size, then hang up like a
                 * QEMU that quits. */
                q->big_read = strlen(json_object_get_string_member(
                        json_object_get_object_member(o, "arguments"), "command-line"));
                {
                        g_autofree char *reply = g_strdup_printf(
                                "{\"return\": \"%zu\", \"id\": \"%s\"}\r\n", q->big_read, id);
                        fake_write(q, reply);
                }
                shutdown(q->fd, SHUT_RDWR);
                q->source = 0;
                return G_SOURCE_REMOVE;
        }
        q->scanned = q->input->len;
        return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer user_data) {
        g_error("Timed out");
        return G_SOURCE_REMOVE;
}

static void test_socketpair(void) {
        g_autoptr(Harness) h = harness_new(FALSE);
        g_autofree char *in = load("stop-cont", "in");
        g_autofree char *out = load("stop-cont", "out");
        g_auto(GStrv) out_lines = g_strsplit(out, "\n", -1);
        g_auto(GStrv) in_lines = g_strsplit(in, "\n", -1);
        g_autoptr(GString) pending = g_string_new(NULL);
        g_autoptr(GString) big = g_string_new(NULL);
        FakeQemu q = { 0 };
        Reply r[5] = { 0 };
        int sv[2];
        guint timeout;
        guint n = 0;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        q.fd = sv[1];
        q.input = g_string_new(NULL);
        q.answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (guint i = 1; out_lines[i] && *out_lines[i]; i++) {
                g_autoptr(JsonNode) node = json_from_string(out_lines[i], NULL);
                JsonObject *o = json_node_get_object(node);

                g_string_append_printf(pending, "%s\n", out_lines[i]);
                if (json_object_has_member(o, "id")) {
                        g_hash_table_insert(q.answers,
                                            g_strdup(json_object_get_string_member(o, "id")),
                                            g_string_free(g_steal_pointer(&pending), FALSE));
                        pending = g_string_new(NULL);
                }
        }
        g_assert_true(g_unix_set_fd_nonblocking(sv[1], TRUE, NULL));

        /* The transcript's commands, then one far bigger than the socket
         * buffer, so that the client must write it in pieces. */
        for (guint i = 1; in_lines[i] && *in_lines[i]; i++, n++) {
                g_autoptr(JsonNode) node = json_from_string(in_lines[i], NULL);

                execute(h, json_object_get_string_member(json_node_get_object(node), "execute"),
                        NULL, NULL, &r[n]);
        }
        while (big->len < 8 * 1024 * 1024)
                g_string_append(big, "info registers ");
        {
                g_autoptr(JsonBuilder) b = json_builder_new();

                json_builder_begin_object(b);
                json_builder_set_member_name(b, "command-line");
                json_builder_add_string_value(b, big->str);
                json_builder_end_object(b);
                r[n].harness = h;
                qmp_client_execute_async(h->client, "human-monitor-command",
                                         json_builder_get_root(b), NULL, on_reply, &r[n]);
        }

        h->loop = g_main_loop_new(NULL, FALSE);
        qmp_client_attach_fd(h->client, sv[0]);
        fake_write(&q, out_lines[0]);
        fake_write(&q, "\n");
        q.source = g_unix_fd_add(sv[1], G_IO_IN, on_fake_readable, &q);
        timeout = g_timeout_add_seconds(60, on_timeout, NULL);
        g_main_loop_run(h->loop);
        g_source_remove(timeout);
        g_clear_handle_id(&q.source, g_source_remove);
        pump();

        g_assert_cmpuint(h->n_ready, ==, 1);
        g_assert_no_error(h->ready_error);
        assert_status(&r[1], "paused");
        assert_status(&r[3], "running");
        g_assert_cmpuint(h->events->len, ==, 2);
        g_assert_cmpuint(q.big_read, ==, big->len);
        g_assert_no_error(r[4].error);
        g_assert_cmpuint(g_ascii_strtoull(json_node_get_string(r[4].result), NULL, 10), ==, big->len);
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_cmpstr(h->closed_error->message, ==, CLOSED_MESSAGE);

        for (guint i = 0; i <= n; i++)
                reply_clear(&r[i]);
        close(sv[1]);
        g_string_free(q.input, TRUE);
        g_hash_table_unref(q.answers);
}

/* QEMU exits with our last command unread: writing it fails (EPIPE), which
 * must not cut off what QEMU wrote before going; the close comes at EOF. */
static void test_socketpair_peer_gone(void) {
        g_autoptr(Harness) h = harness_new(FALSE);
        FakeQemu q = { 0 };
        Reply r = { 0 };
        int sv[2];
        guint timeout;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        q.fd = sv[1];
        h->loop = g_main_loop_new(NULL, FALSE);
        qmp_client_attach_fd(h->client, sv[0]);
        fake_write(&q, GREETING CAPS_REPLY);
        while (!qmp_client_is_ready(h->client))
                g_main_context_iteration(NULL, TRUE);
        pump();

        execute(h, "quit", NULL, NULL, &r);
        fake_write(&q, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}\r\n");
        close(sv[1]);
        timeout = g_timeout_add_seconds(60, on_timeout, NULL);
        g_main_loop_run(h->loop);
        g_source_remove(timeout);
        pump();

        g_assert_cmpuint(h->events->len, ==, 1);
        g_assert_error(r.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r.error->message, ==, CLOSED_MESSAGE);
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_cmpstr(h->closed_error->message, ==, CLOSED_MESSAGE);
        reply_clear(&r);
}

/* ---- the real thing ---- */

typedef struct {
        Harness *h;
        Reply status, quit;
} QemuSession;

static void on_qemu_ready(QmpClient *client, const GError *error, gpointer user_data) {
        QemuSession *s = user_data;

        g_assert_no_error(error);
        s->h->n_ready++;
        execute(s->h, "query-status", NULL, NULL, &s->status);
        execute(s->h, "quit", NULL, NULL, &s->quit);
}

static void test_qemu(void) {
        g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
        g_autoptr(GSubprocessLauncher) launcher = NULL;
        g_autoptr(GSubprocess) proc = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Harness) h = NULL;
        g_autofree char *dir = NULL;
        g_autofree char *path = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        QemuSession s = { 0 };
        int listen_fd, fd;
        guint timeout;

        if (!qemu) {
                g_test_skip("qemu-system-x86_64 is not installed");
                return;
        }
        dir = g_dir_make_tmp("test-qmp-XXXXXX", &error);
        g_assert_no_error(error);
        path = g_build_filename(dir, "qmp.sock", NULL);
        g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);

        /* As the daemon does: we listen, QEMU inherits the socket, so the
         * connect cannot race QEMU's start-up. */
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(listen_fd, >=, 0);
        g_assert_cmpint(bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
        g_assert_cmpint(listen(listen_fd, 1), ==, 0);
        launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
        g_subprocess_launcher_take_fd(launcher, listen_fd, 3);
        proc = g_subprocess_launcher_spawn(launcher, &error, qemu, "-machine", "none",
                                           "-display", "none", "-nodefaults",
                                           "-chardev", "socket,id=mon,fd=3,server=on,wait=off",
                                           "-mon", "chardev=mon,mode=control", NULL);
        g_assert_no_error(error);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);

        h = harness_new(FALSE);
        s.h = h;
        h->loop = g_main_loop_new(NULL, FALSE);
        qmp_client_set_ready_func(h->client, on_qemu_ready, &s);
        qmp_client_attach_fd(h->client, fd);
        timeout = g_timeout_add_seconds(60, on_timeout, NULL);
        g_main_loop_run(h->loop);       /* until QEMU hangs up after quit */
        g_source_remove(timeout);
        pump();

        g_assert_cmpuint(h->n_ready, ==, 1);
        assert_status(&s.status, "running");
        g_assert_no_error(s.quit.error);
        g_assert_cmpuint(h->events->len, >=, 1);
        g_assert_true(g_str_has_prefix(h->events->pdata[0], "SHUTDOWN "));
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_cmpstr(h->closed_error->message, ==, CLOSED_MESSAGE);
        g_subprocess_wait_check(proc, NULL, &error);
        g_assert_no_error(error);

        reply_clear(&s.status);
        reply_clear(&s.quit);
        g_unlink(path);
        g_rmdir(dir);
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
        g_test_add_func("/qmp/handshake", test_handshake);
        g_test_add_func("/qmp/queued-before-greeting", test_queued_before_greeting);
        g_test_add_func("/qmp/reply/matching", test_reply_matching);
        g_test_add_func("/qmp/reply/error", test_error_reply);
        g_test_add_func("/qmp/events/interleaved", test_events_interleaved);
        g_test_add_func("/qmp/protocol/garbage", test_garbage);
        g_test_add_func("/qmp/protocol/after-object", test_after_object);
        g_test_add_func("/qmp/protocol/non-object", test_non_object);
        g_test_add_func("/qmp/protocol/oversized", test_oversized);
        g_test_add_func("/qmp/protocol/large-line", test_large_line);
        g_test_add_func("/qmp/protocol/deep-nesting", test_deep_nesting);
        g_test_add_func("/qmp/protocol/second-greeting", test_second_greeting);
        g_test_add_func("/qmp/protocol/missing-id", test_missing_id);
        g_test_add_func("/qmp/protocol/capabilities-refused", test_capabilities_refused);
        g_test_add_func("/qmp/eof/pending", test_eof_pending);
        g_test_add_func("/qmp/eof/before-ready", test_eof_before_ready);
        g_test_add_func("/qmp/cancel", test_cancel);
        g_test_add_func("/qmp/execute/bad-arguments", test_bad_arguments);
        g_test_add_func("/qmp/free/pending", test_free_pending);
        g_test_add_func("/qmp/free/in-callbacks", test_free_in_callbacks);
        g_test_add_func("/qmp/socketpair/transcript", test_socketpair);
        g_test_add_func("/qmp/socketpair/peer-gone", test_socketpair_peer_gone);
        g_test_add_func("/qmp/qemu", test_qemu);
        return g_test_run();
}
