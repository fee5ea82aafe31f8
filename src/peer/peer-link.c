/* The peer link: the D-Bus wire protocol over a TLS stream. sd-bus owns one
 * end of a socket pair; this file pumps bytes between the other end and the
 * TLS connection's pollable streams, both ways, on the GLib main loop, and
 * keeps the link alive with Peer.Ping. */
#define G_LOG_DOMAIN "migrationd-peer"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>
#include <systemd/sd-id128.h>

#include "bus-glib.h"
#include "md-error.h"
#include "peer-link-internal.h"

/* Rounds of read+write per wake-up before giving other sources a turn. */
#define PUMP_ROUNDS 16
#define PUMP_BUFFER (64 * 1024)

typedef struct {
        guint8 data[PUMP_BUFFER];
        gsize off, len;
        GSource *wait;           /* what this direction waits for, if anything */
} Pipe;

struct PeerLink {
        GIOStream *stream;       /* TLS, or a plain socket (the fuzz target) */
        GPollableInputStream *in;
        GPollableOutputStream *out;
        int fd;                  /* our end of the socket pair; sd-bus has the other */
        sd_bus *bus;
        guint bus_source;
        char *peer_dn, *peer_address;
        Pipe up;                 /* TLS → sd-bus */
        Pipe down;               /* sd-bus → TLS */
        gboolean tls_eof;

        guint keepalive_interval_ms, keepalive_timeout_ms;
        guint keepalive_timer;
        sd_bus_slot *ping_slot;
        gint64 last_alive, last_ping;   /* monotonic µs */

        PeerLinkClosedFunc closed_func;
        gpointer closed_data;
        gboolean closed;         /* the transport is down */
        GError *close_error;
        guint close_idle;        /* reports the close to closed_func */
        gboolean close_reported;
};

static void pump_up(PeerLink *l);
static void pump_down(PeerLink *l);
static void keepalive_schedule(PeerLink *l);

char *peer_stream_address(GIOStream *stream) {
        g_autoptr(GSocketAddress) address = NULL;
        g_autoptr(GIOStream) base = NULL;

        if (G_IS_TLS_CONNECTION(stream)) {
                g_object_get(stream, "base-io-stream", &base, NULL);
                stream = base;
        }
        if (G_IS_SOCKET_CONNECTION(stream))
                address = g_socket_connection_get_remote_address(G_SOCKET_CONNECTION(stream), NULL);
        if (G_IS_INET_SOCKET_ADDRESS(address))
                return g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(address));
        return g_strdup("unknown address");
}

void peer_tls_hard_close(GIOStream *stream) {
        g_autoptr(GIOStream) base = NULL;

        if (G_IS_TLS_CONNECTION(stream)) {
                g_object_get(stream, "base-io-stream", &base, NULL);
                stream = base;
        }
        if (G_IS_SOCKET_CONNECTION(stream))
                g_socket_close(g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream)), NULL);
}

/* ---- closing ---- */

static gboolean on_close_idle(gpointer user_data) {
        PeerLink *l = user_data;

        l->close_idle = 0;
        l->close_reported = TRUE;
        /* Last: the callback may free the link. */
        if (l->closed_func)
                l->closed_func(l, l->close_error, l->closed_data);
        return G_SOURCE_REMOVE;
}

static void pipe_stop(Pipe *p) {
        if (p->wait) {
                g_source_destroy(p->wait);
                g_clear_pointer(&p->wait, g_source_unref);
        }
}

/* Stops all I/O at once; the closed func hears of it from an idle callback,
 * so that it may free the link whatever called us. */
static void link_close(PeerLink *l, GError *error) {
        g_autoptr(GError) owned = error;

        if (l->closed)
                return;
        l->closed = TRUE;
        l->close_error = g_steal_pointer(&owned);
        g_debug("Link to %s (%s) closed: %s", l->peer_address, l->peer_dn ? l->peer_dn : "no DN",
                l->close_error ? l->close_error->message : "no error");
        pipe_stop(&l->up);
        pipe_stop(&l->down);
        g_clear_handle_id(&l->keepalive_timer, g_source_remove);
        l->ping_slot = sd_bus_slot_unref(l->ping_slot);
        /* sd-bus sees EOF and fails what is pending on the link. */
        shutdown(l->fd, SHUT_RDWR);
        peer_tls_hard_close(l->stream);
        if (l->closed_func)
                l->close_idle = g_idle_add(on_close_idle, l);
}

