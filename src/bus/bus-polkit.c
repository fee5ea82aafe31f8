#define G_LOG_DOMAIN "migrationd"

#include <glib.h>

#include "bus-error.h"
#include "bus-glib.h"
#include "bus-polkit.h"
#include "i18n.h"

/* polkit's CheckAuthorization flag. */
#define POLKIT_ALLOW_USER_INTERACTION 1u

typedef enum {
        QUERY_PENDING,
        QUERY_ALLOWED,
        QUERY_DENIED,
} QueryState;

typedef struct {
        BusPolkit *polkit;
        sd_bus_message *request;
        sd_bus_slot *slot;
        QueryState state;
        GError *error;              /* QUERY_DENIED: why */
} Query;

struct BusPolkit {
        sd_bus *bus;
        GHashTable *queries;        /* sd_bus_message* -> Query* */
};

static void query_free(Query *q) {
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        g_clear_error(&q->error);
        g_free(q);
}

BusPolkit *bus_polkit_new(sd_bus *bus) {
        BusPolkit *p = g_new0(BusPolkit, 1);

        p->bus = bus;
        p->queries = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify) query_free);
        return p;
}

void bus_polkit_free(BusPolkit *p) {
        if (!p)
                return;
        g_hash_table_unref(p->queries);
        g_free(p);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Query *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0, r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (e) {
                /* No polkit, no permission. */
                g_warning("polkit did not answer: %s", e->message);
                q->error = g_error_new(MD_ERROR, MD_ERROR_ACCESS_DENIED,
                                       _("Authorization is unavailable (polkit: %s)"), e->message);
                q->state = QUERY_DENIED;
        } else if ((r = sd_bus_message_enter_container(reply, 'r', "bba{ss}")) < 0 ||
                   (r = sd_bus_message_read(reply, "bb", &authorized, &challenge)) < 0) {
                q->error = g_error_new_literal(MD_ERROR, MD_ERROR_ACCESS_DENIED,
                                               _("Authorization failed: polkit's answer is malformed"));
                q->state = QUERY_DENIED;
        } else if (authorized) {
                q->state = QUERY_ALLOWED;
        } else {
                gboolean interactive = sd_bus_message_get_allow_interactive_authorization(q->request) > 0;
                if (challenge && !interactive)
                        q->error = g_error_new_literal(MD_ERROR, MD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                                       _("Interactive authentication required; call again "
                                                         "allowing interactive authorization"));
                else
                        q->error = g_error_new_literal(MD_ERROR, MD_ERROR_ACCESS_DENIED,
                                                       _("Access denied by polkit"));
                q->state = QUERY_DENIED;
        }
        /* Dispatch the suspended call again: the handler finds the answer. */
        r = sd_bus_message_rewind(q->request, 1);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(q->polkit->bus, q->request);
        if (r < 0) {
                g_warning("Failed to resume a call after polkit answered: %s", g_strerror(-r));
                g_hash_table_remove(q->polkit->queries, q->request);
        }
        return 0;
}

static int caller_is_root(sd_bus_message *m) {
        g_autoptr(sd_bus_creds) creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        return uid == 0;
}

static int ask_polkit(BusPolkit *p, sd_bus_message *m, const char *action, const char *const *details) {
        g_autoptr(sd_bus_message) call = NULL;
        gboolean interactive = sd_bus_message_get_allow_interactive_authorization(m) > 0;
        Query *q;
        int r;

        r = sd_bus_message_new_method_call(p->bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                                          sd_bus_message_get_sender(m), action);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{ss}");
        for (guint i = 0; r >= 0 && details && details[i] && details[i + 1]; i += 2)
                r = sd_bus_message_append(call, "{ss}", details[i], details[i + 1]);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r >= 0)
                r = sd_bus_message_append(call, "us", interactive ? POLKIT_ALLOW_USER_INTERACTION : 0, "");
        if (r < 0)
                return r;
        q = g_new0(Query, 1);
        q->polkit = p;
        q->request = sd_bus_message_ref(m);
        q->state = QUERY_PENDING;
        /* An interactive check waits for a person: no short time-out. */
        r = sd_bus_call_async(p->bus, &q->slot, call, on_polkit_reply, q,
                              interactive ? UINT64_MAX : 0);
        if (r < 0) {
                query_free(q);
                return r;
        }
        g_hash_table_insert(p->queries, m, q);
        return 0;
}

guint bus_polkit_count_pending(BusPolkit *p) {
        GHashTableIter iter;
        gpointer value;
        guint n = 0;

        if (!p)
                return 0;
        /* Answered queries are dispatched again at once; one whose call never
         * comes back (its object went away meanwhile) must not count. */
        g_hash_table_iter_init(&iter, p->queries);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                n += ((Query *) value)->state == QUERY_PENDING;
        return n;
}

int bus_polkit_check(BusPolkit *p, sd_bus_message *m, const char *action, const char *const *details,
                     sd_bus_error *error) {
        Query *q = g_hash_table_lookup(p->queries, m);
        int r;

        if (q) {
                if (q->state == QUERY_PENDING)
                        return 0;
                if (q->state == QUERY_ALLOWED) {
                        g_hash_table_remove(p->queries, m);
                        return 1;
                }
                r = bus_error_set_gerror(error, q->error);
                g_hash_table_remove(p->queries, m);
                return r < 0 ? r : -EACCES;
        }
        r = caller_is_root(m);
        if (r > 0)
                return 1;
        if (r < 0)
                return bus_error_setf(error, MD_ERROR_ACCESS_DENIED, _("Cannot tell who is calling: %s"),
                                      g_strerror(-r));
        r = ask_polkit(p, m, action, details);
        if (r < 0)
                return bus_error_setf(error, MD_ERROR_ACCESS_DENIED, _("Failed to ask polkit: %s"),
                                      g_strerror(-r));
        return 0;
}

void bus_polkit_preauthorize(BusPolkit *p, sd_bus_message *m) {
        Query *q = g_new0(Query, 1);

        q->polkit = p;
        q->request = sd_bus_message_ref(m);
        q->state = QUERY_ALLOWED;
        g_hash_table_replace(p->queries, m, q);
}
