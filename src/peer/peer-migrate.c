/* One peer-to-peer migration, phase by phase: negotiation, Begin, Prepare
 * (there), Perform, Finish (there), Confirm. Its calls to the peer, and
 * what it does when the peer's bridge is busy or Prepare's answer is lost,
 * are in peer-migrate-call.c. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-glib.h"
#include "bus-service.h"
#include "bus-variant.h"
#include "i18n.h"
#include "md-error.h"
#include "migration-job.h"
#include "migration.h"
#include "peer-migrate-internal.h"

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

void p2p_done(P2P *p) {
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

void p2p_fail(P2P *p, GError *error) {
        if (!p->error)
                p->error = error;
        else
                g_error_free(error);
}

static void prepare(P2P *p);
static void finish(P2P *p);

/* ---- 5: Confirm (here) ---- */

static void on_confirmed(GObject *source, GAsyncResult *result, gpointer user_data) {
        P2P *p = user_data;
        GError *error = NULL;

        if (!migration_confirm_finish(result, &error))
                p2p_fail(p, error);
        p2p_done(p);
}

/* The domain's outgoing job if it is this migration's and not ending:
 * while Prepare ran there, ours may have been aborted and another client's
 * Begin3 may have started a job of its own. */
static MigrationJob *our_job(P2P *p, Domain *d) {
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        return job && p->job_serial && job->serial == p->job_serial ? job : NULL;
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
        if (!our_job(p, d)) {
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
                /* TRANSLATORS: a reason, set into other messages after a colon; %s: the peer's error. */
                g_autofree char *why = g_strdup_printf(_("the destination's Finish did not answer (%s)"),
                                                       p->error->message);
                g_clear_error(&p->error);
                p->error = g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE,
                                       /* TRANSLATORS: %s: "the destination's Finish did not answer (...)". */
                                       _("%s: the guest may run there, so it stays paused here; "
                                         "resume or destroy it here once you know where it runs"), why);
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
        if (p2p_retry_if_busy(p, reply, "Finish", finish))
                return 0;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                /* A stream that failed was never resumed there; one that completed may have been. */
                p->finish_unanswered = !cancelled &&
                        sd_bus_error_has_names(sd_bus_message_get_error(reply), SD_BUS_ERROR_NO_REPLY,
                                               SD_BUS_ERROR_DISCONNECTED, SD_BUS_ERROR_TIMEOUT);
                p2p_fail(p, p2p_error_from_reply(reply, "Finish"));
        }
        else if (!cancelled && (sd_bus_message_read(reply, "o", &path) < 0 ||
                                (p->form != PEER_FORM_V2 && p2p_read_bytes(reply, &cookie) < 0)))
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
        m = p2p_new_call(p, p->form == PEER_FORM_V3_PARAMS ? "Finish3Params" : p->form == PEER_FORM_V3 ? "Finish3" : "Finish2");
        if (!m)
                return p2p_call_or_fail(p, NULL, -ENOMEM, on_finished, "Finish", confirm);
        switch (p->form) {
        case PEER_FORM_V3_PARAMS: {
                g_auto(GVariantDict) dict;
                g_variant_dict_init(&dict, NULL);
                g_variant_dict_insert(&dict, "destination_name", "s", name);
                if (p->uri)
                        g_variant_dict_insert(&dict, "migrate_uri", "s", p->uri);
                r = bus_message_append_vardict(m, g_variant_ref_sink(g_variant_dict_end(&dict)));
                if (r >= 0)
                        r = p2p_append_bytes(m, p->error ? NULL : p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "ub", p->params->flags, cancelled);
                break;
        }
        case PEER_FORM_V3:
                r = sd_bus_message_append(m, "s", name);
                if (r >= 0)
                        r = p2p_append_bytes(m, p->error ? NULL : p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "sub", p->uri ? p->uri : "", p->params->flags, cancelled);
                break;
        default:
                r = sd_bus_message_append(m, "s", name);
                if (r >= 0)
                        r = p2p_append_bytes(m, p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "sui", p->uri ? p->uri : "", p->params->flags, cancelled ? 1 : 0);
                break;
        }
        p2p_call_or_fail(p, m, r, on_finished, "Finish", confirm);
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
        if (p->form != PEER_FORM_V2 && (!our_job(p, d) || d->job->aborted)) {
                p2p_fail(p, g_error_new(MD_ERROR, MD_ERROR_MIGRATION_ABORTED, "The migration was aborted"));
                finish(p);
                return;
        }
        mp = params_copy(p->params);
        g_free(mp->migrate_uri);
        mp->migrate_uri = g_strdup(p->uri);
        mp->flags &= ~MIGRATE_PEER2PEER;
        if (p->form == PEER_FORM_V2) {
                guint64 before = d->job ? d->job->serial : 0;

                migration_perform2_async(d, mp, p->cookie, NULL, FALSE, on_performed2, p);
                /* Perform2's Begin starts its job before it returns, or none. */
                if (d->job && d->job->serial != before)
                        p->job_serial = d->job->serial;
        } else
                migration_perform_async(d, mp, p->cookie, on_performed, p);
}

