/* The QMP protocol: greeting, qmp_capabilities, command ids, replies and
 * events, on bytes fed in and written out (the socket transport is in
 * qmp-socket.c). */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "json-input.h"
#include "md-error.h"
#include "qmp.h"
#include "qmp-private.h"

static void qmp_command_free(QmpCommand *cmd) {
        if (cmd->cancel_source) {
                g_source_destroy(cmd->cancel_source);
                g_source_unref(cmd->cancel_source);
        }
        g_clear_pointer(&cmd->arguments, json_node_unref);
        g_clear_object(&cmd->task);
        g_free(cmd->command);
        g_free(cmd->id);
        g_free(cmd);
}

QmpClient *qmp_client_ref(QmpClient *client) {
        client->n_ref++;
        return client;
}

void qmp_client_unref(QmpClient *client) {
        if (--client->n_ref > 0)
                return;
        /* Closing (which free() does) emptied the queue and dropped the sources. */
        g_assert(g_queue_is_empty(&client->commands));
        g_byte_array_unref(client->input);
        g_byte_array_unref(client->output);
        g_free(client);
}

QmpClient *qmp_client_new(void) {
        QmpClient *client = g_new0(QmpClient, 1);

        client->n_ref = 1;
        client->next_id = 1;
        client->fd = -1;
        g_queue_init(&client->commands);
        client->input = g_byte_array_new();
        client->output = g_byte_array_new();
        return client;
}

void qmp_client_set_event_func(QmpClient *client, QmpEventFunc func, gpointer user_data) {
        client->event_func = func;
        client->event_data = user_data;
}

void qmp_client_set_ready_func(QmpClient *client, QmpReadyFunc func, gpointer user_data) {
        client->ready_func = func;
        client->ready_data = user_data;
}

void qmp_client_set_closed_func(QmpClient *client, QmpClosedFunc func, gpointer user_data) {
        client->closed_func = func;
        client->closed_data = user_data;
}

void qmp_client_set_write_func(QmpClient *client, QmpWriteFunc func, gpointer user_data) {
        client->write_func = func;
        client->write_data = user_data;
}

gboolean qmp_client_is_ready(QmpClient *client) {
        return client->state == QMP_STATE_READY;
}

/* After free() the owner is gone: its callbacks run later from the main loop,
 * never from inside qmp_client_free(). */
static gboolean qmp_task_return_freed(gpointer user_data) {
        g_task_return_new_error(G_TASK(user_data), G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                "QMP client was freed");
        return G_SOURCE_REMOVE;
}

void qmp_client_close(QmpClient *client, const GError *error) {
        QmpCommand *cmd;

        if (client->state == QMP_STATE_CLOSED)
                return;
        g_debug("QMP connection closed: %s", error->message);
        client->state = QMP_STATE_CLOSED;
        if (client->transport_detach)
                client->transport_detach(client);
        g_byte_array_set_size(client->input, 0);
        g_byte_array_set_size(client->output, 0);

        qmp_client_ref(client);
        while ((cmd = g_queue_pop_head(&client->commands))) {
                g_autoptr(GTask) task = g_steal_pointer(&cmd->task);

                qmp_command_free(cmd);
                if (!task)
                        continue;
                if (client->freed) {
                        g_autoptr(GSource) idle = g_idle_source_new();
                        g_task_attach_source(task, idle, qmp_task_return_freed);
                } else
                        g_task_return_new_error(task, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                                "QEMU monitor connection closed");
        }
        /* Exactly one notification: a failed handshake goes to whoever waits
         * for the handshake. */
        if (!client->ready_called && client->ready_func) {
                client->ready_called = TRUE;
                client->ready_func(client, error, client->ready_data);
        } else if (client->closed_func) {
                client->ready_called = TRUE;
                client->closed_func(client, error, client->closed_data);
        }
        qmp_client_unref(client);
}

