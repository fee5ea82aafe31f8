/* migrationctl: following the source's job during a migration, for both
 * managed and peer-to-peer mode (see ctl-watch.h).
 *
 * --postcopy-after calls MigrateStartPostCopy that long after
 * ctl_job_watch_arm_postcopy(), but not before QEMU streams (QEMU refuses to
 * switch earlier): then the first statistics of the stream do it. The switch is reported when
 * the source says QEMU made it, not when it was asked for. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>

#include "ctl-bus.h"
#include "ctl-variant.h"
#include "ctl-watch.h"
#include "i18n.h"

#define MIGRATION1_ERROR_OPERATION_INVALID "org.example.Migration1.Error.OperationInvalid"

void ctl_job_watch_init(CtlJobWatch *w, CtlContext *ctx, const CtlJobWatchHooks *hooks, void *userdata) {
        *w = (CtlJobWatch) { .ctx = ctx, .hooks = hooks, .userdata = userdata, .source = ctx->bus };
}

void ctl_job_watch_clear(CtlJobWatch *w) {
        g_clear_handle_id(&w->sigint_watch, g_source_remove);
        g_clear_handle_id(&w->source_watch, g_source_remove);
        g_clear_handle_id(&w->postcopy_timer, g_source_remove);
        g_clear_pointer(&w->properties_slot, sd_bus_slot_unref);
        g_clear_pointer(&w->stats_slot, sd_bus_slot_unref);
        g_clear_pointer(&w->completed_slot, sd_bus_slot_unref);
        g_clear_pointer(&w->abort_slot, sd_bus_slot_unref);
        g_clear_pointer(&w->postcopy_slot, sd_bus_slot_unref);
        g_clear_pointer(&w->progress, ctl_progress_free);
        g_clear_pointer(&w->completed_stats, g_variant_unref);
        g_clear_pointer(&w->path, g_free);
        g_clear_pointer(&w->name, free);
        g_clear_pointer(&w->destination_xml, g_free);
        g_clear_pointer(&w->phase, g_free);
}

const char *ctl_job_watch_final_name(const CtlJobWatch *w) {
        return w->ctx->dname ? w->ctx->dname : w->name;
}

double ctl_job_watch_elapsed(const CtlJobWatch *w) {
        return (g_get_monotonic_time() - w->start_usec) / (double) G_USEC_PER_SEC;
}

/* A line of its own next to the progress: stdout, or stderr beside --json. */
G_GNUC_PRINTF(2, 3)
static void say(CtlJobWatch *w, const char *format, ...) {
        g_autofree char *line = NULL;
        va_list ap;

        va_start(ap, format);
        line = g_strdup_vprintf(format, ap);
        va_end(ap);
        ctl_progress_clear(w->progress);
        fprintf(w->ctx->json ? stderr : stdout, "%s\n", line);
        fflush(w->ctx->json ? stderr : stdout);
}

/* ---- Abort and post-copy ---- */

static int on_abort_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlJobWatch *w = userdata;
        const sd_bus_error *error = sd_bus_message_get_error(reply);

        w->abort_slot = sd_bus_slot_unref(w->abort_slot);
        if (!error || w->quit)
                return 0;
        if (sd_bus_error_has_name(error, MIGRATION1_ERROR_OPERATION_INVALID)) {
                if (w->hooks->abort_too_late) {
                        ctl_progress_clear(w->progress);
                        w->hooks->abort_too_late(w->userdata, error);
                }
                return 0;
        }
        ctl_progress_clear(w->progress);
        ctl_log_error(-sd_bus_message_get_errno(reply), error, _("Failed to abort the migration of '%s'"),
                      w->name);
        return 0;
}

void ctl_job_watch_abort(CtlJobWatch *w) {
        int r;

        if (w->abort_sent || w->ended)
                return;
        w->abort_sent = TRUE;
        r = sd_bus_call_method_async(w->source, &w->abort_slot, MIGRATION1_SERVICE, w->path,
                                     MIGRATION1_DOMAIN_INTERFACE, "AbortJob", on_abort_reply, w, "u", 0u);
        if (r < 0)
                g_printerr(_("Failed to abort the migration of '%s': %s\n"), w->name, g_strerror(-r));
}

gboolean ctl_job_watch_refuse_abort_in_postcopy(const CtlJobWatch *w) {
        if (!w->postcopy_announced)
                return FALSE;
        /* The guest runs on the destination: aborting would lose it. */
        g_printerr(_("The migration is in post-copy and can only be completed; press Ctrl-C again to leave "
                     "at once.\n"));
        return TRUE;
}

