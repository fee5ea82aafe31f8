#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "qemu-process-private.h"
#include "qemu-spawn-gate.h"

/* A busy 2-core machine running TCG guests can be slow to bring QEMU up. */
#define HANDSHAKE_TIMEOUT_S 60
#define KVM_GET_API_VERSION 0xAE00
#define KVM_API_VERSION 12

struct QemuProcess {
        pid_t pid;
        int pidfd;
        guint pidfd_source;
        guint kill_timer;
        gboolean alive;
        gboolean our_child;       /* spawned by this daemon, so ours to reap */
        QmpClient *qmp;
        char *log_path;
        off_t log_start;          /* where this run's output begins in the log */
        GTask *startup;           /* launch or attach, until the handshake is done */
        guint startup_timer;
        gulong cancel_handler;    /* on the startup's cancellable */
        guint cancel_idle;        /* the cancelled startup fails from here */
        QemuExitFunc exit_func;
        gpointer exit_data;
        QemuEventFunc event_func;
        gpointer event_data;
};

pid_t qemu_process_get_pid(QemuProcess *p) { return p->pid; }
QmpClient *qemu_process_get_qmp(QemuProcess *p) { return p->qmp; }
guint qemu_process_get_qemu_version(QemuProcess *p) { return qmp_client_get_qemu_version(p->qmp); }

void qemu_process_set_exit_func(QemuProcess *p, QemuExitFunc func, gpointer user_data) {
        p->exit_func = func;
        p->exit_data = user_data;
}

static void on_qmp_event(QmpClient *client, const char *name, JsonObject *data, gpointer user_data) {
        QemuProcess *p = user_data;
        QemuEvent event;

        qemu_event_parse(name, data, &event);
        if (p->event_func)
                p->event_func(&event, p->event_data);
}

void qemu_process_set_event_func(QemuProcess *p, QemuEventFunc func, gpointer user_data) {
        p->event_func = func;
        p->event_data = user_data;
        qmp_client_set_event_func(p->qmp, on_qmp_event, p);
}

void qemu_process_free(QemuProcess *p) {
        if (!p)
                return;
        g_clear_handle_id(&p->pidfd_source, g_source_remove);
        g_clear_handle_id(&p->kill_timer, g_source_remove);
        g_clear_handle_id(&p->startup_timer, g_source_remove);
        g_clear_handle_id(&p->cancel_idle, g_source_remove);
        if (p->pidfd >= 0)
                close(p->pidfd);
        g_clear_pointer(&p->qmp, qmp_client_free);
        g_free(p->log_path);
        g_free(p);
}

char *qemu_log_tail(const char *log_path, off_t from, guint max_lines) {
        g_autofree char *all = NULL;
        gsize all_len = 0, len;
        char *contents;
        const char *start;
        guint lines = 0;

        if (!log_path || !g_file_get_contents(log_path, &all, &all_len, NULL) || all_len <= (gsize) from)
                return g_strdup("(QEMU wrote nothing to its log)");
        contents = all + from;
        len = all_len - from;
        while (len > 0 && contents[len - 1] == '\n')
                contents[--len] = '\0';
        for (start = contents + len; start > contents; start--)
                if (start[-1] == '\n' && ++lines == max_lines)
                        break;
        return g_strdup(start);
}

/* A QEMU we spawned goes at once (SIGKILL) and is reaped: it has no guest
 * state before its monitor is up. One found again after a restart is left
 * alone (it is a running guest). */
static void kill_child_now(QemuProcess *p) {
        if (p->alive && p->our_child) {
                (void) pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
                (void) waitpid(p->pid, NULL, 0);
                p->alive = FALSE;
        }
}

/* The startup is over: its cancellable no longer concerns the process. */
static void startup_end(QemuProcess *p) {
        GCancellable *cancellable = g_task_get_cancellable(p->startup);

        g_clear_handle_id(&p->startup_timer, g_source_remove);
        if (p->cancel_handler)
                g_cancellable_disconnect(cancellable, p->cancel_handler);
        p->cancel_handler = 0;
}

