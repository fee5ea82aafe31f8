/* migrationctl: migrate, in libvirt's managed mode. This client drives the
 * five phases of migration protocol v3 itself: Begin3 on the source,
 * Prepare3 on the destination, Perform3 on the source (the stream), Finish3
 * on the destination and Confirm3 on the source. When a phase fails,
 * libvirt's failure rules leave the guest on the source:
 *
 *   Prepare3 failed -> Confirm3(cancelled)
 *   Perform3 failed -> Finish3(cancelled), Confirm3(cancelled)
 *   Finish3 failed  -> Confirm3(cancelled)
 *
 * Ctrl-C cancels by the same rules (during Perform3 it aborts the stream
 * first, with AbortJob); once Finish3 has been called, the migration runs to
 * its end. A second Ctrl-C leaves at once: migrationd applies the failure
 * rules itself when the driving client has gone.
 *
 * With --protocol=2 the phases are Prepare2, Perform2 and Finish2, and the
 * rule is protocol 2's: a failed (or aborted) Perform2 is followed by
 * Finish2 with retcode 1, which throws the incoming guest away; the source
 * guest runs on (migrationd lets it run when Perform2 fails).
 *
 * --postcopy-after=SECONDS calls MigrateStartPostCopy on the source that
 * long after Perform started (but not before QEMU streams), from the same
 * main loop that waits for Perform's reply, and says so when the source
 * reports the switch. After the switch Ctrl-C no longer aborts: the guest
 * runs on the destination, and only completing the migration keeps it. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>

#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-migrate.h"
#include "ctl-output.h"
#include "ctl-progress.h"
#include "ctl-variant.h"
#include "i18n.h"

#define MIGRATION1_ERROR_MIGRATION_ABORTED "org.example.Migration1.Error.MigrationAborted"
#define MIGRATION1_ERROR_OPERATION_INVALID "org.example.Migration1.Error.OperationInvalid"

static void migration_free(CtlMigration *m) {
        if (!m)
                return;
        g_clear_handle_id(&m->sigint_watch, g_source_remove);
        g_clear_handle_id(&m->source_watch, g_source_remove);
        g_clear_handle_id(&m->destination_watch, g_source_remove);
        sd_bus_slot_unref(m->properties_slot);
        sd_bus_slot_unref(m->stats_slot);
        sd_bus_slot_unref(m->completed_slot);
        sd_bus_slot_unref(m->abort_slot);
        g_clear_handle_id(&m->postcopy_timer, g_source_remove);
        sd_bus_slot_unref(m->postcopy_slot);
        ctl_progress_free(m->progress);
        sd_bus_flush_close_unref(m->destination);
        g_free(m->path);
        free(m->name);
        g_free(m->destination_xml);
        g_free(m->xml);
        g_free(m->uri);
        g_clear_pointer(&m->cookie, g_bytes_unref);
        g_free(m->destination_path);
        g_clear_pointer(&m->completed_stats, g_variant_unref);
        g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlMigration, migration_free)

static gboolean stopping(const CtlMigration *m) {
        return m->error < 0 || m->cancel;
}

/* Records a failed phase and says why, unless the user asked for it (an
 * aborted stream after Ctrl-C, a call given up after the second Ctrl-C). */
G_GNUC_PRINTF(4, 5)
static void migration_failed(CtlMigration *m, int r, const sd_bus_error *error, const char *format, ...) {
        g_autofree char *prefix = NULL;
        va_list ap;

        if (m->error == 0)
                m->error = r;
        if (m->quit || (m->cancel && sd_bus_error_has_name(error, MIGRATION1_ERROR_MIGRATION_ABORTED)))
                return;

        va_start(ap, format);
        prefix = g_strdup_vprintf(format, ap);
        va_end(ap);
        ctl_progress_clear(m->progress);
        ctl_log_error(r, error, "%s", prefix);
}

/* Each step runs a phase and reports its failure; a failed phase leaves no
 * cookie for the next one. */

