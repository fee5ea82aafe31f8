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
 * rules itself when the driving client has gone. */
#include <errno.h>
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
                migration_failed(m, r, &error, "Failed to begin the migration of '%s'", m->name);
        return r >= 0;
}

static gboolean run_prepare(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_prepare(m, &error);
        if (r < 0) {
                g_clear_pointer(&m->cookie, g_bytes_unref);
                migration_failed(m, r, &error, "Failed to prepare the destination for '%s'",
                                 ctl_migration_final_name(m));
        }
        return r >= 0;
}

static void run_perform(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        m->stage = CTL_STAGE_ABORTABLE;
        r = ctl_migration_perform(m, &error);
        m->stage = CTL_STAGE_DECIDED;
        if (r < 0) {
                g_clear_pointer(&m->cookie, g_bytes_unref);
                migration_failed(m, r, &error, "Failed to migrate '%s'", m->name);
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
                migration_failed(m, r, &error, "Failed to cancel the incoming migration of '%s'",
                                 ctl_migration_final_name(m));
        else
                migration_failed(m, r, &error, "Failed to start '%s' on the destination",
                                 ctl_migration_final_name(m));
}

static void run_confirm(CtlMigration *m, gboolean cancelled) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_confirm(m, cancelled, &error);
        if (r < 0 && cancelled)
                migration_failed(m, r, &error, "Failed to let '%s' run on the source again", m->name);
        else if (r < 0)
                migration_failed(m, r, &error, "Failed to confirm the migration of '%s' on the source",
                                 m->name);
        m->rolled_back = r >= 0 && cancelled;
}

/* The phases in turn, with libvirt's failure rules (see the top). */
static void migration_run(CtlMigration *m) {
        gboolean prepared;

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

static int on_properties_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlMigration *m = userdata;
        g_autoptr(GVariant) changed = NULL;
        const char *interface;
        double percent;

        if (!showing_progress(m) ||
            sd_bus_message_read(message, "s", &interface) < 0 ||
            !g_str_equal(interface, MIGRATION1_DOMAIN_INTERFACE) ||
            ctl_message_read_variant(message, &changed) < 0)
                return 0;

        ctl_progress_set_phase(m->progress, ctl_dict_get_string(changed, "JobPhase", NULL));
        if (g_variant_lookup(changed, "JobProgress", "d", &percent))
                ctl_progress_set_percent(m->progress, percent);
        return 0;
}

static int on_job_stats_updated(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlMigration *m = userdata;
        g_autoptr(GVariant) stats = NULL;

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
        ctl_log_error(-sd_bus_message_get_errno(reply), error, "Failed to abort the migration of '%s'",
                      m->name);
        return 0;
}

static void abort_job(CtlMigration *m) {
        int r;

        r = sd_bus_call_method_async(m->source, &m->abort_slot, MIGRATION1_SERVICE, m->path,
                                     MIGRATION1_DOMAIN_INTERFACE, "AbortJob", on_abort_reply, m, "u", 0u);
        if (r < 0)
                g_printerr("Failed to abort the migration of '%s': %s\n", m->name, g_strerror(-r));
}

static gboolean on_sigint(gpointer userdata) {
        CtlMigration *m = userdata;

        ctl_progress_clear(m->progress);
        if (m->interrupted) {
                g_printerr("Leaving at once; migrationd applies the failure rules when it notices.\n");
                m->quit = TRUE;
                return G_SOURCE_CONTINUE;
        }

        m->interrupted = TRUE;
        switch (m->stage) {
        case CTL_STAGE_CANCELLABLE:
                m->cancel = TRUE;
                g_printerr("Cancelling the migration; press Ctrl-C again to leave at once.\n");
                break;
        case CTL_STAGE_ABORTABLE:
                m->cancel = TRUE;
                g_printerr("Aborting the migration; press Ctrl-C again to leave at once.\n");
                abort_job(m);
                break;
        case CTL_STAGE_DECIDED:
                g_printerr("The migration is being completed or rolled back; press Ctrl-C again to "
                           "leave at once.\n");
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
                g_printerr("Failed to read '%s': %s\n", ctx->xml_file, read_error->message);
                return -EIO;
        }

        r = ctl_lookup_domain(m->source, name_or_uuid, &error, &m->path);
        if (r >= 0)
                r = sd_bus_get_property_string(m->source, MIGRATION1_SERVICE, m->path,
                                               MIGRATION1_DOMAIN_INTERFACE, "Name", &error, &m->name);
        if (r < 0)
                return ctl_log_error(r, &error, "Failed to look up domain '%s'", name_or_uuid);

        r = ctl_bus_open(ctx->to_bus_address, ctx->ask_password, &m->destination);
        if (r < 0) {
                g_printerr("Failed to connect to %s: %s\n", ctx->to_bus_address, g_strerror(-r));
                return r;
        }

        if (ctx->max_downtime_ms > 0) {
                r = ctl_call(m->source, m->path, MIGRATION1_DOMAIN_INTERFACE, "MigrateSetMaxDowntime",
                             &error, NULL, "tu", ctx->max_downtime_ms, 0u);
                if (r < 0)
                        return ctl_log_error(r, &error, "Failed to set the maximum downtime of '%s'",
                                             m->name);
        }

        r = watch_domain(m);
        if (r < 0) {
                g_printerr("Failed to watch domain '%s': %s\n", m->name, g_strerror(-r));
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

        if (renamed && has_downtime)
                printf("Migrated '%s' to %s as '%s' in %.1fs (downtime %" G_GUINT64_FORMAT " ms).\n",
                       m->name, to, ctl_migration_final_name(m), seconds, downtime);
        else if (renamed)
                printf("Migrated '%s' to %s as '%s' in %.1fs.\n",
                       m->name, to, ctl_migration_final_name(m), seconds);
        else if (has_downtime)
                printf("Migrated '%s' to %s in %.1fs (downtime %" G_GUINT64_FORMAT " ms).\n",
                       m->name, to, seconds, downtime);
        else
                printf("Migrated '%s' to %s in %.1fs.\n", m->name, to, seconds);
}

int verb_migrate(CtlContext *ctx, int argc, char **argv) {
        g_autoptr(CtlMigration) m = NULL;
        int r;

        if (!ctx->to_bus_address) {
                g_printerr("The migrate command needs --to-bus=ADDRESS, the bus of the destination's "
                           "migrationd.\n");
                return -EINVAL;
        }

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
                        g_printerr("Cancelled the migration; '%s' stays on the source.\n", m->name);
                return -ECANCELED;
        }
        if (m->error < 0) {
                if (m->rolled_back)
                        g_printerr("'%s' stays on the source.\n", m->name);
                return m->error;
        }

        migration_report(m);
        return 0;
}
