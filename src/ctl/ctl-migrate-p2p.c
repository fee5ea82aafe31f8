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
#include <stdio.h>

#include "bus-variant.h"
#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-variant.h"
#include "ctl-watch.h"
#include "i18n.h"

#define P2P_SCHEME "migration+tls://"
#define P2P_FLAG_PEER2PEER (1u << 1)
#define P2P_ERROR_MIGRATION_ABORTED "org.example.Migration1.Error.MigrationAborted"

typedef struct {
        CtlJobWatch watch;              /* the source's job */
        sd_bus_slot *call_slot;
        sd_bus_message *reply;          /* MigrateToURI3's, once it came */
} CtlP2P;

static void p2p_free(CtlP2P *m) {
        if (!m)
                return;
        ctl_job_watch_clear(&m->watch);
        sd_bus_slot_unref(m->call_slot);
        sd_bus_message_unref(m->reply);
        g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlP2P, p2p_free)

/* ---- The hooks of the watch ---- */

static gboolean shows_stream(void *userdata, GVariant *stats) {
        return g_strcmp0(ctl_dict_get_string(stats, "phase", NULL), "perform3") == 0;
}

/* The stream runs: what waited for it may go now. */
static void stream_started(void *userdata) {
        CtlP2P *m = userdata;

        if (m->watch.cancel)
                ctl_job_watch_abort(&m->watch);
        /* --postcopy-after counts from the start of the stream. */
        else
                ctl_job_watch_arm_postcopy(&m->watch);
}

/* An abort before QEMU streams would not stop it: it waits for the stream. */
static void interrupted(void *userdata) {
        CtlP2P *m = userdata;
        CtlJobWatch *w = &m->watch;

        if (ctl_job_watch_refuse_abort_in_postcopy(w))
                return;
        if (g_strcmp0(w->phase, "perform3_done") == 0 || g_strcmp0(w->phase, "confirm3") == 0) {
                g_printerr(_("The migration is being completed; press Ctrl-C again to leave at once.\n"));
                return;
        }
        w->cancel = TRUE;
        ctl_job_watch_disarm_postcopy(w);
        if (w->streaming) {
                g_printerr(_("Aborting the migration; press Ctrl-C again to leave at once.\n"));
                ctl_job_watch_abort(w);
        } else
                g_printerr(_("Aborting the migration once its stream runs; press Ctrl-C again to leave at "
                             "once.\n"));
}

/* OperationInvalid: past the point of no return (or in post-copy); the migration completes. */
static void abort_too_late(void *userdata, const sd_bus_error *error) {
        CtlP2P *m = userdata;

        g_printerr(_("Too late to abort the migration of '%s': %s\n"), m->watch.name, error->message);
}

static const CtlJobWatchHooks p2p_hooks = {
        .shows_stream = shows_stream,
        .stream_started = stream_started,
        .interrupted = interrupted,
        .leaving_message = N_("Leaving at once; the migration goes on, run by the source's migrationd.\n"),
        .abort_too_late = abort_too_late,
};

/* ---- The call ---- */

/* The typed parameters the options give. */
static GVariant *migration_params(const CtlP2P *m) {
        const CtlContext *ctx = m->watch.ctx;
        g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT(NULL);

        if (ctx->dname)
                g_variant_dict_insert(&dict, "destination_name", "s", ctx->dname);
        if (m->watch.destination_xml)
                g_variant_dict_insert(&dict, "destination_xml", "s", m->watch.destination_xml);
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

static int on_migrated(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlP2P *m = userdata;

        m->call_slot = sd_bus_slot_unref(m->call_slot);
        m->reply = sd_bus_message_ref(reply);
        ctl_job_watch_end(&m->watch);
        return 0;
}

/* One call; the main loop serves the signals and Ctrl-C until it replies. */
static int p2p_run(CtlP2P *m, sd_bus_error *error) {
        CtlJobWatch *w = &m->watch;
        g_autoptr(sd_bus_message) call = NULL;
        g_autoptr(GVariant) params = migration_params(m);
        int r;

        r = sd_bus_message_new_method_call(w->source, &call, MIGRATION1_SERVICE, w->path,
                                           MIGRATION1_DOMAIN_INTERFACE, "MigrateToURI3");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", w->ctx->peer_uri);
        if (r >= 0)
                r = bus_message_append_vardict(call, params);
        if (r >= 0)
                r = sd_bus_message_append(call, "u", (uint32_t) w->ctx->migrate_flags | P2P_FLAG_PEER2PEER);
        /* It replies when the migration has ended: no timeout. */
        if (r >= 0)
                r = sd_bus_call_async(w->source, &m->call_slot, call, on_migrated, m, UINT64_MAX);
        if (r < 0)
                return r;
        while (!m->reply && !w->quit)
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
        const CtlJobWatch *w = &m->watch;
        double seconds = ctl_job_watch_elapsed(w);
        g_autoptr(GVariant) stats = ctl_job_watch_source_stats(w);
        const char *to = w->ctx->peer_uri;
        guint64 downtime = 0;
        gboolean has_downtime = g_variant_lookup(stats, "downtime", "t", &downtime);

        if (w->ctx->json) {
                g_autoptr(JsonNode) root = json_gvariant_serialize(stats);
                JsonObject *object = json_node_get_object(root);

                /* The UUID stays: the domain's object path is the same on the destination. */
                json_object_set_string_member(object, "destination_domain", w->path);
                json_object_set_string_member(object, "destination_uri", to);
                ctl_json_print(root);
                return;
        }
        ctl_job_watch_print_result(w, to, seconds, has_downtime, downtime);
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
        return ctl_job_watch_check_options(ctx);
}

static int verb_migrate_p2p(CtlContext *ctx, int argc, char **argv) {
        g_autoptr(CtlP2P) m = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        CtlJobWatch *w;
        int r;

        r = check_options(ctx);
        if (r < 0)
                return r;
        m = g_new0(CtlP2P, 1);
        w = &m->watch;
        ctl_job_watch_init(w, ctx, &p2p_hooks, m);
        r = ctl_job_watch_lookup(w, argv[1]);
        if (r >= 0)
                r = ctl_job_watch_start(w);
        if (r < 0)
                return r;

        w->start_usec = g_get_monotonic_time();
        r = p2p_run(m, &error);
        ctl_progress_clear(w->progress);

        if (w->quit) {
                ctx->interrupted = TRUE;
                return -ECANCELED;
        }
        if (r < 0 && w->cancel && sd_bus_error_has_name(&error, P2P_ERROR_MIGRATION_ABORTED)) {
                ctx->interrupted = TRUE;
                g_printerr(_("Aborted the migration; '%s' stays on the source.\n"), w->name);
                return -ECANCELED;
        }
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to migrate '%s' to %s"), w->name, ctx->peer_uri);
        /* A Ctrl-C that came too late: the migration has completed, and says so. */
        p2p_report(m);
        return 0;
}

int verb_migrate_any(CtlContext *ctx, int argc, char **argv) {
        if (ctx->check)
                return verb_migrate_check(ctx, argc, argv);
        if (ctx->peer_uri)
                return verb_migrate_p2p(ctx, argc, argv);
        return verb_migrate(ctx, argc, argv);
}
