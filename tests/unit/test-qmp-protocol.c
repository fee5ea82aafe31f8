/* The QMP client step by step: the handshake, replies matched to their
 * commands, events, and every protocol error QEMU (or an impostor) can make. */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "md-error.h"
#include "qmp-harness.h"

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

void qmp_protocol_add_tests(void) {
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
}
