#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "fake-monitor.h"

#define WAIT_TIMEOUT_S 5

typedef struct {
        char *command;
        char *reply;            /* the "return" or "error" member, as JSON text */
        gboolean is_error;
        gboolean held;
} Expectation;

struct FakeMonitor {
        int fd;                 /* the server end; -1 after hang-up */
        guint watch;
        GString *in;
        guint major, minor;
        GQueue expected;        /* Expectation */
        GQueue held;            /* HeldReply: from the oldest held reply on, in order */
        GPtrArray *received;    /* char *, NULL-terminated */
        GPtrArray *args;        /* char * */
        GPtrArray *unexpected;  /* char *: what went wrong */
        char **launch_argv;     /* of the last launch served */
        int listen_fd;          /* fake_monitor_listen(); -1 if not */
        gboolean serves_attaches;
        char *attached_uuid;    /* of the last attach served */
        guint listen_watch;
        char *listen_path;
        gboolean hold_greeting; /* for the next connection */
        char *greeting;         /* held: sent by fake_monitor_greet() */
};

static void expectation_free(Expectation *e) {
        g_free(e->command);
        g_free(e->reply);
        g_free(e);
}

static void send_line(FakeMonitor *fm, const char *text) {
        g_autofree char *line = g_strconcat(text, "\n", NULL);
        gsize len = strlen(line), done = 0;

        while (fm->fd >= 0 && done < len) {
                ssize_t n = write(fm->fd, line + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                g_assert_cmpint(n, >, 0);
                done += (gsize) n;
        }
}

static char *reply_text(const char *member, const char *value, JsonNode *id) {
        g_autofree char *id_json = id ? json_to_string(id, FALSE) : NULL;

        return id_json ? g_strdup_printf("{\"%s\": %s, \"id\": %s}", member, value, id_json)
                       : g_strdup_printf("{\"%s\": %s}", member, value);
}

/* A reply waiting its turn: QEMU answers in order, so the replies after a
 * held one wait for it too. */
typedef struct {
        char *text;
        gboolean held;          /* until fake_monitor_release() */
} HeldReply;

static void held_reply_free(HeldReply *h) {
        g_free(h->text);
        g_free(h);
}

/* Sends @reply (taken) now, or queues it behind a held one. */
static void reply_in_order(FakeMonitor *fm, char *reply, gboolean held) {
        HeldReply *h;

        if (!held && g_queue_is_empty(&fm->held)) {
                send_line(fm, reply);
                g_free(reply);
                return;
        }
        h = g_new0(HeldReply, 1);
        h->text = reply;
        h->held = held;
        g_queue_push_tail(&fm->held, h);
}

static void handle_command(FakeMonitor *fm, const char *command, JsonNode *args, JsonNode *id) {
        Expectation *e;
        g_autofree char *reply = NULL;

        if (g_str_equal(command, "qmp_capabilities")) {
                reply_in_order(fm, reply_text("return", "{}", id), FALSE);
                return;
        }
        /* Keep the array NULL-terminated. */
        g_ptr_array_remove_index(fm->received, fm->received->len - 1);
        g_ptr_array_add(fm->received, g_strdup(command));
        g_ptr_array_add(fm->received, NULL);
        g_ptr_array_add(fm->args, args ? json_to_string(args, FALSE) : g_strdup(""));

        e = g_queue_peek_head(&fm->expected);
        if (!e || !g_str_equal(e->command, command)) {
                g_autofree char *desc = g_strdup_printf("fake monitor: unexpected command %s (expected %s)",
                                                        command, e ? e->command : "none");
                g_autofree char *error = g_strdup_printf("{\"class\": \"GenericError\", \"desc\": \"%s\"}", desc);
                g_ptr_array_add(fm->unexpected, g_steal_pointer(&desc));
                reply_in_order(fm, reply_text("error", error, id), FALSE);
                return;
        }
        e = g_queue_pop_head(&fm->expected);
        reply = reply_text(e->is_error ? "error" : "return", e->reply, id);
        reply_in_order(fm, g_steal_pointer(&reply), e->held);
        expectation_free(e);
}

static void handle_line(FakeMonitor *fm, const char *line) {
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;
        JsonObject *o;
        const char *command;

        if (!json_parser_load_from_data(parser, line, -1, &error))
                g_error("fake monitor: the client sent bad JSON (%s): %s", error->message, line);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
        o = json_node_get_object(json_parser_get_root(parser));
        command = json_object_get_string_member_with_default(o, "execute", NULL);
        g_assert_nonnull(command);
        handle_command(fm, command, json_object_get_member(o, "arguments"), json_object_get_member(o, "id"));
}

static gboolean on_readable(int fd, GIOCondition condition, gpointer user_data) {
        FakeMonitor *fm = user_data;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));
        char *nl;

        if (n <= 0) {
                /* The client has gone: ready for the next launch. */
                fm->watch = 0;
                close(fm->fd);
                fm->fd = -1;
                return G_SOURCE_REMOVE;
        }
        g_string_append_len(fm->in, buf, n);
        while ((nl = memchr(fm->in->str, '\n', fm->in->len))) {
                g_autofree char *line = g_strndup(fm->in->str, nl - fm->in->str);
                g_string_erase(fm->in, 0, nl - fm->in->str + 1);
                if (*line)
                        handle_line(fm, line);
        }
        return G_SOURCE_CONTINUE;
}

