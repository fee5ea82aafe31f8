/* Storage migration, libvirt's NBD flow (NON_SHARED_DISK, NON_SHARED_INC):
 * the source tells the destination which disks it copies (Begin cookie,
 * with each image's backing file under NON_SHARED_INC); the destination
 * creates missing images (on top of that backing file, which must exist
 * there) and exports them over QEMU's NBD server
 * (Prepare); the source mirrors each disk into its export until READY,
 * migrates RAM with pause-before-switchover, ends the mirrors at the
 * pre-switchover pause (block-job-cancel: the destination keeps the
 * copy, the source its own image) and lets QEMU switch over. A job that
 * does not complete cancels the mirrors and removes the images it created. */
#pragma once

#include "domain.h"
#include "migration-cookie.h"
#include "migration-params.h"
#include "migration-phase.h"

/* Whether @p asks for a storage copy. */
gboolean migration_storage_requested(const MigrationParams *p);

/* Begin: the disks to copy (migrate_disks, or every writable disk with an
 * image that is neither shareable nor a cdrom), as indices into
 * @def->disks; NULL with MD_ERROR_INVALID_ARGS when migrate_disks names
 * another. */
GArray *migration_storage_disks(const DomainDef *def, const MigrationParams *p, GError **error);
/* Begin, once the source QEMU answered query-block with @images
 * (QemuBlockImage*; NULL: the query failed with @query_error): @disks of
 * @def into @cookie with their format and virtual size as QEMU has them
 * open; with @top_only (NON_SHARED_INC) also the backing file and its
 * format, if the image has one (without one the mirror's sync=top copies
 * the whole image, as libvirt). Errors name the image
 * (storage-image.h). */
gboolean migration_storage_describe(const DomainDef *def, GArray *disks, gboolean top_only, GPtrArray *images,
                                    const GError *query_error, MigrationCookie *cookie, GError **error);

/* Prepare, before QEMU starts: every disk of @cookie whose image is missing
 * here is created (qemu-img create, same format and virtual size; under
 * NON_SHARED_INC on top of the cookie's backing file, which must exist),
 * one after the other without blocking the loop, and recorded in @d's job
 * for removal should the job not complete. */
void migration_storage_create_async(Domain *d, const DomainDef *def, const MigrationCookie *cookie,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean migration_storage_create_finish(GAsyncResult *result, GError **error);

/* Prepare, after QEMU listens: the NBD server on @host:@port, or on the
 * UNIX socket @socket when set, and the disks of @targets exported. With
 * the TLS flag the server takes the job's TLS credentials (QEMU_MIGRATION_TLS_ID),
 * so only a client with a certificate of the hosts' CA gets in. */
void migration_storage_export_async(Domain *d, const char *host, guint16 port, const char *socket, char **targets,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean migration_storage_export_finish(GAsyncResult *result, GError **error);

/* Perform, before anything changes: whether the source knows where the
 * destination's NBD server is: Prepare's cookie gave its port (@nbd_port),
 * or disks_uri (of @p, else of @more, nullable) gives a socket or a port. */
gboolean migration_storage_check_cookie(const MigrationParams *p, const MigrationParams *more, gint64 nbd_port,
                                        GError **error);

/* Perform, before the stream: mirrors of the cookie's disks to the
 * destination's NBD server (disks_uri, else the host of @migrate_uri and
 * port job->storage_port) at the migration's bandwidth, done when all are
 * READY. With the TLS flag the NBD client takes the job's TLS credentials
 * and checks the server's certificate against @tls_hostname (NULL: the
 * host it connects to). */
void migration_storage_mirror_async(Domain *d, const char *migrate_uri, const char *tls_hostname,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean migration_storage_mirror_finish(GAsyncResult *result, GError **error);

/* MigrateSetMaxSpeed during the source's copy: the running mirrors take
 * @mib_s (0: no limit) at once, as libvirt's block-job-set-speed. */
void migration_storage_set_speed(Domain *d, guint64 mib_s);

/* The source's stream paused before the switch-over: end the mirrors, then
 * let QEMU continue (or cancel the stream if that fails). */
void migration_storage_switchover(Domain *d);

/* A BLOCK_JOB_* event of the source's QEMU: a mirror may have become READY
 * or gone, so the poll waiting for that runs now instead of at its timer
 * (the timers stay as the fallback). */
void migration_storage_block_job_event(Domain *d);

/* migration_job_end(): clean-up of what storage migration left. */
void migration_storage_job_ended(Domain *d, gboolean completed);
/* Removes the @n images a failed incoming migration created (logged). */
void migration_storage_remove_created(const char *const *paths, guint n);

/* After a restart of the source daemon, whose journal keeps no mirror: the
 * mirrors and NBD client nodes a storage copy (flags of the journal) may
 * have left in QEMU have deterministic names (qemu_monitor_mirror_job_id()
 * of each disk's target). A restored outgoing job gets them, so that its
 * end cleans them as a live job's (migration_storage_job_ended()); a job
 * recovery does not restore has them cancelled and deleted at once. A
 * name QEMU does not know is ignored. Nothing before Perform. */
void migration_storage_restore_source(MigrationJob *job);
void migration_storage_recover_source(Domain *d, guint flags, JobPhase phase);