static int on_postcopy_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlJobWatch *w = userdata;
        const sd_bus_error *error = sd_bus_message_get_error(reply);

        w->postcopy_slot = sd_bus_slot_unref(w->postcopy_slot);
        /* OperationInvalid: the stream ended in pre-copy meanwhile (or failed); the result says how. */
        if (!error || w->quit || w->cancel || sd_bus_error_has_name(error, MIGRATION1_ERROR_OPERATION_INVALID))
                return 0;
        ctl_progress_clear(w->progress);
        ctl_log_error(-sd_bus_message_get_errno(reply), error,
                      _("Failed to switch the migration of '%s' to post-copy"), w->name);
        return 0;
}

static void postcopy_start(CtlJobWatch *w) {
        int r;

        w->postcopy_due = FALSE;
        if (w->ended || w->cancel || w->quit || w->postcopy_slot)
                return;
        r = sd_bus_call_method_async(w->source, &w->postcopy_slot, MIGRATION1_SERVICE, w->path,
                                     MIGRATION1_DOMAIN_INTERFACE, "MigrateStartPostCopy", on_postcopy_reply,
                                     w, "u", 0u);
        if (r < 0) {
                ctl_progress_clear(w->progress);
                g_printerr(_("Failed to switch the migration of '%s' to post-copy: %s\n"), w->name,
                           g_strerror(-r));
        }
}

static gboolean on_postcopy_timer(gpointer userdata) {
        CtlJobWatch *w = userdata;

        w->postcopy_timer = 0;
        if (w->streaming)
                postcopy_start(w);
        else
                w->postcopy_due = TRUE;
        return G_SOURCE_REMOVE;
}

void ctl_job_watch_arm_postcopy(CtlJobWatch *w) {
        if (!w->ctx->has_postcopy_after || w->postcopy_timer)
                return;
        w->postcopy_timer = g_timeout_add_seconds(w->ctx->postcopy_after_s, on_postcopy_timer, w);
}

void ctl_job_watch_disarm_postcopy(CtlJobWatch *w) {
        g_clear_handle_id(&w->postcopy_timer, g_source_remove);
        w->postcopy_due = FALSE;
}

void ctl_job_watch_end(CtlJobWatch *w) {
        w->ended = TRUE;
        ctl_job_watch_disarm_postcopy(w);
}

/* ---- What the source's bus says ---- */

/* QEMU streams: a post-copy switch that came due may go now. */
static void stream_runs(CtlJobWatch *w) {
        gboolean first = !w->streaming;

        w->streaming = TRUE;
        if (w->postcopy_due)
                postcopy_start(w);
        if (first && w->hooks->stream_started)
                w->hooks->stream_started(w->userdata);
}

static int on_properties_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlJobWatch *w = userdata;
        g_autoptr(GVariant) changed = NULL;
        const char *interface, *phase;
        double percent;

        if (sd_bus_message_read(message, "s", &interface) < 0 ||
            !g_str_equal(interface, MIGRATION1_DOMAIN_INTERFACE) ||
            ctl_message_read_variant(message, &changed) < 0)
                return 0;

        if (!w->postcopy_announced &&
            g_strcmp0(ctl_dict_get_string(changed, "StateReason", NULL), "postcopy") == 0) {
                double seconds = ctl_job_watch_elapsed(w);

                w->postcopy_announced = TRUE;
                say(w, _("Switched the migration of '%s' to post-copy after %.1fs; the guest runs on the "
                         "destination now."), w->name, seconds);
        }
        phase = ctl_dict_get_string(changed, "JobPhase", NULL);
        if (phase) {
                g_free(w->phase);
                w->phase = g_strdup(phase);
        }
        if (w->ended)
                return 0;
        ctl_progress_set_phase(w->progress, phase);
        if (g_variant_lookup(changed, "JobProgress", "d", &percent))
                ctl_progress_set_percent(w->progress, percent);
        return 0;
}

static int on_job_stats_updated(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlJobWatch *w = userdata;
        g_autoptr(GVariant) stats = NULL;

        if (ctl_message_read_variant(message, &stats) < 0 || w->ended)
                return 0;
        if (w->hooks->shows_stream(w->userdata, stats))
                stream_runs(w);
        ctl_progress_update_stats(w->progress, stats);
        return 0;
}

static int on_job_completed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlJobWatch *w = userdata;
        g_autoptr(GVariant) stats = NULL;

        if (ctl_message_read_variant(message, &stats) < 0)
                return 0;
        g_clear_pointer(&w->completed_stats, g_variant_unref);
        w->completed_stats = g_steal_pointer(&stats);
        return 0;
}

static gboolean on_sigint(gpointer userdata) {
        CtlJobWatch *w = userdata;

        ctl_progress_clear(w->progress);
        if (w->interrupted) {
                g_printerr("%s", _(w->hooks->leaving_message));
                w->quit = TRUE;
                return G_SOURCE_CONTINUE;
        }
        w->interrupted = TRUE;
        w->hooks->interrupted(w->userdata);
        return G_SOURCE_CONTINUE;
}

/* ---- Before and after ---- */

