/* migration-bridge: listens for peer hosts (mutual TLS), relays their
 * peer-facing calls to the local migrationd. Unprivileged; started by
 * systemd's socket activation or listening on [bridge] listen itself. */
#define G_LOG_DOMAIN "migration-bridge"

#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "bridge-relay.h"
#include "bus-glib.h"
#include "config.h"

typedef struct {
        Bridge *bridge;
        char *address;
} Incoming;

static void bridge_free(Bridge *b) {
        if (b->service) {
                g_socket_service_stop(b->service);
                g_socket_listener_close(G_SOCKET_LISTENER(b->service));
                g_clear_object(&b->service);
        }
        g_clear_pointer(&b->peers, g_hash_table_unref);
        if (b->bus)
                b->bus = sd_bus_flush_close_unref(b->bus);
        g_clear_pointer(&b->tls, peer_tls_free);
        g_clear_object(&b->listen_address);
        g_clear_pointer(&b->config, md_config_free);
        g_clear_pointer(&b->loop, g_main_loop_unref);
}

static void bridge_quit(Bridge *b, int exit_code) {
        if (exit_code)
                b->exit_code = exit_code;
        (void) sd_notify(FALSE, "STOPPING=1");
        g_main_loop_quit(b->loop);
}

static gboolean on_signal(gpointer user_data) {
        g_message("Stopping");
        bridge_quit(user_data, 0);
        return G_SOURCE_CONTINUE;
}

static void on_bus_disconnected(gpointer user_data) {
        bridge_quit(user_data, EXIT_FAILURE);
}

/* ---- peers ---- */

static void on_accepted(GObject *source, GAsyncResult *result, gpointer user_data) {
        Incoming *in = user_data;
        Bridge *b = in->bridge;
        g_autoptr(GError) error = NULL;
        g_autofree char *dn = NULL;
        PeerLink *link;
        BridgePeer *peer;

        b->handshakes--;
        link = peer_link_accept_finish(result, &dn, &error);
        if (!link) {
                /* The message names the address and the DN. */
                bridge_log_peer(G_LOG_LEVEL_MESSAGE, in->address, dn, "%s", error->message);
                goto out;
        }
        peer = bridge_peer_new(b, link, &error);
        if (!peer) {
                bridge_log_peer(G_LOG_LEVEL_WARNING, in->address, dn, "Dropped peer %s (%s): %s", in->address, dn,
                                error->message);
                goto out;
        }
        g_hash_table_add(b->peers, peer);
        bridge_log_peer(G_LOG_LEVEL_MESSAGE, in->address, dn, "Accepted peer %s (%s)", in->address, dn);
out:
        g_free(in->address);
        g_free(in);
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *connection, GObject *source_object,
                            gpointer user_data) {
        Bridge *b = user_data;
        g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(connection, NULL);
        g_autofree char *address = remote ? g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(remote))
                                          : g_strdup("unknown address");
        Incoming *in;

        if (b->handshakes >= BRIDGE_MAX_HANDSHAKES || g_hash_table_size(b->peers) >= BRIDGE_MAX_PEERS) {
                bridge_log_peer(G_LOG_LEVEL_WARNING, address, NULL,
                                "Refused peer %s: too many peers (at most %d, %d in the TLS handshake)", address,
                                BRIDGE_MAX_PEERS, BRIDGE_MAX_HANDSHAKES);
                g_socket_close(g_socket_connection_get_socket(connection), NULL);
                return TRUE;
        }
        in = g_new0(Incoming, 1);
        in->bridge = b;
        in->address = g_steal_pointer(&address);
        b->handshakes++;
        peer_link_accept_async(G_IO_STREAM(connection), b->tls, b->config->allowed_peers, NULL, on_accepted, in);
        return TRUE;
}

/* ---- start ---- */