/* ---- 2: Prepare (there) ---- */

void p2p_prepare_failed(P2P *p) {
        if (p->form == PEER_FORM_V2)
                p2p_done(p);
        else
                confirm(p);
}


static int on_prepared(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        P2P *p = userdata;
        Domain *d = domain_ref_get(p->ref);
        GBytes *cookie = NULL;
        const char *uri;

        p->slot = sd_bus_slot_unref(p->slot);
        if (p2p_retry_if_busy(p, reply, "Prepare", prepare))
                return 0;
        if (sd_bus_message_is_method_error(reply, NULL) || p2p_read_bytes(reply, &cookie) < 0 ||
            sd_bus_message_read(reply, "s", &uri) < 0) {
                p2p_fail(p, sd_bus_message_is_method_error(reply, NULL)
                                    ? p2p_error_from_reply(reply, "Prepare")
                                    : g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                                  "The peer's Prepare answer is malformed"));
                if (cookie)
                        g_bytes_unref(cookie);
                p->incoming_name = g_strdup(p->params->destination_name ? p->params->destination_name
                                            : d ? domain_name(d) : NULL);
                if (!p->incoming_name || !p2p_prepare_answer_lost(reply)) {
                        p2p_prepare_failed(p);
                        return 0;
                }
                g_message("The answer of %s to Prepare was lost (%s); asking it to abort the incoming "
                          "migration of '%s'", p->dconnuri, p->error->message, p->incoming_name);
                p2p_abort_incoming(p);
                return 0;
        }
        g_bytes_unref(p->cookie);
        p->cookie = cookie;
        p->uri = g_strdup(uri);
        perform(p);
        return 0;
}

static void prepare(P2P *p) {
        sd_bus_message *m = p2p_new_call(p, p->form == PEER_FORM_V3_PARAMS ? "Prepare3Params"
                                        : p->form == PEER_FORM_V3 ? "Prepare3" : "Prepare2");
        const char *dname = p->params->destination_name ? p->params->destination_name : "";
        guint64 bandwidth = p->params->has_bandwidth ? p->params->bandwidth : 0;
        guint flags = p->params->flags & ~MIGRATE_PEER2PEER;
        int r;

        if (!m)
                return p2p_call_or_fail(p, NULL, -ENOMEM, on_prepared, "Prepare", p->form == PEER_FORM_V2 ? p2p_done : confirm);
        switch (p->form) {
        case PEER_FORM_V3_PARAMS: {
                g_autoptr(MigrationParams) mp = params_copy(p->params);
                g_free(mp->destination_xml);
                mp->destination_xml = g_strdup(p->xml);
                r = bus_message_append_vardict(m, g_variant_ref_sink(migration_params_to_variant(mp)));
                if (r >= 0)
                        r = p2p_append_bytes(m, p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", flags);
                break;
        }
        case PEER_FORM_V3:
                r = sd_bus_message_append(m, "sst", p->xml, dname, bandwidth);
                if (r >= 0)
                        r = p2p_append_bytes(m, p->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(m, "su", "", flags);
                break;
        default:
                r = sd_bus_message_append(m, "sstsu", p->xml, dname, bandwidth, "", flags);
                break;
        }
        p2p_call_or_fail(p, m, r, on_prepared, "Prepare", p->form == PEER_FORM_V2 ? p2p_done : confirm);
}

/* ---- 1: Begin (here) ---- */

static void on_begun(GObject *source, GAsyncResult *result, gpointer user_data) {
        P2P *p = user_data;
        GError *error = NULL;

        if (!migration_begin_finish(result, &p->xml, &p->cookie, &error)) {
                p2p_fail(p, error);
                p2p_done(p);
                return;
        }
        p->job_serial = migration_begin_job_serial(result);
        prepare(p);
}

static void begin(P2P *p) {
        Domain *d = domain_ref_get(p->ref);
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
        migration_begin_async(d, params_copy(p->params), NULL, on_begun, p);
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
                p2p_fail(p, p2p_error_from_reply(reply, "GetCapabilities"));
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
        if (d && our_job(p, d) && d->job->phase == JOB_PHASE_PERFORM3 && !d->job->postcopy)
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
        m = p2p_new_call(p, "GetCapabilities");
        p2p_call_or_fail(p, m, m ? 0 : -ENOMEM, on_capabilities, "GetCapabilities", p2p_done);
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
