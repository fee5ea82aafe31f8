/* Shared by peer-link.c and peer-handshake.c only. */
#pragma once

#include "peer-link.h"

/* Wraps a handshaken TLS connection: sd-bus on one end of a socket pair
 * (server or client side), the other end pumped to and from the TLS
 * streams. */
PeerLink *peer_link_new(GTlsConnection *tls, gboolean server, GError **error);

/* "ADDRESS:PORT" of the other end of @stream (a GSocketConnection or
 * something wrapping one), or "unknown address". */
char *peer_stream_address(GIOStream *stream);

/* Closes the TCP connection under @stream (TLS or not) at once, without a
 * TLS close_notify (which could block on a peer that does not read). */
void peer_tls_hard_close(GIOStream *stream);
