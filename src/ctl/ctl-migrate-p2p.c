/* migrationctl: migrate, peer-to-peer (--to=migration+tls://HOST[:PORT]).
 *
 * One call on the source's bus: Domain.MigrateToURI3 with PEER2PEER. The
 * source's migrationd then runs every phase itself, the destination's ones
 * through that host's migration-bridge (mutual TLS), and replies when the
 * migration has ended; it negotiates the protocol with the peer, so --plain
 * and --protocol have no meaning here. Meanwhile this client shows the
 * progress the source's bus reports (JobPhase, JobProgress,
 * JobStatsUpdated), as in managed mode.
 *
 * Ctrl-C calls AbortJob on the source; the source daemon applies the
 * failure rules on both hosts itself. The stream is aborted once it runs
 * (an abort before QEMU streams would not stop it). After the switch to
 * post-copy, and once the stream has completed, the migration can only be
 * completed. A second Ctrl-C leaves at once; the migration goes on without
 * us. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bus-variant.h"
#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-migrate.h"
#include "ctl-output.h"
#include "ctl-progress.h"
#include "ctl-variant.h"
#include "i18n.h"

#define P2P_SCHEME "migration+tls://"
#define P2P_FLAG_PEER2PEER (1u << 1)
#define P2P_ERROR_MIGRATION_ABORTED "org.example.Migration1.Error.MigrationAborted"
#define P2P_ERROR_OPERATION_INVALID "org.example.Migration1.Error.OperationInvalid"

typedef struct {
        CtlContext *ctx;
        sd_bus *source;                 /* ctx->bus, not owned */
        char *path, *name;
        char *destination_xml;          /* --xml */
        CtlProgress *progress;          /* NULL: none shown (--json) */
        gint64 start_usec;

        guint source_watch, sigint_watch, postcopy_timer;
        sd_bus_slot *properties_slot, *stats_slot, *completed_slot;
        sd_bus_slot *call_slot, *abort_slot, *postcopy_slot;

        sd_bus_message *reply;          /* MigrateToURI3's, once it came */
        GVariant *completed_stats;      /* the source's JobCompleted */
        char *phase;                    /* the source job's JobPhase */

        gboolean streaming;             /* JobStatsUpdated in perform3: QEMU streams */
        gboolean interrupted;           /* Ctrl-C at all */
        gboolean abort_wanted;          /* Ctrl-C: abort once the stream runs */
        gboolean abort_sent;
        gboolean quit;                  /* Ctrl-C twice: leave now */
        gboolean postcopy_due, postcopy_announced;
} CtlP2P;

static void p2p_free(CtlP2P *m) {
        if (!m)
                return;
        g_clear_handle_id(&m->sigint_watch, g_source_remove);
        g_clear_handle_id(&m->source_watch, g_source_remove);
        g_clear_handle_id(&m->postcopy_timer, g_source_remove);
        sd_bus_slot_unref(m->properties_slot);
        sd_bus_slot_unref(m->stats_slot);
        sd_bus_slot_unref(m->completed_slot);
        sd_bus_slot_unref(m->call_slot);
        sd_bus_slot_unref(m->abort_slot);
        sd_bus_slot_unref(m->postcopy_slot);
        sd_bus_message_unref(m->reply);
        ctl_progress_free(m->progress);
        g_clear_pointer(&m->completed_stats, g_variant_unref);
        g_free(m->path);
        free(m->name);
        g_free(m->destination_xml);
        g_free(m->phase);
        g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlP2P, p2p_free)

static const char *final_name(const CtlP2P *m) {
        return m->ctx->dname ? m->ctx->dname : m->name;
}

/* A line of its own next to the progress: stdout, or stderr beside --json. */
G_GNUC_PRINTF(2, 3)
static void say(CtlP2P *m, const char *format, ...) {
        g_autofree char *line = NULL;
        va_list ap;

        va_start(ap, format);
        line = g_strdup_vprintf(format, ap);
        va_end(ap);
        ctl_progress_clear(m->progress);
        fprintf(m->ctx->json ? stderr : stdout, "%s\n", line);
        fflush(m->ctx->json ? stderr : stdout);
}

