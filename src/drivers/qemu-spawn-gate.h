/* Spawning QEMU held before its exec (libvirt's handshake): the daemon
 * learns the pid, records it, and only then lets the child exec. A daemon
 * killed in between leaves a child that exits on its own, never a QEMU
 * that no record names. Private to qemu-process.c. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* The child's exit status when the daemon closed the gate (gave up, or
 * died) before letting it exec: sysexits' EX_TEMPFAIL. */
#define QEMU_GATE_CLOSED_STATUS 75

typedef struct QemuSpawnGate QemuSpawnGate;

/* Forks a child that will run @argv (stdin /dev/null, stdout and stderr
 * @log_fd, @source_fds[i] as @target_fds[i], its own session) and returns
 * once the child, not yet exec'd, has told its pid. The child has its
 * copies of the fds by then: the caller may close its own and free the fd
 * arrays; @argv must live until qemu_spawn_gate_open() or _close() (GLib
 * names argv[0] in an exec error). */
QemuSpawnGate *qemu_spawn_gate_new(const char *const *argv, int log_fd, const int *source_fds,
                                   const int *target_fds, guint n_fds, pid_t *ret_pid, GError **error);
/* Lets the child exec; fails with GLib's spawn error, the child reaped
 * (by GLib if its exec failed, here if it died at the gate). Frees @gate. */
gboolean qemu_spawn_gate_open(QemuSpawnGate *gate, GError **error);
/* Closes the gate: the child exits (QEMU_GATE_CLOSED_STATUS) without
 * exec, and is reaped here. Frees @gate. */
void qemu_spawn_gate_close(QemuSpawnGate *gate);
