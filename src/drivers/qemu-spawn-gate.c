#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "md-error.h"
#include "qemu-spawn-gate.h"

/* GLib's spawn returns only once the child has exec'd (it waits for its
 * exec error, if any): the child cannot wait for the daemon inside it.
 * So GLib spawns from a thread, and the child, held in child_setup, tells
 * its pid over a socket pair (send(MSG_NOSIGNAL): a peer gone is EPIPE,
 * not SIGPIPE) and waits there for one byte. */
/* A child gone before it told its pid, or before it read the byte. */
static const char died_at_gate[] = "its process died before it could run";

struct QemuSpawnGate {
        int fd;                   /* the daemon's end */
        int child_fd;             /* the child's end; the daemon's copy closes when GLib returns */
        GThread *thread;
        const char *const *argv;
        int log_fd;
        const int *source_fds, *target_fds;
        guint n_fds;
        gboolean spawned;
        GPid pid;                 /* GLib's, once the spawn thread returns */
        pid_t told_pid;           /* the child's, as it told it */
        GError *error;
};

/* In the forked child: only async-signal-safe calls. Its copy of the
 * daemon's end goes first, so that the daemon's death is EOF here. */
static void child_setup(gpointer user_data) {
        const QemuSpawnGate *g = user_data;
        pid_t pid = getpid();
        ssize_t n;
        char go;

        (void) setsid();        /* its own session: the daemon's stop must not take the guest */
        (void) close(g->fd);
        if (send(g->child_fd, &pid, sizeof(pid), MSG_NOSIGNAL) != sizeof(pid))
                _exit(QEMU_GATE_CLOSED_STATUS);
        do
                n = read(g->child_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(QEMU_GATE_CLOSED_STATUS);
        (void) close(g->child_fd);
}

static gpointer spawn_thread(gpointer user_data) {
        QemuSpawnGate *g = user_data;

        g->spawned = g_spawn_async_with_pipes_and_fds(NULL, g->argv, NULL,
                                                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
                                                      child_setup, g, -1, g->log_fd, g->log_fd, g->source_fds,
                                                      g->target_fds, g->n_fds, &g->pid, NULL, NULL, NULL,
                                                      &g->error);
        /* No child (fork failed) or it has exec'd: EOF for a daemon still waiting for a pid. */
        close(g->child_fd);
        return NULL;
}

/* Above every target fd: GLib's dup2()s onto them must not replace the
 * gate's ends in the child. Close-on-exec: QEMU and every other child the
 * daemon spawns never inherit them (the daemon forks from its main thread,
 * which waits here for the gate's whole life, and from this one only). */
static int move_above(int fd, int min_fd) {
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
        int saved = errno;

        close(fd);
        errno = saved;
        return moved;
}

static void gate_free(QemuSpawnGate *g) {
        if (g->thread)
                g_thread_join(g->thread);
        if (g->fd >= 0)
                close(g->fd);
        g_clear_error(&g->error);
        g_free(g);
}

QemuSpawnGate *qemu_spawn_gate_new(const char *const *argv, int log_fd, const int *source_fds,
                                   const int *target_fds, guint n_fds, pid_t *ret_pid, GError **error) {
        QemuSpawnGate *g = g_new0(QemuSpawnGate, 1);
        int sv[2], min_fd = 3;
        pid_t pid = 0;
        ssize_t n;

        for (guint i = 0; i < n_fds; i++)
                min_fd = MAX(min_fd, target_fds[i] + 1);
        g->fd = g->child_fd = -1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
                g->fd = move_above(sv[0], min_fd);
                g->child_fd = move_above(sv[1], min_fd);
        }
        if (g->fd < 0 || g->child_fd < 0) {
                int saved = errno;
                if (g->child_fd >= 0)
                        close(g->child_fd);
                gate_free(g);
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Failed to start QEMU: gate: %s",
                            g_strerror(saved));
                return NULL;
        }
        *g = (QemuSpawnGate) { .fd = g->fd, .child_fd = g->child_fd, .argv = argv, .log_fd = log_fd,
                               .source_fds = source_fds, .target_fds = target_fds, .n_fds = n_fds };
        /* Not g_thread_new(): out of tasks (TasksMax, RLIMIT_NPROC) the
         * launch fails, as a failed fork does, instead of the daemon. */
        g->thread = g_thread_try_new("qemu-spawn", spawn_thread, g, &g->error);
        if (!g->thread) {
                close(g->child_fd);
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Failed to start QEMU: %s", g->error->message);
                gate_free(g);
                return NULL;
        }
        do
                n = recv(g->fd, &pid, sizeof(pid), MSG_WAITALL);
        while (n < 0 && errno == EINTR);
        if (n != sizeof(pid)) {
                /* Closed before the join: a child still waiting at the gate
                 * (a short or failed recv) must see EOF, or GLib, waiting
                 * for its exec, never returns. */
                close(g->fd);
                g->fd = -1;
                g_thread_join(g_steal_pointer(&g->thread));
                if (g->spawned)         /* forked, but the child died before it told its pid */
                        (void) waitpid(g->pid, NULL, 0);
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Failed to start QEMU: %s",
                            g->error ? g->error->message : died_at_gate);
                gate_free(g);
                return NULL;
        }
        g->told_pid = *ret_pid = pid;
        return g;
}

/* Dead already (not reaped: the gate reaps it)? Its end of the socket pair
 * may not say so: the spawn thread holds a copy until GLib returns. */
static gboolean child_exited(pid_t pid) {
        siginfo_t info = { 0 };

        return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

gboolean qemu_spawn_gate_open(QemuSpawnGate *g, GError **error) {
        gboolean ok;

        if (child_exited(g->told_pid) || send(g->fd, "", 1, MSG_NOSIGNAL) != 1) {
                /* The child died before exec: reaped here. */
                g_debug("QEMU's spawn gate: the child %d is gone", g->told_pid);
                qemu_spawn_gate_close(g);
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Failed to start QEMU: %s", died_at_gate);
                return FALSE;
        }
        g_thread_join(g_steal_pointer(&g->thread));
        ok = g->spawned;
        if (!ok)
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "Failed to start QEMU: %s",
                            g->error->message);
        gate_free(g);
        return ok;
}

void qemu_spawn_gate_close(QemuSpawnGate *g) {
        pid_t pid;
        int status;

        close(g->fd);
        g->fd = -1;
        g_thread_join(g_steal_pointer(&g->thread));
        pid = g->pid;
        if (g->spawned && waitpid(pid, &status, 0) == pid)
                g_message("QEMU %d was held before exec and never ran (exit status %d)", pid,
                          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        gate_free(g);
}