static gboolean bridge_load(Bridge *b, const char *config_path, GError **error) {
        static const char *const keys[] = { "ca", "cert", "key" };

        /* An explicitly named configuration must exist; the default may not. */
        b->config = md_config_load(config_path ? config_path : DEFAULT_CONFIG_FILE, config_path != NULL, error);
        if (!b->config)
                return FALSE;
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                const char *values[] = { b->config->tls_ca, b->config->tls_cert, b->config->tls_key };
                if (!values[i]) {
                        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                                    "Invalid configuration: [tls] %s is required by migration-bridge (PEM files: "
                                    "ca= the CA of all hosts, cert= and key= this host's identity)", keys[i]);
                        return FALSE;
                }
        }
        /* Checked even when systemd passes the sockets: a bad file is an error. */
        if (!peer_listen_parse(b->config->bridge_listen, &b->listen_address, error))
                return FALSE;
        b->tls = peer_tls_load(b->config->tls_ca, b->config->tls_cert, b->config->tls_key, error);
        if (!b->tls)
                return FALSE;
        if (!b->config->allowed_peers[0])
                g_warning("[bridge] allowed_peers is empty: every peer will be refused");
        return TRUE;
}

static gboolean bridge_listen(Bridge *b, GError **error) {
        GSocketListener *listener;
        int n = sd_listen_fds(1);

        b->service = g_socket_service_new();
        listener = G_SOCKET_LISTENER(b->service);
        if (n < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-n),
                            "Failed to take the sockets passed by systemd: %s", g_strerror(-n));
                return FALSE;
        }
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                g_autoptr(GSocket) socket = NULL;

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "File descriptor %d passed by systemd is not a listening stream socket", fd);
                        return FALSE;
                }
                socket = g_socket_new_from_fd(fd, error);
                if (!socket || !g_socket_listener_add_socket(listener, socket, NULL, error))
                        return FALSE;
                g_message("Serving peers on the socket passed by systemd (fd %d)", fd);
        }
        if (n == 0) {
                g_autoptr(GSocketAddress) effective = NULL;
                g_autofree char *text = NULL;

                if (!g_socket_listener_add_address(listener, b->listen_address, G_SOCKET_TYPE_STREAM,
                                                   G_SOCKET_PROTOCOL_TCP, NULL, &effective, error))
                        return FALSE;
                text = g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(effective));
                g_message("Serving peers on %s", text);
        }
        g_signal_connect(b->service, "incoming", G_CALLBACK(on_incoming), b);
        return TRUE;
}

static gboolean bridge_connect(Bridge *b, GError **error) {
        int r = sd_bus_open_system(&b->bus);

        if (r >= 0)
                r = sd_bus_request_name(b->bus, BRIDGE_BUS_NAME, 0);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r),
                            "Failed to own %s on the system bus: %s", BRIDGE_BUS_NAME, g_strerror(-r));
                return FALSE;
        }
        bus_attach_glib(b->bus, on_bus_disconnected, b);
        return TRUE;
}

int main(int argc, char **argv) {
        g_autofree char *config_path = NULL;
        const GOptionEntry entries[] = {
                { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE" },
                { NULL },
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- migrationd's TLS bridge for peer hosts");
        g_autoptr(GError) error = NULL;
        Bridge b = { .exit_code = EXIT_SUCCESS };

        setlocale(LC_ALL, "");
        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }
        b.loop = g_main_loop_new(NULL, FALSE);
        b.peers = g_hash_table_new_full(NULL, NULL, (GDestroyNotify) bridge_peer_free, NULL);
        if (!bridge_load(&b, config_path, &error) || !bridge_connect(&b, &error) || !bridge_listen(&b, &error)) {
                g_printerr("%s\n", error->message);
                bridge_free(&b);
                return EXIT_FAILURE;
        }
        g_unix_signal_add(SIGTERM, on_signal, &b);
        g_unix_signal_add(SIGINT, on_signal, &b);
        g_socket_service_start(b.service);
        (void) sd_notify(FALSE, "READY=1");
        g_main_loop_run(b.loop);
        bridge_free(&b);
        return b.exit_code;
}
