/* migrationd: owns this host's QEMU domains on the system bus. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus-glib.h"
#include "bus-objects.h"
#include "bus-service.h"
#include "config.h"
#include "i18n.h"
#include "md-config.h"
#include "peer-link.h"
#include "peer-migrate.h"
#include "peer-pool.h"
#include "migration-jobs.h"
#include "recovery-load.h"
#include "registry.h"

/* While something is in flight, how often the idle timer looks again. */
#define IDLE_BUSY_RECHECK_S 5u
/* After the bus name is released, how often to look whether the work that
 * was still under way has finished. */
#define EXIT_BUSY_RECHECK_MS 200u

typedef struct {
        GMainLoop *loop;
        MdConfig *config;
        Registry *registry;
        sd_bus *bus;
        BusService *service;
        PeerTls *peer_tls;              /* this host's x509 identity, for peer-to-peer */
        PeerPool *peer_pool;            /* the links to peers, kept between migrations */
        int exit_code;

        sd_bus_slot *activity_filter;
        gint64 last_activity_usec;      /* CLOCK_MONOTONIC: the last method call, or the last busy look */
        guint idle_source;
        guint leave_source;             /* idle: the name is released, waiting for work under way */
        guint watchdog_source;
} Daemon;

static void daemon_free(Daemon *d) {
        /* The guests keep running: they are found again at the next start. */
        g_clear_handle_id(&d->idle_source, g_source_remove);
        g_clear_handle_id(&d->leave_source, g_source_remove);
        g_clear_handle_id(&d->watchdog_source, g_source_remove);
        d->activity_filter = sd_bus_slot_unref(d->activity_filter);
        g_clear_pointer(&d->registry, registry_free);
        g_clear_pointer(&d->service, bus_service_free);
        if (d->bus)
                d->bus = sd_bus_flush_close_unref(d->bus);
        g_clear_pointer(&d->peer_pool, peer_pool_free);
        g_clear_pointer(&d->peer_tls, peer_tls_free);
        g_clear_pointer(&d->config, md_config_free);
        g_clear_pointer(&d->loop, g_main_loop_unref);
}

static void daemon_quit(Daemon *d, int exit_code) {
        if (exit_code)
                d->exit_code = exit_code;
        (void) sd_notify(FALSE, "STOPPING=1\nSTATUS=Stopping; running guests stay up");
        g_main_loop_quit(d->loop);
}

static gboolean on_signal(gpointer user_data) {
        g_message("Stopping; running guests stay up");
        daemon_quit(user_data, 0);
        return G_SOURCE_CONTINUE;
}

static void on_bus_disconnected(gpointer user_data) {
        g_message("Lost the system bus connection; stopping (running guests stay up)");
        daemon_quit(user_data, EXIT_FAILURE);
}

/* ---- Exit on idle ----
 *
 * Running guests do not keep the daemon alive: the next start (D-Bus
 * activation) finds them again. What does: a migration job, a domain that
 * is starting or being destroyed, a lifecycle call whose operation has not
 * replied, a call waiting for polkit, and any method call within the last
 * idle_timeout seconds (a client in the middle of a conversation). */

static const char *daemon_busy_reason(Daemon *d) {
        g_autoptr(GPtrArray) domains = registry_list(d->registry, 0);

        for (guint i = 0; i < domains->len; i++) {
                Domain *domain = domains->pdata[i];

                if (domain->job)
                        return "a migration job";
                if (domain->starting || domain->destroying || domain->exit_waiters->len > 0)
                        return "a domain starting or stopping";
        }
        return bus_service_busy_reason(d->service);
}

static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Daemon *d = userdata;
        uint8_t type = 0;

        if (sd_bus_message_get_type(m, &type) >= 0 && type == SD_BUS_MESSAGE_METHOD_CALL)
                d->last_activity_usec = g_get_monotonic_time();
        return 0;       /* on to the handlers */
}

static gboolean on_leave_check(gpointer user_data) {
        Daemon *d = user_data;
        const char *busy = daemon_busy_reason(d);

        if (busy) {
                g_debug("Waiting for %s before exiting", busy);
                return G_SOURCE_CONTINUE;
        }
        d->leave_source = 0;
        daemon_quit(d, 0);
        return G_SOURCE_REMOVE;
}

/* The name is gone: new calls go to the next instance (which systemd starts
 * once this one has exited, having seen STOPPING=1). Calls that reached this
 * one before are answered first. */
static int on_name_released(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Daemon *d = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e)
                g_warning("Failed to release bus name %s: %s, exiting anyway", BUS_NAME, e->message);
        if (on_leave_check(d) == G_SOURCE_CONTINUE)
                d->leave_source = g_timeout_add(EXIT_BUSY_RECHECK_MS, on_leave_check, d);
        return 0;
}