void qmp_client_free(QmpClient *client) {
        if (!client)
                return;
        g_return_if_fail(!client->freed);

        client->freed = TRUE;
        client->write_func = NULL;
        client->event_func = NULL;
        client->ready_func = NULL;
        client->closed_func = NULL;
        if (client->state != QMP_STATE_CLOSED) {
                g_autoptr(GError) error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                              "QMP client was freed");
                qmp_client_close(client, error);
        }
        qmp_client_unref(client);
}

static void qmp_client_send(QmpClient *client, QmpCommand *cmd) {
        g_autoptr(JsonBuilder) builder = json_builder_new();
        g_autoptr(JsonGenerator) generator = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *text = NULL;
        gsize len;

        /* Ids are given on the wire, not when issued: they follow the order
         * QEMU sees, with qmp_capabilities first. */
        cmd->id = g_strdup_printf("md-%" G_GUINT64_FORMAT, client->next_id++);
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "execute");
        json_builder_add_string_value(builder, cmd->command);
        if (cmd->arguments) {
                json_builder_set_member_name(builder, "arguments");
                json_builder_add_value(builder, g_steal_pointer(&cmd->arguments));
        }
        json_builder_set_member_name(builder, "id");
        json_builder_add_string_value(builder, cmd->id);
        json_builder_end_object(builder);
        root = json_builder_get_root(builder);
        json_generator_set_root(generator, root);
        text = json_generator_to_data(generator, &len);

        /* Arguments may carry secrets (object-add secret): log the name only. */
        g_debug("QMP command %s sent as %s", cmd->command, cmd->id);
        if (client->write_func) {
                g_autofree char *line = g_strconcat(text, "\n", NULL);
                client->write_func(line, len + 1, client->write_data);
                return;
        }
        /* Without a socket yet, the line waits in the buffer until one is attached. */
        g_byte_array_append(client->output, (const guint8 *) text, len);
        g_byte_array_append(client->output, (const guint8 *) "\n", 1);
        if (client->transport_flush)
                client->transport_flush(client);
}

static const char *qmp_object_get_string(JsonObject *object, const char *member) {
        JsonNode *node = object ? json_object_get_member(object, member) : NULL;

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(node);
}