/* ---- Abort and post-copy ---- */

static int on_abort_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlP2P *m = userdata;
        const sd_bus_error *error = sd_bus_message_get_error(reply);

        m->abort_slot = sd_bus_slot_unref(m->abort_slot);
        if (!error || m->quit)
                return 0;
        ctl_progress_clear(m->progress);
        /* OperationInvalid: past the point of no return (or in post-copy); the migration completes. */
        if (sd_bus_error_has_name(error, P2P_ERROR_OPERATION_INVALID))
                g_printerr(_("Too late to abort the migration of '%s': %s\n"), m->name, error->message);
        else
                ctl_log_error(-sd_bus_message_get_errno(reply), error, _("Failed to abort the migration of '%s'"),
                              m->name);
        return 0;
}

static void abort_job(CtlP2P *m) {
        int r;

        if (m->abort_sent || m->reply)
                return;
        m->abort_sent = TRUE;
        r = sd_bus_call_method_async(m->source, &m->abort_slot, MIGRATION1_SERVICE, m->path,
                                     MIGRATION1_DOMAIN_INTERFACE, "AbortJob", on_abort_reply, m, "u", 0u);
        if (r < 0)
                g_printerr(_("Failed to abort the migration of '%s': %s\n"), m->name, g_strerror(-r));
}

static int on_postcopy_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlP2P *m = userdata;
        const sd_bus_error *error = sd_bus_message_get_error(reply);

        m->postcopy_slot = sd_bus_slot_unref(m->postcopy_slot);
        /* OperationInvalid: the stream ended in pre-copy meanwhile; the result says how. */
        if (!error || m->quit || m->abort_wanted || sd_bus_error_has_name(error, P2P_ERROR_OPERATION_INVALID))
                return 0;
        ctl_progress_clear(m->progress);
        ctl_log_error(-sd_bus_message_get_errno(reply), error,
                      _("Failed to switch the migration of '%s' to post-copy"), m->name);
        return 0;
}

static void postcopy_start(CtlP2P *m) {
        int r;

        m->postcopy_due = FALSE;
        if (m->reply || m->abort_wanted || m->quit || m->postcopy_slot)
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

static gboolean on_postcopy_timer(gpointer userdata) {
        CtlP2P *m = userdata;

        m->postcopy_timer = 0;
        postcopy_start(m);
        return G_SOURCE_REMOVE;
}

/* ---- What the source's bus says ---- */

/* The stream runs: what waited for it may go now. */
static void stream_runs(CtlP2P *m) {
        if (m->streaming)
                return;
        m->streaming = TRUE;
        if (m->abort_wanted)
                abort_job(m);
        /* --postcopy-after counts from the start of the stream. */
        else if (m->ctx->has_postcopy_after && !m->postcopy_timer)
                m->postcopy_timer = g_timeout_add_seconds(m->ctx->postcopy_after_s, on_postcopy_timer, m);
}

static int on_properties_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlP2P *m = userdata;
        g_autoptr(GVariant) changed = NULL;
        const char *interface, *phase;
        double percent;

        if (sd_bus_message_read(message, "s", &interface) < 0 ||
            !g_str_equal(interface, MIGRATION1_DOMAIN_INTERFACE) ||
            ctl_message_read_variant(message, &changed) < 0)
                return 0;

        if (!m->postcopy_announced &&
            g_strcmp0(ctl_dict_get_string(changed, "StateReason", NULL), "postcopy") == 0) {
                m->postcopy_announced = TRUE;
                say(m, _("Switched the migration of '%s' to post-copy after %.1fs; the guest runs on the "
                         "destination now."), m->name,
                    (g_get_monotonic_time() - m->start_usec) / (double) G_USEC_PER_SEC);
        }
        phase = ctl_dict_get_string(changed, "JobPhase", NULL);
        if (phase) {
                g_free(m->phase);
                m->phase = g_strdup(phase);
        }
        if (m->reply)
                return 0;
        ctl_progress_set_phase(m->progress, phase);
        if (g_variant_lookup(changed, "JobProgress", "d", &percent))
                ctl_progress_set_percent(m->progress, percent);
        return 0;
}