/* The startup task fails. A QEMU we just spawned must not linger
 * half-started; one found again after a restart is left alone (killing it
 * because its monitor is slow would lose the guest). The process is freed
 * from an idle callback: this may run inside its own QMP or pidfd
 * callbacks. */
static void startup_fail(QemuProcess *p, GError *error) {
        g_autoptr(GTask) task = NULL;

        startup_end(p);
        task = g_steal_pointer(&p->startup);
        kill_child_now(p);
        g_task_return_error(task, error);
        g_idle_add_once((GSourceOnceFunc) qemu_process_free, p);
}

static gboolean on_pidfd(int fd, GIOCondition condition, gpointer user_data) {
        QemuProcess *p = user_data;
        int status;

        /* Our own child must be reaped; one inherited from an earlier daemon
         * is not ours (ECHILD) and the pidfd alone tells that it is gone. */
        (void) waitpid(p->pid, &status, WNOHANG);
        p->alive = FALSE;
        if (p->qmp)
                qmp_client_drain(p->qmp);
        p->pidfd_source = 0;
        g_clear_handle_id(&p->kill_timer, g_source_remove);
        g_debug("QEMU %d has exited", p->pid);

        if (p->startup) {
                g_autofree char *tail = qemu_log_tail(p->log_path, p->log_start, 5);
                startup_fail(p, g_error_new(MD_ERROR, MD_ERROR_QEMU_FAILED,
                                            "QEMU exited during start-up: %s", tail));
                return G_SOURCE_REMOVE;
        }
        if (p->exit_func)
                p->exit_func(p, p->exit_data);
        return G_SOURCE_REMOVE;
}

static gboolean on_startup_timeout(gpointer user_data) {
        QemuProcess *p = user_data;

        p->startup_timer = 0;
        startup_fail(p, g_error_new(MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "QEMU's monitor did not answer within %d s",
                                    HANDSHAKE_TIMEOUT_S));
        return G_SOURCE_REMOVE;
}

static void on_qmp_ready(QmpClient *client, const GError *error, gpointer user_data) {
        QemuProcess *p = user_data;
        g_autoptr(GTask) task = NULL;

        if (!p->startup)
                return;
        if (error) {
                g_autofree char *tail = qemu_log_tail(p->log_path, p->log_start, 5);
                startup_fail(p, g_error_new(MD_ERROR, MD_ERROR_QEMU_FAILED,
                                            "QEMU's monitor failed: %s (log: %s)",
                                            error->message, tail));
                return;
        }
        startup_end(p);
        task = g_steal_pointer(&p->startup);
        /* From here on the caller of _finish() owns the process. */
        g_task_return_pointer(task, p, NULL);
}

/* sun_path holds 108 bytes; deep runtime directories (tests) need more.
 * Through a directory fd the kernel resolves any length. */
static int socket_address(const char *path, struct sockaddr_un *sa, int *ret_dirfd, GError **error) {
        g_autofree char *dir = NULL, *base = NULL;
        int dirfd;

        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        *ret_dirfd = -1;
        if (strlen(path) < sizeof(sa->sun_path)) {
                strcpy(sa->sun_path, path);
                return 0;
        }
        dir = g_path_get_dirname(path);
        base = g_path_get_basename(path);
        dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0 || (size_t) snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", dirfd, base)
                                 >= sizeof(sa->sun_path)) {
                if (dirfd >= 0)
                        close(dirfd);
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Monitor path too long: %s", path);
                return -1;
        }
        *ret_dirfd = dirfd;
        return 0;
}

/* QEMU's monitor socket at @path: connected to (non-blocking), or with
 * @listening bound and listening, for a QEMU about to start. */
static int monitor_socket(const char *path, gboolean listening, GError **error) {
        struct sockaddr_un sa;
        int fd, dirfd, r = -1, saved = 0;

        if (socket_address(path, &sa, &dirfd, error) < 0)
                return -1;
        if (listening)
                (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (listening ? 0 : SOCK_NONBLOCK), 0);
        if (fd >= 0)
                r = listening ? bind(fd, (struct sockaddr *) &sa, sizeof(sa))
                              : connect(fd, (struct sockaddr *) &sa, sizeof(sa));
        if (r >= 0 && listening)
                r = listen(fd, 4);
        if (r < 0) {
                saved = errno;
                if (fd >= 0)
                        close(fd);
                fd = -1;
        }
        if (dirfd >= 0)
                close(dirfd);
        if (fd < 0)
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                            listening ? "Failed to create QEMU's monitor socket %s: %s"
                                      : "Failed to connect to QEMU's monitor %s: %s",
                            path, g_strerror(saved));
        return fd;
}

