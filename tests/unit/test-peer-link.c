/* The peer link on loopback: mutual TLS with certificates made by certtool
 * at test time, D-Bus across it both ways, every refusal, keepalive and EOF.
 *
 *   test-peer-link [--tap]          the tests
 *   test-peer-link --serve DIR      a link server (for the keepalive test,
 *                                   which stops it with SIGSTOP) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "bus-glib.h"
#include "md-error.h"
#include "peer-link.h"

static char *certs;          /* NULL: certtool is missing, the TLS tests skip */
static const char *self;

/* ---- certificates ---- */

static gboolean certtool(GError **error, const char *const *argv) {
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        int status;

        g_ptr_array_add(args, (char *) "certtool");
        for (const char *const *a = argv; *a; a++)
                g_ptr_array_add(args, (char *) *a);
        g_ptr_array_add(args, NULL);
        if (!g_spawn_sync(certs, (char **) args->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, error))
                return FALSE;
        return g_spawn_check_wait_status(status, error);
}

/* NAME.pem + NAME.key; a CA when @ca is NULL, else signed by CA @ca. */
static void make_cert(const char *name, const char *cn, const char *ca) {
        g_autoptr(GError) error = NULL;
        g_autofree char *key = g_strconcat(name, ".key", NULL), *pem = g_strconcat(name, ".pem", NULL);
        g_autofree char *tmpl = g_strconcat(name, ".tmpl", NULL), *path = g_build_filename(certs, tmpl, NULL);
        g_autofree char *ca_pem = g_strconcat(ca ? ca : "", ".pem", NULL), *ca_key = g_strconcat(ca ? ca : "", ".key", NULL);
        g_autofree char *text = NULL;

        if (ca)
                text = g_strdup_printf("cn = \"%s\"\norganization = \"Example\"\ndns_name = \"localhost\"\n"
                                       "ip_address = \"127.0.0.1\"\ntls_www_server\ntls_www_client\n"
                                       "signing_key\nencryption_key\nexpiration_days = 2\n", cn);
        else
                text = g_strdup_printf("cn = \"%s\"\norganization = \"Example\"\nca\ncert_signing_key\n"
                                       "expiration_days = 2\n", cn);
        g_assert_true(g_file_set_contents(path, text, -1, &error));
        g_assert_true(certtool(&error, (const char *const[]) { "--generate-privkey", "--key-type=ecdsa",
                                                               "--outfile", key, NULL }));
        if (ca)
                g_assert_true(certtool(&error, (const char *const[]) {
                        "--generate-certificate", "--load-privkey", key, "--load-ca-certificate", ca_pem,
                        "--load-ca-privkey", ca_key, "--template", tmpl, "--outfile", pem, NULL }));
        else
                g_assert_true(certtool(&error, (const char *const[]) {
                        "--generate-self-signed", "--load-privkey", key, "--template", tmpl, "--outfile", pem,
                        NULL }));
        g_assert_no_error(error);
}

static void make_certs(void) {
        g_autofree char *tool = g_find_program_in_path("certtool");
        g_autoptr(GError) error = NULL;

        if (!tool)
                return;
        certs = g_dir_make_tmp("test-peer-link-XXXXXX", &error);
        g_assert_no_error(error);
        make_cert("ca", "Test CA", NULL);
        make_cert("host-a", "host-a", "ca");
        make_cert("host-b", "host-b", "ca");
        make_cert("ca2", "Other CA", NULL);
        make_cert("intruder", "intruder", "ca2");
}