static gboolean run_begin(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_begin(m, &error);
        if (r < 0)
                migration_failed(m, r, &error, _("Failed to begin the migration of '%s'"), m->name);
        return r >= 0;
}

static gboolean run_prepare(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_prepare(m, &error);
        if (r < 0) {
                g_clear_pointer(&m->cookie, g_bytes_unref);
                migration_failed(m, r, &error, _("Failed to prepare the destination for '%s'"),
                                 ctl_migration_final_name(m));
        }
        return r >= 0;
}

static void postcopy_arm(CtlMigration *m);
static void postcopy_disarm(CtlMigration *m);

static void run_perform(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        m->stage = CTL_STAGE_ABORTABLE;
        postcopy_arm(m);
        r = ctl_migration_perform(m, &error);
        postcopy_disarm(m);
        m->stage = CTL_STAGE_DECIDED;
        if (r < 0) {
                g_clear_pointer(&m->cookie, g_bytes_unref);
                migration_failed(m, r, &error, _("Failed to migrate '%s'"), m->name);
        }
}

static void run_finish(CtlMigration *m, gboolean cancelled) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_finish(m, cancelled, &error);
        if (r >= 0)
                return;
        g_clear_pointer(&m->cookie, g_bytes_unref);
        if (cancelled)
                migration_failed(m, r, &error, _("Failed to cancel the incoming migration of '%s'"),
                                 ctl_migration_final_name(m));
        else
                migration_failed(m, r, &error, _("Failed to start '%s' on the destination"),
                                 ctl_migration_final_name(m));
}

static void run_confirm(CtlMigration *m, gboolean cancelled) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_confirm(m, cancelled, &error);
        if (r < 0 && cancelled)
                migration_failed(m, r, &error, _("Failed to let '%s' run on the source again"), m->name);
        else if (r < 0)
                migration_failed(m, r, &error, _("Failed to confirm the migration of '%s' on the source"),
                                 m->name);
        m->rolled_back = r >= 0 && cancelled;
}

/* ---- Protocol 2 ---- */

static gboolean run_prepare2(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_prepare2(m, &error);
        if (r < 0) {
                g_clear_pointer(&m->cookie, g_bytes_unref);
                migration_failed(m, r, &error, _("Failed to prepare the destination for '%s'"),
                                 ctl_migration_final_name(m));
        }
        return r >= 0;
}

static void run_perform2(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        m->stage = CTL_STAGE_ABORTABLE;
        postcopy_arm(m);
        r = ctl_migration_perform2(m, &error);
        postcopy_disarm(m);
        m->stage = CTL_STAGE_DECIDED;
        if (r < 0)
                migration_failed(m, r, &error, _("Failed to migrate '%s'"), m->name);
}

static void run_finish2(CtlMigration *m, int retcode) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_finish2(m, retcode, &error);
        if (r < 0 && retcode != 0)
                migration_failed(m, r, &error, _("Failed to cancel the incoming migration of '%s'"),
                                 ctl_migration_final_name(m));
        else if (r < 0)
                migration_failed(m, r, &error, _("Failed to start '%s' on the destination"),
                                 ctl_migration_final_name(m));
        /* A failed Perform2 has let the guest run on at the source already. */
        m->rolled_back = r >= 0 && retcode != 0;
}

/* Prepare2, Perform2, Finish2: a failed or cancelled Perform2 (or a cancel
 * after Prepare2) is followed by Finish2 with retcode 1. */
static void migration_run2(CtlMigration *m) {
        if (!run_prepare2(m))
                return;
        if (!stopping(m))
                run_perform2(m);
        m->stage = CTL_STAGE_DECIDED;
        run_finish2(m, stopping(m) ? 1 : 0);
}

/* The phases in turn, with libvirt's failure rules (see the top). */
static void migration_run(CtlMigration *m) {
        gboolean prepared;

        if (m->ctx->protocol == 2) {
                migration_run2(m);
                return;
        }
        if (!run_begin(m))
                return;
        prepared = !stopping(m) && run_prepare(m);
        if (prepared && !stopping(m))
                run_perform(m);
        m->stage = CTL_STAGE_DECIDED;
        if (prepared)
                run_finish(m, stopping(m));
        run_confirm(m, stopping(m));
}