static GError *cancelled_error(void) {
        return g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   "QEMU's start was cancelled; the process was killed");
}

static gboolean on_cancel_idle(gpointer user_data) {
        QemuProcess *p = user_data;

        p->cancel_idle = 0;
        startup_fail(p, cancelled_error());
        return G_SOURCE_REMOVE;
}

/* The caller no longer wants this QEMU: it is gone before
 * g_cancellable_cancel() returns. The task fails from an idle: the
 * canceller may still use what the task's callback frees, and a handler
 * cannot disconnect itself. */
static void on_startup_cancelled(GCancellable *cancellable, gpointer user_data) {
        QemuProcess *p = user_data;

        if (!p->startup || p->cancel_idle)
                return;
        kill_child_now(p);
        /* Nothing else may fail the startup meanwhile (a fake's monitor
         * closes here, which is its death). */
        g_clear_handle_id(&p->pidfd_source, g_source_remove);
        g_clear_handle_id(&p->startup_timer, g_source_remove);
        g_clear_pointer(&p->qmp, qmp_client_free);
        p->alive = FALSE;
        p->cancel_idle = g_idle_add(on_cancel_idle, p);
}

/* Last step of starting up: a cancellable already cancelled fires at once. */
static void startup_watch_cancel(QemuProcess *p) {
        GCancellable *cancellable = p->startup ? g_task_get_cancellable(p->startup) : NULL;

        if (cancellable)
                p->cancel_handler = g_cancellable_connect(cancellable, G_CALLBACK(on_startup_cancelled), p, NULL);
}

/* Common tail of launch and attach: watch the pid, talk QMP, wait for ready. */
static void startup_begin(QemuProcess *p, GTask *task, const char *monitor_path) {
        g_autoptr(GError) error = NULL;
        int fd;

        p->startup = task;
        p->pidfd_source = g_unix_fd_add(p->pidfd, G_IO_IN, on_pidfd, p);
        p->startup_timer = g_timeout_add_seconds(HANDSHAKE_TIMEOUT_S, on_startup_timeout, p);
        fd = monitor_socket(monitor_path, FALSE, &error);
        if (fd < 0) {
                startup_fail(p, g_steal_pointer(&error));
                return;
        }
        p->qmp = qmp_client_new();
        qmp_client_set_ready_func(p->qmp, on_qmp_ready, p);
        qmp_client_attach_fd(p->qmp, fd);
        startup_watch_cancel(p);
}

static QemuProcess *process_new(const char *log_path) {
        QemuProcess *p = g_new0(QemuProcess, 1);

        p->pidfd = -1;
        p->log_path = g_strdup(log_path);
        return p;
}

static QemuLaunchHook launch_hook;
static gpointer launch_hook_data;

void qemu_process_set_launch_hook(QemuLaunchHook hook, gpointer user_data) {
        launch_hook = hook;
        launch_hook_data = user_data;
}

/* A monitor without a process: the fake end of a test. */
static void monitor_only_begin(QemuProcess *p, GTask *task, int fd) {
        p->alive = TRUE;
        p->startup = task;
        p->startup_timer = g_timeout_add_seconds(HANDSHAKE_TIMEOUT_S, on_startup_timeout, p);
        p->qmp = qmp_client_new();
        qmp_client_set_ready_func(p->qmp, on_qmp_ready, p);
        qmp_client_attach_fd(p->qmp, fd);
        startup_watch_cancel(p);
}

static void launch_by_hook(const QemuLaunch *launch, GTask *task) {
        g_autoptr(GError) error = NULL;
        int fd = launch_hook(launch, launch_hook_data, &error);

        if (fd < 0) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        monitor_only_begin(process_new(NULL), task, fd);
}

