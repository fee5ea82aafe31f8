/* Peer-to-peer migration: the source daemon drives the destination itself,
 * through the destination's migration-bridge over mutual TLS, with the same
 * inner code as managed mode (Begin, Perform and Confirm here; Prepare and
 * Finish there), after negotiating the protocol: 3 with extensible
 * parameters, else 3, else 2. */
#pragma once

#include <gio/gio.h>

#include "bus-service.h"
#include "domain.h"
#include "migration-params.h"

/* Completes when the migration has ended (confirmed or rolled back).
 * Errors: the phase's own, MD_ERROR_PEER_UNREACHABLE, MD_ERROR_PEER_REJECTED,
 * MD_ERROR_PROTOCOL_MISMATCH (no common protocol, or a parameter the
 * chosen form cannot carry). */
void peer_migrate_async(BusService *service, Domain *domain, const char *dconnuri,
                           MigrationParams *params /* consumed */, GAsyncReadyCallback callback,
                           gpointer user_data);
gboolean peer_migrate_finish(GAsyncResult *result, GError **error);