/* ---- Progress and Ctrl-C ---- */

/* The progress of the stream is worth showing; what comes after, the result says. */
static gboolean showing_progress(const CtlMigration *m) {
        return m->progress && m->stage != CTL_STAGE_DECIDED;
}

/* A line of its own next to the progress: stdout, or stderr beside --json. */
G_GNUC_PRINTF(2, 3)
static void migration_say(CtlMigration *m, const char *format, ...) {
        g_autofree char *line = NULL;
        va_list ap;

        va_start(ap, format);
        line = g_strdup_vprintf(format, ap);
        va_end(ap);
        ctl_progress_clear(m->progress);
        fprintf(m->ctx->json ? stderr : stdout, "%s\n", line);
        fflush(m->ctx->json ? stderr : stdout);
}

static int on_properties_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlMigration *m = userdata;
        g_autoptr(GVariant) changed = NULL;
        const char *interface;
        double percent;

        if (sd_bus_message_read(message, "s", &interface) < 0 ||
            !g_str_equal(interface, MIGRATION1_DOMAIN_INTERFACE) ||
            ctl_message_read_variant(message, &changed) < 0)
                return 0;

        /* The source says so when QEMU has switched (not when it was asked to). */
        if (!m->postcopy_announced &&
            g_strcmp0(ctl_dict_get_string(changed, "StateReason", NULL), "postcopy") == 0) {
                double seconds = (g_get_monotonic_time() - m->start_usec) / (double) G_USEC_PER_SEC;

                m->postcopy_announced = TRUE;
                migration_say(m, _("Switched the migration of '%s' to post-copy after %.1fs; the guest "
                                   "runs on the destination now."), m->name, seconds);
        }
        if (!showing_progress(m))
                return 0;

        ctl_progress_set_phase(m->progress, ctl_dict_get_string(changed, "JobPhase", NULL));
        if (g_variant_lookup(changed, "JobProgress", "d", &percent))
                ctl_progress_set_percent(m->progress, percent);
        return 0;
}

static void postcopy_start(CtlMigration *m);

static int on_job_stats_updated(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlMigration *m = userdata;
        g_autoptr(GVariant) stats = NULL;

        /* Statistics come once QEMU streams: post-copy can be asked for now. */
        if (m->stage == CTL_STAGE_ABORTABLE) {
                m->streaming = TRUE;
                if (m->postcopy_due)
                        postcopy_start(m);
        }
        if (showing_progress(m) && ctl_message_read_variant(message, &stats) >= 0)
                ctl_progress_update_stats(m->progress, stats);
        return 0;
}

static int on_job_completed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlMigration *m = userdata;
        g_autoptr(GVariant) stats = NULL;

        if (ctl_message_read_variant(message, &stats) < 0)
                return 0;
        g_clear_pointer(&m->completed_stats, g_variant_unref);
        m->completed_stats = g_steal_pointer(&stats);
        return 0;
}

static int on_abort_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlMigration *m = userdata;
        const sd_bus_error *error = sd_bus_message_get_error(reply);

        /* OperationInvalid: the stream has ended meanwhile; cancelling still undoes it. */
        if (!error || m->quit || sd_bus_error_has_name(error, MIGRATION1_ERROR_OPERATION_INVALID))
                return 0;
        ctl_progress_clear(m->progress);
        ctl_log_error(-sd_bus_message_get_errno(reply), error, _("Failed to abort the migration of '%s'"),
                      m->name);
        return 0;
}

static void abort_job(CtlMigration *m) {
        int r;

        r = sd_bus_call_method_async(m->source, &m->abort_slot, MIGRATION1_SERVICE, m->path,
                                     MIGRATION1_DOMAIN_INTERFACE, "AbortJob", on_abort_reply, m, "u", 0u);
        if (r < 0)
                g_printerr(_("Failed to abort the migration of '%s': %s\n"), m->name, g_strerror(-r));
}

/* ---- Post-copy ---- */