/* Forks QEMU with its output appended to its log and the listening monitor
 * socket as QEMU_MONITOR_FD, held before its exec (qemu-spawn-gate.c), not
 * reaped by GLib. */
static QemuSpawnGate *spawn_qemu(const QemuLaunch *launch, QemuProcess *p, pid_t *ret_pid, GError **error) {
        int monitor_fd, log_fd;
        g_autofree int *source_fds = g_new(int, launch->n_extra_fds + 1);
        g_autofree int *target_fds = g_new(int, launch->n_extra_fds + 1);
        QemuSpawnGate *gate;

        log_fd = open(launch->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (log_fd < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Failed to open QEMU's log %s: %s",
                            launch->log_path, g_strerror(errno));
                return NULL;
        }
        p->log_start = lseek(log_fd, 0, SEEK_END);
        monitor_fd = monitor_socket(launch->monitor_path, TRUE, error);
        if (monitor_fd < 0) {
                close(log_fd);
                return NULL;
        }
        source_fds[0] = monitor_fd;
        target_fds[0] = QEMU_MONITOR_FD;
        for (guint i = 0; i < launch->n_extra_fds; i++) {
                source_fds[i + 1] = launch->extra_fds[i];
                target_fds[i + 1] = QEMU_MONITOR_FD + 1 + (int) i;
        }
        g_debug("Starting %s", launch->argv[0]);
        gate = qemu_spawn_gate_new((const char *const *) launch->argv, log_fd, source_fds, target_fds,
                                   launch->n_extra_fds + 1, ret_pid, error);
        /* The child has its copies (it forked); the exec needs no more of ours. */
        close(log_fd);
        close(monitor_fd);
        return gate;
}

/* Our child from now on, watched through a pidfd. */
static gboolean adopt_child(QemuProcess *p, pid_t pid, GError **error) {
        p->pid = pid;
        p->our_child = TRUE;
        p->pidfd = pidfd_open(pid, 0);
        if (p->pidfd < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Failed to watch QEMU (pidfd_open): %s",
                            g_strerror(errno));
                return FALSE;
        }
        return TRUE;
}

/* QEMU execs only once its pid is watched and recorded (launch->spawned):
 * a daemon killed before leaves a child that exits by itself (its gate
 * closes with the daemon), never a QEMU no record names. */
static gboolean spawn_recorded(const QemuLaunch *launch, QemuProcess *p, GError **error) {
        pid_t pid = 0;
        QemuSpawnGate *gate = spawn_qemu(launch, p, &pid, error);

        if (!gate)
                return FALSE;
        if (!adopt_child(p, pid, error) || (launch->spawned && !launch->spawned(pid, launch->spawned_data, error))) {
                qemu_spawn_gate_close(gate);    /* never runs; reaped */
                return FALSE;
        }
        /* Alive only once it has exec'd: a child that failed at the gate
         * is reaped already (by GLib or the gate), not a pid to wait for. */
        if (!qemu_spawn_gate_open(gate, error))
                return FALSE;
        p->alive = TRUE;
        return TRUE;
}

void qemu_process_launch_async(const QemuLaunch *launch, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        g_autoptr(GError) error = NULL;
        QemuProcess *p;

        g_task_set_source_tag(task, qemu_process_launch_async);
        /* _finish() decides: a QEMU that came up must not be lost to a
         * cancellation that came too late for it. */
        g_task_set_check_cancellable(task, FALSE);
        if (g_cancellable_is_cancelled(cancellable)) {
                g_task_return_error(task, cancelled_error());
                g_object_unref(task);
                return;
        }
        if (launch_hook) {
                launch_by_hook(launch, task);
                return;
        }
        p = process_new(launch->log_path);
        if (!spawn_recorded(launch, p, &error)) {
                kill_child_now(p);
                g_task_return_error(task, g_steal_pointer(&error));
                qemu_process_free(p);
                g_object_unref(task);
                return;
        }
        startup_begin(p, task, launch->monitor_path);
}

static QemuProcess *startup_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}

