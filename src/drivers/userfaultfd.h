/* Whether a QEMU spawned by this daemon can get the userfaultfd post-copy
 * needs at the destination: one that also handles the kernel's own faults
 * on guest memory. QEMU inherits the daemon's capabilities, uid, device
 * policy and system call filter, and the host's sysctl, so the daemon
 * asks the kernel the same way QEMU would. */
#pragma once

#include <glib.h>

typedef enum {
        /* The userfaultfd system call gives one (every QEMU asks it; from
         * 8.1 only when /dev/userfaultfd cannot), or fails for a reason
         * other than privilege, which QEMU will name itself. */
        USERFAULTFD_SYSCALL,
        /* Only /dev/userfaultfd gives one: QEMU 8.1 and later use it. */
        USERFAULTFD_DEVICE_ONLY,
        /* Neither: no CAP_SYS_PTRACE, vm.unprivileged_userfaultfd 0, and
         * /dev/userfaultfd absent or closed to us. */
        USERFAULTFD_DENIED,
} UserfaultfdAccess;

/* QEMU's version (major * 100 + minor) from which it opens /dev/userfaultfd. */
#define USERFAULTFD_QEMU_DEVICE_VERSION 801

/* Asks the kernel (each descriptor closed at once), or the test hook. */
UserfaultfdAccess userfaultfd_probe(void);

/* For unit tests: userfaultfd_probe() returns @hook's answer instead.
 * NULL restores the real probe. */
typedef UserfaultfdAccess (*UserfaultfdProbeHook)(gpointer user_data);
void userfaultfd_set_probe_hook(UserfaultfdProbeHook hook, gpointer user_data);
