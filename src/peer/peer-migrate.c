#define G_LOG_DOMAIN "migrationd"

#include "bus-glib.h"
#include "peer-migrate.h"
#include "bus-service.h"
#include "bus-variant.h"
#include "md-error.h"
#include "migration-job.h"
#include "migration.h"
#include "peer-pool.h"

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
        gboolean finish_unanswered;  /* Finish ran there, or not: its answer was lost */
        char *incoming_name;         /* the guest's name there, for AbortIncoming */
        guint64 call_timeout_usec;   /* [peer] call_timeout: each call's answer within this */
        gint64 busy_since;           /* monotonic: the bridge first refused this call as busy */
        GError *error;               /* the first failure: what the caller gets */
        sd_bus_slot *slot;
} P2P;

static void p2p_free(P2P *p) {
        sd_bus_slot_unref(p->slot);
        domain_ref_free(p->ref);
        migration_params_free(p->params);
        g_free(p->dconnuri);
        peer_lease_free(p->lease);
        g_free(p->xml);
        if (p->cookie)
                g_bytes_unref(p->cookie);
        g_free(p->uri);
        g_free(p->incoming_name);
        g_clear_error(&p->error);
        g_free(p);
}

static MigrationParams *params_copy(const MigrationParams *src) {
        MigrationParams *p = g_new0(MigrationParams, 1);

        migration_params_fill_from(p, src);
        return p;
}

static void p2p_done(P2P *p) {
        if (p->error)
                g_task_return_error(p->task, g_steal_pointer(&p->error));
        else
                g_task_return_boolean(p->task, TRUE);
        g_clear_object(&p->task);
        /* This may run inside a callback of the link's own bus: free it later. */
        p->slot = sd_bus_slot_unref(p->slot);
        if (p->lease)
                peer_lease_set_lost_func(p->lease, NULL, NULL);
        g_idle_add_once((GSourceOnceFunc) p2p_free, p);
}

static void p2p_fail(P2P *p, GError *error) {
        if (!p->error)
                p->error = error;
        else
                g_error_free(error);
}

/* A peer's answer as our own error, by name. */
static GError *error_from_reply(sd_bus_message *reply, const char *what) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        MdError code = md_error_from_bus_name(e->name);

        if (code == _MD_ERROR_MAX)
                code = sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED)
                        ? MD_ERROR_PEER_UNREACHABLE : MD_ERROR_MIGRATION_FAILED;
        return g_error_new(MD_ERROR, code, "%s on the destination failed: %s", what,
                           e->message ? e->message : e->name);
}

static int append_bytes(sd_bus_message *m, GBytes *bytes) {
        gsize size = 0;
        const void *data = bytes ? g_bytes_get_data(bytes, &size) : NULL;

        return sd_bus_message_append_array(m, 'y', data ? data : "", size);
}

static int read_bytes(sd_bus_message *m, GBytes **ret) {
        const void *data = NULL;
        size_t size = 0;
        int r = sd_bus_message_read_array(m, 'y', &data, &size);

        if (r >= 0)
                *ret = g_bytes_new(data, size);
        return r;
}

static sd_bus *peer_bus(P2P *p) {
        return peer_link_get_bus(peer_lease_get_link(p->lease));
}

static sd_bus_message *new_call(P2P *p, const char *member) {
        sd_bus_message *m = NULL;

        if (sd_bus_message_new_method_call(peer_bus(p), &m, NULL, MANAGER_PATH,
                                           MANAGER_INTERFACE, member) < 0)
                return NULL;
        return m;
}

/* @otherwise runs when the call cannot even be sent (the link is gone):
 * the failure rules still need their local steps. */
static void call_or_fail(P2P *p, sd_bus_message *m, int r, sd_bus_message_handler_t callback, const char *what,
                         void (*otherwise)(P2P *p)) {
        if (r >= 0)
                r = sd_bus_call_async(peer_bus(p), &p->slot, m, callback, p, p->call_timeout_usec);
        sd_bus_message_unref(m);
        if (r < 0) {
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE, "Failed to send %s to the peer: %s",
                                        what, g_strerror(-r)));
                otherwise(p);
        }
}

