/* Setting up a peer link: the client connects, handshakes (verifying the
 * server against our CA and its host name) and makes one D-Bus round trip;
 * the server handshakes and decides on the client's certificate itself
 * (a GIO TLS server never accepts one on its own). Both within
 * PEER_HANDSHAKE_TIMEOUT_MS. */
#define G_LOG_DOMAIN "migrationd-peer"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "bus-glib.h"
#include "md-error.h"
#include "peer-link-internal.h"

/* The link carries small request/reply messages, each often split across
 * TLS records: Nagle's algorithm with delayed ACKs held them back ~40 ms
 * each (bench/overhead, the relayed call). Best effort: not TCP, no harm. */
static void set_nodelay(GIOStream *connection) {
        if (G_IS_TCP_CONNECTION(connection))
                (void) g_socket_set_option(g_socket_connection_get_socket(G_SOCKET_CONNECTION(connection)),
                                           IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

/* ---- client ---- */

typedef struct {
        char *host;
        guint16 port;
        GSocketConnectable *address;
        GTlsCertificate *identity;
        GTlsDatabase *ca;
        char **allowed;
        GCancellable *cancellable;       /* ours: cancelled by the time-out or the caller */
        GCancellable *caller;
        gulong caller_handler;
        guint timeout_ms, timeout_id, cancel_idle;
        gboolean timed_out, done;
        GTlsConnection *tls;
        /* The last step, one D-Bus round trip, is no GIO operation: it holds
         * the task reference itself. */
        GTask *ping_task;
        PeerLink *link;
        sd_bus_slot *ping_slot;
} Connect;

static void connect_free(Connect *c) {
        g_clear_handle_id(&c->timeout_id, g_source_remove);
        g_clear_handle_id(&c->cancel_idle, g_source_remove);
        if (c->caller_handler)
                g_cancellable_disconnect(c->caller, c->caller_handler);
        c->ping_slot = sd_bus_slot_unref(c->ping_slot);
        g_clear_pointer(&c->link, peer_link_free);
        g_clear_object(&c->tls);
        g_clear_object(&c->caller);
        g_clear_object(&c->cancellable);
        g_clear_object(&c->address);
        g_clear_object(&c->identity);
        g_clear_object(&c->ca);
        g_strfreev(c->allowed);
        g_free(c->host);
        g_free(c);
}

/* Ends the task with @link or @error, giving up the reference @task. */
static void connect_return(GTask *task, PeerLink *link, GError *error) {
        Connect *c = g_task_get_task_data(task);

        g_assert(!c->done);
        c->done = TRUE;
        g_clear_handle_id(&c->timeout_id, g_source_remove);
        if (link)
                g_task_return_pointer(task, link, (GDestroyNotify) peer_link_free);
        else
                g_task_return_error(task, error);
        g_object_unref(task);
}

/* Ends the ping step (whichever of reply, link closing, time-out, cancel
 * comes first). */
static void connect_return_ping(Connect *c, gboolean success, GError *error) {
        GTask *task = g_steal_pointer(&c->ping_task);
        PeerLink *link = NULL;

        g_assert(task);
        c->ping_slot = sd_bus_slot_unref(c->ping_slot);
        peer_link_set_closed_func(c->link, NULL, NULL);
        if (success)
                link = g_steal_pointer(&c->link);
        else
                g_clear_pointer(&c->link, peer_link_free);
        connect_return(task, link, error);
}

/* A PeerTls not from peer_tls_load() has no time set: the default. */
static guint handshake_timeout(const PeerTls *tls) {
        return tls->handshake_timeout_ms ? tls->handshake_timeout_ms : PEER_HANDSHAKE_TIMEOUT_MS;
}

static GError *timeout_error(Connect *c) {
        return g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE,
                           "No connection to the peer %s:%u within %u s; is its migration-bridge running and reachable?",
                           c->host, c->port, c->timeout_ms / 1000);
}

/* A failed GIO step: time-out, the caller's cancel, or @what failed. */
static void connect_return_gio(GTask *task, GError *error, MdError code, const char *what) {
        Connect *c = g_task_get_task_data(task);
        GError *result;

        if (c->timed_out)
                result = timeout_error(c);
        else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                result = g_error_copy(error);
        else
                result = g_error_new(MD_ERROR, code, "%s %s:%u: %s", what, c->host, c->port, error->message);
        g_error_free(error);
        connect_return(task, NULL, result);
}

static gboolean on_connect_timeout(gpointer user_data) {
        Connect *c = user_data;

        c->timeout_id = 0;
        c->timed_out = TRUE;
        g_cancellable_cancel(c->cancellable);
        if (c->ping_task)
                connect_return_ping(c, FALSE, timeout_error(c));
        return G_SOURCE_REMOVE;
}

static gboolean on_cancel_idle(gpointer user_data) {
        Connect *c = user_data;

        c->cancel_idle = 0;
        if (c->ping_task)
                connect_return_ping(c, FALSE, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                                  "Operation was cancelled"));
        return G_SOURCE_REMOVE;
}