static void remove_certs(void) {
        g_autoptr(GDir) dir = NULL;
        const char *entry;

        if (!certs || !(dir = g_dir_open(certs, 0, NULL)))
                return;
        while ((entry = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(certs, entry, NULL);
                g_unlink(path);
        }
        g_rmdir(certs);
        g_clear_pointer(&certs, g_free);
}

/* Identity NAME (NULL: none) trusting CA @ca. */
/* Generous: the checks are on outcomes, not on times. */
#define HANDSHAKE_MS 60000
#define DEADLINE_MS 90000

static PeerTls *load_tls(const char *name, const char *ca) {
        g_autoptr(GError) error = NULL;
        g_autofree char *ca_pem = g_strdup_printf("%s/%s.pem", certs, ca);
        g_autofree char *pem = g_strdup_printf("%s/%s.pem", certs, name ? name : "host-a");
        g_autofree char *key = g_strdup_printf("%s/%s.key", certs, name ? name : "host-a");
        PeerTls *tls = peer_tls_load(ca_pem, pem, key, &error);

        g_assert_no_error(error);
        /* Valgrind on a busy machine can take longer than the daemon's 10 s. */
        tls->handshake_timeout_ms = HANDSHAKE_MS;
        if (!name)
                g_clear_object(&tls->identity);
        return tls;
}

static gboolean need_certs(void) {
        if (!certs)
                g_test_skip("certtool (gnutls-bin) is missing");
        return certs != NULL;
}

/* ---- the main loop ---- */

static gboolean on_deadline(gpointer user_data) {
        *(gboolean *) user_data = TRUE;
        return G_SOURCE_REMOVE;
}

/* Iterates until *@flag, failing after @timeout_ms. */
static void wait_for(const gboolean *flag, guint timeout_ms, const char *what) {
        gboolean expired = FALSE;
        guint id = g_timeout_add(timeout_ms, on_deadline, &expired);

        while (!*flag && !expired)
                g_main_context_iteration(NULL, TRUE);
        if (!expired)
                g_source_remove(id);
        if (!*flag)
                g_error("Timed out waiting for %s", what);
}

/* ---- server and client ---- */

typedef struct {
        GSocketService *service;
        guint16 port;
        PeerTls *tls;
        char **allowed;
        PeerLink *link;
        GError *error;
        char *dn;
        gboolean done;
} Server;

static void on_server_accepted(GObject *source, GAsyncResult *result, gpointer user_data) {
        Server *s = user_data;

        s->link = peer_link_accept_finish(result, &s->dn, &s->error);
        s->done = TRUE;
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *connection, GObject *source,
                            gpointer user_data) {
        Server *s = user_data;

        peer_link_accept_async(G_IO_STREAM(connection), s->tls, s->allowed, NULL, on_server_accepted, s);
        return TRUE;
}

static void server_start(Server *s, PeerTls *tls, const char *const *allowed) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        g_autoptr(GSocketAddress) address = g_inet_socket_address_new(lo, 0), effective = NULL;

        s->tls = tls;
        s->allowed = g_strdupv((char **) allowed);
        s->service = g_socket_service_new();
        g_assert_true(g_socket_listener_add_address(G_SOCKET_LISTENER(s->service), address, G_SOCKET_TYPE_STREAM,
                                                    G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error));
        s->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
        g_signal_connect(s->service, "incoming", G_CALLBACK(on_incoming), s);
        g_socket_service_start(s->service);
}

static void server_stop(Server *s) {
        g_socket_service_stop(s->service);
        g_socket_listener_close(G_SOCKET_LISTENER(s->service));
        g_clear_object(&s->service);
        g_clear_pointer(&s->link, peer_link_free);
        g_clear_pointer(&s->tls, peer_tls_free);
        g_clear_error(&s->error);
        g_clear_pointer(&s->allowed, g_strfreev);
        g_clear_pointer(&s->dn, g_free);
}

typedef struct {
        PeerTls *tls;
        PeerLink *link;
        GError *error;
        gboolean done;
} Client;

static void on_client_connected(GObject *source, GAsyncResult *result, gpointer user_data) {
        Client *c = user_data;

        c->link = peer_link_connect_finish(result, &c->error);
        c->done = TRUE;
}

static void client_connect(Client *c, guint16 port, PeerTls *tls, const char *const *allowed) {
        g_autofree char *uri = g_strdup_printf("migration+tls://127.0.0.1:%u", port);

        c->tls = tls;
        peer_link_connect_async(uri, tls, (char **) allowed, NULL, on_client_connected, c);
        wait_for(&c->done, DEADLINE_MS, "the client to connect");
}

static void client_clear(Client *c) {
        g_clear_pointer(&c->link, peer_link_free);
        g_clear_pointer(&c->tls, peer_tls_free);
        g_clear_error(&c->error);
        c->done = FALSE;
}

typedef struct {
        GError *error;
        gint64 when;
        gboolean done;
} Closed;