static JsonObject *qmp_object_get_object(JsonObject *object, const char *member) {
        JsonNode *node = json_object_get_member(object, member);

        return node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

/* json-glib's own getters are g_return_if_fail()-strict about types, which
 * QEMU's input must not be able to trip. */
static gint64 qmp_object_get_int(JsonObject *object, const char *member) {
        JsonNode *node = object ? json_object_get_member(object, member) : NULL;

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
                return -1;
        return json_node_get_int(node);
}

static void qmp_client_on_greeting(QmpClient *client, JsonObject *greeting) {
        JsonObject *version = qmp_object_get_object(greeting, "version");
        QmpCommand *cmd = g_new0(QmpCommand, 1);

        version = version ? qmp_object_get_object(version, "qemu") : NULL;
        if (qmp_object_get_int(version, "major") >= 0 && qmp_object_get_int(version, "major") < 1000 &&
            qmp_object_get_int(version, "minor") >= 0 && qmp_object_get_int(version, "minor") < 100)
                client->qemu_version = (guint) (qmp_object_get_int(version, "major") * 100 +
                                                qmp_object_get_int(version, "minor"));
        g_debug("QMP greeting from QEMU %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
                qmp_object_get_int(version, "major"), qmp_object_get_int(version, "minor"),
                qmp_object_get_int(version, "micro"));
        client->state = QMP_STATE_CAPABILITIES;
        cmd->client = client;
        cmd->command = g_strdup("qmp_capabilities");
        /* At the head: the queue stays in wire order, queued commands follow. */
        g_queue_push_head(&client->commands, cmd);
        qmp_client_send(client, cmd);
}

guint qmp_client_get_qemu_version(QmpClient *client) {
        return client->qemu_version;
}

static void qmp_client_on_ready(QmpClient *client) {
        client->state = QMP_STATE_READY;
        g_debug("QMP handshake done");
        for (GList *l = client->commands.head; l; l = l->next) {
                QmpCommand *cmd = l->data;

                if (!cmd->id)
                        qmp_client_send(client, cmd);
        }
        if (!client->ready_called) {
                client->ready_called = TRUE;
                if (client->ready_func)
                        client->ready_func(client, NULL, client->ready_data);
        }
}

static void qmp_client_on_event(QmpClient *client, JsonObject *message) {
        const char *name = qmp_object_get_string(message, "event");

        if (!name) {
                g_debug("Ignoring QMP event without a name");
                return;
        }
        g_debug("QMP event %s", name);
        if (client->event_func)
                client->event_func(client, name, qmp_object_get_object(message, "data"),
                                   client->event_data);
}

static QmpCommand *qmp_client_find_sent(QmpClient *client, const char *id) {
        /* A linear search: QEMU answers in order, so the match is the head. */
        for (GList *l = client->commands.head; l; l = l->next) {
                QmpCommand *cmd = l->data;

                if (cmd->id && g_str_equal(cmd->id, id))
                        return cmd;
        }
        return NULL;
}

/* A refused command's task keeps QEMU's words: callers tell "not found"
 * from other refusals by them. */
typedef struct {
        char *error_class;
        char *desc;
} QmpRefusal;

static QmpRefusal *qmp_refusal_new(JsonObject *qmp_error /* nullable */) {
        QmpRefusal *refusal = g_new0(QmpRefusal, 1);

        refusal->error_class = g_strdup(qmp_object_get_string(qmp_error, "class"));
        refusal->desc = g_strdup(qmp_object_get_string(qmp_error, "desc"));
        return refusal;
}

static void qmp_refusal_free(QmpRefusal *refusal) {
        g_free(refusal->error_class);
        g_free(refusal->desc);
        g_free(refusal);
}

static gboolean qmp_client_on_reply(QmpClient *client, JsonObject *message, GError **error) {
        /* An "error" that is no object still is an error, without details. */
        gboolean failed = json_object_has_member(message, "error");
        JsonObject *qmp_error = qmp_object_get_object(message, "error");
        const char *id = qmp_object_get_string(message, "id");
        g_autoptr(GTask) task = NULL;
        g_autofree char *command = NULL;
        QmpCommand *cmd;

        /* QEMU leaves the id out only when it could not read a command, and
         * then there is no telling which one waits forever. */
        if (!json_object_has_member(message, "id")) {
                g_set_error_literal(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "QEMU sent a QMP reply without an id");
                return FALSE;
        }
        cmd = id ? qmp_client_find_sent(client, id) : NULL;
        if (!cmd) {
                g_debug("Ignoring QMP reply with unknown id %s", id ?: "(not a string)");
                return TRUE;
        }
        g_queue_remove(&client->commands, cmd);
        task = g_steal_pointer(&cmd->task);
        command = g_steal_pointer(&cmd->command);
        qmp_command_free(cmd);

        if (!task) {
                if (failed) {
                        g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "QEMU refused qmp_capabilities: %s",
                                    qmp_object_get_string(qmp_error, "desc") ?: "no reason given");
                        return FALSE;
                }
                qmp_client_on_ready(client);
                return TRUE;
        }

        g_debug("QMP reply to %s (%s)", id, failed ? "error" : "return");
        if (failed) {
                g_task_set_task_data(task, qmp_refusal_new(qmp_error), (GDestroyNotify) qmp_refusal_free);
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                        "QEMU refused %s: %s", command,
                                        qmp_object_get_string(qmp_error, "desc") ?: "no reason given");
        } else
                g_task_return_pointer(task, json_object_dup_member(message, "return"),
                                      (GDestroyNotify) json_node_unref);
        return TRUE;
}

