/* The persistent peer links of the source daemon (see peer-pool.h).
 *
 * Each key (HOST:PORT) has at most one Entry in the table: dialing (waiters
 * queue behind the one dial) or up (leased, or waiting out its idle time).
 * An Entry is reference-counted: the table holds one reference, each lease
 * one, so a link that broke leaves the table at once but lives on until
 * its last lease is given back. */
#define G_LOG_DOMAIN "migrationd-peer"

#include "md-error.h"
#include "peer-pool.h"

struct PeerPool {
        PeerTls *tls;
        guint idle_timeout_s;
        guint keepalive_interval_ms, keepalive_timeout_ms;
        PeerPoolDialFunc dial;
        PeerPoolDialFinishFunc dial_finish;
        GHashTable *entries;         /* key → Entry* */
        GCancellable *cancellable;   /* the dials in flight, cancelled when the pool goes */
        guint dials;
};

typedef struct {
        gint ref;
        PeerPool *pool;              /* NULL once out of the table */
        char *key, *uri;
        PeerLink *link;              /* NULL while dialing */
        GPtrArray *waiters;          /* GTask*, while dialing */
        GPtrArray *leases;           /* PeerLease* (not owned) */
        guint idle_timer;
} Entry;

struct PeerLease {
        Entry *entry;
        gboolean reused;
        PeerLeaseLostFunc lost_func;
        gpointer lost_data;
};

static Entry *entry_ref(Entry *e) {
        g_atomic_int_inc(&e->ref);
        return e;
}

static void entry_unref(Entry *e) {
        if (!e || !g_atomic_int_dec_and_test(&e->ref))
                return;
        g_assert(e->leases->len == 0 && e->waiters->len == 0);
        g_clear_handle_id(&e->idle_timer, g_source_remove);
        /* The last lease may be given back inside a callback of the link's
         * own bus: the link goes from an idle callback. */
        if (e->link) {
                peer_link_set_closed_func(e->link, NULL, NULL);
                g_idle_add_once((GSourceOnceFunc) peer_link_free, g_steal_pointer(&e->link));
        }
        g_ptr_array_unref(e->waiters);
        g_ptr_array_unref(e->leases);
        g_free(e->key);
        g_free(e->uri);
        g_free(e);
}

/* Out of the table: the next user dials again. */
static void entry_forget(Entry *e) {
        PeerPool *pool = e->pool;

        if (!pool)
                return;
        e->pool = NULL;
        g_clear_handle_id(&e->idle_timer, g_source_remove);
        g_hash_table_remove(pool->entries, e->key);   /* drops the table's reference */
}

/* ---- leases ---- */

static PeerLease *lease_new(Entry *e, gboolean reused) {
        PeerLease *lease = g_new0(PeerLease, 1);

        lease->entry = entry_ref(e);
        lease->reused = reused;
        g_clear_handle_id(&e->idle_timer, g_source_remove);
        g_ptr_array_add(e->leases, lease);
        return lease;
}

PeerLink *peer_lease_get_link(PeerLease *lease) {
        return lease->entry->link;
}

gboolean peer_lease_get_reused(PeerLease *lease) {
        return lease->reused;
}

void peer_lease_set_lost_func(PeerLease *lease, PeerLeaseLostFunc func, gpointer user_data) {
        lease->lost_func = func;
        lease->lost_data = user_data;
}

static gboolean on_idle_timeout(gpointer user_data) {
        Entry *e = user_data;

        e->idle_timer = 0;
        g_message("Closing the link to peer %s (%s): unused for %u s ([peer] idle_timeout)", e->uri,
                  peer_link_get_peer_dn(e->link), e->pool->idle_timeout_s);
        entry_forget(e);
        return G_SOURCE_REMOVE;
}

void peer_lease_free(PeerLease *lease) {
        Entry *e;

        if (!lease)
                return;
        e = lease->entry;
        g_ptr_array_remove_fast(e->leases, lease);
        if (e->pool && e->leases->len == 0) {
                if (e->pool->idle_timeout_s == 0)
                        entry_forget(e);
                /* Not g_timeout_add_seconds(): it may round the time down. */
                else
                        e->idle_timer = g_timeout_add((guint) MIN(e->pool->idle_timeout_s * 1000ull, G_MAXUINT),
                                                      on_idle_timeout, e);
        }
        entry_unref(e);
        g_free(lease);
}

/* ---- the link ---- */

static void on_link_closed(PeerLink *link, const GError *error, gpointer user_data) {
        Entry *e = entry_ref(user_data);
        g_autoptr(GPtrArray) leases = g_ptr_array_copy(e->leases, NULL, NULL);

        g_message("Lost the link to peer %s: %s", e->uri, error ? error->message : "connection closed");
        entry_forget(e);
        /* A lost func may give its lease back: each is called from the copy,
         * if still leased. */
        for (guint i = 0; i < leases->len; i++) {
                PeerLease *lease = leases->pdata[i];
                PeerLeaseLostFunc func;

                if (!g_ptr_array_find(e->leases, lease, NULL) || !lease->lost_func)
                        continue;
                func = lease->lost_func;
                lease->lost_func = NULL;
                func(lease, error, lease->lost_data);
        }
        entry_unref(e);
}