FakeMonitor *fake_monitor_new(void) {
        FakeMonitor *fm = g_new0(FakeMonitor, 1);

        fm->fd = -1;
        fm->listen_fd = -1;
        fm->in = g_string_new(NULL);
        fm->major = 7;
        fm->minor = 2;
        g_queue_init(&fm->expected);
        g_queue_init(&fm->held);
        fm->received = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(fm->received, NULL);
        fm->args = g_ptr_array_new_with_free_func(g_free);
        fm->unexpected = g_ptr_array_new_with_free_func(g_free);
        return fm;
}

void fake_monitor_hang_up(FakeMonitor *fm) {
        g_clear_handle_id(&fm->watch, g_source_remove);
        if (fm->fd >= 0)
                close(fm->fd);
        fm->fd = -1;
}

void fake_monitor_free(FakeMonitor *fm) {
        if (!fm)
                return;
        fake_monitor_hang_up(fm);
        g_clear_handle_id(&fm->listen_watch, g_source_remove);
        if (fm->listen_fd >= 0) {
                close(fm->listen_fd);
                (void) unlink(fm->listen_path);
        }
        g_free(fm->listen_path);
        g_free(fm->greeting);
        g_free(fm->attached_uuid);
        if (fm->serves_attaches)
                qemu_process_set_attach_hook(NULL, NULL);
        g_string_free(fm->in, TRUE);
        g_queue_clear_full(&fm->expected, (GDestroyNotify) expectation_free);
        g_queue_clear_full(&fm->held, (GDestroyNotify) held_reply_free);
        g_ptr_array_unref(fm->received);
        g_ptr_array_unref(fm->args);
        g_ptr_array_unref(fm->unexpected);
        if (fm->launch_argv) {
                g_strfreev(fm->launch_argv);
                qemu_process_set_launch_hook(NULL, NULL);
        }
        g_free(fm);
}

void fake_monitor_set_version(FakeMonitor *fm, guint major, guint minor) {
        fm->major = major;
        fm->minor = minor;
}

static void on_connected(GObject *source, GAsyncResult *result, gpointer user_data) {
        QemuProcess **ret = user_data;
        g_autoptr(GError) error = NULL;

        *ret = qemu_process_new_for_monitor_finish(result, &error);
        g_assert_no_error(error);
}

/* Serves the connection @fd: sends the greeting. */
static void serve_fd(FakeMonitor *fm, int fd) {
        g_autofree char *greeting = NULL;

        g_assert_cmpint(fm->fd, <, 0);
        fm->fd = fd;
        fm->watch = g_unix_fd_add(fm->fd, G_IO_IN | G_IO_HUP, on_readable, fm);
        greeting = g_strdup_printf("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": %u, "
                                   "\"major\": %u}, \"package\": \"fake\"}, \"capabilities\": []}}",
                                   fm->minor, fm->major);
        if (fm->hold_greeting) {
                fm->hold_greeting = FALSE;
                g_free(fm->greeting);
                fm->greeting = g_steal_pointer(&greeting);
                return;
        }
        send_line(fm, greeting);
}

void fake_monitor_hold_greeting(FakeMonitor *fm) {
        fm->hold_greeting = TRUE;
}