static void daemon_leave(Daemon *d) {
        int r;

        g_message("Nothing to do for %u s; exiting (running guests stay up, the next call starts "
                  "migrationd again)", d->config->idle_timeout_s);
        /* First: systemd then queues activation requests instead of taking
         * this instance for the running one. */
        (void) sd_notify(FALSE, "STOPPING=1\nSTATUS=Exiting on idle");
        r = sd_bus_release_name_async(d->bus, NULL, BUS_NAME, on_name_released, d);
        if (r < 0) {
                g_warning("Failed to release bus name %s: %s, exiting anyway", BUS_NAME, g_strerror(-r));
                daemon_quit(d, 0);
        }
}

static void arm_idle_timer(Daemon *d, guint seconds);

static gboolean on_idle_timer(gpointer user_data) {
        Daemon *d = user_data;
        guint64 idle_usec = (guint64) d->config->idle_timeout_s * G_USEC_PER_SEC;
        gint64 now = g_get_monotonic_time();
        const char *busy = daemon_busy_reason(d);

        d->idle_source = 0;
        if (busy) {
                g_debug("Not idle: %s", busy);
                d->last_activity_usec = now;
                arm_idle_timer(d, MIN(d->config->idle_timeout_s, IDLE_BUSY_RECHECK_S));
        } else if ((guint64) (now - d->last_activity_usec) < idle_usec) {
                guint64 left = idle_usec - (guint64) (now - d->last_activity_usec);
                arm_idle_timer(d, (guint) ((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC));
        } else
                daemon_leave(d);
        return G_SOURCE_REMOVE;
}

static void arm_idle_timer(Daemon *d, guint seconds) {
        g_clear_handle_id(&d->idle_source, g_source_remove);
        d->idle_source = g_timeout_add_seconds(MAX(seconds, 1u), on_idle_timer, d);
}

static void start_idle_timer(Daemon *d) {
        int r;

        if (d->config->idle_timeout_s == 0)
                return;
        r = sd_bus_add_filter(d->bus, &d->activity_filter, on_bus_message, d);
        if (r < 0) {
                g_warning("Failed to watch bus activity: %s; not exiting on idle", g_strerror(-r));
                return;
        }
        d->last_activity_usec = g_get_monotonic_time();
        arm_idle_timer(d, d->config->idle_timeout_s);
}

/* ---- systemd's watchdog ---- */

static gboolean on_watchdog(gpointer user_data) {
        (void) sd_notify(FALSE, "WATCHDOG=1");
        return G_SOURCE_CONTINUE;
}

static void start_watchdog(Daemon *d) {
        uint64_t usec = 0;
        int r = sd_watchdog_enabled(FALSE, &usec);

        if (r < 0)
                g_warning("Failed to read the watchdog settings: %s, ignoring", g_strerror(-r));
        if (r <= 0 || usec == 0)
                return;
        /* Twice per period, as sd_watchdog_enabled(3) recommends. */
        d->watchdog_source = g_timeout_add(MAX(usec / 2 / 1000, 1), on_watchdog, d);
        g_debug("Watchdog: a ping every %" G_GUINT64_FORMAT " ms", MAX(usec / 2 / 1000, 1));
}

/* ---- Start ---- */

static int on_name_acquired(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Daemon *d = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                g_critical("Failed to acquire bus name %s: %s", BUS_NAME, e->message);
                daemon_quit(d, EXIT_FAILURE);
                return 0;
        }
        g_message("Ready on the bus as %s", BUS_NAME);
        /* Only now do clients' sender=BUS_NAME rules match our signals. */
        migration_jobs_end_restored(d->registry);
        (void) sd_notifyf(FALSE, "READY=1\nSTATUS=Serving %u domains",
                          registry_count(d->registry));
        start_idle_timer(d);
        return 0;
}

/* The name is requested only once every guest has been found again, so a
 * client never sees a half-recovered host. */
static void on_registry_loaded(GObject *source, GAsyncResult *result, gpointer user_data) {
        Daemon *d = user_data;
        g_autoptr(GError) error = NULL;
        int r;

        if (!recovery_load_finish(d->registry, result, &error)) {
                g_critical("Failed to load domains: %s", error->message);
                daemon_quit(d, EXIT_FAILURE);
                return;
        }
        /* Only now: signals for the domains loaded at start would reach nobody
         * and delay the name (1,000 InterfacesAdded, bench/scale). */
        registry_set_listener(d->registry, &bus_registry_listener, d->service);
        /* Jobs restored from the journal: is the client that drove them still here? */
        migration_jobs_watch_clients(d->registry);
        r = sd_bus_request_name_async(d->bus, NULL, BUS_NAME, 0, on_name_acquired, d);
        if (r < 0) {
                g_critical("Failed to request bus name: %s", g_strerror(-r));
                daemon_quit(d, EXIT_FAILURE);
        }
}