static void on_caller_cancelled(GCancellable *caller, gpointer user_data) {
        Connect *c = user_data;

        g_cancellable_cancel(c->cancellable);
        /* Not from inside the signal: ending the task disconnects it. */
        if (!c->cancel_idle)
                c->cancel_idle = g_idle_add(on_cancel_idle, c);
}

static void on_connect_link_closed(PeerLink *link, const GError *error, gpointer user_data) {
        Connect *c = user_data;

        /* In TLS 1.3 the server checks our certificate after our side of the
         * handshake is done: a refusal shows as the link closing at once. */
        connect_return_ping(c, FALSE,
                            g_error_new(MD_ERROR, MD_ERROR_PEER_REJECTED,
                                        "The peer %s:%u closed the connection right after the TLS handshake; it "
                                        "does not accept our certificate (its [bridge] allowed_peers, or another "
                                        "CA): %s",
                                        c->host, c->port, error ? error->message : "closed"));
}

static int on_first_pong(sd_bus_message *reply, void *user_data, sd_bus_error *ret_error) {
        Connect *c = user_data;

        c->ping_slot = sd_bus_slot_unref(c->ping_slot);
        if (sd_bus_message_is_method_error(reply, SD_BUS_ERROR_NO_REPLY) ||
            sd_bus_message_is_method_error(reply, SD_BUS_ERROR_TIMEOUT) ||
            sd_bus_message_is_method_error(reply, SD_BUS_ERROR_DISCONNECTED)) {
                /* The link going down or the time-out end the step. */
                g_debug("First ping of %s:%u failed: %s", c->host, c->port, sd_bus_message_get_error(reply)->message);
                return 0;
        }
        connect_return_ping(c, TRUE, NULL);
        return 0;
}

static void start_ping(GTask *task) {
        Connect *c = g_task_get_task_data(task);
        g_autoptr(sd_bus_message) ping = NULL;
        sd_bus *bus = peer_link_get_bus(c->link);
        int r;

        c->ping_task = task;
        peer_link_set_closed_func(c->link, on_connect_link_closed, c);
        /* One round trip: D-Bus authentication done, and the server kept us. */
        r = sd_bus_message_new_method_call(bus, &ping, NULL, "/", "org.freedesktop.DBus.Peer", "Ping");
        if (r >= 0)
                r = sd_bus_call_async(bus, &c->ping_slot, ping, on_first_pong, c,
                                      (uint64_t) c->timeout_ms * 1000);
        if (r < 0)
                connect_return_ping(c, FALSE, g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE,
                                                          "Failed to ping the peer %s:%u: %s", c->host, c->port,
                                                          g_strerror(-r)));
}

static void on_handshake(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        Connect *c = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        g_autofree char *dn = NULL;

        if (!g_tls_connection_handshake_finish(c->tls, result, &error)) {
                MdError code = error->domain == G_TLS_ERROR ? MD_ERROR_PEER_REJECTED : MD_ERROR_PEER_UNREACHABLE;
                return connect_return_gio(task, g_steal_pointer(&error), code,
                                          "The TLS handshake failed (is the certificate of the peer signed by our "
                                          "CA and made for its address?) with");
        }
        dn = peer_certificate_dn(g_tls_connection_get_peer_certificate(c->tls));
        if (c->allowed && !peer_dn_allowed(dn, c->allowed)) {
                peer_tls_hard_close(G_IO_STREAM(c->tls));
                return connect_return(task, NULL,
                                      g_error_new(MD_ERROR, MD_ERROR_PEER_REJECTED,
                                                  "The certificate of the peer %s:%u (%s) matches no pattern of [bridge] allowed_peers",
                                                  c->host, c->port, dn ? dn : "no DN"));
        }
        c->link = peer_link_new(c->tls, FALSE, &error);
        if (!c->link)
                return connect_return(task, NULL, g_steal_pointer(&error));
        start_ping(task);
}