static int on_job_stats_updated(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlP2P *m = userdata;
        g_autoptr(GVariant) stats = NULL;

        if (ctl_message_read_variant(message, &stats) < 0 || m->reply)
                return 0;
        if (g_strcmp0(ctl_dict_get_string(stats, "phase", NULL), "perform3") == 0)
                stream_runs(m);
        ctl_progress_update_stats(m->progress, stats);
        return 0;
}

static int on_job_completed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        CtlP2P *m = userdata;
        g_autoptr(GVariant) stats = NULL;

        if (ctl_message_read_variant(message, &stats) < 0)
                return 0;
        g_clear_pointer(&m->completed_stats, g_variant_unref);
        m->completed_stats = g_steal_pointer(&stats);
        return 0;
}

static int on_migrated(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlP2P *m = userdata;

        m->call_slot = sd_bus_slot_unref(m->call_slot);
        m->reply = sd_bus_message_ref(reply);
        g_clear_handle_id(&m->postcopy_timer, g_source_remove);
        return 0;
}

static gboolean on_sigint(gpointer userdata) {
        CtlP2P *m = userdata;

        ctl_progress_clear(m->progress);
        if (m->interrupted) {
                g_printerr(_("Leaving at once; the migration goes on, run by the source's migrationd.\n"));
                m->quit = TRUE;
                return G_SOURCE_CONTINUE;
        }
        m->interrupted = TRUE;
        if (m->postcopy_announced) {
                g_printerr(_("The migration is in post-copy and can only be completed; press Ctrl-C again "
                             "to leave at once.\n"));
                return G_SOURCE_CONTINUE;
        }
        if (g_strcmp0(m->phase, "perform3_done") == 0 || g_strcmp0(m->phase, "confirm3") == 0) {
                g_printerr(_("The migration is being completed; press Ctrl-C again to leave at once.\n"));
                return G_SOURCE_CONTINUE;
        }
        m->abort_wanted = TRUE;
        g_clear_handle_id(&m->postcopy_timer, g_source_remove);
        if (m->streaming) {
                g_printerr(_("Aborting the migration; press Ctrl-C again to leave at once.\n"));
                abort_job(m);
        } else
                g_printerr(_("Aborting the migration once its stream runs; press Ctrl-C again to leave at "
                             "once.\n"));
        return G_SOURCE_CONTINUE;
}

/* ---- Before and after ---- */

static int watch_domain(CtlP2P *m) {
        int r;

        r = sd_bus_match_signal(m->source, &m->properties_slot, MIGRATION1_SERVICE, m->path,
                                "org.freedesktop.DBus.Properties", "PropertiesChanged", on_properties_changed, m);
        if (r >= 0)
                r = sd_bus_match_signal(m->source, &m->stats_slot, MIGRATION1_SERVICE, m->path,
                                        MIGRATION1_DOMAIN_INTERFACE, "JobStatsUpdated", on_job_stats_updated, m);
        if (r >= 0)
                r = sd_bus_match_signal(m->source, &m->completed_slot, MIGRATION1_SERVICE, m->path,
                                        MIGRATION1_DOMAIN_INTERFACE, "JobCompleted", on_job_completed, m);
        if (r < 0)
                return r;
        m->source_watch = bus_attach_glib(m->source, NULL, NULL);
        m->sigint_watch = g_unix_signal_add(SIGINT, on_sigint, m);
        return 0;
}

