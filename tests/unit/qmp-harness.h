/* The QMP client's test harness: a client whose writes, events and
 * replies are recorded, fed QEMU's side by hand or over a socket. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

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

Harness *harness_new(gboolean with_write_func);
void harness_free(Harness *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Harness, harness_free)

/* Runs the default main context until nothing is pending. */
void pump(void);
void reply_clear(Reply *r);
void on_reply(GObject *source, GAsyncResult *result, gpointer user_data);
void execute(Harness *h, const char *command, const char *arguments, GCancellable *cancellable, Reply *r);
void feed(Harness *h, const char *data);
void feed_in_dispatch(Harness *h, const char *data);
void feed_error(Harness *h, const char *data, gsize len, const char *message_part);
/* tests/data/qmp/NAME.EXT */
char *load(const char *name, const char *ext);
char *node_to_string(JsonNode *node);
void assert_events(Harness *h, const char *const *expected);
void assert_status(Reply *r, const char *status);

void qmp_protocol_add_tests(void);
void qmp_socket_add_tests(void);
