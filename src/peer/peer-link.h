/* D-Bus between two hosts over mutual TLS (GIO's TLS, glib-networking).
 *
 * The D-Bus wire protocol itself runs over the TLS stream: sd-bus gets one
 * end of a socketpair, and GLib pumps bytes between the other end and the
 * TLS connection. No framing of our own.
 *
 * Used by migration-bridge (server side: one connection per peer) and by
 * migrationd (client side: the source of a peer-to-peer migration). */
#pragma once

#include <gio/gio.h>
#include <systemd/sd-bus.h>

#define PEER_URI_SCHEME "migration+tls"
#define PEER_DEFAULT_PORT 16519
/* Connect + TLS handshake (+ the first D-Bus round trip, client side) must
 * be done within this time, unless PeerTls says otherwise. */
#define PEER_HANDSHAKE_TIMEOUT_MS 10000

/* The x509 identity of this host: the same files serve as TLS server
 * (bridge) and client (source daemon). */
typedef struct {
        GTlsCertificate *identity;   /* certificate + key */
        GTlsDatabase *ca;            /* anchors: peers must chain to this CA */
        guint handshake_timeout_ms;  /* PEER_HANDSHAKE_TIMEOUT_MS; tests under valgrind need more */
} PeerTls;

/* Loads [tls] ca/cert/key; a clear error naming the file otherwise. */
PeerTls *peer_tls_load(const char *ca_file, const char *cert_file, const char *key_file, GError **error);
void peer_tls_free(PeerTls *tls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerTls, peer_tls_free)

/* The certificate's subject DN as a string ("CN=host.example,O=Example"),
 * in the form allowed_peers patterns match against. */
char *peer_certificate_dn(GTlsCertificate *cert);
/* TRUE when @dn matches one of the ';'-separated glob patterns (empty list:
 * nobody). */
gboolean peer_dn_allowed(const char *dn, char **patterns);

/* Parses migration+tls://HOST[:PORT]; MD_ERROR_INVALID_ARGS otherwise. */
gboolean peer_uri_parse(const char *uri, char **ret_host, guint16 *ret_port, GError **error);
/* Parses [bridge] listen: IP[:PORT] (IPv6 in brackets), port 1-65535,
 * default PEER_DEFAULT_PORT; MD_ERROR_INVALID_ARGS otherwise. */
gboolean peer_listen_parse(const char *listen, GSocketAddress **ret_address, GError **error);

typedef struct PeerLink PeerLink;
typedef void (*PeerLinkClosedFunc)(PeerLink *link, const GError *error, gpointer user_data);

/* Client: connects to the bridge at @uri, TLS handshake with our identity,
 * verifies the server chains to our CA and (if @allowed_patterns is not
 * NULL) that its DN is allowed, then returns a link whose sd-bus connection
 * (peer_link_get_bus) is started, attached to the GLib main loop, and
 * talks to the bridge's objects. Errors: MD_ERROR_PEER_UNREACHABLE (connect,
 * time-out), MD_ERROR_PEER_REJECTED (TLS refused either way). */
void peer_link_connect_async(const char *uri, PeerTls *tls, char **allowed_patterns,
                             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
PeerLink *peer_link_connect_finish(GAsyncResult *result, GError **error);

/* The link over any pollable stream whose peer is already known as
 * @peer_dn: what connect and accept do after the handshake; the bridge's
 * fuzz target uses it on a plain socket. With @server, sd-bus is a started
 * server-side bus (sd_bus_set_server); attached to the GLib main loop. */
PeerLink *peer_link_new_for_stream(GIOStream *stream, const char *peer_dn, gboolean server, GError **error);
/* Server: TLS on an accepted connection, handshake within
 * PEER_HANDSHAKE_TIMEOUT_MS; the client must present a certificate that
 * chains to our CA (checked for client authentication) and whose DN matches
 * @allowed_patterns (NULL or empty: nobody). Returns the server link.
 * Errors: MD_ERROR_PEER_REJECTED (message names the peer's address and DN),
 * MD_ERROR_PEER_UNREACHABLE (time-out, I/O). @ret_peer_dn (nullable) gets
 * the client's DN whenever it was seen, also on refusal. */
void peer_link_accept_async(GIOStream *connection, PeerTls *tls, char **allowed_patterns,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
PeerLink *peer_link_accept_finish(GAsyncResult *result, char **ret_peer_dn, GError **error);

sd_bus *peer_link_get_bus(PeerLink *link);
const char *peer_link_get_peer_dn(PeerLink *link);
/* "ADDRESS:PORT" of the other end, for logs. */
const char *peer_link_get_peer_address(PeerLink *link);
/* Keepalive: Peer.Ping every interval; when no answer comes within
 * @timeout_ms the link closes with MD_ERROR_PEER_UNREACHABLE. */
void peer_link_set_keepalive(PeerLink *link, guint interval_ms, guint timeout_ms);
/* TRUE once the transport is down (before the closed func hears of it). */
gboolean peer_link_is_closed(PeerLink *link);
/* Called once when the link is gone (peer closed, TLS error, keepalive). */
void peer_link_set_closed_func(PeerLink *link, PeerLinkClosedFunc func, gpointer user_data);
void peer_link_free(PeerLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerLink, peer_link_free)