/* The typed parameters the options give. */
static GVariant *migration_params(const CtlP2P *m) {
        const CtlContext *ctx = m->ctx;
        g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT(NULL);

        if (ctx->dname)
                g_variant_dict_insert(&dict, "destination_name", "s", ctx->dname);
        if (m->destination_xml)
                g_variant_dict_insert(&dict, "destination_xml", "s", m->destination_xml);
        if (ctx->has_bandwidth)
                g_variant_dict_insert(&dict, "bandwidth", "t", ctx->bandwidth_mib);
        if (ctx->parallel_connections > 0)
                g_variant_dict_insert(&dict, "parallel.connections", "i", ctx->parallel_connections);
        if (ctx->compression)
                g_variant_dict_insert_value(&dict, "compression",
                                            g_variant_new_strv((const char *const *) ctx->compression->pdata,
                                                               ctx->compression->len));
        return g_variant_ref_sink(g_variant_dict_end(&dict));
}

static int p2p_setup(CtlP2P *m, const char *name_or_uuid) {
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
        if (ctx->max_downtime_ms > 0) {
                r = ctl_call(m->source, m->path, MIGRATION1_DOMAIN_INTERFACE, "MigrateSetMaxDowntime",
                             &error, NULL, "tu", ctx->max_downtime_ms, 0u);
                if (r < 0)
                        return ctl_log_error(r, &error, _("Failed to set the maximum downtime of '%s'"), m->name);
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

/* One call; the main loop serves the signals and Ctrl-C until it replies. */
static int p2p_run(CtlP2P *m, sd_bus_error *error) {
        g_autoptr(sd_bus_message) call = NULL;
        g_autoptr(GVariant) params = migration_params(m);
        int r;

        r = sd_bus_message_new_method_call(m->source, &call, MIGRATION1_SERVICE, m->path,
                                           MIGRATION1_DOMAIN_INTERFACE, "MigrateToURI3");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", m->ctx->peer_uri);
        if (r >= 0)
                r = bus_message_append_vardict(call, params);
        if (r >= 0)
                r = sd_bus_message_append(call, "u", (uint32_t) m->ctx->migrate_flags | P2P_FLAG_PEER2PEER);
        /* It replies when the migration has ended: no timeout. */
        if (r >= 0)
                r = sd_bus_call_async(m->source, &m->call_slot, call, on_migrated, m, UINT64_MAX);
        if (r < 0)
                return r;
        while (!m->reply && !m->quit)
                g_main_context_iteration(NULL, TRUE);
        if (!m->reply)
                return -ECANCELED;
        if (sd_bus_message_is_method_error(m->reply, NULL)) {
                r = sd_bus_error_copy(error, sd_bus_message_get_error(m->reply));
                return r < 0 ? r : -EIO;
        }
        return 0;
}

static void p2p_report(CtlP2P *m) {
        g_autoptr(GVariant) stats = NULL;
        double seconds = (g_get_monotonic_time() - m->start_usec) / (double) G_USEC_PER_SEC;
        gboolean renamed = !g_str_equal(final_name(m), m->name);
        const char *to = m->ctx->peer_uri;
        guint64 downtime = 0;
        gboolean has_downtime;

        /* The source's domain may have gone with its guest: then only the signal tells. */
        if (m->completed_stats)
                stats = g_variant_ref(m->completed_stats);
        else {
                g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
                g_autoptr(sd_bus_message) reply = NULL;

                if (ctl_call(m->source, m->path, MIGRATION1_DOMAIN_INTERFACE, "GetJobStats", &error, &reply,
                             "u", 1u) < 0 ||
                    sd_bus_message_skip(reply, "s") < 0 || ctl_message_read_variant(reply, &stats) < 0)
                        stats = NULL;
        }
        if (!stats)
                stats = g_variant_ref_sink(g_variant_new("a{sv}", NULL));
        has_downtime = g_variant_lookup(stats, "downtime", "t", &downtime);

        if (m->ctx->json) {
                g_autoptr(JsonNode) root = json_gvariant_serialize(stats);
                JsonObject *object = json_node_get_object(root);

                /* The UUID stays: the domain's object path is the same on the destination. */
                json_object_set_string_member(object, "destination_domain", m->path);
                json_object_set_string_member(object, "destination_uri", to);
                ctl_json_print(root);
                return;
        }
        if (m->ctx->migrate_flags & CTL_MIGRATE_OFFLINE)
                printf(_("Moved the definition of '%s' to %s as '%s' in %.1fs.\n"),
                       m->name, to, final_name(m), seconds);
        else if (renamed && has_downtime)
                printf(_("Migrated '%s' to %s as '%s' in %.1fs (downtime %" PRIu64 " ms).\n"),
                       m->name, to, final_name(m), seconds, downtime);
        else if (renamed)
                printf(_("Migrated '%s' to %s as '%s' in %.1fs.\n"), m->name, to, final_name(m), seconds);
        else if (has_downtime)
                printf(_("Migrated '%s' to %s in %.1fs (downtime %" PRIu64 " ms).\n"),
                       m->name, to, seconds, downtime);
        else
                printf(_("Migrated '%s' to %s in %.1fs.\n"), m->name, to, seconds);
}

/* What has no meaning peer-to-peer, refused before anything starts. */
static int check_options(const CtlContext *ctx) {
        if (ctx->to_bus_address) {
                g_printerr(_("--to and --to-bus cannot be used together: --to=%sHOST migrates peer-to-peer "
                             "(the source's migrationd drives the destination), --to-bus=ADDRESS in managed mode "
                             "(migrationctl drives both)\n"), P2P_SCHEME);
                return -EINVAL;
        }
        if (!g_str_has_prefix(ctx->peer_uri, P2P_SCHEME)) {
                g_printerr(_("Invalid value for --to: '%s'; use %sHOST or %sHOST:PORT (the destination's "
                             "migration-bridge)\n"), ctx->peer_uri, P2P_SCHEME, P2P_SCHEME);
                return -EINVAL;
        }
        if (ctx->plain || ctx->protocol != 3) {
                g_printerr(_("%s cannot be used with --to: peer-to-peer, the source's migrationd negotiates "
                             "the protocol with the destination itself\n"),
                           ctx->plain ? "--plain" : "--protocol");
                return -EINVAL;
        }
        if (ctx->has_postcopy_after && (ctx->migrate_flags & CTL_MIGRATE_OFFLINE)) {
                g_printerr(_("--postcopy-after cannot be used with --offline: there is no transfer to "
                             "switch\n"));
                return -EINVAL;
        }
        return 0;
}

static int verb_migrate_p2p(CtlContext *ctx, int argc, char **argv) {
        g_autoptr(CtlP2P) m = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = check_options(ctx);
        if (r < 0)
                return r;
        m = g_new0(CtlP2P, 1);
        m->ctx = ctx;
        m->source = ctx->bus;
        r = p2p_setup(m, argv[1]);
        if (r < 0)
                return r;

        m->start_usec = g_get_monotonic_time();
        r = p2p_run(m, &error);
        ctl_progress_clear(m->progress);

        if (m->quit) {
                ctx->interrupted = TRUE;
                return -ECANCELED;
        }
        if (r < 0 && m->abort_wanted && sd_bus_error_has_name(&error, P2P_ERROR_MIGRATION_ABORTED)) {
                ctx->interrupted = TRUE;
                g_printerr(_("Aborted the migration; '%s' stays on the source.\n"), m->name);
                return -ECANCELED;
        }
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to migrate '%s' to %s"), m->name, ctx->peer_uri);
        /* A Ctrl-C that came too late: the migration has completed, and says so. */
        p2p_report(m);
        return 0;
}

int verb_migrate_any(CtlContext *ctx, int argc, char **argv) {
        if (ctx->peer_uri)
                return verb_migrate_p2p(ctx, argc, argv);
        return verb_migrate(ctx, argc, argv);
}
