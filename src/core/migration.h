/* The phases of libvirt's migration protocol v3, as the bus layer calls
 * them. Both forms of each method (plain arguments, ...Params) build a
 * MigrationParams and call the same function here. */
#pragma once

#include <gio/gio.h>

#include "domain.h"
#include "migration-cookie.h"
#include "migration-params.h"
#include "registry.h"

/* ---- Source (migration-begin.c, migration-source.c, migration-confirm.c, migration-controls.c) ---- */

/* Phase 1: the XML for the destination and the first cookie; starts the
 * outgoing job, driven by @owner (a bus name, or NULL). A storage
 * migration completes once the source QEMU has told its disks (the job,
 * in phase begin3, may be aborted meanwhile: the call then fails with the
 * job's message); otherwise at once. */
void migration_begin_async(Domain *domain, MigrationParams *params /* consumed */, const char *owner,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean migration_begin_finish(GAsyncResult *result, char **ret_xml, GBytes **ret_cookie, GError **error);
/* The serial of the job that Begin started (0: it started none). */
guint64 migration_begin_job_serial(GAsyncResult *result);

/* Phase 3: runs the stream; completes when it has ended, with the cookie
 * for Finish. */
void migration_perform_async(Domain *domain, MigrationParams *params /* consumed */, GBytes *cookie_in,
                             GAsyncReadyCallback callback, gpointer user_data);
GBytes *migration_perform_finish(GAsyncResult *result, GError **error);

/* Phase 5: success stops the source QEMU (completes when it has gone) and
 * undefines it with UNDEFINE_SOURCE; it needs the cookie of a successful
 * Finish3 (@cookie_in NULL only from a caller that saw Finish2 return the
 * domain itself: peer-to-peer protocol 2). @cancelled lets the guest run
 * here again (unless the user had paused it before Begin: then it stays
 * paused). */
void migration_confirm_async(Domain *domain, MigrationParams *params /* consumed */, GBytes *cookie_in,
                             gboolean cancelled, GAsyncReadyCallback callback, gpointer user_data);
gboolean migration_confirm_finish(GAsyncResult *result, GError **error);

/* Completes within 5 s even when QEMU does not answer; the job ends with
 * MigrationAborted once QEMU confirms. */
void migration_abort_async(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
gboolean migration_abort_finish(GAsyncResult *result, GError **error);

/* Switches a running POSTCOPY stream to post-copy (QMP migrate-start-postcopy).
 * The result is a GTask boolean: finish with domain_operation_finish(). */
void migration_start_postcopy_async(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);

gboolean migration_set_max_speed(Domain *domain, guint64 mib_s, guint flags, GError **error);
gboolean migration_set_max_downtime(Domain *domain, guint64 ms, guint flags, GError **error);

/* ---- Destination (migration-dest.c, migration-finish.c) ---- */

/* Phase 2: starts QEMU waiting for the stream; the domain appears at once
 * with an incoming job. Results: the cookie for Perform and the URI. */
void migration_prepare_async(Registry *registry, MigrationParams *params /* consumed */,
                             GBytes *cookie_in, const char *owner, GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean migration_prepare_finish(GAsyncResult *result, GBytes **ret_cookie, char **ret_uri,
                                  GError **error);

/* How many ports of [migration] port_min..port_max an incoming stream
 * could listen on now (no job holds it, and it binds): the preflight's
 * free_ports. */
guint migration_free_ports(Registry *registry);

/* Phase 4: on success the guest runs here (unless PAUSED) and the result is
 * its UUID; cancelled (or a failed stream) kills the incoming QEMU and the
 * result is NULL without error for a cancel. */
void migration_finish_async(Registry *registry, MigrationParams *params /* consumed */,
                            GBytes *cookie_in, gboolean cancelled, GAsyncReadyCallback callback,
                            gpointer user_data);
char *migration_finish_finish(GAsyncResult *result, GBytes **ret_cookie, GError **error);

/* ---- Protocol 2: the same inner code without Begin and Confirm ---- */

/* Prepare2: no cookie from the source; finish with migration_prepare_finish(). */
void migration_prepare2_async(Registry *registry, MigrationParams *params /* consumed */, const char *owner,
                              GAsyncReadyCallback callback, gpointer user_data);
/* Finish2: @retcode != 0 means Perform2 failed: the incoming guest is killed.
 * @source_waits: the source still holds its guest paused and resumes it if
 * Finish2 fails (peer-to-peer), so a failure kills the incoming guest as
 * Finish3 does; otherwise (managed: Perform2 stopped the source) a guest
 * that cannot be resumed here stays paused, maybe the only copy.
 * Finish with migration_finish_finish(). */
void migration_finish2_async(Registry *registry, MigrationParams *params /* consumed */, int retcode,
                             gboolean source_waits, GAsyncReadyCallback callback, gpointer user_data);
/* Perform2: Begin, Perform and, with @stop_source, the source side of
 * Confirm in one call: the source guest is stopped here when the stream
 * completed (managed protocol 2, where the client calls Finish2 after it).
 * Without @stop_source (peer-to-peer, which calls Finish2 itself) a
 * completed stream leaves the guest paused here and the job in
 * perform3_done, for migration_confirm_async() once Finish2 has answered.
 * A failed stream lets the guest run here again either way. */
void migration_perform2_async(Domain *domain, MigrationParams *params /* consumed */, GBytes *cookie_in,
                              const char *owner, gboolean stop_source, GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean migration_perform2_finish(GAsyncResult *result, GError **error);