static const BusP2POps p2p_ops = {
        .migrate = peer_migrate_async,
        .finish = peer_migrate_finish,
        .connect = peer_connect_async,
        .connect_finish = peer_connect_finish,
};

static int daemon_connect(Daemon *d) {
        int r;

        r = sd_bus_open_system(&d->bus);
        if (r < 0) {
                g_critical("Failed to connect to the system bus: %s", g_strerror(-r));
                return r;
        }
        d->service = bus_service_new(d->bus, d->registry, d->config);
        /* [bridge] keepalive_*: this host's side of every peer link, the
         * bridge's and this one alike (a silent peer is gone after 15 s). */
        d->peer_pool = peer_pool_new(d->peer_tls, d->config->peer_idle_timeout_s,
                                     d->config->keepalive_interval_s * 1000, d->config->keepalive_timeout_s * 1000);
        bus_service_set_p2p(d->service, d->peer_pool, &p2p_ops);
        r = bus_objects_register(d->service);
        if (r < 0) {
                g_critical("Failed to register bus objects: %s", g_strerror(-r));
                return r;
        }
        bus_attach_glib(d->bus, on_bus_disconnected, d);
        return 0;
}

/* [storage] directories the unit should have granted (migrationd-generator)
 * but that this process cannot write: missing, or read-only because the
 * configuration changed without a daemon-reload. Start refuses the guests
 * concerned anyway; this says so early, in the journal. */
static void warn_storage_directories(const MdConfig *config) {
        for (char **dir = config->storage_directories; *dir; dir++) {
                if (access(*dir, W_OK) == 0)
                        continue;
                if (errno == EROFS)
                        g_warning("Storage directory %s is read-only to migrationd: run 'systemctl "
                                  "daemon-reload' and restart migrationd.service so that its drop-in "
                                  "grants it, ignoring", *dir);
                else
                        g_warning("Storage directory %s is not writable: %s, ignoring", *dir, g_strerror(errno));
        }
}

/* The configuration and the peer identity it names; says what is wrong
 * and leaves nothing behind otherwise. */
static gboolean daemon_load_config(Daemon *d, const char *config_path) {
        g_autoptr(GError) error = NULL;

        /* An explicitly named configuration must exist; the default may not. */
        d->config = md_config_load(config_path ? config_path : DEFAULT_CONFIG_FILE,
                                   config_path != NULL, &error);
        if (!d->config) {
                g_printerr("%s\n", error->message);
                return FALSE;
        }
        /* Peer-to-peer needs an identity; a configured but broken one is an
         * error now rather than at the first migration. */
        if (d->config->tls_ca || d->config->tls_cert || d->config->tls_key) {
                d->peer_tls = peer_tls_load(d->config->tls_ca, d->config->tls_cert, d->config->tls_key, &error);
                if (!d->peer_tls) {
                        g_printerr("Invalid configuration: [tls] %s\n", error->message);
                        g_clear_pointer(&d->config, md_config_free);
                        return FALSE;
                }
        }
        warn_storage_directories(d->config);
        return TRUE;
}

int main(int argc, char **argv) {
        g_autofree char *config_path = NULL, *state_dir = NULL, *runtime_dir = NULL, *log_dir = NULL;
        const GOptionEntry entries[] = {
                { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE" },
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR" },
                { "runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &runtime_dir, "Runtime directory", "DIR" },
                { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir, "Log directory for QEMU", "DIR" },
                { NULL },
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- QEMU migration service");
        g_autoptr(GError) error = NULL;
        Daemon d = { .exit_code = EXIT_SUCCESS };

        /* Bus error messages in the system's language (the catalogue of
         * GETTEXT_PACKAGE; the core's _() names its domain). */
        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }

        if (!daemon_load_config(&d, config_path))
                return EXIT_FAILURE;
        d.registry = registry_new(d.config, &(RegistryDirs) {
                        .state_dir = state_dir ? state_dir : DEFAULT_STATE_DIR,
                        .runtime_dir = runtime_dir ? runtime_dir : DEFAULT_RUNTIME_DIR,
                        .log_dir = log_dir ? log_dir : DEFAULT_LOG_DIR,
                }, &error);
        if (!d.registry) {
                g_printerr("%s\n", error->message);
                daemon_free(&d);
                return EXIT_FAILURE;
        }
        d.loop = g_main_loop_new(NULL, FALSE);
        if (daemon_connect(&d) < 0) {
                daemon_free(&d);
                return EXIT_FAILURE;
        }
        g_unix_signal_add(SIGTERM, on_signal, &d);
        g_unix_signal_add(SIGINT, on_signal, &d);
        start_watchdog(&d);
        (void) sd_notify(FALSE, "STATUS=Finding running guests again");
        recovery_load_async(d.registry, on_registry_loaded, &d);

        g_main_loop_run(d.loop);
        if (d.registry)
                registry_end_launches(d.registry);
        daemon_free(&d);
        return d.exit_code;
}