static int on_postcopy_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlMigration *m = userdata;
        const sd_bus_error *error = sd_bus_message_get_error(reply);

        /* OperationInvalid: the stream ended in pre-copy meanwhile (or failed); Perform says which. */
        if (!error || m->quit || m->cancel || sd_bus_error_has_name(error, MIGRATION1_ERROR_OPERATION_INVALID))
                return 0;
        ctl_progress_clear(m->progress);
        ctl_log_error(-sd_bus_message_get_errno(reply), error,
                      _("Failed to switch the migration of '%s' to post-copy"), m->name);
        return 0;
}

static void postcopy_start(CtlMigration *m) {
        int r;

        m->postcopy_due = FALSE;
        if (m->stage != CTL_STAGE_ABORTABLE || m->cancel || m->quit)
                return;
        r = sd_bus_call_method_async(m->source, &m->postcopy_slot, MIGRATION1_SERVICE, m->path,
                                     MIGRATION1_DOMAIN_INTERFACE, "MigrateStartPostCopy", on_postcopy_reply,
                                     m, "u", 0u);
        if (r < 0) {
                ctl_progress_clear(m->progress);
                g_printerr(_("Failed to switch the migration of '%s' to post-copy: %s\n"), m->name,
                           g_strerror(-r));
        }
}

/* QEMU refuses to switch before its stream has started: then the first
 * statistics of the stream (on_job_stats_updated) do it. */
static gboolean on_postcopy_timer(gpointer userdata) {
        CtlMigration *m = userdata;

        m->postcopy_timer = 0;
        if (m->streaming)
                postcopy_start(m);
        else
                m->postcopy_due = TRUE;
        return G_SOURCE_REMOVE;
}

/* Counted from the start of Perform. */
static void postcopy_arm(CtlMigration *m) {
        if (!m->ctx->has_postcopy_after || m->postcopy_timer)
                return;
        m->postcopy_timer = g_timeout_add_seconds(m->ctx->postcopy_after_s, on_postcopy_timer, m);
}

static void postcopy_disarm(CtlMigration *m) {
        g_clear_handle_id(&m->postcopy_timer, g_source_remove);
        m->postcopy_due = FALSE;
}

static gboolean on_sigint(gpointer userdata) {
        CtlMigration *m = userdata;

        ctl_progress_clear(m->progress);
        if (m->interrupted) {
                g_printerr(_("Leaving at once; migrationd applies the failure rules when it notices.\n"));
                m->quit = TRUE;
                return G_SOURCE_CONTINUE;
        }

        m->interrupted = TRUE;
        switch (m->stage) {
        case CTL_STAGE_CANCELLABLE:
                m->cancel = TRUE;
                g_printerr(_("Cancelling the migration; press Ctrl-C again to leave at once.\n"));
                break;
        case CTL_STAGE_ABORTABLE:
                if (m->postcopy_announced) {
                        /* The guest runs on the destination: aborting would lose it. */
                        g_printerr(_("The migration is in post-copy and can only be completed; press "
                                     "Ctrl-C again to leave at once.\n"));
                        break;
                }
                m->cancel = TRUE;
                g_printerr(_("Aborting the migration; press Ctrl-C again to leave at once.\n"));
                abort_job(m);
                break;
        case CTL_STAGE_DECIDED:
                g_printerr(_("The migration is being completed or rolled back; press Ctrl-C again to "
                             "leave at once.\n"));
                break;
        }
        return G_SOURCE_CONTINUE;
}

