/* The kept peer links (peer-pool.c) with a dial of the test's own: each
 * "dial" is a plain socket pair, the far end a server link the test holds,
 * so that closing it breaks the link as a peer going away would. */
#include <sys/socket.h>

#include "md-error.h"
#include "peer-pool.h"

#define URI "migration+tls://peer.example:16519"

typedef struct {
        guint dials;
        gboolean fail;             /* the next dials fail as unreachable */
        GPtrArray *servers;        /* PeerLink*: the far ends */
} Fixture;

static Fixture fx;

static PeerLink *link_pair(PeerLink **ret_server) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocket) s0 = NULL, s1 = NULL;
        g_autoptr(GSocketConnection) c0 = NULL, c1 = NULL;
        PeerLink *client;
        int pair[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
        s0 = g_socket_new_from_fd(pair[0], &error);
        g_assert_no_error(error);
        s1 = g_socket_new_from_fd(pair[1], &error);
        g_assert_no_error(error);
        c0 = g_socket_connection_factory_create_connection(s0);
        c1 = g_socket_connection_factory_create_connection(s1);
        client = peer_link_new_for_stream(G_IO_STREAM(c0), "CN=peer", FALSE, &error);
        g_assert_no_error(error);
        *ret_server = peer_link_new_for_stream(G_IO_STREAM(c1), "CN=us", TRUE, &error);
        g_assert_no_error(error);
        return client;
}

static void fake_dial(PeerPool *pool, const char *uri, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
        PeerLink *server;

        fx.dials++;
        g_assert_cmpstr(uri, ==, URI);
        if (fx.fail)
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_PEER_UNREACHABLE, "refused");
        g_task_return_pointer(task, link_pair(&server), (GDestroyNotify) peer_link_free);
        g_ptr_array_add(fx.servers, server);
}

static PeerLink *fake_dial_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}

static PeerPool *pool_new(guint idle_s) {
        static int identity;   /* never looked at: the dial is ours */
        PeerPool *pool = peer_pool_new((PeerTls *) &identity, idle_s, 0, 0);

        fx.dials = 0;
        fx.fail = FALSE;
        fx.servers = g_ptr_array_new_with_free_func((GDestroyNotify) peer_link_free);
        peer_pool_set_dial(pool, fake_dial, fake_dial_finish);
        return pool;
}

static void pool_free(PeerPool *pool) {
        peer_pool_free(pool);
        g_clear_pointer(&fx.servers, g_ptr_array_unref);
        /* Links given back go from idle callbacks. */
        while (g_main_context_iteration(NULL, FALSE))
                ;
}

typedef struct {
        PeerLease *lease;
        GError *error;
        gboolean done;
} Got;

static void on_acquired(GObject *source, GAsyncResult *result, gpointer user_data) {
        Got *got = user_data;

        got->lease = peer_pool_acquire_finish(result, &got->error);
        got->done = TRUE;
}

static void wait_for(gboolean *flag) {
        gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

        while (!*flag) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_main_context_iteration(NULL, TRUE);
        }
}

static PeerLease *acquire(PeerPool *pool, const char *uri) {
        Got got = { 0 };

        peer_pool_acquire_async(pool, uri, on_acquired, &got);
        wait_for(&got.done);
        g_assert_no_error(got.error);
        return got.lease;
}