static gboolean qmp_client_dispatch(QmpClient *client, JsonObject *message, GError **error) {
        if (json_object_has_member(message, "QMP")) {
                JsonObject *greeting = qmp_object_get_object(message, "QMP");

                if (client->state != QMP_STATE_GREETING) {
                        g_set_error_literal(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                            "QEMU sent a second QMP greeting");
                        return FALSE;
                }
                if (!greeting) {
                        g_set_error_literal(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                            "QEMU sent a malformed QMP greeting");
                        return FALSE;
                }
                qmp_client_on_greeting(client, greeting);
                return TRUE;
        }
        if (client->state == QMP_STATE_GREETING) {
                g_set_error_literal(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "QEMU's monitor did not start with a QMP greeting");
                return FALSE;
        }
        if (json_object_has_member(message, "event")) {
                qmp_client_on_event(client, message);
                return TRUE;
        }
        if (json_object_has_member(message, "return") || json_object_has_member(message, "error"))
                return qmp_client_on_reply(client, message, error);
        g_debug("Ignoring QMP message of unknown kind");
        return TRUE;
}

static gboolean qmp_client_handle_line(QmpClient *client, const char *line, gsize len,
                                       GError **error) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) parse_error = NULL;
        g_autofree char *problem = NULL;
        JsonNode *root;

        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len == 0)
                return TRUE;
        /* Strings from here end up in logs and on the bus, which take UTF-8
         * only; this also refuses NUL bytes. */
        if (!g_utf8_validate_len(line, len, NULL)) {
                g_set_error_literal(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "QMP message is not valid UTF-8");
                return FALSE;
        }
        /* QEMU writes one plain JSON object a line; json-glib would take
         * more, and leak what follows the first value. */
        if (!json_input_check(line, len, QMP_DEPTH_MAX, &problem)) {
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "QMP message is malformed: %s", problem);
                return FALSE;
        }
        parser = json_parser_new_immutable();
        if (!json_parser_load_from_data(parser, line, len, &parse_error)) {
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                            "Failed to parse QMP message: %s", parse_error->message);
                return FALSE;
        }
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
                g_set_error_literal(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "QMP message is not a JSON object");
                return FALSE;
        }
        return qmp_client_dispatch(client, json_node_get_object(root), error);
}

static gboolean qmp_client_process(QmpClient *client, const char *data, gsize len, GError **error) {
        while (len > 0 && client->state != QMP_STATE_CLOSED) {
                g_autoptr(GError) local_error = NULL;
                const char *nl = memchr(data, '\n', len);
                gsize n = nl ? (gsize) (nl - data) : len;
                gboolean ok;

                if (client->input->len + n > QMP_LINE_MAX) {
                        local_error = g_error_new(MD_ERROR, MD_ERROR_QEMU_FAILED,
                                                  "QMP message longer than %d bytes", QMP_LINE_MAX);
                        ok = FALSE;
                } else if (!nl) {
                        g_byte_array_append(client->input, (const guint8 *) data, len);
                        return TRUE;
                } else if (client->input->len == 0)
                        /* The common case: a whole line in one read, no copy. */
                        ok = qmp_client_handle_line(client, data, n, &local_error);
                else {
                        /* Taken out first, so that callbacks see a clean buffer. */
                        g_autoptr(GByteArray) line = g_steal_pointer(&client->input);

                        client->input = g_byte_array_new();
                        g_byte_array_append(line, (const guint8 *) data, n);
                        ok = qmp_client_handle_line(client, (const char *) line->data, line->len,
                                                    &local_error);
                }
                if (!ok) {
                        qmp_client_close(client, local_error);
                        g_propagate_error(error, g_steal_pointer(&local_error));
                        return FALSE;
                }
                data += n + 1;
                len -= n + 1;
        }
        return TRUE;
}