QemuProcess *qemu_process_launch_finish(GAsyncResult *result, GError **error) {
        QemuProcess *p = startup_finish(result, error);

        /* Up, but cancelled before its caller heard of it: it goes too. */
        if (p && g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result)))) {
                kill_child_now(p);
                qemu_process_free(p);
                g_propagate_error(error, cancelled_error());
                return NULL;
        }
        return p;
}

gboolean qemu_process_cmdline_mentions(pid_t pid, const char *needle) {
        g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", pid);
        g_autofree char *contents = NULL;
        gsize len = 0;

        if (!g_file_get_contents(path, &contents, &len, NULL))
                return FALSE;
        for (gsize i = 0; i < len; i += strlen(contents + i) + 1)
                if (g_str_equal(contents + i, needle))
                        return TRUE;
        return FALSE;
}

static QemuAttachHook attach_hook;
static gpointer attach_hook_data;

void qemu_process_set_attach_hook(QemuAttachHook hook, gpointer user_data) {
        attach_hook = hook;
        attach_hook_data = user_data;
}

static void attach_by_hook(pid_t pid, const char *uuid, const char *monitor_path, GTask *task) {
        g_autoptr(GError) error = NULL;
        int fd = attach_hook(pid, uuid, monitor_path, attach_hook_data, &error);
        QemuProcess *p;

        if (fd < 0) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        p = process_new(NULL);
        p->pid = pid;
        monitor_only_begin(p, task, fd);
}

void qemu_process_attach_async(pid_t pid, const char *uuid, const char *monitor_path,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data) {
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        QemuProcess *p;

        g_task_set_source_tag(task, qemu_process_attach_async);
        if (attach_hook) {
                attach_by_hook(pid, uuid, monitor_path, task);
                return;
        }
        p = process_new(NULL);
        p->pid = pid;
        p->pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
        /* Checked after pidfd_open: the pidfd pins the process, so a pid
         * reused by something else cannot pass for our guest. */
        if (p->pidfd < 0 || !qemu_process_cmdline_mentions(pid, uuid)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                        "QEMU process %d of guest %s is gone", pid, uuid);
                qemu_process_free(p);
                g_object_unref(task);
                return;
        }
        p->alive = TRUE;
        startup_begin(p, task, monitor_path);
}

QemuProcess *qemu_process_attach_finish(GAsyncResult *result, GError **error) {
        return startup_finish(result, error);
}

void qemu_process_new_for_monitor_async(int fd, GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data) {
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        QemuProcess *p = process_new(NULL);

        g_task_set_source_tag(task, qemu_process_new_for_monitor_async);
        monitor_only_begin(p, task, fd);
}

QemuProcess *qemu_process_new_for_monitor_finish(GAsyncResult *result, GError **error) {
        return startup_finish(result, error);
}

static gboolean on_kill_timeout(gpointer user_data) {
        QemuProcess *p = user_data;

        p->kill_timer = 0;
        if (p->alive) {
                g_warning("QEMU %d ignored SIGTERM, sending SIGKILL", p->pid);
                (void) pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
        }
        return G_SOURCE_REMOVE;
}

/* A monitor without a process "exits" when killed. */
static gboolean on_fake_exit(gpointer user_data) {
        QemuProcess *p = user_data;

        p->kill_timer = 0;
        if (p->exit_func)
                p->exit_func(p, p->exit_data);
        return G_SOURCE_REMOVE;
}

void qemu_process_kill(QemuProcess *p, guint grace_ms) {
        if (!p->alive)
                return;
        if (p->pidfd < 0) {
                p->alive = FALSE;
                p->kill_timer = g_idle_add(on_fake_exit, p);
                return;
        }
        /* Through the pidfd: never a signal to a recycled pid. */
        (void) pidfd_send_signal(p->pidfd, grace_ms ? SIGTERM : SIGKILL, NULL, 0);
        if (grace_ms && !p->kill_timer)
                p->kill_timer = g_timeout_add(grace_ms, on_kill_timeout, p);
}

gboolean qemu_kvm_usable(void) {
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        gboolean ok;

        if (fd < 0)
                return FALSE;
        ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
        close(fd);
        return ok;
}
