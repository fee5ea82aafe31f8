#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <unistd.h>
#include <glib-unix.h>

#include "md-error.h"
#include "qemu-process-private.h"

/* SIGKILL cannot be ignored; only a process stuck in the kernel outlives it. */
#define STALE_KILL_TIMEOUT_S 10

typedef struct {
        pid_t pid;
        int pidfd;
        guint watch;
        guint timer;
} StaleKill;

static void stale_kill_free(StaleKill *k) {
        g_clear_handle_id(&k->watch, g_source_remove);
        g_clear_handle_id(&k->timer, g_source_remove);
        if (k->pidfd >= 0)
                close(k->pidfd);
        g_free(k);
}

static gboolean on_stale_gone(int fd, GIOCondition condition, gpointer user_data) {
        GTask *task = user_data;
        StaleKill *k = g_task_get_task_data(task);

        k->watch = 0;
        g_clear_handle_id(&k->timer, g_source_remove);
        g_debug("Stale QEMU %d has gone", k->pid);
        g_task_return_boolean(task, TRUE);      /* killed */
        g_object_unref(task);
        return G_SOURCE_REMOVE;
}

static gboolean on_stale_timeout(gpointer user_data) {
        GTask *task = user_data;
        StaleKill *k = g_task_get_task_data(task);

        k->timer = 0;
        g_clear_handle_id(&k->watch, g_source_remove);
        g_task_return_new_error(task, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                "QEMU process %d did not exit within %d s of SIGKILL", k->pid,
                                STALE_KILL_TIMEOUT_S);
        g_object_unref(task);
        return G_SOURCE_REMOVE;
}

void qemu_process_kill_stale_async(pid_t pid, const char *uuid, GAsyncReadyCallback callback,
                                   gpointer user_data) {
        GTask *task = g_task_new(NULL, NULL, callback, user_data);
        StaleKill *k = g_new0(StaleKill, 1);

        g_task_set_source_tag(task, qemu_process_kill_stale_async);
        g_task_set_task_data(task, k, (GDestroyNotify) stale_kill_free);
        k->pid = pid;
        k->pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
        if (k->pidfd < 0 && pid > 0 && errno != ESRCH) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                        "Cannot watch QEMU process %d to kill it (pidfd_open: %s)", pid,
                                        g_strerror(errno));
                g_object_unref(task);
                return;
        }
        /* Checked after pidfd_open: the pidfd pins the process, so a pid
         * reused by another program is never signalled. */
        if (k->pidfd < 0 || !qemu_process_cmdline_mentions(pid, uuid)) {
                g_task_return_boolean(task, FALSE);     /* gone already */
                g_object_unref(task);
                return;
        }
        if (pidfd_send_signal(k->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_QEMU_FAILED,
                                        "Failed to kill QEMU process %d: %s", pid, g_strerror(errno));
                g_object_unref(task);
                return;
        }
        /* Not our child (an earlier daemon spawned it): the pidfd says when it has gone. */
        k->watch = g_unix_fd_add(k->pidfd, G_IO_IN, on_stale_gone, task);
        k->timer = g_timeout_add_seconds(STALE_KILL_TIMEOUT_S, on_stale_timeout, task);
}

gboolean qemu_process_kill_stale_finish(GAsyncResult *result, gboolean *ret_killed, GError **error) {
        g_autoptr(GError) local = NULL;

        *ret_killed = g_task_propagate_boolean(G_TASK(result), &local);
        if (local) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
        }
        return TRUE;
}