static void on_connected(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        Connect *c = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocketConnection) connection = NULL;

        connection = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);
        if (!connection)
                return connect_return_gio(task, g_steal_pointer(&error), MD_ERROR_PEER_UNREACHABLE,
                                          "Failed to connect to the peer");
        set_nodelay(G_IO_STREAM(connection));
        c->tls = G_TLS_CONNECTION(g_tls_client_connection_new(G_IO_STREAM(connection), c->address, &error));
        if (!c->tls)
                return connect_return_gio(task, g_steal_pointer(&error), MD_ERROR_PEER_UNREACHABLE,
                                          "Failed to set up TLS (is glib-networking installed?) for");
        /* The server must chain to our CA and be made for the name we
         * connected to (glib-networking checks both against the database). */
        if (c->identity)
                g_tls_connection_set_certificate(c->tls, c->identity);
        g_tls_connection_set_database(c->tls, c->ca);
        g_tls_connection_set_require_close_notify(c->tls, FALSE);
        g_tls_connection_handshake_async(c->tls, G_PRIORITY_DEFAULT, c->cancellable, on_handshake, task);
}

void peer_link_connect_async(const char *uri, PeerTls *tls, char **allowed_patterns, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        g_autoptr(GSocketClient) client = NULL;
        Connect *c = g_new0(Connect, 1);
        GError *error = NULL;

        g_task_set_source_tag(task, peer_link_connect_async);
        g_task_set_task_data(task, c, (GDestroyNotify) connect_free);
        if (!peer_uri_parse(uri, &c->host, &c->port, &error))
                return connect_return(task, NULL, error);
        c->address = g_network_address_new(c->host, c->port);
        c->identity = tls->identity ? g_object_ref(tls->identity) : NULL;
        c->ca = g_object_ref(tls->ca);
        c->allowed = g_strdupv(allowed_patterns);
        c->cancellable = g_cancellable_new();
        if (cancellable) {
                c->caller = g_object_ref(cancellable);
                c->caller_handler = g_cancellable_connect(cancellable, G_CALLBACK(on_caller_cancelled), c, NULL);
        }
        c->timeout_ms = handshake_timeout(tls);
        c->timeout_id = g_timeout_add(c->timeout_ms, on_connect_timeout, c);
        client = g_socket_client_new();
        /* Straight to the peer: a system service consults no desktop proxy settings. */
        g_socket_client_set_enable_proxy(client, FALSE);
        g_socket_client_connect_async(client, c->address, c->cancellable, on_connected, task);
}

