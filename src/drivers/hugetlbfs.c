#define G_LOG_DOMAIN "migrationd"

#include <gio/gunixmounts.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/vfs.h>

#include "hugetlbfs.h"

void hugetlbfs_mount_free(HugetlbfsMount *mount) {
        if (!mount)
                return;
        g_free(mount->path);
        g_free(mount);
}

/* The page size is the file system's block size; a mount point that is
 * not (or no longer) a hugetlbfs, or that the daemon cannot see, is none. */
static HugetlbfsMount *mount_from_path(const char *path) {
        HugetlbfsMount *mount;
        struct statfs st;

        if (statfs(path, &st) < 0 || st.f_type != HUGETLBFS_MAGIC || st.f_bsize < 1024)
                return NULL;
        mount = g_new0(HugetlbfsMount, 1);
        mount->path = g_strdup(path);
        mount->page_kib = (guint64) st.f_bsize / 1024;
        return mount;
}

GPtrArray *hugetlbfs_list_mounts(const char *const *configured) {
        GPtrArray *mounts = g_ptr_array_new_with_free_func((GDestroyNotify) hugetlbfs_mount_free);
        GList *entries;

        if (configured && configured[0]) {
                for (const char *const *p = configured; *p; p++) {
                        HugetlbfsMount *mount = mount_from_path(*p);
                        if (mount)
                                g_ptr_array_add(mounts, mount);
                }
                return mounts;
        }
        entries = g_unix_mounts_get(NULL);
        for (GList *l = entries; l; l = l->next) {
                HugetlbfsMount *mount;

                if (g_strcmp0(g_unix_mount_get_fs_type(l->data), "hugetlbfs") != 0)
                        continue;
                mount = mount_from_path(g_unix_mount_get_mount_path(l->data));
                if (mount)
                        g_ptr_array_add(mounts, mount);
        }
        g_list_free_full(entries, (GDestroyNotify) g_unix_mount_free);
        return mounts;
}

guint64 hugetlbfs_default_page_kib(void) {
        g_autofree char *text = NULL;
        const char *line;

        if (!g_file_get_contents("/proc/meminfo", &text, NULL, NULL))
                return 0;
        /* "Hugepagesize:       2048 kB"; absent without hugetlb support. */
        line = strstr(text, "\nHugepagesize:");
        if (!line)
                return 0;
        return g_ascii_strtoull(line + strlen("\nHugepagesize:"), NULL, 10);
}

const HugetlbfsMount *hugetlbfs_pick(GPtrArray *mounts, guint64 page_kib, guint64 default_kib) {
        guint64 want = page_kib ? page_kib : default_kib;

        for (guint i = 0; i < mounts->len; i++) {
                const HugetlbfsMount *mount = mounts->pdata[i];
                if (mount->page_kib == want)
                        return mount;
        }
        return !page_kib && mounts->len ? mounts->pdata[0] : NULL;
}

char *hugetlbfs_describe(GPtrArray *mounts) {
        GString *s = g_string_new(NULL);

        for (guint i = 0; i < mounts->len; i++) {
                const HugetlbfsMount *mount = mounts->pdata[i];
                g_string_append_printf(s, "%s%s (%" G_GUINT64_FORMAT " KiB)", i ? ", " : "", mount->path,
                                       mount->page_kib);
        }
        return g_string_free(s, FALSE);
}