/* The peer's bridge refuses a call beyond its calls in flight per link
 * before relaying it: every migration to that peer shares the kept link,
 * so one refused is sent again once there is room (within the call's own
 * time-out, counted from the first refusal), not given up (a Finish or an
 * AbortIncoming given up would leave the incoming QEMU there waiting on a
 * link that stays open). */
static void prepare(P2P *p);
static void finish(P2P *p);

#define BUSY_RETRY_MSEC 1000

static gboolean retry_if_busy(P2P *p, sd_bus_message *reply, const char *what, void (*again)(P2P *p)) {
        gint64 now = g_get_monotonic_time();

        if (!sd_bus_error_has_name(sd_bus_message_get_error(reply), SD_BUS_ERROR_LIMITS_EXCEEDED) ||
            (p->busy_since && now + BUSY_RETRY_MSEC * 1000 - p->busy_since > (gint64) p->call_timeout_usec)) {
                p->busy_since = 0;
                return FALSE;
        }
        if (!p->busy_since)
                p->busy_since = now;
        g_message("The bridge of %s is busy; %s again in %u ms", p->dconnuri, what, BUSY_RETRY_MSEC);
        g_timeout_add_once(BUSY_RETRY_MSEC, (GSourceOnceFunc) again, p);
        return TRUE;
}

/* ---- 5: Confirm (here) ---- */

static void on_confirmed(GObject *source, GAsyncResult *result, gpointer user_data) {
        P2P *p = user_data;
        GError *error = NULL;

        if (!migration_confirm_finish(result, &error))
                p2p_fail(p, error);
        p2p_done(p);
}

static void confirm(P2P *p) {
        Domain *d = domain_ref_get(p->ref);

        /* A failed Perform2 ended its own job, or started none (a job there
         * now is someone else's): nothing to confirm; its error says why. */
        if (d && p->form == PEER_FORM_V2 && !p->performed2) {
                p2p_done(p);
                return;
        }
        /* The job ended without this Confirm (the guest's QEMU exited, or
         * someone aborted it): whatever happened, it is no success. */
        if (!d || !d->job || d->job->type != JOB_TYPE_MIGRATION_OUT) {
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                        "The migration job of the source ended before Confirm3; its "
                                        "outcome is unknown: see the domain's last job (GetJobStats "
                                        "flag 1) on both hosts"));
                p2p_done(p);
                return;
        }
        /* libvirt resumes the source here and leaves the rest to lock
         * managers; the guest may run there already, so it stays paused
         * here and the job ends saying the outcome is unknown. */
        if (p->finish_unanswered) {
                g_autofree char *why = g_strdup_printf("the destination's Finish did not answer (%s)",
                                                       p->error->message);
                g_clear_error(&p->error);
                p->error = g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE,
                                       "%s: the guest may run there, so it stays paused here; "
                                       "resume or destroy it here once you know where it runs", why);
                migration_job_abandon(d, why);
                p2p_done(p);
                return;
        }
        /* JobCompleted says why, also when the stream itself went well. */
        if (p->error && !d->job->error)
                d->job->error = g_strdup(p->error->message);
        /* Finish2 returns no cookie: its domain path said it all. */
        migration_confirm_async(d, params_copy(p->params), p->form == PEER_FORM_V2 ? NULL : p->cookie, p->error != NULL,
                                on_confirmed, p);
}

/* ---- 4: Finish (there) ---- */