static void on_closed(PeerLink *link, const GError *error, gpointer user_data) {
        Closed *c = user_data;

        g_assert_false(c->done);        /* once */
        c->error = error ? g_error_copy(error) : NULL;
        c->when = g_get_monotonic_time();
        c->done = TRUE;
}

/* ---- D-Bus across the link ---- */

static int method_echo(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *text;
        g_autofree char *reply = NULL;
        int r = sd_bus_message_read(m, "s", &text);

        if (r < 0)
                return r;
        reply = g_strdup_printf("%s:%s", (const char *) userdata, text);
        return sd_bus_reply_method_return(m, "s", reply);
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "s", "s", method_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

typedef struct {
        char *text;
        char *error_name;
        gboolean done;
} Reply;

static int on_echo_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Reply *reply = userdata;
        const char *text;

        if (sd_bus_message_is_method_error(m, NULL))
                reply->error_name = g_strdup(sd_bus_message_get_error(m)->name);
        else if (sd_bus_message_read(m, "s", &text) >= 0)
                reply->text = g_strdup(text);
        reply->done = TRUE;
        return 0;
}

/* Calls Echo(@text) on the other end of @link; returns the reply. */
static char *echo(PeerLink *link, const char *text) {
        Reply reply = { 0 };

        g_assert_cmpint(sd_bus_call_method_async(peer_link_get_bus(link), NULL, NULL, "/test", "org.example.Test",
                                                 "Echo", on_echo_reply, &reply, "s", text), >=, 0);
        wait_for(&reply.done, DEADLINE_MS, "the Echo reply");
        g_assert_null(reply.error_name);
        return reply.text;
}

/* A linked pair: server host-a, client host-b, both trusting ca. */
static void link_pair(Server *s, Client *c) {
        const char *const allowed[] = { "*CN=host-b", NULL };

        server_start(s, load_tls("host-a", "ca"), allowed);
        client_connect(c, s->port, load_tls("host-b", "ca"), (const char *const[]) { "*CN=host-a", NULL });
        g_assert_no_error(c->error);
        g_assert_nonnull(c->link);
        wait_for(&s->done, DEADLINE_MS, "the server to accept");
        g_assert_no_error(s->error);
        g_assert_nonnull(s->link);
}

static void test_call_both_ways(void) {
        Server s = { 0 };
        Client c = { 0 };
        g_autofree char *from_client = NULL, *from_server = NULL, *big = NULL, *big_reply = NULL;

        if (!need_certs())
                return;
        link_pair(&s, &c);
        g_assert_cmpstr(peer_link_get_peer_dn(s.link), ==, "O=Example,CN=host-b");
        g_assert_cmpstr(s.dn, ==, "O=Example,CN=host-b");
        g_assert_cmpstr(peer_link_get_peer_dn(c.link), ==, "O=Example,CN=host-a");
        g_assert_true(g_str_has_prefix(peer_link_get_peer_address(s.link), "127.0.0.1:"));

        g_assert_cmpint(sd_bus_add_object_vtable(peer_link_get_bus(s.link), NULL, "/test", "org.example.Test",
                                                 echo_vtable, (void *) "server"), >=, 0);
        g_assert_cmpint(sd_bus_add_object_vtable(peer_link_get_bus(c.link), NULL, "/test", "org.example.Test",
                                                 echo_vtable, (void *) "client"), >=, 0);
        from_client = echo(c.link, "hello");
        g_assert_cmpstr(from_client, ==, "server:hello");
        from_server = echo(s.link, "hi");
        g_assert_cmpstr(from_server, ==, "client:hi");

        /* Bigger than the socket buffers and the pump: partial writes. */
        big = g_strnfill(2 * 1024 * 1024, 'x');
        big_reply = echo(c.link, big);
        g_assert_cmpuint(strlen(big_reply), ==, strlen(big) + strlen("server:"));

        client_clear(&c);
        server_stop(&s);
}