void fake_monitor_greet(FakeMonitor *fm) {
        g_autofree char *greeting = g_steal_pointer(&fm->greeting);

        g_assert_nonnull(greeting);
        send_line(fm, greeting);
}

/* A new connection with its greeting sent; returns the client's end. */
static int serve(FakeMonitor *fm) {
        int fds[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        serve_fd(fm, fds[0]);
        return fds[1];
}

static gboolean on_accept(int fd, GIOCondition condition, gpointer user_data) {
        FakeMonitor *fm = user_data;
        int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

        if (conn < 0)
                return G_SOURCE_CONTINUE;
        if (fm->fd >= 0) {
                /* One connection at a time, as QEMU's monitor. */
                close(conn);
                return G_SOURCE_CONTINUE;
        }
        serve_fd(fm, conn);
        return G_SOURCE_CONTINUE;
}

void fake_monitor_listen(FakeMonitor *fm, const char *path) {
        struct sockaddr_un addr = { .sun_family = AF_UNIX };

        g_assert_cmpint(fm->listen_fd, <, 0);
        g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
        strcpy(addr.sun_path, path);
        fm->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(fm->listen_fd, >=, 0);
        g_assert_cmpint(bind(fm->listen_fd, (struct sockaddr *) &addr, sizeof(addr)), ==, 0);
        g_assert_cmpint(listen(fm->listen_fd, 1), ==, 0);
        fm->listen_path = g_strdup(path);
        fm->listen_watch = g_unix_fd_add(fm->listen_fd, G_IO_IN, on_accept, fm);
}

static int on_launch(const QemuLaunch *launch, gpointer user_data, GError **error) {
        FakeMonitor *fm = user_data;

        g_strfreev(fm->launch_argv);
        fm->launch_argv = g_strdupv(launch->argv);
        return serve(fm);
}

void fake_monitor_serve_launches(FakeMonitor *fm) {
        if (!fm->launch_argv)
                fm->launch_argv = g_new0(char *, 1);
        qemu_process_set_launch_hook(on_launch, fm);
}

const char *const *fake_monitor_launch_argv(FakeMonitor *fm) {
        return (const char *const *) fm->launch_argv;
}

QemuProcess *fake_monitor_connect(FakeMonitor *fm) {
        QemuProcess *process = NULL;

        qemu_process_new_for_monitor_async(serve(fm), NULL, on_connected, &process);
        while (!process)
                g_main_context_iteration(NULL, TRUE);
        return process;
}

/* What the daemon's attach does after its process checks: connect to the
 * monitor socket at the path it computed, which must be ours. */
static int on_attach(pid_t pid, const char *uuid, const char *monitor_path, gpointer user_data, GError **error) {
        FakeMonitor *fm = user_data;
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        int fd;

        g_free(fm->attached_uuid);
        fm->attached_uuid = g_strdup(uuid);
        g_assert_cmpuint(strlen(monitor_path), <, sizeof(addr.sun_path));
        strcpy(addr.sun_path, monitor_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        g_assert_cmpint(fd, >=, 0);
        if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "fake monitor: nobody serves %s: %s",
                            monitor_path, g_strerror(errno));
                close(fd);
                return -1;
        }
        return fd;
}

void fake_monitor_serve_attaches(FakeMonitor *fm, const char *monitor_path) {
        fake_monitor_listen(fm, monitor_path);
        fm->serves_attaches = TRUE;
        qemu_process_set_attach_hook(on_attach, fm);
}

const char *fake_monitor_attached_uuid(FakeMonitor *fm) {
        return fm->attached_uuid;
}

gboolean fake_monitor_is_connected(FakeMonitor *fm) {
        return fm->fd >= 0;
}

static void expect(FakeMonitor *fm, const char *command, char *reply, gboolean is_error, gboolean held) {
        Expectation *e = g_new0(Expectation, 1);

        e->command = g_strdup(command);
        e->reply = reply;
        e->is_error = is_error;
        e->held = held;
        g_queue_push_tail(&fm->expected, e);
}

void fake_monitor_expect(FakeMonitor *fm, const char *command, const char *return_json) {
        expect(fm, command, g_strdup(return_json ? return_json : "{}"), FALSE, FALSE);
}

