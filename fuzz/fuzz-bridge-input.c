/* Fuzzes what migration-bridge reads from a peer once the TLS handshake is
 * done: the D-Bus wire protocol (sd-bus's authentication and message
 * parsing) and the bridge's own handling of what was parsed (which methods
 * are relayed, their signatures, the limit of calls in flight). The input is
 * the byte stream a peer sends; it arrives through the same PeerLink the
 * bridge uses, on a plain socket instead of TLS. The calls the bridge
 * relays go to a local bus connection that nobody answers.
 *
 * Checks that nothing crashes or leaks, and that the bridge lets go of the
 * peer when its stream ends, whatever came before. */
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#include "bridge-relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A peer that never goes is a bug; generous for valgrind. */
#define DEADLINE_MS 60000

typedef struct {
        int fd;                  /* the peer's end of the link */
        const uint8_t *data;
        size_t size, written;
        gboolean timed_out;
} Peer;

static gboolean on_peer_writable(int fd, GIOCondition condition, gpointer user_data) {
        Peer *peer = user_data;
        ssize_t n = 0;

        if (peer->written < peer->size)
                n = write(fd, peer->data + peer->written, peer->size - peer->written);
        if (n > 0)
                peer->written += n;
        if (n < 0 || peer->written == peer->size) {
                /* All sent (or the bridge hung up): the peer's stream ends. */
                (void) shutdown(fd, SHUT_WR);
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

/* Whatever the bridge answers is read and dropped, so it never blocks. */
static gboolean on_peer_readable(int fd, GIOCondition condition, gpointer user_data) {
        char buf[4096];

        return read(fd, buf, sizeof(buf)) > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean on_deadline(gpointer user_data) {
        ((Peer *) user_data)->timed_out = TRUE;
        return G_SOURCE_REMOVE;
}

/* A client connection to a "daemon" that never answers: relayed calls
 * queue there, as on a daemon that is busy. */
static sd_bus *silent_local_bus(int *ret_other_end) {
        int pair[2];
        sd_bus *bus = NULL;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair), ==, 0);
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, pair[0], pair[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        *ret_other_end = pair[1];
        return bus;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(MdConfig) config = md_config_load_from_data("", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GSocketConnection) connection = NULL;
        Bridge bridge = { .config = config };
        Peer peer = { .data = data, .size = size };
        PeerLink *link;
        BridgePeer *bp;
        int pair[2], daemon_end;

        g_assert_nonnull(config);
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair), ==, 0);
        peer.fd = pair[1];
        socket = g_socket_new_from_fd(pair[0], &error);
        g_assert_no_error(error);
        connection = g_socket_connection_factory_create_connection(socket);
        link = peer_link_new_for_stream(G_IO_STREAM(connection), "CN=fuzz", TRUE, &error);
        g_assert_no_error(error);

        bridge.peers = g_hash_table_new_full(NULL, NULL, (GDestroyNotify) bridge_peer_free, NULL);
        bp = bridge_peer_new_with_bus(&bridge, link, silent_local_bus(&daemon_end), &error);
        g_assert_no_error(error);
        g_hash_table_add(bridge.peers, bp);

        g_unix_fd_add(peer.fd, G_IO_OUT, on_peer_writable, &peer);
        g_unix_fd_add(peer.fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_peer_readable, &peer);
        g_timeout_add(DEADLINE_MS, on_deadline, &peer);
        /* The bridge removes the peer when its link closes. */
        while (g_hash_table_size(bridge.peers) > 0 && !peer.timed_out)
                g_main_context_iteration(NULL, TRUE);
        if (peer.timed_out)
                g_error("The bridge still holds the peer %d s after its stream ended (%zu of %zu bytes sent)",
                        DEADLINE_MS / 1000, peer.written, peer.size);

        while (g_source_remove_by_user_data(&peer))
                ;
        g_hash_table_destroy(bridge.peers);
        close(peer.fd);
        close(daemon_end);
        /* Idle sources of the link's close, if any, run now. */
        while (g_main_context_iteration(NULL, FALSE))
                ;
        return 0;
}