/* Two at once share one dial; given back, the link stays for the next. */
static void test_shared(void) {
        PeerPool *pool = pool_new(60);
        Got one = { 0 }, two = { 0 };
        PeerLease *three;

        peer_pool_acquire_async(pool, URI, on_acquired, &one);
        /* The same peer, spelt otherwise. */
        peer_pool_acquire_async(pool, "migration+tls://PEER.example", on_acquired, &two);
        wait_for(&one.done);
        wait_for(&two.done);
        g_assert_no_error(one.error);
        g_assert_no_error(two.error);
        g_assert_cmpuint(fx.dials, ==, 1);
        g_assert_true(peer_lease_get_link(one.lease) == peer_lease_get_link(two.lease));
        g_assert_false(peer_lease_get_reused(one.lease));
        peer_lease_free(one.lease);
        peer_lease_free(two.lease);
        g_assert_cmpuint(peer_pool_get_size(pool), ==, 1);

        three = acquire(pool, URI);
        g_assert_true(peer_lease_get_reused(three));
        g_assert_cmpuint(fx.dials, ==, 1);
        g_assert_cmpuint(peer_pool_get_dials(pool), ==, 1);
        peer_lease_free(three);
        pool_free(pool);
}

/* idle_timeout 0: closed with its last lease, as before links were kept. */
static void test_not_kept(void) {
        PeerPool *pool = pool_new(0);

        peer_lease_free(acquire(pool, URI));
        g_assert_cmpuint(peer_pool_get_size(pool), ==, 0);
        peer_lease_free(acquire(pool, URI));
        g_assert_cmpuint(fx.dials, ==, 2);
        pool_free(pool);
}

/* Unused for idle_timeout: closed, and the far end sees it go. */
static void test_idle_close(void) {
        PeerPool *pool = pool_new(1);
        gboolean closed = FALSE;
        gint64 start = g_get_monotonic_time();

        peer_lease_free(acquire(pool, URI));
        g_assert_cmpuint(peer_pool_get_size(pool), ==, 1);
        while (peer_pool_get_size(pool) > 0) {
                g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
                g_main_context_iteration(NULL, TRUE);
        }
        g_assert_cmpint(g_get_monotonic_time() - start, >=, G_USEC_PER_SEC - 50000);
        while (!closed) {
                g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
                g_main_context_iteration(NULL, TRUE);
                closed = peer_link_is_closed(fx.servers->pdata[0]);
        }
        peer_lease_free(acquire(pool, URI));
        g_assert_cmpuint(fx.dials, ==, 2);
        pool_free(pool);
}