/* The client's refusal or the server's, as each side sees it. */
static void expect_refused(const char *client_id, const char *client_ca, const char *const *client_allowed,
                           const char *server_id, const char *server_ca, const char *const *server_allowed,
                           const char *server_mentions) {
        Server s = { 0 };
        Client c = { 0 };

        server_start(&s, load_tls(server_id, server_ca), server_allowed);
        client_connect(&c, s.port, load_tls(client_id, client_ca), client_allowed);
        g_assert_null(c.link);
        g_assert_error(c.error, MD_ERROR, MD_ERROR_PEER_REJECTED);
        g_test_message("client: %s", c.error->message);
        wait_for(&s.done, DEADLINE_MS, "the server to decide");
        /* When the client refuses, the server may have accepted already. */
        g_test_message("server: %s", s.error ? s.error->message : "accepted");
        if (server_mentions) {
                g_assert_null(s.link);
                g_assert_error(s.error, MD_ERROR, MD_ERROR_PEER_REJECTED);
                g_assert_nonnull(strstr(s.error->message, "127.0.0.1:"));
                g_assert_nonnull(strstr(s.error->message, server_mentions));
        }
        client_clear(&c);
        server_stop(&s);
}

static const char *const anyone[] = { "*", NULL };

static void test_client_other_ca(void) {
        if (need_certs())
                expect_refused("intruder", "ca", NULL, "host-a", "ca", anyone, "CN=intruder");
}

static void test_client_dn_not_allowed(void) {
        if (need_certs())
                expect_refused("host-b", "ca", NULL, "host-a", "ca", (const char *const[]) { "*CN=host-c", NULL },
                               "allowed_peers");
}

static void test_empty_allow_list(void) {
        if (need_certs())
                expect_refused("host-b", "ca", NULL, "host-a", "ca", (const char *const[]) { NULL }, "CN=host-b");
}

static void test_no_client_certificate(void) {
        if (need_certs())
                expect_refused(NULL, "ca", NULL, "host-a", "ca", anyone, "no certificate");
}

static void test_server_other_ca(void) {
        if (need_certs())
                expect_refused("host-b", "ca", NULL, "intruder", "ca2", anyone, NULL);
}

static void test_server_dn_not_allowed(void) {
        if (need_certs())
                expect_refused("host-b", "ca", (const char *const[]) { "*CN=host-c", NULL }, "host-a", "ca", anyone,
                               NULL);
}

static void test_unreachable(void) {
        Client c = { 0 };
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        g_autoptr(GSocketAddress) address = g_inet_socket_address_new(lo, 0), bound = NULL;
        guint16 port;

        if (!need_certs())
                return;
        /* A port that is bound but not listening: connection refused. */
        socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
        g_assert_true(g_socket_bind(socket, address, FALSE, NULL));
        bound = g_socket_get_local_address(socket, NULL);
        port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
        client_connect(&c, port, load_tls("host-b", "ca"), NULL);
        g_assert_error(c.error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        g_assert_nonnull(strstr(c.error->message, "127.0.0.1"));
        client_clear(&c);
}

static gboolean on_cancel(gpointer user_data) {
        g_cancellable_cancel(user_data);
        return G_SOURCE_REMOVE;
}

/* A server that accepts TCP and never speaks TLS: the caller's cancel ends
 * the wait (CANCELLED, not the handshake's own timeout; no time bound here:
 * a loaded sanitizer build took 2.01 s). */
static void test_cancel(void) {
        g_autoptr(GSocketListener) listener = g_socket_listener_new();
        g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        g_autoptr(GSocketAddress) address = g_inet_socket_address_new(lo, 0), effective = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autofree char *uri = NULL;
        Client c = { 0 };

        if (!need_certs())
                return;
        g_assert_true(g_socket_listener_add_address(listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                    NULL, &effective, NULL));
        uri = g_strdup_printf("migration+tls://127.0.0.1:%u",
                              g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective)));
        c.tls = load_tls("host-b", "ca");
        peer_link_connect_async(uri, c.tls, NULL, cancellable, on_client_connected, &c);
        g_timeout_add(200, on_cancel, cancellable);
        wait_for(&c.done, DEADLINE_MS, "the cancelled connect");
        g_assert_error(c.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        client_clear(&c);

        /* A malformed URI fails without a connection. */
        c.tls = load_tls("host-b", "ca");
        peer_link_connect_async("tcp://127.0.0.1:1", c.tls, NULL, NULL, on_client_connected, &c);
        wait_for(&c.done, DEADLINE_MS, "the refused URI");
        g_assert_error(c.error, MD_ERROR, MD_ERROR_INVALID_ARGS);
        client_clear(&c);
}

