/* Shared by peer-migrate.c (the phases of one peer-to-peer migration) and
 * peer-migrate-call.c (its calls to the peer) only. */
#pragma once

#include <systemd/sd-bus.h>

#include "migration-params.h"
#include "peer-migrate.h"
#include "peer-pool.h"

/* One peer-to-peer migration in flight. */
typedef struct {
        GTask *task;
        DomainRef *ref;
        MigrationParams *params;     /* the caller's; each phase gets a copy */
        char *dconnuri;
        PeerPool *pool;
        PeerLease *lease;            /* the link to the peer, shared with other migrations */
        gboolean redialed;           /* a kept link that was found broken was replaced */
        gboolean negotiating;        /* GetCapabilities runs: nothing started yet */
        PeerProtocolForm form;
        char *xml;                   /* from Begin, for Prepare */
        GBytes *cookie;              /* the latest cookie */
        char *uri;                   /* from Prepare, for Perform */
        gboolean performed2;         /* protocol 2: Perform2 left our job for Finish2 to decide */
        guint64 job_serial;          /* our source job (Begin3's or Perform2's); 0: none yet */
        gboolean finish_unanswered;  /* Finish ran there, or not: its answer was lost */
        char *incoming_name;         /* the guest's name there, for AbortIncoming */
        guint64 call_timeout_usec;   /* [peer] call_timeout: each call's answer within this */
        gint64 busy_since;           /* monotonic: the bridge first refused this call as busy */
        GError *error;               /* the first failure: what the caller gets */
        sd_bus_slot *slot;
} P2P;

/* peer-migrate.c */

/* Ends the migration: the caller hears of p->error, or of success. */
void p2p_done(P2P *p);
/* Keeps the first failure (what the caller gets); takes @error. */
void p2p_fail(P2P *p, GError *error);
/* A failed Prepare releases the source job: Confirm cancelled (protocol 2: none yet). */
void p2p_prepare_failed(P2P *p);

/* peer-migrate-call.c */

/* A peer's answer as our own error, by name. */
GError *p2p_error_from_reply(sd_bus_message *reply, const char *what);
int p2p_append_bytes(sd_bus_message *m, GBytes *bytes);
int p2p_read_bytes(sd_bus_message *m, GBytes **ret);
/* A call of @member to the peer's Manager, or NULL (out of memory). */
sd_bus_message *p2p_new_call(P2P *p, const char *member);
/* Sends @m (consumed; @r: how building it went) with @callback for the
 * answer; @otherwise runs when the call cannot even be sent (the link is
 * gone): the failure rules still need their local steps. */
void p2p_call_or_fail(P2P *p, sd_bus_message *m, int r, sd_bus_message_handler_t callback, const char *what,
                      void (*otherwise)(P2P *p));
/* TRUE when @reply is the bridge's refusal of a busy link and @again will
 * send the call @what once more (see peer-migrate-call.c). */
gboolean p2p_retry_if_busy(P2P *p, sd_bus_message *reply, const char *what, void (*again)(P2P *p));
/* TRUE when Prepare's @reply was lost (time-out) or unreadable, so that an
 * incoming job may wait there for a Finish that will not come. */
gboolean p2p_prepare_answer_lost(sd_bus_message *reply);
/* Asks the peer to abort the incoming migration of p->incoming_name and
 * awaits its answer, then p2p_prepare_failed(). */
void p2p_abort_incoming(P2P *p);
