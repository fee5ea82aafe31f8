#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "md-error.h"
#include "qmp-harness.h"

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

Harness *harness_new(gboolean with_write_func) {
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

void pump(void) {
        while (g_main_context_iteration(NULL, FALSE))
                ;
}

void harness_free(Harness *h) {
        g_clear_pointer(&h->client, qmp_client_free);
        pump();
        g_string_free(h->written, TRUE);
        g_ptr_array_unref(h->events);
        g_clear_error(&h->ready_error);
        g_clear_error(&h->closed_error);
        g_clear_pointer(&h->loop, g_main_loop_unref);
        g_free(h);
}

void reply_clear(Reply *r) {
        g_clear_pointer(&r->result, json_node_unref);
        g_clear_error(&r->error);
        g_clear_pointer(&r->error_class, g_free);
}

void on_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
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

void execute(Harness *h, const char *command, const char *arguments,
             GCancellable *cancellable, Reply *r) {
        JsonNode *args = arguments ? json_from_string(arguments, NULL) : NULL;

        r->harness = h;
        qmp_client_execute_async(h->client, command, args, cancellable, on_reply, r);
}

void feed(Harness *h, const char *data) {
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

void feed_in_dispatch(Harness *h, const char *data) {
        FeedLater f = { h, data };

        g_idle_add(on_feed_later, &f);
        pump();
}

void feed_error(Harness *h, const char *data, gsize len, const char *message_part) {
        g_autoptr(GError) error = NULL;

        if (len == (gsize) -1)
                len = strlen(data);
        g_assert_false(qmp_client_feed(h->client, data, len, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        if (!strstr(error->message, message_part))
                g_error("Unexpected error \"%s\", wanted \"%s\"", error->message, message_part);
}

char *load(const char *name, const char *ext) {
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

char *node_to_string(JsonNode *node) {
        return json_to_string(node, FALSE);
}

void assert_events(Harness *h, const char *const *expected) {
        guint i;

        for (i = 0; expected[i]; i++) {
                g_assert_cmpuint(i, <, h->events->len);
                g_assert_cmpstr(h->events->pdata[i], ==, expected[i]);
        }
        g_assert_cmpuint(h->events->len, ==, i);
}

void assert_status(Reply *r, const char *status) {
        g_assert_no_error(r->error);
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(r->result), "status"),
                        ==, status);
}