static int on_finished(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        P2P *p = userdata;
        const char *path;
        GBytes *cookie = NULL;
        gboolean cancelled = p->error != NULL;

        p->slot = sd_bus_slot_unref(p->slot);
        if (retry_if_busy(p, reply, "Finish", finish))
                return 0;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                /* A stream that failed was never resumed there; one that completed may have been. */
                p->finish_unanswered = !cancelled &&
                        sd_bus_error_has_names(sd_bus_message_get_error(reply), SD_BUS_ERROR_NO_REPLY,
                                               SD_BUS_ERROR_DISCONNECTED, SD_BUS_ERROR_TIMEOUT);
                p2p_fail(p, error_from_reply(reply, "Finish"));
        }
        else if (!cancelled && (sd_bus_message_read(reply, "o", &path) < 0 ||
                                (p->form != PEER_FORM_V2 && read_bytes(reply, &cookie) < 0)))
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED, "The peer's Finish answer is malformed"));
        else if (!cancelled && g_str_equal(path, "/"))
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                        "The destination's Finish returned no domain"));
        if (cookie) {
                g_bytes_unref(p->cookie);
                p->cookie = cookie;
        }
        /* Protocol 2 too: only a domain from Finish2 lets the source guest
         * stop (and go); without one it runs here again. */
        confirm(p);
        return 0;
}

static void finish(P2P *p) {
        gboolean cancelled = p->error != NULL;
        const char *name = p->params->destination_name;
        Domain *d = domain_ref_get(p->ref);
        sd_bus_message *m;
        int r;

        if (!name)
                name = d ? domain_name(d) : "";
        m = new_call(p, p->form == PEER_FORM_V3_PARAMS ? "Finish3Params" : p->form == PEER_FORM_V3 ? "Finish3" : "Finish2");
        if (!m)
                return call_or_fail(p, NULL, -ENOMEM, on_finished, "Finish", confirm);
        switch (p->form) {
        case PEER_FORM_V3_PARAMS: {
                g_auto(GVariantDict) dict;
                g_variant_dict_init(&dict, NULL);
                g_variant_dict_insert(&dict, "destination_name", "s", name);
                if (p->uri)
                        g_variant_dict_insert(&dict, "migrate_uri", "s", p->uri);
                r = bus_message_append_vardict(m, g_variant_ref_sink(g_variant_dict_end(&dict)));
                if (r >= 0)
                        r = append_bytes(m, p->error ? NULL : p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "ub", p->params->flags, cancelled);
                break;
        }
        case PEER_FORM_V3:
                r = sd_bus_message_append(m, "s", name);
                if (r >= 0)
                        r = append_bytes(m, p->error ? NULL : p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "sub", p->uri ? p->uri : "", p->params->flags, cancelled);
                break;
        default:
                r = sd_bus_message_append(m, "s", name);
                if (r >= 0)
                        r = append_bytes(m, p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "sui", p->uri ? p->uri : "", p->params->flags, cancelled ? 1 : 0);
                break;
        }
        call_or_fail(p, m, r, on_finished, "Finish", confirm);
}

/* ---- 3: Perform (here) ---- */

static void on_performed(GObject *source, GAsyncResult *result, gpointer user_data) {
        P2P *p = user_data;
        GError *error = NULL;
        GBytes *cookie = migration_perform_finish(result, &error);

        if (!cookie)
                p2p_fail(p, error);
        else {
                g_bytes_unref(p->cookie);
                p->cookie = cookie;
        }
        finish(p);
}

static void on_performed2(GObject *source, GAsyncResult *result, gpointer user_data) {
        P2P *p = user_data;
        GError *error = NULL;

        if (!migration_perform2_finish(result, &error))
                p2p_fail(p, error);
        else
                p->performed2 = TRUE;
        finish(p);
}

static void perform(P2P *p) {
        Domain *d = domain_ref_get(p->ref);
        MigrationParams *mp;

        if (!d) {
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN, "The domain went away"));
                finish(p);
                return;
        }
        /* AbortJob (or a deadline) ended the job while Prepare ran there. */
        if (p->form != PEER_FORM_V2 && (!d->job || d->job->aborted)) {
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_MIGRATION_ABORTED, "The migration was aborted"));
                finish(p);
                return;
        }
        mp = params_copy(p->params);
        g_free(mp->migrate_uri);
        mp->migrate_uri = g_strdup(p->uri);
        mp->flags &= ~MIGRATE_PEER2PEER;
        if (p->form == PEER_FORM_V2)
                migration_perform2_async(d, mp, p->cookie, NULL, FALSE, on_performed2, p);
        else
                migration_perform_async(d, mp, p->cookie, on_performed, p);
}

