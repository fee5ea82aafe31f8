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
 * --postcopy-after=SECONDS counts from the start of Perform (ctl-watch.c
 * does the switch, from the main loop that waits for Perform's reply).
 * After the switch Ctrl-C no longer aborts: the guest runs on the
 * destination, and only completing the migration keeps it. */
#include <errno.h>
#include <stdio.h>

#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-migrate.h"
#include "ctl-output.h"
#include "ctl-watch.h"
#include "i18n.h"

#define MIGRATION1_ERROR_MIGRATION_ABORTED "org.example.Migration1.Error.MigrationAborted"

static void migration_free(CtlMigration *m) {
        if (!m)
                return;
        ctl_job_watch_clear(&m->watch);
        g_clear_handle_id(&m->destination_watch, g_source_remove);
        sd_bus_flush_close_unref(m->destination);
        g_free(m->xml);
        g_free(m->uri);
        g_clear_pointer(&m->cookie, g_bytes_unref);
        g_free(m->destination_path);
        g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlMigration, migration_free)

/* Finish and Confirm (or nothing more): the stream's outcome is known. */
static void migration_decided(CtlMigration *m) {
        m->stage = CTL_STAGE_DECIDED;
        ctl_job_watch_end(&m->watch);
}

static gboolean stopping(const CtlMigration *m) {
        return m->error < 0 || m->watch.cancel;
}

/* Records a failed phase and says why, unless the user asked for it (an
 * aborted stream after Ctrl-C, a call given up after the second Ctrl-C). */
G_GNUC_PRINTF(4, 5)
static void migration_failed(CtlMigration *m, int r, const sd_bus_error *error, const char *format, ...) {
        g_autofree char *prefix = NULL;
        va_list ap;

        if (m->error == 0)
                m->error = r;
        if (m->watch.quit ||
            (m->watch.cancel && sd_bus_error_has_name(error, MIGRATION1_ERROR_MIGRATION_ABORTED)))
                return;

        va_start(ap, format);
        prefix = g_strdup_vprintf(format, ap);
        va_end(ap);
        ctl_progress_clear(m->watch.progress);
        ctl_log_error(r, error, "%s", prefix);
}

/* Each step runs a phase and reports its failure; a failed phase leaves no
 * cookie for the next one. */

static gboolean run_begin(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_migration_begin(m, &error);
        if (r < 0)
                migration_failed(m, r, &error, _("Failed to begin the migration of '%s'"), m->watch.name);
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

static void run_perform(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        m->stage = CTL_STAGE_ABORTABLE;
        ctl_job_watch_arm_postcopy(&m->watch);
        r = ctl_migration_perform(m, &error);
        migration_decided(m);
        if (r < 0) {
                g_clear_pointer(&m->cookie, g_bytes_unref);
                migration_failed(m, r, &error, _("Failed to migrate '%s'"), m->watch.name);
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
                migration_failed(m, r, &error, _("Failed to let '%s' run on the source again"), m->watch.name);
        else if (r < 0)
                migration_failed(m, r, &error, _("Failed to confirm the migration of '%s' on the source"),
                                 m->watch.name);
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
        ctl_job_watch_arm_postcopy(&m->watch);
        r = ctl_migration_perform2(m, &error);
        migration_decided(m);
        if (r < 0)
                migration_failed(m, r, &error, _("Failed to migrate '%s'"), m->watch.name);
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
        migration_decided(m);
        run_finish2(m, stopping(m) ? 1 : 0);
}

/* As libvirt's client: a guest the user paused arrives paused (PAUSED is
 * added before Prepare, when the job holds the state still). Reading the
 * state is best effort: without it the flags stay as given. */
static void keep_paused(CtlMigration *m) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autofree char *state = NULL;

        if (m->ctx->migrate_flags & CTL_MIGRATE_OFFLINE)
                return;
        if (sd_bus_get_property_string(m->watch.source, MIGRATION1_SERVICE, m->watch.path,
                                       MIGRATION1_DOMAIN_INTERFACE, "State", &error, &state) < 0)
                return;
        if (g_str_equal(state, "paused"))
                m->ctx->migrate_flags |= CTL_MIGRATE_PAUSED;
}

/* The phases in turn, with libvirt's failure rules (see the top). */
static void migration_run(CtlMigration *m) {
        gboolean prepared;

        if (m->ctx->protocol == 2) {
                keep_paused(m);
                migration_run2(m);
                return;
        }
        if (!run_begin(m))
                return;
        keep_paused(m);
        prepared = !stopping(m) && run_prepare(m);
        if (prepared && !stopping(m))
                run_perform(m);
        migration_decided(m);
        if (prepared)
                run_finish(m, stopping(m));
        run_confirm(m, stopping(m));
}

/* ---- The hooks of the watch ---- */

/* During Perform, statistics come once QEMU streams. */
static gboolean shows_stream(void *userdata, GVariant *stats) {
        CtlMigration *m = userdata;

        return m->stage == CTL_STAGE_ABORTABLE;
}

static void interrupted(void *userdata) {
        CtlMigration *m = userdata;
        CtlJobWatch *w = &m->watch;

        switch (m->stage) {
        case CTL_STAGE_CANCELLABLE:
                w->cancel = TRUE;
                g_printerr(_("Cancelling the migration; press Ctrl-C again to leave at once.\n"));
                break;
        case CTL_STAGE_ABORTABLE:
                if (ctl_job_watch_refuse_abort_in_postcopy(w))
                        break;
                w->cancel = TRUE;
                g_printerr(_("Aborting the migration; press Ctrl-C again to leave at once.\n"));
                ctl_job_watch_abort(w);
                break;
        case CTL_STAGE_DECIDED:
                g_printerr(_("The migration is being completed or rolled back; press Ctrl-C again to "
                             "leave at once.\n"));
                break;
        }
}

/* An AbortJob refused with OperationInvalid says nothing: the stream has
 * ended meanwhile, and cancelling still undoes it. */
static const CtlJobWatchHooks migration_hooks = {
        .shows_stream = shows_stream,
        .interrupted = interrupted,
        .leaving_message = N_("Leaving at once; migrationd applies the failure rules when it notices.\n"),
};

/* ---- Before and after ---- */

/* The destination's bus is opened between the look-up and --max-downtime,
 * so that failures are told in the order they always were. */
static int migration_setup(CtlMigration *m, const char *name_or_uuid) {
        CtlContext *ctx = m->ctx;
        int r;

        r = ctl_job_watch_lookup(&m->watch, name_or_uuid);
        if (r < 0)
                return r;
        r = ctl_bus_open(ctx->to_bus_address, ctx->ask_password, &m->destination);
        if (r < 0) {
                g_printerr(_("Failed to connect to %s: %s\n"), ctx->to_bus_address, g_strerror(-r));
                return r;
        }
        r = ctl_job_watch_start(&m->watch);
        if (r < 0)
                return r;
        m->destination_watch = bus_attach_glib(m->destination, NULL, NULL);
        return 0;
}

static void migration_report(CtlMigration *m) {
        const CtlJobWatch *w = &m->watch;
        double seconds = ctl_job_watch_elapsed(w);
        g_autoptr(GVariant) source_stats = ctl_job_watch_source_stats(w);
        g_autoptr(GVariant) destination_stats = NULL;
        gboolean has_downtime, has_destination_downtime;
        guint64 downtime = 0;

        /* The destination knows the real downtime: source stop to destination resume. */
        destination_stats = ctl_get_completed_stats(m->destination, m->destination_path);
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
        ctl_job_watch_print_result(w, m->ctx->to_bus_address, seconds, has_downtime, downtime);
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
        return ctl_job_watch_check_options(ctx);
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
        ctl_job_watch_init(&m->watch, ctx, &migration_hooks, m);
        r = migration_setup(m, argv[1]);
        if (r < 0)
                return r;

        m->watch.start_usec = g_get_monotonic_time();
        migration_run(m);
        ctl_progress_clear(m->watch.progress);

        if (m->watch.quit || m->watch.cancel) {
                ctx->interrupted = TRUE;
                if (m->rolled_back)
                        g_printerr(_("Cancelled the migration; '%s' stays on the source.\n"), m->watch.name);
                return -ECANCELED;
        }
        if (m->error < 0) {
                if (m->rolled_back)
                        g_printerr(_("'%s' stays on the source.\n"), m->watch.name);
                return m->error;
        }

        migration_report(m);
        return 0;
}
