/* The QMP client on a real socket: a fake QEMU replaying a transcript
 * on a socketpair, and a real QEMU. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "qmp-harness.h"

typedef struct {
        int fd;
        guint source;
        GString *input;
        gsize scanned;                  /* bytes of input without '\n' */
        GHashTable *answers;            /* id -> the lines QEMU wrote up to that reply */
        gsize big_read;                 /* length of the big command's argument */
} FakeQemu;

static void fake_write(FakeQemu *q, const char *data) {
        gsize len = strlen(data);

        /* Small writes into a socket buffer the client keeps draining. */
        g_assert_cmpint(write(q->fd, data, len), ==, (gssize) len);
}

static gboolean on_fake_readable(int fd, GIOCondition condition, gpointer user_data) {
        FakeQemu *q = user_data;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        char *nl;

        if (n < 0 && errno == EAGAIN)
                return G_SOURCE_CONTINUE;
        g_assert_cmpint(n, >, 0);
        g_string_append_len(q->input, buf, n);
        while ((nl = memchr(q->input->str + q->scanned, '\n', q->input->len - q->scanned))) {
                g_autofree char *line = g_strndup(q->input->str, nl - q->input->str);
                g_autoptr(JsonNode) node = json_from_string(line, NULL);
                JsonObject *o;
                const char *id, *answer;

                g_string_erase(q->input, 0, nl - q->input->str + 1);
                q->scanned = 0;
                g_assert_nonnull(node);
                o = json_node_get_object(node);
                id = json_object_get_string_member(o, "id");
                answer = g_hash_table_lookup(q->answers, id);
                if (answer) {
                        fake_write(q, answer);
                        continue;
                }
                /* The big one: answer with its size, then hang up like a
                 * QEMU that quits. */
                q->big_read = strlen(json_object_get_string_member(
                        json_object_get_object_member(o, "arguments"), "command-line"));
                {
                        g_autofree char *reply = g_strdup_printf(
                                "{\"return\": \"%zu\", \"id\": \"%s\"}\r\n", q->big_read, id);
                        fake_write(q, reply);
                }
                shutdown(q->fd, SHUT_RDWR);
                q->source = 0;
                return G_SOURCE_REMOVE;
        }
        q->scanned = q->input->len;
        return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer user_data) {
        g_error("Timed out");
        return G_SOURCE_REMOVE;
}

static void test_socketpair(void) {
        g_autoptr(Harness) h = harness_new(FALSE);
        g_autofree char *in = load("stop-cont", "in");
        g_autofree char *out = load("stop-cont", "out");
        g_auto(GStrv) out_lines = g_strsplit(out, "\n", -1);
        g_auto(GStrv) in_lines = g_strsplit(in, "\n", -1);
        g_autoptr(GString) pending = g_string_new(NULL);
        g_autoptr(GString) big = g_string_new(NULL);
        FakeQemu q = { 0 };
        Reply r[5] = { 0 };
        int sv[2];
        guint timeout;
        guint n = 0;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        q.fd = sv[1];
        q.input = g_string_new(NULL);
        q.answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (guint i = 1; out_lines[i] && *out_lines[i]; i++) {
                g_autoptr(JsonNode) node = json_from_string(out_lines[i], NULL);
                JsonObject *o = json_node_get_object(node);

                g_string_append_printf(pending, "%s\n", out_lines[i]);
                if (json_object_has_member(o, "id")) {
                        g_hash_table_insert(q.answers,
                                            g_strdup(json_object_get_string_member(o, "id")),
                                            g_string_free(g_steal_pointer(&pending), FALSE));
                        pending = g_string_new(NULL);
                }
        }
        g_assert_true(g_unix_set_fd_nonblocking(sv[1], TRUE, NULL));

        /* The transcript's commands, then one far bigger than the socket
         * buffer, so that the client must write it in pieces. */
        for (guint i = 1; in_lines[i] && *in_lines[i]; i++, n++) {
                g_autoptr(JsonNode) node = json_from_string(in_lines[i], NULL);

                execute(h, json_object_get_string_member(json_node_get_object(node), "execute"),
                        NULL, NULL, &r[n]);
        }
        while (big->len < 8 * 1024 * 1024)
                g_string_append(big, "info registers ");
        {
                g_autoptr(JsonBuilder) b = json_builder_new();

                json_builder_begin_object(b);
                json_builder_set_member_name(b, "command-line");
                json_builder_add_string_value(b, big->str);
                json_builder_end_object(b);
                r[n].harness = h;
                qmp_client_execute_async(h->client, "human-monitor-command",
                                         json_builder_get_root(b), NULL, on_reply, &r[n]);
        }

        h->loop = g_main_loop_new(NULL, FALSE);
        qmp_client_attach_fd(h->client, sv[0]);
        fake_write(&q, out_lines[0]);
        fake_write(&q, "\n");
        q.source = g_unix_fd_add(sv[1], G_IO_IN, on_fake_readable, &q);
        timeout = g_timeout_add_seconds(60, on_timeout, NULL);
        g_main_loop_run(h->loop);
        g_source_remove(timeout);
        g_clear_handle_id(&q.source, g_source_remove);
        pump();

        g_assert_cmpuint(h->n_ready, ==, 1);
        g_assert_no_error(h->ready_error);
        assert_status(&r[1], "paused");
        assert_status(&r[3], "running");
        g_assert_cmpuint(h->events->len, ==, 2);
        g_assert_cmpuint(q.big_read, ==, big->len);
        g_assert_no_error(r[4].error);
        g_assert_cmpuint(g_ascii_strtoull(json_node_get_string(r[4].result), NULL, 10), ==, big->len);
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_cmpstr(h->closed_error->message, ==, CLOSED_MESSAGE);

        for (guint i = 0; i <= n; i++)
                reply_clear(&r[i]);
        close(sv[1]);
        g_string_free(q.input, TRUE);
        g_hash_table_unref(q.answers);
}

