/* QMP client (json-glib): greeting, qmp_capabilities, command ids,
 * asynchronous replies and events.
 *
 * The protocol part is independent of the transport: bytes go in through
 * qmp_client_feed(), bytes come out through the write function, so the
 * framing is unit-tested against recorded transcripts without a socket.
 * qmp_client_attach_fd() plugs it into the GLib main loop on a real socket. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

/* Limits on what QEMU may send: a longer line, or deeper nesting (json-glib
 * recurses once per level), is a protocol error that closes the connection. */
#define QMP_LINE_MAX (16 * 1024 * 1024)
#define QMP_DEPTH_MAX 1024

typedef struct QmpClient QmpClient;

typedef void (*QmpEventFunc)(QmpClient *client, const char *event,
                             JsonObject *data /* nullable */, gpointer user_data);
/* Called once: after the handshake (error NULL), or when it fails or the
 * connection closes. Later closes go to the closed func. */
typedef void (*QmpReadyFunc)(QmpClient *client, const GError *error, gpointer user_data);
/* Also gets a failed handshake when no ready func is set. */
typedef void (*QmpClosedFunc)(QmpClient *client, const GError *error, gpointer user_data);

QmpClient *qmp_client_new(void);
/* Safe with commands pending and from inside any callback of the client.
 * The event, ready and closed funcs are not called any more, not even from
 * here; each pending command's GAsyncReadyCallback still runs once, later
 * from the main context, with G_IO_ERROR_CANCELLED (keep a reference on its
 * user_data, or cancel a GCancellable first and ignore CANCELLED). */
void qmp_client_free(QmpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpClient, qmp_client_free)

/* QEMU's version from its greeting, as major * 100 + minor (702 for 7.2);
 * 0 until the greeting came or when it named none. */
guint qmp_client_get_qemu_version(QmpClient *client);

void qmp_client_set_event_func(QmpClient *client, QmpEventFunc func, gpointer user_data);
void qmp_client_set_ready_func(QmpClient *client, QmpReadyFunc func, gpointer user_data);
void qmp_client_set_closed_func(QmpClient *client, QmpClosedFunc func, gpointer user_data);

/* Transport: plug into the main loop on a connected socket (takes ownership
 * of @fd, non-blocking, CLOEXEC). */
void qmp_client_attach_fd(QmpClient *client, int fd);

/* Transport for tests: @write gets every byte the client sends. */
typedef void (*QmpWriteFunc)(const char *data, gsize len, gpointer user_data);
void qmp_client_set_write_func(QmpClient *client, QmpWriteFunc func, gpointer user_data);
/* Feed received bytes (any split). Returns FALSE on a protocol error
 * (garbage, oversized line), after which the client is closed. */
gboolean qmp_client_feed(QmpClient *client, const char *data, gsize len, GError **error);
/* The peer closed the connection: fail every pending command. */
void qmp_client_feed_eof(QmpClient *client);

gboolean qmp_client_is_ready(QmpClient *client);

/* Reads and handles, now, whatever QEMU has written and the main loop has
 * not read yet: when QEMU has exited, its last events (SHUTDOWN) explain why,
 * and they must not lose the race against the pidfd. */
void qmp_client_drain(QmpClient *client);

/* Sends @command with optional @arguments (a JSON object node, consumed).
 * The result is the "return" node; a QMP "error" becomes MD_ERROR_QEMU_FAILED
 * with QEMU's desc; a closed connection MD_ERROR_QEMU_FAILED too.
 * Commands issued before the handshake wait for it. Cancelling @cancellable
 * fails the command with G_IO_ERROR_CANCELLED at once (QEMU may still carry
 * it out; its reply is dropped). @callback runs in the thread-default main
 * context of the caller. */
void qmp_client_execute_async(QmpClient *client, const char *command, JsonNode *arguments,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
/* Does not dereference @client, so it may be called after qmp_client_free(). */
JsonNode *qmp_client_execute_finish(QmpClient *client, GAsyncResult *result, GError **error);
/* A callback for qmp_client_execute_async() whose user_data is a GTask (taken):
 * completes it with TRUE, or with the command's error. */
void qmp_client_complete_task(GObject *source, GAsyncResult *result, gpointer task);
/* QEMU's error class ("CommandNotFound", "DeviceNotActive", "GenericError",
 * ...) when @result failed with a QMP "error" reply, NULL otherwise. Valid as
 * long as @result is. */
const char *qmp_client_execute_error_class(GAsyncResult *result);
/* QEMU's "desc" of that refusal (NULL when it sent none, or @result did not
 * fail with a QMP "error" reply). Valid as long as @result is. */
const char *qmp_client_execute_error_desc(GAsyncResult *result);