static int watch_domain(CtlMigration *m) {
        int r;

        r = sd_bus_match_signal(m->source, &m->properties_slot, MIGRATION1_SERVICE, m->path,
                                "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_properties_changed, m);
        if (r >= 0)
                r = sd_bus_match_signal(m->source, &m->stats_slot, MIGRATION1_SERVICE, m->path,
                                        MIGRATION1_DOMAIN_INTERFACE, "JobStatsUpdated",
                                        on_job_stats_updated, m);
        if (r >= 0)
                r = sd_bus_match_signal(m->source, &m->completed_slot, MIGRATION1_SERVICE, m->path,
                                        MIGRATION1_DOMAIN_INTERFACE, "JobCompleted",
                                        on_job_completed, m);
        if (r < 0)
                return r;

        m->source_watch = bus_attach_glib(m->source, NULL, NULL);
        m->destination_watch = bus_attach_glib(m->destination, NULL, NULL);
        m->sigint_watch = g_unix_signal_add(SIGINT, on_sigint, m);
        return 0;
}

/* ---- Before and after ---- */

static int migration_setup(CtlMigration *m, const char *name_or_uuid) {
        CtlContext *ctx = m->ctx;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GError) read_error = NULL;
        int r;

        if (ctx->xml_file && !g_file_get_contents(ctx->xml_file, &m->destination_xml, NULL, &read_error)) {
                g_printerr(_("Failed to read '%s': %s\n"), ctx->xml_file, read_error->message);
                return -EIO;
        }

        r = ctl_lookup_domain(m->source, name_or_uuid, &error, &m->path);
        if (r >= 0)
                r = sd_bus_get_property_string(m->source, MIGRATION1_SERVICE, m->path,
                                               MIGRATION1_DOMAIN_INTERFACE, "Name", &error, &m->name);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to look up domain '%s'"), name_or_uuid);

        r = ctl_bus_open(ctx->to_bus_address, ctx->ask_password, &m->destination);
        if (r < 0) {
                g_printerr(_("Failed to connect to %s: %s\n"), ctx->to_bus_address, g_strerror(-r));
                return r;
        }

        if (ctx->max_downtime_ms > 0) {
                r = ctl_call(m->source, m->path, MIGRATION1_DOMAIN_INTERFACE, "MigrateSetMaxDowntime",
                             &error, NULL, "tu", ctx->max_downtime_ms, 0u);
                if (r < 0)
                        return ctl_log_error(r, &error, _("Failed to set the maximum downtime of '%s'"),
                                             m->name);
        }

        r = watch_domain(m);
        if (r < 0) {
                g_printerr(_("Failed to watch domain '%s': %s\n"), m->name, g_strerror(-r));
                return r;
        }

        if (!ctx->json)
                m->progress = ctl_progress_new(stdout, isatty(STDOUT_FILENO));
        return 0;
}

/* The last job statistics of @path on @bus (a{sv}), or NULL. */
static GVariant *get_completed_stats(sd_bus *bus, const char *path) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        GVariant *stats = NULL;

        if (ctl_call(bus, path, MIGRATION1_DOMAIN_INTERFACE, "GetJobStats", &error, &reply, "u", 1u) < 0 ||
            sd_bus_message_skip(reply, "s") < 0 ||
            ctl_message_read_variant(reply, &stats) < 0)
                return NULL;
        return stats;
}

static void migration_report(CtlMigration *m) {
        g_autoptr(GVariant) source_stats = NULL, destination_stats = NULL;
        double seconds = (g_get_monotonic_time() - m->start_usec) / (double) G_USEC_PER_SEC;
        gboolean renamed = !g_str_equal(ctl_migration_final_name(m), m->name);
        gboolean has_downtime, has_destination_downtime;
        const char *to = m->ctx->to_bus_address;
        guint64 downtime = 0;

        /* The source's domain may have gone with its guest: then only the signal tells. */
        source_stats = m->completed_stats ? g_variant_ref(m->completed_stats)
                                          : get_completed_stats(m->source, m->path);
        if (!source_stats)
                source_stats = g_variant_ref_sink(g_variant_new("a{sv}", NULL));
        /* The destination knows the real downtime: source stop to destination resume. */
        destination_stats = get_completed_stats(m->destination, m->destination_path);
        has_destination_downtime = destination_stats &&
                                   g_variant_lookup(destination_stats, "downtime", "t", &downtime);
        has_downtime = has_destination_downtime ||
                       g_variant_lookup(source_stats, "downtime", "t", &downtime);

        if (m->ctx->json) {
                g_autoptr(JsonNode) root = json_gvariant_serialize(source_stats);
                JsonObject *object = json_node_get_object(root);

                json_object_set_string_member(object, "destination_domain", m->destination_path);
                if (has_destination_downtime)
                        json_object_set_int_member(object, "destination_downtime", (gint64) downtime);
                ctl_json_print(root);
                return;
        }

        if (m->ctx->migrate_flags & CTL_MIGRATE_OFFLINE)
                printf(_("Moved the definition of '%s' to %s as '%s' in %.1fs.\n"),
                       m->name, to, ctl_migration_final_name(m), seconds);
        else if (renamed && has_downtime)
                printf(_("Migrated '%s' to %s as '%s' in %.1fs (downtime %" PRIu64 " ms).\n"),
                       m->name, to, ctl_migration_final_name(m), seconds, downtime);
        else if (renamed)
                printf(_("Migrated '%s' to %s as '%s' in %.1fs.\n"),
                       m->name, to, ctl_migration_final_name(m), seconds);
        else if (has_downtime)
                printf(_("Migrated '%s' to %s in %.1fs (downtime %" PRIu64 " ms).\n"),
                       m->name, to, seconds, downtime);
        else
                printf(_("Migrated '%s' to %s in %.1fs.\n"), m->name, to, seconds);
}