static void link_fail(PeerLink *l, const char *what, const GError *cause) {
        if (l->closed)
                return;
        link_close(l, g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE, "%s %s (%s)%s%s", what, l->peer_address,
                                  l->peer_dn ? l->peer_dn : "no certificate", cause ? ": " : "",
                                  cause ? cause->message : ""));
}

static void link_fail_errno(PeerLink *l, const char *what, int err) {
        g_autoptr(GError) cause = g_error_new_literal(G_IO_ERROR, g_io_error_from_errno(err), g_strerror(err));

        link_fail(l, what, cause);
}

static void on_bus_disconnected(gpointer user_data) {
        PeerLink *l = user_data;

        l->bus_source = 0;      /* the source removes itself */
        link_fail(l, l->tls_eof ? "The connection was closed by" : "The D-Bus connection broke on the link to",
                  NULL);
}

/* ---- the pump ---- */

static gboolean on_pipe_ready(gpointer user_data, Pipe *p, void (*pump)(PeerLink *)) {
        PeerLink *l = user_data;

        g_clear_pointer(&p->wait, g_source_unref);
        pump(l);
        return G_SOURCE_REMOVE;
}

static gboolean on_up_ready(gpointer user_data) {
        return on_pipe_ready(user_data, &((PeerLink *) user_data)->up, pump_up);
}

static gboolean on_down_ready(gpointer user_data) {
        return on_pipe_ready(user_data, &((PeerLink *) user_data)->down, pump_down);
}

static gboolean on_up_fd_ready(int fd, GIOCondition condition, gpointer user_data) {
        return on_up_ready(user_data);
}

static gboolean on_up_stream_ready(GObject *stream, gpointer user_data) {
        return on_up_ready(user_data);
}

static gboolean on_down_stream_ready(GObject *stream, gpointer user_data) {
        return on_down_ready(user_data);
}

static gboolean on_down_fd_ready(int fd, GIOCondition condition, gpointer user_data) {
        return on_down_ready(user_data);
}

static void pipe_wait(Pipe *p, GSource *source, GSourceFunc callback, PeerLink *l) {
        g_assert(!p->wait);
        g_source_set_callback(source, callback, l, NULL);
        g_source_attach(source, NULL);
        p->wait = source;
}

static gboolean would_block(const GError *error) {
        return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

/* TLS → socket pair. */
static void pump_up(PeerLink *l) {
        Pipe *p = &l->up;

        for (int round = 0; round < PUMP_ROUNDS; round++) {
                if (p->len == 0) {
                        g_autoptr(GError) error = NULL;
                        gssize n;

                        if (l->tls_eof)
                                return;
                        n = g_pollable_input_stream_read_nonblocking(l->in, p->data, sizeof p->data, NULL, &error);
                        if (n < 0 && would_block(error)) {
                                pipe_wait(p, g_pollable_input_stream_create_source(l->in, NULL), G_SOURCE_FUNC(on_up_stream_ready), l);
                                return;
                        }
                        if (n < 0)
                                return link_fail(l, "Lost the connection to", error);
                        if (n == 0) {
                                /* The peer is done: sd-bus reads the rest, then EOF. */
                                l->tls_eof = TRUE;
                                shutdown(l->fd, SHUT_WR);
                                return;
                        }
                        l->last_alive = g_get_monotonic_time();
                        p->off = 0;
                        p->len = n;
                }
                while (p->off < p->len) {
                        ssize_t n = send(l->fd, p->data + p->off, p->len - p->off, MSG_DONTWAIT | MSG_NOSIGNAL);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == EAGAIN) {
                                pipe_wait(p, g_unix_fd_source_new(l->fd, G_IO_OUT), G_SOURCE_FUNC(on_up_fd_ready), l);
                                return;
                        }
                        if (n < 0)
                                return link_fail_errno(l, "The D-Bus connection broke on the link to", errno);
                        p->off += n;
                }
                p->off = p->len = 0;
        }
        pipe_wait(p, g_idle_source_new(), on_up_ready, l);
}