static void on_dialed(GObject *source, GAsyncResult *result, gpointer user_data) {
        Entry *e = user_data;
        g_autoptr(GPtrArray) waiters = g_steal_pointer(&e->waiters);
        g_autoptr(GError) error = NULL;
        PeerPool *pool = e->pool;
        PeerLink *link;

        e->waiters = g_ptr_array_new();
        link = pool ? pool->dial_finish(result, &error) : NULL;
        if (!pool && !link)
                error = g_error_new(MD_ERROR, MD_ERROR_PEER_UNREACHABLE, "The link to %s was not kept", e->uri);
        if (link) {
                e->link = link;
                pool->dials++;
                peer_link_set_keepalive(link, pool->keepalive_interval_ms, pool->keepalive_timeout_ms);
                peer_link_set_closed_func(link, on_link_closed, e);
                g_message("Connected to peer %s (%s at %s)", e->uri, peer_link_get_peer_dn(link),
                          peer_link_get_peer_address(link));
        } else
                entry_forget(e);
        for (guint i = 0; i < waiters->len; i++) {
                g_autoptr(GTask) task = waiters->pdata[i];

                if (link)
                        g_task_return_pointer(task, lease_new(e, FALSE), (GDestroyNotify) peer_lease_free);
                else
                        g_task_return_error(task, g_error_copy(error));
        }
        entry_unref(e);   /* the dial's */
}

static void default_dial(PeerPool *pool, const char *uri, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data) {
        peer_link_connect_async(uri, pool->tls, NULL, cancellable, callback, user_data);
}

/* "HOST:PORT" of a valid URI, the host in lower case. */
static char *uri_key(const char *uri, GError **error) {
        g_autofree char *host = NULL, *lower = NULL;
        guint16 port;

        if (!peer_uri_parse(uri, &host, &port, error))
                return NULL;
        lower = g_ascii_strdown(host, -1);
        return g_strdup_printf("%s:%u", lower, port);
}

void peer_pool_acquire_async(PeerPool *pool, const char *uri, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(GError) error = NULL;
        g_autofree char *key = NULL;
        Entry *e;

        if (!pool->tls)
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                               "Peer-to-peer migration needs this host's [tls] ca, cert and key");
        key = uri_key(uri, &error);
        if (!key)
                return g_task_return_error(task, g_steal_pointer(&error));
        e = g_hash_table_lookup(pool->entries, key);
        /* Broken, but its closed func has not run yet. */
        if (e && e->link && peer_link_is_closed(e->link)) {
                entry_forget(e);
                e = NULL;
        }
        if (e && e->link) {
                g_debug("Reusing the link to peer %s", e->uri);
                return g_task_return_pointer(task, lease_new(e, TRUE), (GDestroyNotify) peer_lease_free);
        }
        if (!e) {
                e = g_new0(Entry, 1);
                e->ref = 1;
                e->pool = pool;
                e->key = g_steal_pointer(&key);
                e->uri = g_strdup(uri);
                e->waiters = g_ptr_array_new();
                e->leases = g_ptr_array_new();
                g_hash_table_insert(pool->entries, e->key, e);
                pool->dial(pool, uri, pool->cancellable, on_dialed, entry_ref(e));
        }
        g_ptr_array_add(e->waiters, g_steal_pointer(&task));
}

PeerLease *peer_pool_acquire_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- the pool ---- */

PeerPool *peer_pool_new(PeerTls *tls, guint idle_timeout_s, guint keepalive_interval_ms, guint keepalive_timeout_ms) {
        PeerPool *pool = g_new0(PeerPool, 1);

        pool->tls = tls;
        pool->idle_timeout_s = idle_timeout_s;
        pool->keepalive_interval_ms = keepalive_interval_ms;
        pool->keepalive_timeout_ms = keepalive_timeout_ms;
        pool->dial = default_dial;
        pool->dial_finish = peer_link_connect_finish;
        pool->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) entry_unref);
        pool->cancellable = g_cancellable_new();
        return pool;
}

void peer_pool_set_dial(PeerPool *pool, PeerPoolDialFunc dial, PeerPoolDialFinishFunc finish) {
        pool->dial = dial;
        pool->dial_finish = finish;
}

guint peer_pool_get_dials(PeerPool *pool) {
        return pool->dials;
}

guint peer_pool_get_size(PeerPool *pool) {
        return g_hash_table_size(pool->entries);
}

void peer_pool_free(PeerPool *pool) {
        GHashTableIter i;
        Entry *e;

        if (!pool)
                return;
        g_cancellable_cancel(pool->cancellable);
        g_hash_table_iter_init(&i, pool->entries);
        while (g_hash_table_iter_next(&i, NULL, (gpointer *) &e)) {
                e->pool = NULL;
                g_clear_handle_id(&e->idle_timer, g_source_remove);
                /* Unleased: closed now, not from an idle callback that may never run. */
                if (e->link && e->leases->len == 0) {
                        peer_link_set_closed_func(e->link, NULL, NULL);
                        g_clear_pointer(&e->link, peer_link_free);
                }
        }
        g_hash_table_unref(pool->entries);
        g_object_unref(pool->cancellable);
        g_free(pool);
}
