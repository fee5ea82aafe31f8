/* Arbitrary bytes from "QEMU": whatever they are, the client must neither
 * crash nor leak, and every command must complete exactly once; every
 * reply also goes through the query-block parser. */
#include <stdint.h>
#include <stddef.h>
#include <glib.h>

#include "qemu-monitor-block.h"
#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_write(const char *data, gsize len, gpointer user_data) {
}

typedef struct {
        unsigned n_issued;
        unsigned n_done;
} Counts;

static void on_member(JsonObject *object, const char *name, JsonNode *node, gpointer user_data) {
        g_assert_true(g_utf8_validate(name, -1, NULL));
}

static void on_event(QmpClient *client, const char *event, JsonObject *data, gpointer user_data) {
        /* Walk what callers would: the name and the data members. */
        g_assert_true(g_utf8_validate(event, -1, NULL));
        if (data)
                json_object_foreach_member(data, on_member, NULL);
}

static void on_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        Counts *counts = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) node = qmp_client_execute_finish(NULL, result, &error);

        g_autoptr(GPtrArray) images = NULL;

        g_assert_true((node == NULL) != (error == NULL));
        counts->n_done++;
        /* Any reply as query-block's: each entry has a device, and strings
         * and a size that can be used as they are. */
        images = node ? qemu_monitor_parse_block_images(node, NULL) : NULL;
        for (guint i = 0; images && i < images->len; i++) {
                const QemuBlockImage *image = images->pdata[i];

                g_assert_nonnull(image->device);
                g_assert_cmpint(image->virtual_size, >=, 0);
                g_assert_true(!image->backing || g_utf8_validate(image->backing, -1, NULL));
                g_assert_true(!image->backing_format || g_utf8_validate(image->backing_format, -1, NULL));
        }
}

static void on_ready(QmpClient *client, const GError *error, gpointer user_data) {
        Counts *counts = user_data;

        /* A command issued after the handshake, from inside a callback. */
        if (!error) {
                counts->n_issued++;
                qmp_client_execute_async(client, "query-status", NULL, NULL, on_done, counts);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(QmpClient) client = qmp_client_new();
        JsonNode *arguments = json_node_new(JSON_NODE_OBJECT);
        Counts counts = { .n_issued = 1 };
        size_t split = 0;

        /* The split point comes from the input itself, so the fuzzer
         * explores it along with the bytes. */
        for (size_t i = 0; i < size; i++)
                split = split * 31 + data[i];
        split = size > 0 ? split % (size + 1) : 0;

        qmp_client_set_write_func(client, on_write, NULL);
        qmp_client_set_event_func(client, on_event, NULL);
        qmp_client_set_ready_func(client, on_ready, &counts);
        json_node_take_object(arguments, json_object_new());
        json_object_set_string_member(json_node_get_object(arguments), "uri", "tcp:127.0.0.1:4444");
        qmp_client_execute_async(client, "migrate", arguments, NULL, on_done, &counts);

        if (qmp_client_feed(client, (const char *) data, split, NULL))
                (void) qmp_client_feed(client, (const char *) data + split, size - split, NULL);
        if (size > 0 && data[0] & 1)
                qmp_client_feed_eof(client);
        g_clear_pointer(&client, qmp_client_free);

        /* Completions run from the main loop; all of them, once each. */
        while (g_main_context_iteration(NULL, FALSE))
                ;
        g_assert_cmpuint(counts.n_done, ==, counts.n_issued);
        return 0;
}
