/* The source daemon's persistent peer links: one authenticated link per peer
 * (keyed by HOST:PORT of its migration+tls URI), shared by every migration
 * to that peer and by ConnectPeer, so that only the first pays the TCP
 * connect, the TLS handshake and the first round trip.
 *
 * A user holds a PeerLease while it uses the link. Two users asking at once
 * share one dial. A link that breaks (peer gone, keepalive, TLS error) is
 * forgotten at once, and every lease on it hears why; the next user dials
 * again. A link nobody leased for [peer] idle_timeout seconds is closed (0:
 * as soon as its last lease is gone, as before links were kept). */
#pragma once

#include "peer-link.h"

typedef struct PeerPool PeerPool;
typedef struct PeerLease PeerLease;
typedef void (*PeerLeaseLostFunc)(PeerLease *lease, const GError *error, gpointer user_data);

/* The dial, replaceable for the unit tests; the default is
 * peer_link_connect_async/_finish with the pool's identity. */
typedef void (*PeerPoolDialFunc)(PeerPool *pool, const char *uri, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
typedef PeerLink *(*PeerPoolDialFinishFunc)(GAsyncResult *result, GError **error);

/* @tls (nullable: every acquire fails as unsupported) must outlive the pool. */
PeerPool *peer_pool_new(PeerTls *tls, guint idle_timeout_s, guint keepalive_interval_ms, guint keepalive_timeout_ms);
void peer_pool_set_dial(PeerPool *pool, PeerPoolDialFunc dial, PeerPoolDialFinishFunc finish);
/* Closes every link; leases still held keep theirs until they are freed. */
void peer_pool_free(PeerPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerPool, peer_pool_free)

/* A lease on the link to @uri: the one kept, or a new one. Errors as
 * peer_link_connect_async's, MD_ERROR_INVALID_ARGS for a bad URI and
 * MD_ERROR_UNSUPPORTED without an identity. */
void peer_pool_acquire_async(PeerPool *pool, const char *uri, GAsyncReadyCallback callback, gpointer user_data);
PeerLease *peer_pool_acquire_finish(GAsyncResult *result, GError **error);

/* Links set up so far (dials that succeeded), and links kept now. */
guint peer_pool_get_dials(PeerPool *pool);
guint peer_pool_get_size(PeerPool *pool);

PeerLink *peer_lease_get_link(PeerLease *lease);
/* TRUE when the link existed before this lease was asked for. */
gboolean peer_lease_get_reused(PeerLease *lease);
/* Called once if the link breaks while leased; not after the lease is freed. */
void peer_lease_set_lost_func(PeerLease *lease, PeerLeaseLostFunc func, gpointer user_data);
/* Gives the link back; pending calls of the holder's must be gone already. */
void peer_lease_free(PeerLease *lease);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerLease, peer_lease_free)