int ctl_job_watch_check_options(const CtlContext *ctx) {
        if (ctx->has_postcopy_after && (ctx->migrate_flags & CTL_MIGRATE_OFFLINE)) {
                g_printerr(_("--postcopy-after cannot be used with --offline: there is no transfer to "
                             "switch\n"));
                return -EINVAL;
        }
        return 0;
}

int ctl_job_watch_lookup(CtlJobWatch *w, const char *name_or_uuid) {
        const char *xml_file = w->ctx->xml_file;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GError) read_error = NULL;
        int r;

        if (xml_file && !g_file_get_contents(xml_file, &w->destination_xml, NULL, &read_error)) {
                g_printerr(_("Failed to read '%s': %s\n"), xml_file, read_error->message);
                return -EIO;
        }
        r = ctl_lookup_domain(w->source, name_or_uuid, &error, &w->path);
        if (r >= 0)
                r = sd_bus_get_property_string(w->source, MIGRATION1_SERVICE, w->path,
                                               MIGRATION1_DOMAIN_INTERFACE, "Name", &error, &w->name);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to look up domain '%s'"), name_or_uuid);
        return 0;
}

static int watch_signals(CtlJobWatch *w) {
        int r;

        r = sd_bus_match_signal(w->source, &w->properties_slot, MIGRATION1_SERVICE, w->path,
                                "org.freedesktop.DBus.Properties", "PropertiesChanged", on_properties_changed, w);
        if (r >= 0)
                r = sd_bus_match_signal(w->source, &w->stats_slot, MIGRATION1_SERVICE, w->path,
                                        MIGRATION1_DOMAIN_INTERFACE, "JobStatsUpdated", on_job_stats_updated, w);
        if (r >= 0)
                r = sd_bus_match_signal(w->source, &w->completed_slot, MIGRATION1_SERVICE, w->path,
                                        MIGRATION1_DOMAIN_INTERFACE, "JobCompleted", on_job_completed, w);
        if (r < 0)
                return r;
        w->source_watch = bus_attach_glib(w->source, NULL, NULL);
        w->sigint_watch = g_unix_signal_add(SIGINT, on_sigint, w);
        return 0;
}

int ctl_job_watch_start(CtlJobWatch *w) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        if (w->ctx->max_downtime_ms > 0) {
                r = ctl_call(w->source, w->path, MIGRATION1_DOMAIN_INTERFACE, "MigrateSetMaxDowntime",
                             &error, NULL, "tu", w->ctx->max_downtime_ms, 0u);
                if (r < 0)
                        return ctl_log_error(r, &error, _("Failed to set the maximum downtime of '%s'"), w->name);
        }
        r = watch_signals(w);
        if (r < 0) {
                g_printerr(_("Failed to watch domain '%s': %s\n"), w->name, g_strerror(-r));
                return r;
        }
        if (!w->ctx->json)
                w->progress = ctl_progress_new(stdout, isatty(STDOUT_FILENO));
        return 0;
}

GVariant *ctl_get_completed_stats(sd_bus *bus, const char *path) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        GVariant *stats = NULL;

        if (ctl_call(bus, path, MIGRATION1_DOMAIN_INTERFACE, "GetJobStats", &error, &reply, "u", 1u) < 0 ||
            sd_bus_message_skip(reply, "s") < 0 ||
            ctl_message_read_variant(reply, &stats) < 0)
                return NULL;
        return stats;
}

GVariant *ctl_job_watch_source_stats(const CtlJobWatch *w) {
        GVariant *stats;

        /* The source's domain may have gone with its guest: then only the signal tells. */
        if (w->completed_stats)
                stats = g_variant_ref(w->completed_stats);
        else
                stats = ctl_get_completed_stats(w->source, w->path);
        return stats ? stats : g_variant_ref_sink(g_variant_new("a{sv}", NULL));
}

void ctl_job_watch_print_result(const CtlJobWatch *w, const char *to, double seconds, gboolean has_downtime,
                                guint64 downtime) {
        const char *name = w->name, *final_name = ctl_job_watch_final_name(w);
        gboolean renamed = !g_str_equal(final_name, name);

        if (w->ctx->migrate_flags & CTL_MIGRATE_OFFLINE)
                printf(_("Moved the definition of '%s' to %s as '%s' in %.1fs.\n"), name, to, final_name, seconds);
        else if (renamed && has_downtime)
                printf(_("Migrated '%s' to %s as '%s' in %.1fs (downtime %" PRIu64 " ms).\n"),
                       name, to, final_name, seconds, downtime);
        else if (renamed)
                printf(_("Migrated '%s' to %s as '%s' in %.1fs.\n"), name, to, final_name, seconds);
        else if (has_downtime)
                printf(_("Migrated '%s' to %s in %.1fs (downtime %" PRIu64 " ms).\n"), name, to, seconds, downtime);
        else
                printf(_("Migrated '%s' to %s in %.1fs.\n"), name, to, seconds);
}