/* What the plain forms cannot carry, refused before anything starts. */
static int check_options(const CtlContext *ctx) {
        gboolean typed = ctx->protocol != 2 && !ctx->plain;
        const char *form = ctx->protocol == 2 ? "--protocol=2" : "--plain";
        gboolean other_method = FALSE;

        for (guint i = 0; ctx->compression && i < ctx->compression->len; i++)
                if (!g_str_equal(g_ptr_array_index(ctx->compression, i), "xbzrle"))
                        other_method = TRUE;
        if (!typed && ctx->parallel_connections > 0) {
                g_printerr(_("--parallel=N cannot be used with %s: the number of connections is a typed "
                             "parameter, which only Begin3Params, Prepare3Params, ... carry\n"), form);
                return -EINVAL;
        }
        if (!typed && other_method) {
                g_printerr(_("--compress with a method other than xbzrle cannot be used with %s: the methods "
                             "are a typed parameter, which only Begin3Params, Prepare3Params, ... carry\n"),
                           form);
                return -EINVAL;
        }
        if (ctx->protocol == 2 && (ctx->migrate_flags & CTL_MIGRATE_OFFLINE)) {
                g_printerr(_("--offline cannot be used with --protocol=2: protocol 2 has no way to carry "
                             "the definition; use protocol 3\n"));
                return -EINVAL;
        }
        if (ctx->has_postcopy_after && (ctx->migrate_flags & CTL_MIGRATE_OFFLINE)) {
                g_printerr(_("--postcopy-after cannot be used with --offline: there is no transfer to "
                             "switch\n"));
                return -EINVAL;
        }
        return 0;
}

int verb_migrate(CtlContext *ctx, int argc, char **argv) {
        g_autoptr(CtlMigration) m = NULL;
        int r;

        if (!ctx->to_bus_address) {
                g_printerr(_("The migrate command needs --to-bus=ADDRESS, the bus of the destination's "
                             "migrationd.\n"));
                return -EINVAL;
        }

        r = check_options(ctx);
        if (r < 0)
                return r;

        m = g_new0(CtlMigration, 1);
        m->ctx = ctx;
        m->source = ctx->bus;
        r = migration_setup(m, argv[1]);
        if (r < 0)
                return r;

        m->start_usec = g_get_monotonic_time();
        migration_run(m);
        ctl_progress_clear(m->progress);

        if (m->quit || m->cancel) {
                ctx->interrupted = TRUE;
                if (m->rolled_back)
                        g_printerr(_("Cancelled the migration; '%s' stays on the source.\n"), m->name);
                return -ECANCELED;
        }
        if (m->error < 0) {
                if (m->rolled_back)
                        g_printerr(_("'%s' stays on the source.\n"), m->name);
                return m->error;
        }

        migration_report(m);
        return 0;
}