/* Socket pair → TLS. */
static void pump_down(PeerLink *l) {
        Pipe *p = &l->down;

        for (int round = 0; round < PUMP_ROUNDS; round++) {
                if (p->len == 0) {
                        ssize_t n = recv(l->fd, p->data, sizeof p->data, MSG_DONTWAIT);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == EAGAIN) {
                                pipe_wait(p, g_unix_fd_source_new(l->fd, G_IO_IN), G_SOURCE_FUNC(on_down_fd_ready), l);
                                return;
                        }
                        if (n < 0)
                                return link_fail_errno(l, "The D-Bus connection broke on the link to", errno);
                        if (n == 0)      /* sd-bus closed its end: the link is done */
                                return link_fail(l, "The D-Bus connection was closed on the link to", NULL);
                        p->off = 0;
                        p->len = n;
                }
                while (p->off < p->len) {
                        g_autoptr(GError) error = NULL;
                        gssize n = g_pollable_output_stream_write_nonblocking(l->out, p->data + p->off,
                                                                              p->len - p->off, NULL, &error);

                        if (n < 0 && would_block(error)) {
                                pipe_wait(p, g_pollable_output_stream_create_source(l->out, NULL), G_SOURCE_FUNC(on_down_stream_ready), l);
                                return;
                        }
                        if (n < 0)
                                return link_fail(l, "Lost the connection to", error);
                        p->off += n;
                }
                p->off = p->len = 0;
        }
        pipe_wait(p, g_idle_source_new(), on_down_ready, l);
}

/* ---- set-up ---- */

static int bus_new(int fd, gboolean server, const char *description, sd_bus **ret) {
        g_autoptr(sd_bus) bus = NULL;
        sd_id128_t id;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_fd(bus, fd, fd);
        if (r < 0)
                return r;
        if (server) {
                r = sd_id128_randomize(&id);
                if (r < 0)
                        return r;
                r = sd_bus_set_server(bus, 1, id);
                if (r < 0)
                        return r;
        }
        /* EXTERNAL cannot work across TLS (the socket pair's credentials are
         * our own): both ends use ANONYMOUS, the certificate is the identity.
         * No file descriptors can cross the link either. */
        if ((r = sd_bus_set_anonymous(bus, 1)) < 0 ||
            (r = sd_bus_negotiate_fds(bus, 0)) < 0 ||
            (r = sd_bus_set_trusted(bus, 0)) < 0 ||
            (r = sd_bus_set_description(bus, description)) < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&bus);
        return 0;
}

PeerLink *peer_link_new(GTlsConnection *tls, gboolean server, GError **error) {
        g_autofree char *dn = peer_certificate_dn(g_tls_connection_get_peer_certificate(tls));

        return peer_link_new_for_stream(G_IO_STREAM(tls), dn, server, error);
}

PeerLink *peer_link_new_for_stream(GIOStream *stream, const char *peer_dn, gboolean server, GError **error) {
        g_autoptr(PeerLink) l = g_new0(PeerLink, 1);
        g_autofree char *description = NULL;
        int pair[2], r;

        l->fd = -1;
        l->stream = g_object_ref(stream);
        l->in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(l->stream));
        l->out = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(l->stream));
        l->peer_address = peer_stream_address(l->stream);
        l->peer_dn = g_strdup(peer_dn);
        l->last_alive = g_get_monotonic_time();
        l->closed = TRUE;        /* until it runs: a failed set-up reports nothing */

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE, "Failed to create a socket pair: %s",
                            g_strerror(errno));
                return NULL;
        }
        l->fd = pair[0];
        description = g_strdup_printf("peer %s", l->peer_dn ? l->peer_dn : l->peer_address);
        r = bus_new(pair[1], server, description, &l->bus);
        if (r < 0) {
                close(pair[1]);
                g_set_error(error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE, "Failed to start D-Bus on the link to %s: %s",
                            l->peer_address, g_strerror(-r));
                return NULL;
        }
        l->bus_source = bus_attach_glib(l->bus, on_bus_disconnected, l);
        l->closed = FALSE;
        pump_up(l);
        pump_down(l);
        return g_steal_pointer(&l);
}

/* ---- keepalive ---- */

static int on_pong(sd_bus_message *reply, void *user_data, sd_bus_error *ret_error) {
        PeerLink *l = user_data;

        l->ping_slot = sd_bus_slot_unref(l->ping_slot);
        /* Any answer is a sign of life, also an error; only our own time-out
         * (or the link going down) is not. */
        if (!sd_bus_message_is_method_error(reply, SD_BUS_ERROR_NO_REPLY) &&
            !sd_bus_message_is_method_error(reply, SD_BUS_ERROR_TIMEOUT) &&
            !sd_bus_message_is_method_error(reply, SD_BUS_ERROR_DISCONNECTED))
                l->last_alive = g_get_monotonic_time();
        /* The next ping is due an interval after this one, not at the deadline. */
        if (!l->closed && l->keepalive_interval_ms && l->keepalive_timeout_ms)
                keepalive_schedule(l);
        return 0;
}

