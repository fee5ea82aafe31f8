/* migrationd: owns this host's QEMU domains on the system bus. */
#define G_LOG_DOMAIN "migrationd"

#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>

#include "bus-glib.h"
#include "bus-service.h"
#include "config.h"
#include "md-config.h"
#include "registry.h"

typedef struct {
        GMainLoop *loop;
        MdConfig *config;
        Registry *registry;
        sd_bus *bus;
        BusService service;
        int exit_code;
} Daemon;

static void daemon_free(Daemon *d) {
        /* The guests keep running: they are found again at the next start. */
        g_clear_pointer(&d->registry, registry_free);
        g_clear_pointer(&d->service.polkit, bus_polkit_free);
        if (d->bus)
                d->bus = sd_bus_flush_close_unref(d->bus);
        g_clear_pointer(&d->config, md_config_free);
        g_clear_pointer(&d->loop, g_main_loop_unref);
}

static void daemon_quit(Daemon *d, int exit_code) {
        if (exit_code)
                d->exit_code = exit_code;
        g_main_loop_quit(d->loop);
}

static gboolean on_signal(gpointer user_data) {
        g_message("Stopping; running guests stay up");
        daemon_quit(user_data, 0);
        return G_SOURCE_CONTINUE;
}

static void on_bus_disconnected(gpointer user_data) {
        daemon_quit(user_data, EXIT_FAILURE);
}

static int on_name_acquired(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Daemon *d = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                g_critical("Failed to acquire bus name %s: %s", BUS_NAME, e->message);
                daemon_quit(d, EXIT_FAILURE);
                return 0;
        }
        g_message("Ready on the bus as %s", BUS_NAME);
        return 0;
}

/* The name is requested only once every guest has been found again, so a
 * client never sees a half-recovered host. */
static void on_registry_loaded(GObject *source, GAsyncResult *result, gpointer user_data) {
        Daemon *d = user_data;
        g_autoptr(GError) error = NULL;
        int r;

        if (!registry_load_finish(d->registry, result, &error)) {
                g_critical("Failed to load domains: %s", error->message);
                daemon_quit(d, EXIT_FAILURE);
                return;
        }
        /* Only now: signals for the domains loaded at start would reach nobody
         * and delay the name (1,000 InterfacesAdded, bench/scale). */
        registry_set_listener(d->registry, &bus_registry_listener, &d->service);
        r = sd_bus_request_name_async(d->bus, NULL, BUS_NAME, 0, on_name_acquired, d);
        if (r < 0) {
                g_critical("Failed to request bus name: %s", g_strerror(-r));
                daemon_quit(d, EXIT_FAILURE);
        }
}

static int daemon_connect(Daemon *d) {
        int r;

        r = sd_bus_open_system(&d->bus);
        if (r < 0) {
                g_critical("Failed to connect to the system bus: %s", g_strerror(-r));
                return r;
        }
        d->service = (BusService) {
                .bus = d->bus,
                .registry = d->registry,
                .config = d->config,
                .polkit = bus_polkit_new(d->bus),
        };
        r = bus_manager_register(&d->service);
        if (r >= 0)
                r = bus_domain_register(&d->service);
        if (r < 0) {
                g_critical("Failed to register bus objects: %s", g_strerror(-r));
                return r;
        }
        bus_attach_glib(d->bus, on_bus_disconnected, d);
        return 0;
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

        setlocale(LC_ALL, "");
        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }

        /* An explicitly named configuration must exist; the default may not. */
        d.config = md_config_load(config_path ? config_path : DEFAULT_CONFIG_FILE,
                                  config_path != NULL, &error);
        if (!d.config) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }
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
        registry_load_async(d.registry, on_registry_loaded, &d);

        g_main_loop_run(d.loop);
        daemon_free(&d);
        return d.exit_code;
}
