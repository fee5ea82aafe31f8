/* QEMU's block layer for storage migration (libvirt's NBD flow), typed:
 * the destination's NBD server and its exports, the source's NBD client
 * nodes and the mirror jobs that fill them. Completion as in
 * qemu-monitor.h: qemu_monitor_command_finish() for the commands without a
 * result. */
#pragma once

#include <gio/gio.h>

#include "qmp.h"
#include "qemu-migration.h"

/* The destination's NBD server as both ends see it: TCP @host:@port, or
 * the UNIX socket @socket when set. @tls_creds: the id of a tls-creds-x509
 * object (endpoint server on the destination, client on the source), or
 * NULL for a plain stream; @tls_hostname: the name the client checks the
 * server's certificate against (NULL: the host). */
typedef struct {
        const char *host;
        guint16 port;
        const char *socket;
        const char *tls_creds;
        const char *tls_hostname;
} QemuNbdServer;

/* nbd-server-start on @host:@port (TCP); @tls_creds is the id of a
 * tls-creds-x509 object when the stream is encrypted, or NULL. */
void qemu_monitor_nbd_server_start_async(QmpClient *mon, const char *host, guint16 port, const char *tls_creds,
                                         GAsyncReadyCallback callback, gpointer user_data);
void qemu_monitor_nbd_server_stop_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
/* Exports the drive @device (a -drive id) writable as @export_name. */
void qemu_monitor_nbd_server_add_async(QmpClient *mon, const char *device, const char *export_name,
                                       GAsyncReadyCallback callback, gpointer user_data);

/* blockdev-add of an NBD client node @node_name reading export
 * @export_name of @host:@port (@tls_creds as above). */
void qemu_monitor_blockdev_add_nbd_async(QmpClient *mon, const char *node_name, const char *host, guint16 port,
                                         const char *export_name, const char *tls_creds,
                                         GAsyncReadyCallback callback, gpointer user_data);
void qemu_monitor_blockdev_del_async(QmpClient *mon, const char *node_name, GAsyncReadyCallback callback,
                                     gpointer user_data);
/* block-job-set-speed of each job in @job_ids (NULL-terminated) to @speed
 * bytes/s (0: no limit), stopping at the first refusal. */
void qemu_monitor_block_jobs_set_speed_async(QmpClient *mon, const char *const *job_ids, guint64 speed,
                                             GAsyncReadyCallback callback, gpointer user_data);
/* blockdev-del of each node in @nodes (NULL-terminated), stopping at the first refusal. */
void qemu_monitor_blockdev_del_nodes_async(QmpClient *mon, const char *const *nodes, GAsyncReadyCallback callback,
                                           gpointer user_data);
/* blockdev-mirror job @job_id from drive @device to node @target: the whole
 * chain (sync full) or only the top image (@top_only, sync top). The job
 * waits for block-job-cancel (or -complete) once READY. */
void qemu_monitor_blockdev_mirror_async(QmpClient *mon, const char *job_id, const char *device,
                                        const char *target, gboolean top_only, GAsyncReadyCallback callback,
                                        gpointer user_data);
/* block-job-cancel: a READY mirror stops with its target in sync with the
 * source (what libvirt does at the switch-over, so that the source keeps
 * its own image); before READY it is an abort. */
void qemu_monitor_block_job_cancel_async(QmpClient *mon, const char *job_id, GAsyncReadyCallback callback,
                                         gpointer user_data);
/* migrate-continue from the migration state @state ("pre-switchover"). */
void qemu_monitor_migrate_continue_async(QmpClient *mon, const char *state, GAsyncReadyCallback callback,
                                         gpointer user_data);

/* query-block-jobs: one entry per job. */
typedef struct {
        char *id;
        char *type;                     /* "mirror", ...; "" when missing */
        char *status;                   /* "running", "ready", "concluded", ...; "" when missing */
        gboolean ready;
        guint64 len, offset;            /* progress: offset of len bytes (both grow while the guest writes) */
        guint64 speed;                  /* the rate limit, bytes/s; 0 = none */
        char *error;                    /* nullable: why a job failed */
} QemuBlockJob;
void qemu_block_job_free(QemuBlockJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuBlockJob, qemu_block_job_free)
void qemu_monitor_query_block_jobs_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
/* A GPtrArray of QemuBlockJob* (owned); entries that are no object or have
 * no id are skipped. A reply that is no array is an error. */
GPtrArray *qemu_monitor_query_block_jobs_finish(GAsyncResult *result, GError **error);

/* query-block: the image QEMU has open behind each drive, as its top node
 * (ImageInfo) describes it; what Begin tells the destination of a disk. */
typedef struct {
        char *device;                   /* the -drive id */
        char *filename;                 /* nullable */
        gint64 virtual_size;            /* bytes; 0 when QEMU gave no positive integer */
        char *backing;                  /* full-backing-filename, nullable: none */
        char *backing_format;           /* backing-filename-format, nullable: not recorded */
} QemuBlockImage;
void qemu_block_image_free(QemuBlockImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuBlockImage, qemu_block_image_free)
void qemu_monitor_query_block_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
/* A GPtrArray of QemuBlockImage* (owned); entries that are no object, have
 * no device or no medium are skipped, members of the wrong type read as
 * absent. A reply that is no array is an error. */
GPtrArray *qemu_monitor_query_block_finish(GAsyncResult *result, GError **error);
/* The same on a reply already received (tests, fuzzing). */
GPtrArray *qemu_monitor_parse_block_images(JsonNode *reply, GError **error);
/* The entry of @images for drive @device, or NULL. */
const QemuBlockImage *qemu_block_images_find(GPtrArray *images, const char *device);

/* ---- The storage migration's command sequences, each stopping at the first refusal ---- */

/* Destination: the NBD server @server, then each drive @devices[i]
 * exported writable as @exports[i] (both NULL-terminated, same length). */
void qemu_monitor_nbd_export_drives_async(QmpClient *mon, const QemuNbdServer *server,
                                          const char *const *devices, const char *const *exports,
                                          GAsyncReadyCallback callback, gpointer user_data);
/* Source: for each drive, an NBD client node "migration-EXPORT" on the
 * destination's export of @server and a mirror job of the same name into
 * it, limited to @speed bytes/s (0: no limit; a limit also caps the data
 * in flight, buf-size, at one second's worth). */
void qemu_monitor_mirror_drives_async(QmpClient *mon, const QemuNbdServer *server, const char *const *devices,
                                      const char *const *exports, gboolean top_only, guint64 speed,
                                      GAsyncReadyCallback callback, gpointer user_data);
/* The name of that node and job for @export_name (owned). */
char *qemu_monitor_mirror_job_id(const char *export_name);
/* block-job-cancel of each job in @job_ids (NULL-terminated). */
void qemu_monitor_cancel_block_jobs_async(QmpClient *mon, const char *const *job_ids,
                                          GAsyncReadyCallback callback, gpointer user_data);