/* ---- 2: Prepare (there) ---- */

/* A failed Prepare releases the source job: Confirm cancelled (protocol 2: none yet). */
static void prepare_failed(P2P *p) {
        if (p->form == PEER_FORM_V2)
                p2p_done(p);
        else
                confirm(p);
}

/* Prepare's answer was lost (time-out) or unreadable: an incoming job may
 * wait there for a Finish that will not come, on a link kept open for
 * other migrations. It is aborted by name, the answer awaited (the call
 * sent again while the bridge is busy): the caller hears of the end once
 * the destination let its guest go, or why that is not known. (A closed
 * link ends the jobs of the bridge's connection for us there.) */
static gboolean prepare_answer_lost(sd_bus_message *reply) {
        return !sd_bus_message_is_method_error(reply, NULL) ||
               sd_bus_error_has_names(sd_bus_message_get_error(reply), SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT);
}

static void abort_incoming(P2P *p);

static int on_incoming_aborted(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        P2P *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        MdError code = e ? md_error_from_bus_name(e->name) : _MD_ERROR_MAX;

        p->slot = sd_bus_slot_unref(p->slot);
        if (retry_if_busy(p, reply, "AbortIncoming", abort_incoming))
                return 0;
        if (!e)
                g_message("%s aborted the incoming migration of '%s'", p->dconnuri, p->incoming_name);
        else if (code == MD_ERROR_OPERATION_INVALID || code == MD_ERROR_NO_SUCH_DOMAIN)
                /* Its Prepare failed, or the job ended there already. */
                g_message("%s has no incoming migration of '%s' from us to abort: %s", p->dconnuri,
                          p->incoming_name, e->message ? e->message : e->name);
        else
                g_warning("Failed to have %s abort the incoming migration of '%s': %s; it ends there when "
                          "the link to it closes", p->dconnuri, p->incoming_name, e->message ? e->message : e->name);
        prepare_failed(p);
        return 0;
}

static void abort_incoming(P2P *p) {
        sd_bus_message *m = new_call(p, "AbortIncoming");
        int r = m ? sd_bus_message_append(m, "s", p->incoming_name) : -ENOMEM;

        call_or_fail(p, m, r, on_incoming_aborted, "AbortIncoming", prepare_failed);
}

static int on_prepared(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        P2P *p = userdata;
        Domain *d = domain_ref_get(p->ref);
        GBytes *cookie = NULL;
        const char *uri;

        p->slot = sd_bus_slot_unref(p->slot);
        if (retry_if_busy(p, reply, "Prepare", prepare))
                return 0;
        if (sd_bus_message_is_method_error(reply, NULL) || read_bytes(reply, &cookie) < 0 ||
            sd_bus_message_read(reply, "s", &uri) < 0) {
                p2p_fail(p, sd_bus_message_is_method_error(reply, NULL)
                                    ? error_from_reply(reply, "Prepare")
                                    : g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                                  "The peer's Prepare answer is malformed"));
                if (cookie)
                        g_bytes_unref(cookie);
                p->incoming_name = g_strdup(p->params->destination_name ? p->params->destination_name
                                            : d ? domain_name(d) : NULL);
                if (!p->incoming_name || !prepare_answer_lost(reply)) {
                        prepare_failed(p);
                        return 0;
                }
                g_message("The answer of %s to Prepare was lost (%s); asking it to abort the incoming "
                          "migration of '%s'", p->dconnuri, p->error->message, p->incoming_name);
                abort_incoming(p);
                return 0;
        }
        g_bytes_unref(p->cookie);
        p->cookie = cookie;
        p->uri = g_strdup(uri);
        perform(p);
        return 0;
}

