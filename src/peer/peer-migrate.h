/* Peer-to-peer migration: the source daemon drives the destination itself,
 * through the destination's migration-bridge over mutual TLS, with the same
 * inner code as managed mode (Begin, Perform and Confirm here; Prepare and
 * Finish there), after negotiating the protocol: 3 with extensible
 * parameters, else 3, else 2. */
#pragma once

#include <gio/gio.h>

#include "bus-service.h"
#include "domain.h"
#include "md-config.h"
#include "migration-params.h"

/* The forms of the migration protocol, best first. */
typedef enum {
        PEER_FORM_V3_PARAMS,
        PEER_FORM_V3,
        PEER_FORM_V2,
        PEER_FORM_NONE,        /* none both hosts accept */
} PeerProtocolForm;

/* The best form both this host (@config) and the peer (its
 * GetCapabilities answer, @caps) accept. */
PeerProtocolForm peer_protocol_choose(const MdConfig *config, GVariant *caps);
/* "3-params", "3", "2", or "" for PEER_FORM_NONE: as [migration] protocol_versions names them. */
const char *peer_protocol_name(PeerProtocolForm form);

/* Completes when the migration has ended (confirmed or rolled back).
 * Errors: the phase's own, MD_ERROR_PEER_UNREACHABLE, MD_ERROR_PEER_REJECTED,
 * MD_ERROR_PROTOCOL_MISMATCH (no common protocol, or a parameter the
 * chosen form cannot carry). */
void peer_migrate_async(BusService *service, Domain *domain, const char *dconnuri,
                           MigrationParams *params /* consumed */, GAsyncReadyCallback callback,
                           gpointer user_data);
gboolean peer_migrate_finish(GAsyncResult *result, GError **error);

/* ConnectPeer: opens (or reuses) the kept link to @uri and answers the
 * preflight, an a{sv} (see README, "Peer-to-peer migration"). Errors:
 * MD_ERROR_INVALID_ARGS (URI), MD_ERROR_UNSUPPORTED (no [tls]),
 * MD_ERROR_PEER_UNREACHABLE, MD_ERROR_PEER_REJECTED (TLS refused either
 * way: an untrusted peer, or one that does not allow us). */
void peer_connect_async(BusService *service, const char *uri, GAsyncReadyCallback callback, gpointer user_data);
GVariant *peer_connect_finish(GAsyncResult *result, GError **error);
