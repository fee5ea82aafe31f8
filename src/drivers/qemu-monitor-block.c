/* Block layer commands for storage migration: see qemu-monitor-block.h. */
#define G_LOG_DOMAIN "migrationd"

#include "md-error.h"
#include "qemu-monitor-block.h"

static void add_string(JsonBuilder *b, const char *member, const char *value) {
        json_builder_set_member_name(b, member);
        json_builder_add_string_value(b, value);
}

/* The members of QEMU's InetSocketAddress ("host", "port" as a string) or
 * UnixSocketAddress ("path") for @s. */
static void add_address_members(JsonBuilder *b, const QemuNbdServer *s) {
        g_autofree char *port_s = NULL;

        if (s->socket) {
                add_string(b, "path", s->socket);
                return;
        }
        port_s = g_strdup_printf("%u", s->port);
        add_string(b, "host", s->host);
        add_string(b, "port", port_s);
}

/* SocketAddress, flat: {"type": ..., "host": ..., "port": ...}. */
static void add_address(JsonBuilder *b, const char *member, const QemuNbdServer *s) {
        json_builder_set_member_name(b, member);
        json_builder_begin_object(b);
        add_string(b, "type", s->socket ? "unix" : "inet");
        add_address_members(b, s);
        json_builder_end_object(b);
}

/* nbd-server-start's older form, {"type": ..., "data": {...}}
 * (SocketAddressLegacy, in every QEMU version). */
static void add_address_legacy(JsonBuilder *b, const char *member, const QemuNbdServer *s) {
        json_builder_set_member_name(b, member);
        json_builder_begin_object(b);
        add_string(b, "type", s->socket ? "unix" : "inet");
        json_builder_set_member_name(b, "data");
        json_builder_begin_object(b);
        add_address_members(b, s);
        json_builder_end_object(b);
        json_builder_end_object(b);
}

static JsonNode *nbd_start_args(const QemuNbdServer *s) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_address_legacy(b, "addr", s);
        if (s->tls_creds)
                add_string(b, "tls-creds", s->tls_creds);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void qemu_monitor_nbd_server_start_async(QmpClient *mon, const char *host, guint16 port, const char *tls_creds,
                                         GAsyncReadyCallback callback, gpointer user_data) {
        QemuNbdServer s = { .host = host, .port = port, .tls_creds = tls_creds };

        qmp_client_execute_async(mon, "nbd-server-start", nbd_start_args(&s), NULL, callback, user_data);
}

void qemu_monitor_nbd_server_stop_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "nbd-server-stop", NULL, NULL, callback, user_data);
}

/* nbd-server-add rather than block-export-add: it takes the drive's id,
 * where block-export-add wants a node name, which -drive leaves to QEMU. */
void qemu_monitor_nbd_server_add_async(QmpClient *mon, const char *device, const char *export_name,
                                       GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string(b, "device", device);
        add_string(b, "name", export_name);
        json_builder_set_member_name(b, "writable");
        json_builder_add_boolean_value(b, TRUE);
        json_builder_end_object(b);
        qmp_client_execute_async(mon, "nbd-server-add", json_builder_get_root(b), NULL, callback, user_data);
}

/* The NBD client node @node_name on export @export_name of @s; the
 * certificate's name is checked against tls_hostname when set (QEMU 7.0),
 * else against the host. */
static JsonNode *nbd_node_args(const char *node_name, const QemuNbdServer *s, const char *export_name) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string(b, "driver", "nbd");
        add_string(b, "node-name", node_name);
        add_address(b, "server", s);
        add_string(b, "export", export_name);
        if (s->tls_creds)
                add_string(b, "tls-creds", s->tls_creds);
        if (s->tls_creds && s->tls_hostname)
                add_string(b, "tls-hostname", s->tls_hostname);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void qemu_monitor_blockdev_add_nbd_async(QmpClient *mon, const char *node_name, const char *host, guint16 port,
                                         const char *export_name, const char *tls_creds,
                                         GAsyncReadyCallback callback, gpointer user_data) {
        QemuNbdServer s = { .host = host, .port = port, .tls_creds = tls_creds };

        qmp_client_execute_async(mon, "blockdev-add", nbd_node_args(node_name, &s, export_name), NULL, callback,
                                 user_data);
}

static JsonNode *one_string(const char *member, const char *value) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string(b, member, value);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void qemu_monitor_blockdev_del_async(QmpClient *mon, const char *node_name, GAsyncReadyCallback callback,
                                     gpointer user_data) {
        qmp_client_execute_async(mon, "blockdev-del", one_string("node-name", node_name), NULL, callback,
                                 user_data);
}

/* QEMU's default for the data a mirror has in flight. */
#define MIRROR_BUF_SIZE_DEFAULT (16 << 20)