static void prepare(P2P *p) {
        sd_bus_message *m = new_call(p, p->form == PEER_FORM_V3_PARAMS ? "Prepare3Params"
                                        : p->form == PEER_FORM_V3 ? "Prepare3" : "Prepare2");
        const char *dname = p->params->destination_name ? p->params->destination_name : "";
        guint64 bandwidth = p->params->has_bandwidth ? p->params->bandwidth : 0;
        guint flags = p->params->flags & ~MIGRATE_PEER2PEER;
        int r;

        if (!m)
                return call_or_fail(p, NULL, -ENOMEM, on_prepared, "Prepare", p->form == PEER_FORM_V2 ? p2p_done : confirm);
        switch (p->form) {
        case PEER_FORM_V3_PARAMS: {
                g_autoptr(MigrationParams) mp = params_copy(p->params);
                g_free(mp->destination_xml);
                mp->destination_xml = g_strdup(p->xml);
                r = bus_message_append_vardict(m, g_variant_ref_sink(migration_params_to_variant(mp)));
                if (r >= 0)
                        r = append_bytes(m, p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", flags);
                break;
        }
        case PEER_FORM_V3:
                r = sd_bus_message_append(m, "sst", p->xml, dname, bandwidth);
                if (r >= 0)
                        r = append_bytes(m, p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "su", "", flags);
                break;
        default:
                r = sd_bus_message_append(m, "sstsu", p->xml, dname, bandwidth, "", flags);
                break;
        }
        call_or_fail(p, m, r, on_prepared, "Prepare", p->form == PEER_FORM_V2 ? p2p_done : confirm);
}

/* ---- 1: Begin (here) ---- */

static void begin(P2P *p) {
        Domain *d = domain_ref_get(p->ref);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = NULL;

        if (!d) {
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN, "The domain went away"));
                p2p_done(p);
                return;
        }
        /* As libvirt's peer-to-peer source: a guest the user paused arrives paused. */
        if (!(p->params->flags & MIGRATE_OFFLINE) && d->state == DOMAIN_STATE_PAUSED)
                p->params->flags |= MIGRATE_PAUSED;
        if (p->form == PEER_FORM_V2) {
                /* No Begin in protocol 2: Perform2 runs it here; Prepare2 gets the XML. */
                if (p->params->destination_xml)
                        p->xml = g_strdup(p->params->destination_xml);
                else if (d->live) {
                        def = domain_def_copy(d->live);
                        if (p->params->destination_name)
                                domain_def_set_name(def, p->params->destination_name);
                        p->xml = domain_def_format(def);
                }
                prepare(p);
                return;
        }
        if (!migration_begin(d, params_copy(p->params), NULL, &p->xml, &p->cookie, &error)) {
                p2p_fail(p, g_steal_pointer(&error));
                p2p_done(p);
                return;
        }
        prepare(p);
}

/* ---- 0: Negotiation ---- */

static gboolean negotiate(P2P *p, MdConfig *config, GVariant *caps, GError **error) {
        const char *beyond;

        p->form = peer_protocol_choose(config, caps);
        if (p->form == PEER_FORM_NONE) {
                g_set_error(error, MD_ERROR, MD_ERROR_PROTOCOL_MISMATCH,
                            "This host and the peer share no migration protocol; compare their "
                            "[migration] protocol_versions");
                return FALSE;
        }
        beyond = p->form == PEER_FORM_V3_PARAMS ? NULL : migration_params_beyond_plain(p->params);
        if (beyond) {
                g_set_error(error, MD_ERROR, MD_ERROR_PROTOCOL_MISMATCH,
                            "Migration parameter '%s' needs protocol 3 with extensible parameters, "
                            "which the peer does not accept", beyond);
                return FALSE;
        }
        g_message("Peer-to-peer migration to %s with protocol %s", p->dconnuri,
                  p->form == PEER_FORM_V3_PARAMS ? "3 (extensible parameters)" : p->form == PEER_FORM_V3 ? "3" : "2");
        return TRUE;
}

static void acquire(P2P *p);

/* A kept link may have broken unnoticed (a half-open TCP connection the
 * keepalive has not caught yet): before anything started, dial once more. */