static void send_ping(PeerLink *l) {
        g_autoptr(sd_bus_message) m = NULL;
        int r;

        l->last_ping = g_get_monotonic_time();
        r = sd_bus_message_new_method_call(l->bus, &m, NULL, "/", "org.freedesktop.DBus.Peer", "Ping");
        if (r >= 0)
                r = sd_bus_call_async(l->bus, &l->ping_slot, m, on_pong, l,
                                      (uint64_t) l->keepalive_timeout_ms * 1000);
        if (r < 0)
                g_debug("Failed to ping %s: %s, ignoring", l->peer_address, g_strerror(-r));
}

static gboolean on_keepalive(gpointer user_data) {
        PeerLink *l = user_data;
        gint64 now = g_get_monotonic_time();

        l->keepalive_timer = 0;
        if (now - l->last_alive >= (gint64) l->keepalive_timeout_ms * 1000) {
                g_autofree char *what = g_strdup_printf("No answer for %u ms from", l->keepalive_timeout_ms);
                link_fail(l, what, NULL);
                return G_SOURCE_REMOVE;
        }
        if (!l->ping_slot && now - l->last_ping >= (gint64) l->keepalive_interval_ms * 1000)
                send_ping(l);
        keepalive_schedule(l);
        return G_SOURCE_REMOVE;
}

/* Wakes up at the next ping or at the deadline, whichever comes first. */
static void keepalive_schedule(PeerLink *l) {
        gint64 now = g_get_monotonic_time();
        gint64 next_ping = l->last_ping + (gint64) l->keepalive_interval_ms * 1000;
        gint64 deadline = l->last_alive + (gint64) l->keepalive_timeout_ms * 1000;
        gint64 wake = l->ping_slot ? deadline : MIN(next_ping, deadline);

        g_clear_handle_id(&l->keepalive_timer, g_source_remove);
        l->keepalive_timer = g_timeout_add((guint) CLAMP((wake - now + 999) / 1000, 1, G_MAXUINT), on_keepalive, l);
}

void peer_link_set_keepalive(PeerLink *l, guint interval_ms, guint timeout_ms) {
        g_return_if_fail(l);

        g_clear_handle_id(&l->keepalive_timer, g_source_remove);
        l->ping_slot = sd_bus_slot_unref(l->ping_slot);
        l->keepalive_interval_ms = interval_ms;
        l->keepalive_timeout_ms = timeout_ms;
        if (l->closed || interval_ms == 0 || timeout_ms == 0)
                return;
        l->last_alive = g_get_monotonic_time();
        l->last_ping = 0;
        keepalive_schedule(l);
}

/* ---- accessors ---- */

sd_bus *peer_link_get_bus(PeerLink *l) {
        return l->bus;
}

const char *peer_link_get_peer_dn(PeerLink *l) {
        return l->peer_dn;
}

const char *peer_link_get_peer_address(PeerLink *l) {
        return l->peer_address;
}

gboolean peer_link_is_closed(PeerLink *l) {
        return l->closed;
}

void peer_link_set_closed_func(PeerLink *l, PeerLinkClosedFunc func, gpointer user_data) {
        g_return_if_fail(l);

        l->closed_func = func;
        l->closed_data = user_data;
        g_clear_handle_id(&l->close_idle, g_source_remove);
        /* Closed before anyone listened: tell the new listener. */
        if (l->closed && l->bus && !l->close_reported && func)
                l->close_idle = g_idle_add(on_close_idle, l);
}

void peer_link_free(PeerLink *l) {
        if (!l)
                return;
        g_clear_handle_id(&l->close_idle, g_source_remove);
        g_clear_handle_id(&l->keepalive_timer, g_source_remove);
        l->ping_slot = sd_bus_slot_unref(l->ping_slot);
        pipe_stop(&l->up);
        pipe_stop(&l->down);
        g_clear_handle_id(&l->bus_source, g_source_remove);
        /* No flush: it would block on a socket nobody pumps any more. */
        l->bus = sd_bus_close_unref(l->bus);
        if (l->fd >= 0)
                close(l->fd);
        if (l->stream) {
                peer_tls_hard_close(l->stream);
                g_object_unref(l->stream);
        }
        g_clear_error(&l->close_error);
        g_free(l->peer_dn);
        g_free(l->peer_address);
        g_free(l);
}