/* Freeing one end closes the other, once, as PeerUnreachable. */
static void test_eof_closes(void) {
        Server s = { 0 };
        Client c = { 0 };
        Closed client_closed = { 0 }, server_closed = { 0 };

        if (!need_certs())
                return;
        link_pair(&s, &c);
        peer_link_set_closed_func(c.link, on_closed, &client_closed);
        g_clear_pointer(&s.link, peer_link_free);
        wait_for(&client_closed.done, DEADLINE_MS, "the client to see EOF");
        g_assert_error(client_closed.error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        g_clear_error(&client_closed.error);
        client_clear(&c);
        server_stop(&s);

        /* And the other way round. */
        memset(&s, 0, sizeof s);
        link_pair(&s, &c);
        peer_link_set_closed_func(s.link, on_closed, &server_closed);
        client_clear(&c);
        wait_for(&server_closed.done, DEADLINE_MS, "the server to see EOF");
        g_assert_error(server_closed.error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        g_clear_error(&server_closed.error);
        server_stop(&s);
}

static void on_handshaken(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        g_assert_true(g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &error));
        *(gboolean *) user_data = TRUE;
}

/* Server side: a client that completes the TLS handshake, then neither
 * reads nor writes. */
static void test_keepalive_server_side(void) {
        Server s = { 0 };
        Closed closed = { 0 };
        g_autoptr(PeerTls) client_tls = NULL;
        g_autoptr(GSocketClient) sc = g_socket_client_new();
        g_autoptr(GSocketConnection) connection = NULL;
        g_autoptr(GIOStream) tls = NULL;
        g_autoptr(GSocketConnectable) server = NULL;
        g_autoptr(GError) error = NULL;
        gboolean handshaken = FALSE;
        gint64 start;

        if (!need_certs())
                return;
        server_start(&s, load_tls("host-a", "ca"), anyone);
        client_tls = load_tls("host-b", "ca");
        server = g_network_address_new("127.0.0.1", s.port);
        g_socket_client_set_enable_proxy(sc, FALSE);
        connection = g_socket_client_connect(sc, server, NULL, &error);
        g_assert_no_error(error);
        tls = g_tls_client_connection_new(G_IO_STREAM(connection), server, &error);
        g_assert_no_error(error);
        g_tls_connection_set_certificate(G_TLS_CONNECTION(tls), client_tls->identity);
        g_tls_connection_set_database(G_TLS_CONNECTION(tls), client_tls->ca);
        /* Not the blocking handshake: the server decides on this main loop. */
        g_tls_connection_handshake_async(G_TLS_CONNECTION(tls), G_PRIORITY_DEFAULT, NULL, on_handshaken, &handshaken);
        wait_for(&handshaken, DEADLINE_MS, "the client's handshake");
        wait_for(&s.done, DEADLINE_MS, "the server to accept");
        g_assert_no_error(s.error);

        start = g_get_monotonic_time();
        peer_link_set_closed_func(s.link, on_closed, &closed);
        peer_link_set_keepalive(s.link, 100, 600);
        wait_for(&closed.done, 5000, "the keepalive to give up");
        g_assert_error(closed.error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        g_test_message("after %" G_GINT64_FORMAT " ms: %s", (closed.when - start) / 1000, closed.error->message);
        g_assert_cmpint(closed.when - start, >=, 550 * 1000);
        g_assert_cmpint(closed.when - start, <, 3000 * 1000);   /* a busy machine */
        g_clear_error(&closed.error);
        server_stop(&s);
}

/* Client side: the server process stops (SIGSTOP) after the link is up. */
static void test_keepalive_client_side(void) {
        const char *argv[] = { self, "--serve", certs, NULL };
        Client c = { 0 };
        Closed closed = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(GIOChannel) out = NULL;
        g_autofree char *line = NULL;
        GPid pid;
        int out_fd, status;
        gint64 start;

        if (!need_certs())
                return;
        g_assert_true(g_spawn_async_with_pipes(NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                               &pid, NULL, &out_fd, NULL, &error));
        out = g_io_channel_unix_new(out_fd);
        g_io_channel_set_close_on_unref(out, TRUE);
        g_assert_cmpint(g_io_channel_read_line(out, &line, NULL, NULL, &error), ==, G_IO_STATUS_NORMAL);

        client_connect(&c, (guint16) atoi(line), load_tls("host-b", "ca"), NULL);
        g_assert_no_error(c.error);
        peer_link_set_closed_func(c.link, on_closed, &closed);
        peer_link_set_keepalive(c.link, 200, 1500);
        /* Still alive while the server answers, longer than the time-out. */
        {
                gboolean later = FALSE;
                g_timeout_add(2000, on_deadline, &later);
                wait_for(&later, 5000, "a while");
                if (closed.done)
                        g_error("The link closed while the server answered: %s", closed.error->message);
        }
        kill(pid, SIGSTOP);
        start = g_get_monotonic_time();
        wait_for(&closed.done, 5000, "the keepalive to give up");
        g_assert_error(closed.error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        g_test_message("after %" G_GINT64_FORMAT " ms: %s", (closed.when - start) / 1000, closed.error->message);
        g_assert_cmpint(closed.when - start, <, 3000 * 1000);   /* time-out + slack for a busy machine */
        g_clear_error(&closed.error);
        client_clear(&c);
        kill(pid, SIGKILL);
        kill(pid, SIGCONT);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_spawn_close_pid(pid);
}

static int serve(const char *dir) {
        Server s = { 0 };

        /* Dies with the test, also when an assertion aborts it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                return 1;

        certs = g_strdup(dir);
        server_start(&s, load_tls("host-a", "ca"), anyone);
        printf("%u\n", s.port);
        fflush(stdout);
        for (;;) {
                g_main_context_iteration(NULL, TRUE);
                if (s.done) {   /* keep the link, serve the next */
                        s.done = FALSE;
                        s.link = NULL;
                        g_clear_error(&s.error);
                }
        }
        return 0;
}

/* ---- the parsers and the TLS files ---- */

static void test_uri_parse(void) {
        static const struct {
                const char *uri, *host;
                guint16 port;
        } good[] = {
                { "migration+tls://host-b", "host-b", 16519 },
                { "migration+tls://host-b:1234", "host-b", 1234 },
                { "migration+tls://host-b.example.org:1/", "host-b.example.org", 1 },
                { "migration+tls://192.0.2.1", "192.0.2.1", 16519 },
                { "migration+tls://[2001:db8::1]:65535", "2001:db8::1", 65535 },
                { "MIGRATION+TLS://h", "h", 16519 },
        };
        static const char *const bad[] = {
                "", "host-b", "tcp://host-b:1", "migration+tls://", "migration+tls://:5",
                "migration+tls://host-b:0", "migration+tls://host-b:65536", "migration+tls://user@host-b",
                "migration+tls://host-b/system", "migration+tls://host-b?x=1", "migration+tls://host-b#f",
                "migration+tls://ho st", "migration+tls://-host", "migration+tls://a..b",
                "migration+tls://2001:db8::1",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autofree char *host = NULL;
                guint16 port = 0;
                g_autoptr(GError) error = NULL;

                g_assert_true(peer_uri_parse(good[i].uri, &host, &port, &error));
                g_assert_no_error(error);
                g_assert_cmpstr(host, ==, good[i].host);
                g_assert_cmpuint(port, ==, good[i].port);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;

                g_assert_false(peer_uri_parse(bad[i], NULL, NULL, &error));
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                g_assert_nonnull(strstr(error->message, "migration+tls://HOST"));
        }
}

static void test_listen_parse(void) {
        static const struct {
                const char *listen, *address;
        } good[] = {
                { "127.0.0.1:16519", "127.0.0.1:16519" },
                { "0.0.0.0", "0.0.0.0:16519" },
                { "[::1]:1", "[::1]:1" },
                { "::", "[::]:16519" },
        };
        static const char *const bad[] = { "", "localhost:1", "127.0.0.1:0", "127.0.0.1:x", "1.2.3.4:70000",
                                           "/run/socket", "[::1" };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autoptr(GSocketAddress) address = NULL;
                g_autoptr(GError) error = NULL;
                g_autofree char *text = NULL;

                g_assert_true(peer_listen_parse(good[i].listen, &address, &error));
                g_assert_no_error(error);
                text = g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(address));
                g_assert_cmpstr(text, ==, good[i].address);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;

                g_assert_false(peer_listen_parse(bad[i], NULL, &error));
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                g_assert_nonnull(strstr(error->message, "[bridge] listen"));
        }
}

