/* One QEMU process: spawned by us or found again after a daemon restart,
 * watched through a pidfd (it need not be our child) and driven over QMP.
 *
 * QEMU runs in its own session so that it outlives the daemon: the daemon
 * may be stopped, restarted or activated again while guests keep running. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "qmp.h"
#include "qemu-monitor.h"

typedef struct QemuProcess QemuProcess;

/* Called once QEMU's pid is known, before its monitor is up: the caller
 * records it (libvirt's early status file) so that a daemon killed during
 * the start can find the half-started QEMU again. FALSE: the launch fails
 * with @error and the QEMU is killed. */
typedef gboolean (*QemuSpawnedFunc)(pid_t pid, gpointer user_data, GError **error);

typedef struct {
        char **argv;              /* from qemu_command_build(); monitor_fd is its fd number */
        const char *monitor_path; /* unix socket path QEMU serves QMP on */
        const char *log_path;     /* QEMU's stdout/stderr, appended */
        const int *extra_fds;     /* more fds QEMU inherits (taps), as QEMU_MONITOR_FD + 1 + i;
                                   * the caller keeps and closes its own */
        guint n_extra_fds;
        QemuSpawnedFunc spawned;  /* nullable; not called for a launch hook's fake */
        gpointer spawned_data;
} QemuLaunch;

/* Called once, when the process has gone (exited or killed). */
typedef void (*QemuExitFunc)(QemuProcess *process, gpointer user_data);

/* The fd number QEMU inherits the listening monitor socket as. */
#define QEMU_MONITOR_FD 3

/* Spawns QEMU (which starts paused, -S) and completes when its monitor has
 * finished the QMP handshake. On failure the process is gone and the error
 * (MD_ERROR_QEMU_FAILED) quotes the end of QEMU's log. Cancelling
 * @cancellable while QEMU starts kills it at once (SIGKILL, reaped before
 * g_cancellable_cancel() returns; it holds no guest yet) and the launch
 * fails with G_IO_ERROR_CANCELLED from an idle; a QEMU that was up but not
 * yet finished is killed by _finish(), which fails the same way. */
void qemu_process_launch_async(const QemuLaunch *launch, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
QemuProcess *qemu_process_launch_finish(GAsyncResult *result, GError **error);

/* Finds a QEMU we started before a restart: @pid must still be alive and run
 * the guest @uuid; completes when its monitor is connected again. */
void qemu_process_attach_async(pid_t pid, const char *uuid, const char *monitor_path,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
QemuProcess *qemu_process_attach_finish(GAsyncResult *result, GError **error);

/* A QEMU an earlier daemon spawned that never finished starting: killed
 * (SIGKILL) if @pid still runs the guest @uuid. Completes once it has gone
 * (TRUE; *@ret_killed FALSE when it was gone already or @pid is another
 * program's), or fails when it cannot be watched or outlives the kill by
 * STALE_KILL_TIMEOUT_S. */
void qemu_process_kill_stale_async(pid_t pid, const char *uuid, GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean qemu_process_kill_stale_finish(GAsyncResult *result, gboolean *ret_killed, GError **error);

pid_t qemu_process_get_pid(QemuProcess *process);
QmpClient *qemu_process_get_qmp(QemuProcess *process);
/* From the monitor's greeting: major * 100 + minor, 0 when unknown. */
guint qemu_process_get_qemu_version(QemuProcess *process);

void qemu_process_set_exit_func(QemuProcess *process, QemuExitFunc func, gpointer user_data);

/* QEMU's events, typed. */
typedef void (*QemuEventFunc)(const QemuEvent *event, gpointer user_data);
void qemu_process_set_event_func(QemuProcess *process, QemuEventFunc func, gpointer user_data);

/* A QEMU that is only a monitor: @fd (taken) is connected to something that
 * speaks QMP, and there is no process (pid 0; kill only forgets the monitor
 * and calls the exit func from an idle). For unit tests of the layers above
 * against a fake monitor; completes when the handshake is done. */
void qemu_process_new_for_monitor_async(int fd, GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data);
QemuProcess *qemu_process_new_for_monitor_finish(GAsyncResult *result, GError **error);

/* For unit tests: qemu_process_launch_async() spawns nothing and calls
 * @hook instead, which returns the fd of a monitor (taken; as for
 * qemu_process_new_for_monitor_async()) or -1 with @error. NULL restores
 * spawning. */
typedef int (*QemuLaunchHook)(const QemuLaunch *launch, gpointer user_data, GError **error);
void qemu_process_set_launch_hook(QemuLaunchHook hook, gpointer user_data);

/* For unit tests: qemu_process_attach_async() checks no process and
 * watches none; @hook returns the fd of the monitor for @monitor_path
 * (taken; the process is then as qemu_process_new_for_monitor_async()'s,
 * with @pid kept for the status record) or -1 with @error (the QEMU has
 * gone). NULL restores the real attach. */
typedef int (*QemuAttachHook)(pid_t pid, const char *uuid, const char *monitor_path, gpointer user_data,
                              GError **error);
void qemu_process_set_attach_hook(QemuAttachHook hook, gpointer user_data);

/* SIGTERM now, SIGKILL if it is still there after @grace_ms. The exit func
 * tells when it is gone. */
void qemu_process_kill(QemuProcess *process, guint grace_ms);

/* Forgets the process without killing it (daemon shutdown). */
void qemu_process_free(QemuProcess *process);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuProcess, qemu_process_free)

/* TRUE when /dev/kvm can really be used (opened and answers its API version). */
gboolean qemu_kvm_usable(void);

/* The last lines a log file got from offset @from on, for error messages. */
char *qemu_log_tail(const char *log_path, off_t from, guint max_lines);