/* QEMU exits with our last command unread: writing it fails (EPIPE), which
 * must not cut off what QEMU wrote before going; the close comes at EOF. */
static void test_socketpair_peer_gone(void) {
        g_autoptr(Harness) h = harness_new(FALSE);
        FakeQemu q = { 0 };
        Reply r = { 0 };
        int sv[2];
        guint timeout;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        q.fd = sv[1];
        h->loop = g_main_loop_new(NULL, FALSE);
        qmp_client_attach_fd(h->client, sv[0]);
        fake_write(&q, GREETING CAPS_REPLY);
        while (!qmp_client_is_ready(h->client))
                g_main_context_iteration(NULL, TRUE);
        pump();

        execute(h, "quit", NULL, NULL, &r);
        fake_write(&q, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}\r\n");
        close(sv[1]);
        timeout = g_timeout_add_seconds(60, on_timeout, NULL);
        g_main_loop_run(h->loop);
        g_source_remove(timeout);
        pump();

        g_assert_cmpuint(h->events->len, ==, 1);
        g_assert_error(r.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r.error->message, ==, CLOSED_MESSAGE);
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_cmpstr(h->closed_error->message, ==, CLOSED_MESSAGE);
        reply_clear(&r);
}

/* ---- the real thing ---- */

typedef struct {
        Harness *h;
        Reply status, quit;
} QemuSession;

static void on_qemu_ready(QmpClient *client, const GError *error, gpointer user_data) {
        QemuSession *s = user_data;

        g_assert_no_error(error);
        s->h->n_ready++;
        execute(s->h, "query-status", NULL, NULL, &s->status);
        execute(s->h, "quit", NULL, NULL, &s->quit);
}

static void test_qemu(void) {
        g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
        g_autoptr(GSubprocessLauncher) launcher = NULL;
        g_autoptr(GSubprocess) proc = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Harness) h = NULL;
        g_autofree char *dir = NULL;
        g_autofree char *path = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        QemuSession s = { 0 };
        int listen_fd, fd;
        guint timeout;

        if (!qemu) {
                g_test_skip("qemu-system-x86_64 is not installed");
                return;
        }
        dir = g_dir_make_tmp("test-qmp-XXXXXX", &error);
        g_assert_no_error(error);
        path = g_build_filename(dir, "qmp.sock", NULL);
        g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);

        /* As the daemon does: we listen, QEMU inherits the socket, so the
         * connect cannot race QEMU's start-up. */
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(listen_fd, >=, 0);
        g_assert_cmpint(bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
        g_assert_cmpint(listen(listen_fd, 1), ==, 0);
        launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
        g_subprocess_launcher_take_fd(launcher, listen_fd, 3);
        proc = g_subprocess_launcher_spawn(launcher, &error, qemu, "-machine", "none",
                                           "-display", "none", "-nodefaults",
                                           "-chardev", "socket,id=mon,fd=3,server=on,wait=off",
                                           "-mon", "chardev=mon,mode=control", NULL);
        g_assert_no_error(error);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);

        h = harness_new(FALSE);
        s.h = h;
        h->loop = g_main_loop_new(NULL, FALSE);
        qmp_client_set_ready_func(h->client, on_qemu_ready, &s);
        qmp_client_attach_fd(h->client, fd);
        timeout = g_timeout_add_seconds(60, on_timeout, NULL);
        g_main_loop_run(h->loop);       /* until QEMU hangs up after quit */
        g_source_remove(timeout);
        pump();

        g_assert_cmpuint(h->n_ready, ==, 1);
        assert_status(&s.status, "running");
        g_assert_no_error(s.quit.error);
        g_assert_cmpuint(h->events->len, >=, 1);
        g_assert_true(g_str_has_prefix(h->events->pdata[0], "SHUTDOWN "));
        g_assert_cmpuint(h->n_closed, ==, 1);
        g_assert_cmpstr(h->closed_error->message, ==, CLOSED_MESSAGE);
        g_subprocess_wait_check(proc, NULL, &error);
        g_assert_no_error(error);

        reply_clear(&s.status);
        reply_clear(&s.quit);
        g_unlink(path);
        g_rmdir(dir);
}

void qmp_socket_add_tests(void) {
        g_test_add_func("/qmp/socketpair/transcript", test_socketpair);
        g_test_add_func("/qmp/socketpair/peer-gone", test_socketpair_peer_gone);
        g_test_add_func("/qmp/qemu", test_qemu);
}