static void test_dn_allowed(void) {
        char *none[] = { NULL };
        char *empty_items[] = { "", " ", NULL };
        char *patterns[] = { " O=Example,CN=host-a ", "*,CN=host-b", "CN=x?", NULL };

        g_assert_false(peer_dn_allowed("O=Example,CN=host-a", NULL));
        g_assert_false(peer_dn_allowed("O=Example,CN=host-a", none));
        g_assert_false(peer_dn_allowed("O=Example,CN=host-a", empty_items));
        g_assert_false(peer_dn_allowed(NULL, patterns));
        g_assert_true(peer_dn_allowed("O=Example,CN=host-a", patterns));
        g_assert_true(peer_dn_allowed("O=Other,CN=host-b", patterns));
        g_assert_true(peer_dn_allowed("CN=x1", patterns));
        g_assert_false(peer_dn_allowed("CN=x12", patterns));
        g_assert_false(peer_dn_allowed("O=Example,CN=host-ab", patterns));
        g_assert_false(peer_dn_allowed("O=Example,CN=host-b,OU=x", patterns));
        g_assert_false(peer_dn_allowed("\xff", patterns));
}

static void test_tls_load_errors(void) {
        g_autofree char *ca = NULL, *pem = NULL, *key = NULL, *missing = NULL;
        g_autoptr(GError) error = NULL;
        PeerTls *tls;

        if (!need_certs())
                return;
        ca = g_build_filename(certs, "ca.pem", NULL);
        pem = g_build_filename(certs, "host-a.pem", NULL);
        key = g_build_filename(certs, "host-a.key", NULL);
        missing = g_build_filename(certs, "missing.pem", NULL);

        tls = peer_tls_load(missing, pem, key, &error);
        g_assert_null(tls);
        g_assert_nonnull(strstr(error->message, missing));
        g_clear_error(&error);
        tls = peer_tls_load(ca, missing, key, &error);
        g_assert_null(tls);
        g_assert_nonnull(strstr(error->message, missing));
        g_clear_error(&error);
        tls = peer_tls_load(ca, pem, missing, &error);
        g_assert_null(tls);
        g_assert_nonnull(strstr(error->message, missing));
        g_clear_error(&error);
        /* A key that is not the certificate's own key. */
        tls = peer_tls_load(ca, key, key, &error);
        g_assert_null(tls);
        g_assert_nonnull(strstr(error->message, key));
}

