/* What the migration calls of the Domain (source phases, job controls) and
 * Manager (destination phases) interfaces share, and the destination's
 * handlers that PeerRelay reuses. Each vtable sits with its handlers:
 * bus-domain-migration.c, bus-manager-migration.c. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-internal.h"

/* A cookie, `ay`. */
int bus_read_bytes(sd_bus_message *m, GBytes **ret);
int bus_append_bytes(sd_bus_message *reply, GBytes *bytes);

/* The arguments of a *Params call after those it has of its own: a{sv}
 * params, then the cookie (when @ret_cookie), flags and cancelled (when
 * @ret_cancelled). The params are checked into *@ret_params, or NULL and
 * *@ret_params_error for the phase to report. < 0: the message is malformed. */
int bus_read_params_form(sd_bus_message *m, GBytes **ret_cookie, int *ret_cancelled,
                         MigrationParams **ret_params, GError **ret_params_error, sd_bus_error *error);

static inline const char *bus_empty_to_null(const char *s) {
        return s && *s ? s : NULL;
}

/* A reply sent from a callback: a failure to send is logged. */
void bus_reply_checked(int r);
void bus_reply_gerror_checked(sd_bus_message *m, const GError *error);

/* What every migration phase asks first: may the caller (polkit, the domain
 * and destination as details; the manager's phases name no domain), and
 * does this host speak the form of the call? 1: go on; 0: polkit is asked,
 * the message comes again; < 0: refused, in @error. */
int bus_open_migration_call(BusService *service, sd_bus_message *m, Domain *domain, const char *destination,
                            ProtocolMask protocol, sd_bus_error *error);

/* [migration] protocol_versions restricts what this host accepts:
 * MD_ERROR_PROTOCOL_MISMATCH otherwise. */
gboolean bus_protocol_accepted(MdConfig *config, ProtocolMask protocol, GError **error);

/* The Manager's destination phases; userdata is the BusService. PeerRelay
 * runs them for peers. */
int method_prepare3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_prepare3_params(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_finish3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_finish3_params(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_prepare2(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_finish2(sd_bus_message *m, void *userdata, sd_bus_error *error);
/* Finish2 relayed from a peer: its source (peer-to-peer) still holds the
 * guest paused and resumes it if Finish2 fails. */
int method_finish2_from_peer(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* The Domain's job signals, for the registry listener. */
void bus_domain_emit_job_stats_updated(Domain *domain, GVariant *stats, gpointer user_data);
void bus_domain_emit_job_completed(Domain *domain, GVariant *stats, gpointer user_data);
void bus_domain_emit_migration_iteration(Domain *domain, guint iteration, gpointer user_data);
