/* The userfaultfd probe (see userfaultfd.h). */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "userfaultfd.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static UserfaultfdProbeHook probe_hook;
static gpointer probe_hook_data;

void userfaultfd_set_probe_hook(UserfaultfdProbeHook hook, gpointer user_data) {
        probe_hook = hook;
        probe_hook_data = user_data;
}

/* As QEMU 7.2 asks: without UFFD_USER_MODE_ONLY, so kernel faults too.
 * Only EPERM is a matter of privilege. */
static gboolean syscall_denied(void) {
        int fd = (int) syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        int err = errno;

        if (fd >= 0) {
                close(fd);
                return FALSE;
        }
        g_debug("userfaultfd(): %s", g_strerror(err));
        return err == EPERM;
}

/* As QEMU 8.1 and later ask first: /dev/userfaultfd's file permissions
 * (and the device policy) decide instead of CAP_SYS_PTRACE. */
static gboolean device_works(void) {
        int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        int fd;

        if (dev < 0) {
                g_debug("/dev/userfaultfd: %s", g_strerror(errno));
                return FALSE;
        }
        fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                g_debug("/dev/userfaultfd USERFAULTFD_IOC_NEW: %s", g_strerror(errno));
        else
                close(fd);
        close(dev);
        return fd >= 0;
}

UserfaultfdAccess userfaultfd_probe(void) {
        if (probe_hook)
                return probe_hook(probe_hook_data);
        if (!syscall_denied())
                return USERFAULTFD_SYSCALL;
        return device_works() ? USERFAULTFD_DEVICE_ONLY : USERFAULTFD_DENIED;
}
