/* This host's hugetlbfs mounts, for guests with <memoryBacking><hugepages/>:
 * QEMU backs their RAM with a file on one of them. Those of [qemu]
 * hugetlbfs_mount (libvirt's qemu.conf key of that name), or without it
 * those of the mount table, as libvirt does. */
#pragma once

#include <glib.h>

typedef struct {
        char *path;            /* the mount point */
        guint64 page_kib;      /* its huge page size (statfs' block size) */
} HugetlbfsMount;

void hugetlbfs_mount_free(HugetlbfsMount *mount);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HugetlbfsMount, hugetlbfs_mount_free)

/* The hugetlbfs mounts (HugetlbfsMount*) among @configured ([qemu]
 * hugetlbfs_mount, in its order) or, when that is empty, of /proc/mounts
 * (in its order). A path that is not a hugetlbfs mount the daemon can see
 * is left out: the result may be empty. */
GPtrArray *hugetlbfs_list_mounts(const char *const *configured);

/* The kernel's default huge page size in KiB (Hugepagesize of
 * /proc/meminfo); 0 when it has none. */
guint64 hugetlbfs_default_page_kib(void);

/* The mount of @mounts that serves pages of @page_kib; 0 asks for the
 * default size, @default_kib: the mount of that size or, without one, the
 * first (libvirt's choice). NULL when none fits. Pure. */
const HugetlbfsMount *hugetlbfs_pick(GPtrArray *mounts, guint64 page_kib, guint64 default_kib);

/* "/dev/hugepages (2048 KiB), /mnt/huge1G (1048576 KiB)" ("" for none),
 * for error messages. */
char *hugetlbfs_describe(GPtrArray *mounts);