gboolean qmp_client_feed(QmpClient *client, const char *data, gsize len, GError **error) {
        gboolean ok;

        g_return_val_if_fail(client, FALSE);
        g_return_val_if_fail(data || len == 0, FALSE);

        if (client->state == QMP_STATE_CLOSED) {
                g_set_error_literal(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "QEMU monitor connection closed");
                return FALSE;
        }
        qmp_client_ref(client);
        ok = qmp_client_process(client, data, len, error);
        qmp_client_unref(client);
        return ok;
}

void qmp_client_feed_eof(QmpClient *client) {
        g_autoptr(GError) error = NULL;

        g_return_if_fail(client);

        if (client->state == QMP_STATE_CLOSED)
                return;
        if (client->input->len > 0)
                g_debug("QEMU's monitor closed in the middle of a message (%u bytes)",
                        client->input->len);
        error = g_error_new_literal(MD_ERROR, MD_ERROR_QEMU_FAILED, "QEMU monitor connection closed");
        qmp_client_close(client, error);
}

static gboolean qmp_command_on_cancelled(GCancellable *cancellable, gpointer user_data) {
        QmpCommand *cmd = user_data;
        g_autoptr(GTask) task = g_steal_pointer(&cmd->task);

        /* Never sent: it never will be. Sent: the reply finds no id and is dropped. */
        g_debug("QMP command %s cancelled (%s)", cmd->command, cmd->id ?: "not sent");
        g_queue_remove(&cmd->client->commands, cmd);
        qmp_command_free(cmd);
        g_task_return_error_if_cancelled(task);
        return G_SOURCE_REMOVE;
}

void qmp_client_execute_async(QmpClient *client, const char *command, JsonNode *arguments,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data) {
        g_autoptr(JsonNode) args = arguments;
        g_autoptr(GTask) task = NULL;
        QmpCommand *cmd;

        g_return_if_fail(client);
        g_return_if_fail(command);
        g_return_if_fail(!client->freed);

        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, qmp_client_execute_async);
        if (args && !JSON_NODE_HOLDS_OBJECT(args)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                        "Arguments of QMP command %s are not a JSON object",
                                        command);
                return;
        }
        if (g_task_return_error_if_cancelled(task))
                return;
        if (client->state == QMP_STATE_CLOSED) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                        "QEMU monitor connection closed");
                return;
        }

        cmd = g_new0(QmpCommand, 1);
        cmd->client = client;
        cmd->command = g_strdup(command);
        cmd->arguments = g_steal_pointer(&args);
        cmd->task = g_steal_pointer(&task);
        if (cancellable) {
                cmd->cancel_source = g_cancellable_source_new(cancellable);
                g_source_set_callback(cmd->cancel_source, G_SOURCE_FUNC(qmp_command_on_cancelled),
                                      cmd, NULL);
                g_source_attach(cmd->cancel_source, g_task_get_context(cmd->task));
        }
        g_queue_push_tail(&client->commands, cmd);
        if (client->state == QMP_STATE_READY)
                qmp_client_send(client, cmd);
}

JsonNode *qmp_client_execute_finish(QmpClient *client, GAsyncResult *result, GError **error) {
        /* @client is not looked at: this works after qmp_client_free() too. */
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == qmp_client_execute_async, NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

void qmp_client_complete_task(GObject *source, GAsyncResult *result, gpointer task) {
        GError *error = NULL;
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, &error);

        if (reply)
                g_task_return_boolean(task, TRUE);
        else
                g_task_return_error(task, error);
        g_object_unref(task);
}

const char *qmp_client_execute_error_class(GAsyncResult *result) {
        QmpRefusal *refusal;

        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        refusal = g_task_get_task_data(G_TASK(result));
        return refusal ? refusal->error_class : NULL;
}

const char *qmp_client_execute_error_desc(GAsyncResult *result) {
        QmpRefusal *refusal;

        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        refusal = g_task_get_task_data(G_TASK(result));
        return refusal ? refusal->desc : NULL;
}