/* @speed: bytes/s, 0 = no limit (then left out, as QEMU's default). QEMU
 * charges a rate limit after the data is sent, so a mirror's first buffer
 * goes at full speed: a limit also caps the buffer at one second's worth,
 * else the first 16 MiB ignore it (a small disk would never see it). */
static JsonNode *mirror_args(const char *job_id, const char *device, const char *target, gboolean top_only,
                             guint64 speed) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string(b, "job-id", job_id);
        add_string(b, "device", device);
        add_string(b, "target", target);
        add_string(b, "sync", top_only ? "top" : "full");
        if (speed) {
                json_builder_set_member_name(b, "speed");
                json_builder_add_int_value(b, (gint64) MIN(speed, (guint64) G_MAXINT64));
                json_builder_set_member_name(b, "buf-size");
                json_builder_add_int_value(b, (gint64) MIN(speed, (guint64) MIRROR_BUF_SIZE_DEFAULT));
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void qemu_monitor_blockdev_mirror_async(QmpClient *mon, const char *job_id, const char *device,
                                        const char *target, gboolean top_only, GAsyncReadyCallback callback,
                                        gpointer user_data) {
        qmp_client_execute_async(mon, "blockdev-mirror", mirror_args(job_id, device, target, top_only, 0), NULL,
                                 callback, user_data);
}

void qemu_monitor_block_job_cancel_async(QmpClient *mon, const char *job_id, GAsyncReadyCallback callback,
                                         gpointer user_data) {
        qmp_client_execute_async(mon, "block-job-cancel", one_string("device", job_id), NULL, callback,
                                 user_data);
}

void qemu_monitor_migrate_continue_async(QmpClient *mon, const char *state, GAsyncReadyCallback callback,
                                         gpointer user_data) {
        qmp_client_execute_async(mon, "migrate-continue", one_string("state", state), NULL, callback,
                                 user_data);
}

/* ---- query-block-jobs ---- */

void qemu_block_job_free(QemuBlockJob *job) {
        if (!job)
                return;
        g_free(job->id);
        g_free(job->type);
        g_free(job->status);
        g_free(job->error);
        g_free(job);
}

void qemu_monitor_query_block_jobs_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "query-block-jobs", NULL, NULL, callback, user_data);
}

/* A non-negative integer member, 0 otherwise. */
static guint64 get_size(JsonObject *o, const char *member) {
        JsonNode *node = json_object_get_member(o, member);

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64 ||
            json_node_get_int(node) < 0)
                return 0;
        return (guint64) json_node_get_int(node);
}

static const char *get_string(JsonObject *o, const char *member) {
        JsonNode *node = json_object_get_member(o, member);

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(node);
}

/* One element of query-block-jobs (a QemuBlockJob), NULL when it names no job. */
static gpointer parse_job(JsonNode *node) {
        QemuBlockJob *job;
        JsonObject *o;
        JsonNode *ready;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return NULL;
        o = json_node_get_object(node);
        /* QEMU names a job by "device" (its id) in every version. */
        if (!get_string(o, "device"))
                return NULL;
        job = g_new0(QemuBlockJob, 1);
        job->id = g_strdup(get_string(o, "device"));
        job->type = g_strdup(get_string(o, "type") ? get_string(o, "type") : "");
        job->status = g_strdup(get_string(o, "status") ? get_string(o, "status") : "");
        ready = json_object_get_member(o, "ready");
        job->ready = ready && JSON_NODE_HOLDS_VALUE(ready) && json_node_get_value_type(ready) == G_TYPE_BOOLEAN &&
                     json_node_get_boolean(ready);
        job->len = get_size(o, "len");
        job->offset = get_size(o, "offset");
        job->speed = get_size(o, "speed");
        job->error = g_strdup(get_string(o, "error"));
        return job;
}

/* A reply that is a list of @command's elements: those @parse takes (it
 * returns NULL for one it skips), freed with @free_element. */
static GPtrArray *parse_list(JsonNode *reply, const char *command, gpointer (*parse)(JsonNode *node),
                             GDestroyNotify free_element, GError **error) {
        GPtrArray *list;
        JsonArray *array;

        if (!reply || !JSON_NODE_HOLDS_ARRAY(reply)) {
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "bad %s reply", command);
                return NULL;
        }
        list = g_ptr_array_new_with_free_func(free_element);
        array = json_node_get_array(reply);
        for (guint i = 0; i < json_array_get_length(array); i++) {
                gpointer element = parse(json_array_get_element(array, i));

                if (element)
                        g_ptr_array_add(list, element);
        }
        return list;
}

GPtrArray *qemu_monitor_query_block_jobs_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, error);

        return reply ? parse_list(reply, "query-block-jobs", parse_job,
                                  (GDestroyNotify) qemu_block_job_free, error) : NULL;
}