void fake_monitor_expect_error(FakeMonitor *fm, const char *command, const char *error_class,
                               const char *desc) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "class");
        json_builder_add_string_value(b, error_class);
        json_builder_set_member_name(b, "desc");
        json_builder_add_string_value(b, desc);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        expect(fm, command, json_to_string(root, FALSE), TRUE, FALSE);
}

void fake_monitor_expect_no_tls_object(FakeMonitor *fm) {
        fake_monitor_expect_error(fm, "object-del", "GenericError", "object 'md-migration-tls' not found");
}

void fake_monitor_expect_reset(FakeMonitor *fm) {
        fake_monitor_expect(fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(fm);
}

void fake_monitor_expect_held(FakeMonitor *fm, const char *command, const char *return_json) {
        expect(fm, command, g_strdup(return_json ? return_json : "{}"), FALSE, TRUE);
}

void fake_monitor_release(FakeMonitor *fm) {
        HeldReply *h = g_queue_pop_head(&fm->held);

        g_assert_nonnull(h);
        g_assert_true(h->held);
        send_line(fm, h->text);
        held_reply_free(h);
        /* Then the replies that came after it, up to the next held one. */
        while ((h = g_queue_peek_head(&fm->held)) && !h->held) {
                send_line(fm, h->text);
                held_reply_free(g_queue_pop_head(&fm->held));
        }
}

void fake_monitor_emit(FakeMonitor *fm, const char *event, const char *data_json) {
        gint64 now = g_get_real_time();
        g_autofree char *text = NULL;

        text = g_strdup_printf("{\"event\": \"%s\"%s%s, \"timestamp\": {\"seconds\": %" G_GINT64_FORMAT
                               ", \"microseconds\": %" G_GINT64_FORMAT "}}",
                               event, data_json ? ", \"data\": " : "", data_json ? data_json : "",
                               now / G_USEC_PER_SEC, now % G_USEC_PER_SEC);
        send_line(fm, text);
}

static gboolean on_wait_timeout(gpointer user_data) {
        gboolean *timed_out = user_data;

        *timed_out = TRUE;
        return G_SOURCE_REMOVE;
}

void fake_monitor_wait(FakeMonitor *fm, guint n) {
        gboolean timed_out = FALSE;
        guint timer = g_timeout_add_seconds(WAIT_TIMEOUT_S, on_wait_timeout, &timed_out);

        while (fm->args->len < n && !timed_out)
                g_main_context_iteration(NULL, TRUE);
        if (!timed_out)
                g_source_remove(timer);
        if (fm->args->len < n) {
                g_autofree char *got = g_strjoinv(", ", (char **) fm->received->pdata);
                g_error("fake monitor: waited for %u commands, got %u: %s", n, fm->args->len, got);
        }
        fake_monitor_flush(fm);
}

void fake_monitor_flush(FakeMonitor *fm) {
        /* Replies travel through the socket: a few rounds until all is quiet. */
        for (guint quiet = 0; quiet < 3;) {
                if (g_main_context_iteration(NULL, FALSE))
                        quiet = 0;
                else {
                        quiet++;
                        g_usleep(1000);
                }
        }
}

const char *const *fake_monitor_received(FakeMonitor *fm) {
        return (const char *const *) fm->received->pdata;
}

const char *fake_monitor_received_args(FakeMonitor *fm, guint i) {
        g_assert_cmpuint(i, <, fm->args->len);
        return fm->args->pdata[i];
}

void fake_monitor_assert_received(FakeMonitor *fm, ...) {
        g_autoptr(GPtrArray) want = g_ptr_array_new();
        g_autofree char *got_text = g_strjoinv(" ", (char **) fm->received->pdata);
        g_autofree char *want_text = NULL;
        va_list ap;

        va_start(ap, fm);
        for (const char *c; (c = va_arg(ap, const char *));)
                g_ptr_array_add(want, (gpointer) c);
        va_end(ap);
        g_ptr_array_add(want, NULL);
        want_text = g_strjoinv(" ", (char **) want->pdata);
        g_assert_cmpstr(got_text, ==, want_text);
}

void fake_monitor_assert_done(FakeMonitor *fm) {
        Expectation *left = g_queue_peek_head(&fm->expected);

        if (fm->unexpected->len)
                g_error("%s", (const char *) fm->unexpected->pdata[0]);
        g_assert_null(left ? left->command : NULL);
        g_assert_cmpuint(g_queue_get_length(&fm->held), ==, 0);
}