static void on_lost(PeerLease *lease, const GError *error, gpointer user_data) {
        guint *lost = user_data;

        g_assert_error(error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        (*lost)++;
}

/* The far end goes: every lease hears it once, the pool forgets the link,
 * the next user dials again. */
static void test_lost(void) {
        PeerPool *pool = pool_new(60);
        PeerLease *one = acquire(pool, URI), *two = acquire(pool, URI), *three;
        guint lost_one = 0, lost_two = 0;

        peer_lease_set_lost_func(one, on_lost, &lost_one);
        peer_lease_set_lost_func(two, on_lost, &lost_two);
        g_ptr_array_remove_index(fx.servers, 0);
        while (lost_one == 0 || lost_two == 0)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpuint(peer_pool_get_size(pool), ==, 0);
        three = acquire(pool, URI);
        g_assert_false(peer_lease_get_reused(three));
        g_assert_cmpuint(fx.dials, ==, 2);
        peer_lease_free(one);
        peer_lease_free(two);
        peer_lease_free(three);
        g_assert_cmpuint(lost_one + lost_two, ==, 2);
        pool_free(pool);
}

/* A failed dial fails every waiter and leaves nothing behind. */
static void test_dial_fails(void) {
        PeerPool *pool = pool_new(60);
        Got one = { 0 }, two = { 0 }, bad = { 0 };

        fx.fail = TRUE;
        peer_pool_acquire_async(pool, URI, on_acquired, &one);
        peer_pool_acquire_async(pool, URI, on_acquired, &two);
        wait_for(&one.done);
        wait_for(&two.done);
        g_assert_error(one.error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        g_assert_error(two.error, MD_ERROR, MD_ERROR_PEER_UNREACHABLE);
        g_assert_cmpuint(fx.dials, ==, 1);
        g_assert_cmpuint(peer_pool_get_size(pool), ==, 0);
        g_clear_error(&one.error);
        g_clear_error(&two.error);

        peer_pool_acquire_async(pool, "http://peer.example/", on_acquired, &bad);
        wait_for(&bad.done);
        g_assert_error(bad.error, MD_ERROR, MD_ERROR_INVALID_ARGS);
        g_clear_error(&bad.error);
        g_assert_cmpuint(fx.dials, ==, 1);
        pool_free(pool);
}

static void test_no_identity(void) {
        g_autoptr(PeerPool) pool = peer_pool_new(NULL, 60, 0, 0);
        Got got = { 0 };

        peer_pool_acquire_async(pool, URI, on_acquired, &got);
        wait_for(&got.done);
        g_assert_error(got.error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_clear_error(&got.error);
}

/* A lease taken while the idle time runs stops it: the link outlives it. */
static void test_lease_stops_idle(void) {
        PeerPool *pool = pool_new(1);
        gint64 start = g_get_monotonic_time();
        PeerLease *again;

        peer_lease_free(acquire(pool, URI));
        again = acquire(pool, URI);
        g_assert_true(peer_lease_get_reused(again));
        while (g_get_monotonic_time() - start < 2 * G_USEC_PER_SEC)
                g_main_context_iteration(NULL, FALSE);
        g_assert_cmpuint(peer_pool_get_size(pool), ==, 1);
        g_assert_false(peer_link_is_closed(peer_lease_get_link(again)));
        peer_lease_free(again);
        g_assert_cmpuint(fx.dials, ==, 1);
        pool_free(pool);
}

typedef struct {
        PeerLease **mine, **other;
        guint calls;
} GiveBack;

/* A lost func that gives back its own lease and another's at once. */
static void on_lost_give_back(PeerLease *lease, const GError *error, gpointer user_data) {
        GiveBack *g = user_data;

        g->calls++;
        g_clear_pointer(g->mine, peer_lease_free);
        g_clear_pointer(g->other, peer_lease_free);
}

static void test_lost_gives_back(void) {
        PeerPool *pool = pool_new(60);
        PeerLease *one = acquire(pool, URI), *two = acquire(pool, URI);
        GiveBack g1 = { &one, &two, 0 }, g2 = { &two, &one, 0 };

        peer_lease_set_lost_func(one, on_lost_give_back, &g1);
        peer_lease_set_lost_func(two, on_lost_give_back, &g2);
        g_ptr_array_remove_index(fx.servers, 0);
        while (one || two)
                g_main_context_iteration(NULL, TRUE);
        /* Only the first heard it: the second's lease was already given back. */
        g_assert_cmpuint(g1.calls + g2.calls, ==, 1);
        g_assert_cmpuint(peer_pool_get_size(pool), ==, 0);
        pool_free(pool);
}

/* The pool goes first (daemon exit): a lease still held keeps its link. */
static void test_pool_freed_first(void) {
        PeerPool *pool = pool_new(60);
        PeerLease *held = acquire(pool, URI);
        PeerLink *link = peer_lease_get_link(held);

        peer_pool_free(pool);
        g_assert_false(peer_link_is_closed(link));
        peer_lease_free(held);
        g_clear_pointer(&fx.servers, g_ptr_array_unref);
        while (g_main_context_iteration(NULL, FALSE))
                ;
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/peer-pool/shared", test_shared);
        g_test_add_func("/peer-pool/not-kept", test_not_kept);
        g_test_add_func("/peer-pool/idle-close", test_idle_close);
        g_test_add_func("/peer-pool/lost", test_lost);
        g_test_add_func("/peer-pool/dial-fails", test_dial_fails);
        g_test_add_func("/peer-pool/no-identity", test_no_identity);
        g_test_add_func("/peer-pool/lease-stops-idle", test_lease_stops_idle);
        g_test_add_func("/peer-pool/lost-gives-back", test_lost_gives_back);
        g_test_add_func("/peer-pool/pool-freed-first", test_pool_freed_first);
        return g_test_run();
}