static gboolean redial(P2P *p, sd_bus_message *reply) {
        if (p->redialed || !peer_lease_get_reused(p->lease) ||
            !sd_bus_error_has_names(sd_bus_message_get_error(reply), SD_BUS_ERROR_NO_REPLY,
                                    SD_BUS_ERROR_DISCONNECTED))
                return FALSE;
        g_message("The kept link to %s is broken; dialing again", p->dconnuri);
        p->redialed = TRUE;
        g_clear_pointer(&p->lease, peer_lease_free);
        acquire(p);
        return TRUE;
}

static int on_capabilities(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        P2P *p = userdata;
        Domain *d = domain_ref_get(p->ref);
        g_autoptr(GVariant) caps = NULL;
        g_autoptr(GError) error = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        p->slot = sd_bus_slot_unref(p->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                if (redial(p, reply))
                        return 0;
                p2p_fail(p, error_from_reply(reply, "GetCapabilities"));
                p2p_done(p);
                return 0;
        }
        p->negotiating = FALSE;
        if (bus_message_read_vardict(reply, &caps, &e) < 0) {
                sd_bus_error_free(&e);
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_PROTOCOL_MISMATCH, "The peer's capabilities are malformed"));
                p2p_done(p);
                return 0;
        }
        if (!d || !negotiate(p, registry_get_config(d->registry), caps, &error)) {
                p2p_fail(p, error ? g_steal_pointer(&error)
                                  : g_error_new(MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN, "The domain went away"));
                p2p_done(p);
                return 0;
        }
        begin(p);
        return 0;
}

static void on_link_abort(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!migration_abort_finish(result, &error))
                g_warning("Failed to stop the stream to a lost peer: %s", error->message);
}

static void on_link_lost(PeerLease *lease, const GError *error, gpointer user_data) {
        P2P *p = user_data;
        Domain *d = domain_ref_get(p->ref);

        /* GetCapabilities on a kept link fails on its own and may dial again. */
        if (p->negotiating && peer_lease_get_reused(p->lease) && !p->redialed)
                return;
        /* Pending calls fail on their own; this names the reason first. */
        p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE, "Lost the peer %s: %s", p->dconnuri,
                                error ? error->message : "connection closed"));
        /* A stream still running can no longer be finished there: stop it,
         * and the failure rules keep the guest here. */
        if (d && d->job && d->job->type == JOB_TYPE_MIGRATION_OUT && d->job->phase == JOB_PHASE_PERFORM3 &&
            !d->job->postcopy)
                migration_abort_async(d, 0, on_link_abort, NULL);
}

static void on_acquired(GObject *source, GAsyncResult *result, gpointer user_data) {
        P2P *p = user_data;
        GError *error = NULL;
        sd_bus_message *m;

        p->lease = peer_pool_acquire_finish(result, &error);
        if (!p->lease) {
                p2p_fail(p, error);
                p2p_done(p);
                return;
        }
        peer_lease_set_lost_func(p->lease, on_link_lost, p);
        p->negotiating = TRUE;
        m = new_call(p, "GetCapabilities");
        call_or_fail(p, m, m ? 0 : -ENOMEM, on_capabilities, "GetCapabilities", p2p_done);
}

static void acquire(P2P *p) {
        peer_pool_acquire_async(p->pool, p->dconnuri, on_acquired, p);
}

void peer_migrate_async(BusService *s, Domain *d, const char *dconnuri, MigrationParams *params,
                           GAsyncReadyCallback callback, gpointer user_data) {
        P2P *p = g_new0(P2P, 1);

        p->task = g_task_new(NULL, NULL, callback, user_data);
        p->pool = bus_service_get_peer_pool(s);
        p->ref = domain_ref_new(d);
        p->params = params;
        p->dconnuri = g_strdup(dconnuri);
        p->call_timeout_usec = registry_get_config(d->registry)->peer_call_timeout_s * G_USEC_PER_SEC;
        acquire(p);
}

gboolean peer_migrate_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}