/* ---- query-block ---- */

void qemu_block_image_free(QemuBlockImage *image) {
        if (!image)
                return;
        g_free(image->device);
        g_free(image->filename);
        g_free(image->backing);
        g_free(image->backing_format);
        g_free(image);
}

void qemu_monitor_query_block_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "query-block", NULL, NULL, callback, user_data);
}

static JsonObject *get_object(JsonObject *o, const char *member) {
        JsonNode *node = json_object_get_member(o, member);

        return node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

/* One BlockInfo (a QemuBlockImage): the drive's id and, from inserted.image (the top node,
 * which the mirror copies), its size and backing file. */
static gpointer parse_image(JsonNode *node) {
        QemuBlockImage *image;
        JsonObject *o, *info;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return NULL;
        o = json_node_get_object(node);
        info = get_object(o, "inserted") ? get_object(get_object(o, "inserted"), "image") : NULL;
        if (!get_string(o, "device") || !info)
                return NULL;
        image = g_new0(QemuBlockImage, 1);
        image->device = g_strdup(get_string(o, "device"));
        image->filename = g_strdup(get_string(info, "filename"));
        image->virtual_size = (gint64) MIN(get_size(info, "virtual-size"), (guint64) G_MAXINT64);
        image->backing = g_strdup(get_string(info, "full-backing-filename"));
        image->backing_format = g_strdup(get_string(info, "backing-filename-format"));
        return image;
}

GPtrArray *qemu_monitor_parse_block_images(JsonNode *reply, GError **error) {
        return parse_list(reply, "query-block", parse_image,
                          (GDestroyNotify) qemu_block_image_free, error);
}

GPtrArray *qemu_monitor_query_block_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, error);

        return reply ? qemu_monitor_parse_block_images(reply, error) : NULL;
}

const QemuBlockImage *qemu_block_images_find(GPtrArray *images, const char *device) {
        for (guint i = 0; images && i < images->len; i++)
                if (g_strcmp0(((QemuBlockImage *) images->pdata[i])->device, device) == 0)
                        return images->pdata[i];
        return NULL;
}

/* ---- Sequences ---- */

static JsonNode *export_args(const char *device, const char *export_name) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string(b, "device", device);
        add_string(b, "name", export_name);
        json_builder_set_member_name(b, "writable");
        json_builder_add_boolean_value(b, TRUE);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void qemu_monitor_nbd_export_drives_async(QmpClient *mon, const QemuNbdServer *server,
                                          const char *const *devices, const char *const *exports,
                                          GAsyncReadyCallback callback, gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();

        qemu_command_list_add(list, "nbd-server-start", nbd_start_args(server));
        for (guint i = 0; devices[i] && exports[i]; i++)
                qemu_command_list_add(list, "nbd-server-add", export_args(devices[i], exports[i]));
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}

char *qemu_monitor_mirror_job_id(const char *export_name) {
        return g_strdup_printf("migration-%s", export_name);
}

void qemu_monitor_mirror_drives_async(QmpClient *mon, const QemuNbdServer *server, const char *const *devices,
                                      const char *const *exports, gboolean top_only, guint64 speed,
                                      GAsyncReadyCallback callback, gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();

        for (guint i = 0; devices[i] && exports[i]; i++) {
                g_autofree char *id = qemu_monitor_mirror_job_id(exports[i]);

                qemu_command_list_add(list, "blockdev-add", nbd_node_args(id, server, exports[i]));
                qemu_command_list_add(list, "blockdev-mirror", mirror_args(id, devices[i], id, top_only, speed));
        }
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}

void qemu_monitor_cancel_block_jobs_async(QmpClient *mon, const char *const *job_ids,
                                          GAsyncReadyCallback callback, gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();

        for (guint i = 0; job_ids[i]; i++)
                qemu_command_list_add(list, "block-job-cancel", one_string("device", job_ids[i]));
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}

void qemu_monitor_blockdev_del_nodes_async(QmpClient *mon, const char *const *nodes, GAsyncReadyCallback callback,
                                           gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();

        for (guint i = 0; nodes[i]; i++)
                qemu_command_list_add(list, "blockdev-del", one_string("node-name", nodes[i]));
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}

static JsonNode *speed_args(const char *job_id, guint64 speed) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string(b, "device", job_id);
        json_builder_set_member_name(b, "speed");
        json_builder_add_int_value(b, (gint64) MIN(speed, (guint64) G_MAXINT64));
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void qemu_monitor_block_jobs_set_speed_async(QmpClient *mon, const char *const *job_ids, guint64 speed,
                                             GAsyncReadyCallback callback, gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();

        for (guint i = 0; job_ids[i]; i++)
                qemu_command_list_add(list, "block-job-set-speed", speed_args(job_ids[i], speed));
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}