PeerLink *peer_link_connect_finish(GAsyncResult *result, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- server ---- */

typedef struct {
        GTlsConnection *tls;
        GTlsDatabase *ca;
        char **allowed;
        char *address;
        char *dn;
        char *reason;            /* why accept-certificate refused */
        gboolean accepted;
        GCancellable *cancellable;
        GCancellable *caller;
        gulong caller_handler;
        guint timeout_id;
        gboolean timed_out;
} Accept;

static void accept_free(Accept *a) {
        g_clear_handle_id(&a->timeout_id, g_source_remove);
        if (a->caller_handler)
                g_cancellable_disconnect(a->caller, a->caller_handler);
        if (a->tls)
                g_signal_handlers_disconnect_by_data(a->tls, a);
        g_clear_object(&a->tls);
        g_clear_object(&a->ca);
        g_clear_object(&a->caller);
        g_clear_object(&a->cancellable);
        g_strfreev(a->allowed);
        g_free(a->address);
        g_free(a->dn);
        g_free(a->reason);
        g_free(a);
}

/* The only place a client certificate is accepted. */
static gboolean on_accept_certificate(GTlsConnection *tls, GTlsCertificate *peer_cert, GTlsCertificateFlags errors,
                                      gpointer user_data) {
        Accept *a = user_data;
        g_autoptr(GError) error = NULL;
        GTlsCertificateFlags flags;

        g_free(a->dn);
        a->dn = peer_certificate_dn(peer_cert);
        flags = g_tls_database_verify_chain(a->ca, peer_cert, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_CLIENT, NULL,
                                            NULL, G_TLS_DATABASE_VERIFY_NONE, NULL, &error);
        if (error || flags != 0) {
                a->reason = g_strdup_printf("its certificate does not verify against our CA (%s%s0x%x)",
                                            error ? error->message : "", error ? ", flags " : "flags ", flags);
                return FALSE;
        }
        if (!peer_dn_allowed(a->dn, a->allowed)) {
                a->reason = g_strdup("its DN matches no pattern of [bridge] allowed_peers");
                return FALSE;
        }
        a->accepted = TRUE;
        return TRUE;
}

static GError *refusal(Accept *a, MdError code, const char *why) {
        return g_error_new(MD_ERROR, code, "Refused peer %s (%s): %s", a->address, a->dn ? a->dn : "no certificate",
                           why);
}

static void on_accept_handshake(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Accept *a = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        PeerLink *link;

        g_clear_handle_id(&a->timeout_id, g_source_remove);
        if (!g_tls_connection_handshake_finish(a->tls, result, &error)) {
                peer_tls_hard_close(G_IO_STREAM(a->tls));
                if (a->timed_out)
                        g_task_return_error(task, refusal(a, MD_ERROR_PEER_UNREACHABLE, "no TLS handshake within the time-out"));
                else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        g_task_return_error(task, g_steal_pointer(&error));
                else if (a->reason)
                        g_task_return_error(task, refusal(a, MD_ERROR_PEER_REJECTED, a->reason));
                else if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED)) {
                        g_autofree char *why = g_strdup_printf("it presented no certificate (%s)", error->message);
                        g_task_return_error(task, refusal(a, MD_ERROR_PEER_REJECTED, why));
                } else {
                        g_autofree char *why = g_strdup_printf("the TLS handshake failed (%s)", error->message);
                        g_task_return_error(task, refusal(a, error->domain == G_TLS_ERROR ? MD_ERROR_PEER_REJECTED
                                                                                         : MD_ERROR_PEER_UNREACHABLE,
                                                          why));
                }
                return;
        }
        /* Belt and braces: no link unless our handler said yes. */
        if (!a->accepted) {
                peer_tls_hard_close(G_IO_STREAM(a->tls));
                return g_task_return_error(task, refusal(a, MD_ERROR_PEER_REJECTED, "its certificate was not checked"));
        }
        link = peer_link_new(a->tls, TRUE, &error);
        if (!link)
                return g_task_return_error(task, g_steal_pointer(&error));
        g_task_return_pointer(task, link, (GDestroyNotify) peer_link_free);
}

static gboolean on_accept_timeout(gpointer user_data) {
        Accept *a = user_data;

        a->timeout_id = 0;
        a->timed_out = TRUE;
        g_cancellable_cancel(a->cancellable);
        return G_SOURCE_REMOVE;
}

static void on_accept_caller_cancelled(GCancellable *caller, gpointer user_data) {
        Accept *a = user_data;

        g_cancellable_cancel(a->cancellable);
}

void peer_link_accept_async(GIOStream *connection, PeerTls *tls, char **allowed_patterns, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        Accept *a = g_new0(Accept, 1);
        GError *error = NULL;

        g_task_set_source_tag(task, peer_link_accept_async);
        g_task_set_task_data(task, a, (GDestroyNotify) accept_free);
        a->address = peer_stream_address(connection);
        a->ca = g_object_ref(tls->ca);
        a->allowed = g_strdupv(allowed_patterns);
        set_nodelay(connection);
        a->tls = G_TLS_CONNECTION(g_tls_server_connection_new(connection, tls->identity, &error));
        if (!a->tls) {
                g_task_return_error(task, refusal(a, MD_ERROR_PEER_UNREACHABLE, error->message));
                g_error_free(error);
                g_object_unref(task);
                return;
        }
        g_object_set(a->tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, NULL);
        g_tls_connection_set_database(a->tls, a->ca);
        g_tls_connection_set_require_close_notify(a->tls, FALSE);
        g_signal_connect(a->tls, "accept-certificate", G_CALLBACK(on_accept_certificate), a);
        a->cancellable = g_cancellable_new();
        if (cancellable) {
                a->caller = g_object_ref(cancellable);
                a->caller_handler = g_cancellable_connect(cancellable, G_CALLBACK(on_accept_caller_cancelled), a, NULL);
        }
        a->timeout_id = g_timeout_add(handshake_timeout(tls), on_accept_timeout, a);
        g_tls_connection_handshake_async(a->tls, G_PRIORITY_DEFAULT, a->cancellable, on_accept_handshake, task);
}

PeerLink *peer_link_accept_finish(GAsyncResult *result, char **ret_peer_dn, GError **error) {
        Accept *a;

        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        a = g_task_get_task_data(G_TASK(result));
        if (ret_peer_dn)
                *ret_peer_dn = g_strdup(a->dn);
        return g_task_propagate_pointer(G_TASK(result), error);
}