int main(int argc, char **argv) {
        int status;

        self = argv[0];
        if (argc == 3 && g_str_equal(argv[1], "--serve"))
                return serve(argv[2]);
        g_test_init(&argc, &argv, NULL);
        make_certs();
        g_test_add_func("/peer/uri-parse", test_uri_parse);
        g_test_add_func("/peer/listen-parse", test_listen_parse);
        g_test_add_func("/peer/dn-allowed", test_dn_allowed);
        g_test_add_func("/peer/tls-load-errors", test_tls_load_errors);
        g_test_add_func("/peer/call-both-ways", test_call_both_ways);
        g_test_add_func("/peer/refused/client-other-ca", test_client_other_ca);
        g_test_add_func("/peer/refused/client-dn-not-allowed", test_client_dn_not_allowed);
        g_test_add_func("/peer/refused/empty-allow-list", test_empty_allow_list);
        g_test_add_func("/peer/refused/no-client-certificate", test_no_client_certificate);
        g_test_add_func("/peer/refused/server-other-ca", test_server_other_ca);
        g_test_add_func("/peer/refused/server-dn-not-allowed", test_server_dn_not_allowed);
        g_test_add_func("/peer/unreachable", test_unreachable);
        g_test_add_func("/peer/cancel", test_cancel);
        g_test_add_func("/peer/eof-closes", test_eof_closes);
        g_test_add_func("/peer/keepalive/server-side", test_keepalive_server_side);
        g_test_add_func("/peer/keepalive/client-side", test_keepalive_client_side);
        status = g_test_run();
        remove_certs();
        return status;
}
