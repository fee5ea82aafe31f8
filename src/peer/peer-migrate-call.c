/* The calls of one peer-to-peer migration to the peer's Manager (through
 * its bridge): built, sent, their answers read; sent again while the
 * bridge is busy; and AbortIncoming after Prepare's answer was lost. The
 * phases that make them are in peer-migrate.c. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>

#include "bus-glib.h"
#include "md-error.h"
#include "peer-migrate-internal.h"

GError *p2p_error_from_reply(sd_bus_message *reply, const char *what) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        MdError code = md_error_from_bus_name(e->name);

        /* A bridge still busy once the call's time-out ran out: our
         * migration failed, this host is within its limits. */
        if (code == _MD_ERROR_MAX || code == MD_ERROR_LIMITS_EXCEEDED)
                code = sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED)
                        ? MD_ERROR_PEER_UNREACHABLE : MD_ERROR_MIGRATION_FAILED;
        return g_error_new(MD_ERROR, code, "%s on the destination failed: %s", what,
                           e->message ? e->message : e->name);
}

int p2p_append_bytes(sd_bus_message *m, GBytes *bytes) {
        gsize size = 0;
        const void *data = bytes ? g_bytes_get_data(bytes, &size) : NULL;

        return sd_bus_message_append_array(m, 'y', data ? data : "", size);
}

int p2p_read_bytes(sd_bus_message *m, GBytes **ret) {
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

sd_bus_message *p2p_new_call(P2P *p, const char *member) {
        sd_bus_message *m = NULL;

        if (sd_bus_message_new_method_call(peer_bus(p), &m, NULL, MANAGER_PATH,
                                           MANAGER_INTERFACE, member) < 0)
                return NULL;
        return m;
}

void p2p_call_or_fail(P2P *p, sd_bus_message *m, int r, sd_bus_message_handler_t callback, const char *what,
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
#define BUSY_RETRY_MSEC 1000

gboolean p2p_retry_if_busy(P2P *p, sd_bus_message *reply, const char *what, void (*again)(P2P *p)) {
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

/* Prepare's answer was lost (time-out) or unreadable: an incoming job may
 * wait there for a Finish that will not come, on a link kept open for
 * other migrations. It is aborted by name, the answer awaited (the call
 * sent again while the bridge is busy): the caller hears of the end once
 * the destination let its guest go, or why that is not known. (A closed
 * link ends the jobs of the bridge's connection for us there.) */
gboolean p2p_prepare_answer_lost(sd_bus_message *reply) {
        return !sd_bus_message_is_method_error(reply, NULL) ||
               sd_bus_error_has_names(sd_bus_message_get_error(reply), SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT);
}

static int on_incoming_aborted(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        P2P *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        MdError code = e ? md_error_from_bus_name(e->name) : _MD_ERROR_MAX;

        p->slot = sd_bus_slot_unref(p->slot);
        if (p2p_retry_if_busy(p, reply, "AbortIncoming", p2p_abort_incoming))
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
        p2p_prepare_failed(p);
        return 0;
}

void p2p_abort_incoming(P2P *p) {
        sd_bus_message *m = p2p_new_call(p, "AbortIncoming");
        int r = m ? sd_bus_message_append(m, "s", p->incoming_name) : -ENOMEM;

        p2p_call_or_fail(p, m, r, on_incoming_aborted, "AbortIncoming", p2p_prepare_failed);
}
