/* Unit tests of the guest RAM's backend for <hugepages/> (a file on a
 * hugetlbfs, under the machine's own RAM id) and of finding the hugetlbfs
 * mount it goes on. */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "hugetlbfs.h"
#include "command-line-test.h"
#include "md-error.h"

#define UUID "6f6a2c3e-0d3b-4f0a-9c44-2e9b1c0d7a11"
/* Machine types of QEMU 3.1 and older name a memory-backend-file's RAM
 * block by its path ("/objects/pc.ram"), the machine's own RAM by its id. */
#define OFF_CANONICAL "x-use-canonical-path-for-ramblock-id=off"

static char *domain_with(const char *machine, const char *backing) {
        return g_strdup_printf("<domain type='qemu'><name>h</name><uuid>" UUID "</uuid>"
                               "<memory unit='MiB'>128</memory><memoryBacking>%s</memoryBacking>"
                               "<os><type machine='%s'>hvm</type></os></domain>", backing, machine);
}

static GStrv build(const char *machine, const char *backing, const QemuCommandOptions *extra, GError **error) {
        g_autofree char *xml = domain_with(machine, backing);

        return command_line_build(xml, extra, error);
}

/* The -m size (the TCG pad included, or the source's for a migration
 * target), the mount as mem-path, share=off, the machine's RAM id; the
 * page size is the mount's, so it is not repeated. */
static void test_backend(void) {
        static const struct {
                gboolean kvm;
                guint64 ram_kib;
                const char *backing, *object;
        } cases[] = {
                { FALSE, 0, "<hugepages/>",
                  "memory-backend-file,id=pc.ram,size=131080k,mem-path=/dev/hugepages,share=off," OFF_CANONICAL },
                { TRUE, 0, "<hugepages><page size='2' unit='M'/></hugepages>",
                  "memory-backend-file,id=pc.ram,size=131072k,mem-path=/dev/hugepages,share=off," OFF_CANONICAL },
                { FALSE, 131096, "<hugepages/>",
                  "memory-backend-file,id=pc.ram,size=131096k,mem-path=/dev/hugepages,share=off," OFF_CANONICAL },
                { FALSE, 0, "<hugepages/><allocation mode='immediate'/>",
                  "memory-backend-file,id=pc.ram,size=131080k,mem-path=/dev/hugepages,share=off,"
                  OFF_CANONICAL ",prealloc=on" },
                { TRUE, 0, "<allocation mode='immediate' threads='2'/><hugepages/>",
                  "memory-backend-file,id=pc.ram,size=131072k,mem-path=/dev/hugepages,share=off,"
                  OFF_CANONICAL ",prealloc=on,"
                  "prealloc-threads=2" },
                { FALSE, 0, "<hugepages/><allocation mode='ondemand'/>",
                  "memory-backend-file,id=pc.ram,size=131080k,mem-path=/dev/hugepages,share=off," OFF_CANONICAL },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                QemuCommandOptions options = { .kvm = cases[i].kvm, .ram_kib = cases[i].ram_kib,
                                               .hugepage_path = "/dev/hugepages" };
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) argv = build("pc", cases[i].backing, &options, &error);
                g_autofree char *m = g_strdup_printf("size=%s", strstr(cases[i].object, "size=") + 5);

                g_assert_no_error(error);
                *strchr(m, ',') = '\0';
                if (!argv_has_pair(argv, "-object", cases[i].object))
                        g_error("%s: no -object %s", cases[i].backing, cases[i].object);
                g_assert_true(argv_has_pair(argv, "-m", m));
                g_assert_true(argv_has_pair(argv, "-machine", "memory-backend=pc.ram"));
                g_assert_cmpuint(argv_count_option(argv, "-object"), ==, 1);
                g_assert_false(g_strv_contains((const char *const *) argv, "-mem-path"));
                g_assert_false(g_strv_contains((const char *const *) argv, "-mem-prealloc"));
        }
}

/* The block keeps the machine's own RAM's name on old machine types too,
 * so that a peer without <hugepages/> finds it in the stream. */
static void test_old_machines(void) {
        static const char *const machines[] = { "pc-i440fx-1.4", "pc-i440fx-3.1", "pc-q35-2.4", "pc-q35-3.1",
                                                "pc-i440fx-4.0", "pc" };
        QemuCommandOptions options = { .hugepage_path = "/dev/hugepages" };

        for (guint i = 0; i < G_N_ELEMENTS(machines); i++) {
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) argv = build(machines[i], "<hugepages/>", &options, &error);

                g_assert_no_error(error);
                if (!argv_has_pair(argv, "-object", "memory-backend-file,id=pc.ram,size=131080k,mem-path=/dev/hugepages,"
                                               "share=off," OFF_CANONICAL))
                        g_error("%s: the RAM block is not named pc.ram", machines[i]);
        }
}

/* QEMU's option syntax: a ',' in the mount's path is doubled. */
static void test_path_escaped(void) {
        QemuCommandOptions options = { .hugepage_path = "/mnt/huge,pages=1" };
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build("q35", "<hugepages/>", &options, &error);

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-object", "memory-backend-file,id=pc.ram,size=131080k,"
                                                "mem-path=/mnt/huge,,pages=1,share=off," OFF_CANONICAL));
}

/* The backend is named like the machine's own RAM, so that a peer without
 * <hugepages/> finds the same block in the stream; an unknown id is
 * refused, as is a definition the daemon found no mount for. */
static void test_refused(void) {
        static const struct { const char *machine, *id; } machines[] = {
                { "microvm", "microvm.ram" }, { "none", "ram" }, { "pc-q35-7.2", "pc.ram" },
        };
        QemuCommandOptions with_path = { .hugepage_path = "/dev/hugepages" };
        QemuCommandOptions without = { 0 };
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build("x-remote", "<hugepages/>", &with_path, &error);

        g_assert_null(argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "<hugepages/> on machine type 'x-remote'"));
        g_clear_error(&error);

        argv = build("pc", "<hugepages/>", &without, &error);
        g_assert_null(argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "hugetlbfs"));
        g_clear_error(&error);

        for (guint i = 0; i < G_N_ELEMENTS(machines); i++) {
                g_auto(GStrv) a = build(machines[i].machine, "<hugepages/>", &with_path, &error);
                g_autofree char *object = g_strdup_printf("memory-backend-file,id=%s,size=131080k,"
                                                          "mem-path=/dev/hugepages,share=off," OFF_CANONICAL,
                                                          machines[i].id);
                g_autofree char *machine = g_strdup_printf("memory-backend=%s", machines[i].id);

                g_assert_no_error(error);
                g_assert_true(argv_has_pair(a, "-object", object));
                g_assert_true(argv_has_pair(a, "-machine", machine));
        }
}

/* A <page> of the base page size is ordinary memory, as in libvirt: no
 * hugetlbfs asked for, none needed; <allocation> still has its backend. */
static void test_base_page(void) {
        g_autofree char *page = g_strdup_printf("<hugepages><page size='%ld' unit='KiB'/></hugepages>",
                                                sysconf(_SC_PAGESIZE) / 1024);
        g_autofree char *prealloc = g_strdup_printf("%s<allocation mode='immediate'/>", page);
        QemuCommandOptions without = { 0 };
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) plain = build("pc", page, &without, &error);
        g_auto(GStrv) filled = NULL;

        g_assert_no_error(error);
        g_assert_cmpuint(argv_count_option(plain, "-object"), ==, 0);
        g_assert_false(argv_has_pair(plain, "-machine", "memory-backend=pc.ram"));
        filled = build("pc", prealloc, &without, &error);
        g_assert_no_error(error);
        g_assert_true(argv_has_pair(filled, "-object", "memory-backend-ram,id=pc.ram,size=131080k,prealloc=on"));
}

static HugetlbfsMount *mount_new(const char *path, guint64 page_kib) {
        HugetlbfsMount *m = g_new0(HugetlbfsMount, 1);

        m->path = g_strdup(path);
        m->page_kib = page_kib;
        return m;
}

/* libvirt's choice: the size asked for, else the default size's mount,
 * else the first. */
static void test_pick(void) {
        g_autoptr(GPtrArray) none = g_ptr_array_new_with_free_func((GDestroyNotify) hugetlbfs_mount_free);
        g_autoptr(GPtrArray) mounts = g_ptr_array_new_with_free_func((GDestroyNotify) hugetlbfs_mount_free);
        g_autofree char *described = NULL, *empty = hugetlbfs_describe(none);

        g_ptr_array_add(mounts, mount_new("/mnt/huge1G", 1048576));
        g_ptr_array_add(mounts, mount_new("/dev/hugepages", 2048));
        g_ptr_array_add(mounts, mount_new("/mnt/second2M", 2048));

        g_assert_null(hugetlbfs_pick(none, 0, 2048));
        g_assert_null(hugetlbfs_pick(none, 2048, 2048));
        g_assert_cmpstr(hugetlbfs_pick(mounts, 0, 2048)->path, ==, "/dev/hugepages");
        g_assert_cmpstr(hugetlbfs_pick(mounts, 0, 1048576)->path, ==, "/mnt/huge1G");
        g_assert_cmpstr(hugetlbfs_pick(mounts, 0, 0)->path, ==, "/mnt/huge1G");
        g_assert_cmpstr(hugetlbfs_pick(mounts, 0, 16384)->path, ==, "/mnt/huge1G");
        g_assert_cmpstr(hugetlbfs_pick(mounts, 2048, 1048576)->path, ==, "/dev/hugepages");
        g_assert_cmpstr(hugetlbfs_pick(mounts, 1048576, 2048)->path, ==, "/mnt/huge1G");
        g_assert_null(hugetlbfs_pick(mounts, 4, 2048));
        g_assert_null(hugetlbfs_pick(mounts, 16384, 16384));

        described = hugetlbfs_describe(mounts);
        g_assert_cmpstr(described, ==, "/mnt/huge1G (1048576 KiB), /dev/hugepages (2048 KiB), "
                                       "/mnt/second2M (2048 KiB)");
        g_assert_cmpstr(empty, ==, "");
}

/* Configured paths that are no hugetlbfs (or do not exist) are left out;
 * the mount table's entries are all hugetlbfs, with a page size. */
static void test_list(void) {
        g_autofree char *dir = g_dir_make_tmp("hugetlbfs-XXXXXX", NULL);
        g_autofree char *missing = g_build_filename(dir, "missing", NULL);
        const char *const configured[] = { dir, missing, "/proc", NULL };
        g_autoptr(GPtrArray) listed = hugetlbfs_list_mounts(configured);
        g_autoptr(GPtrArray) host = hugetlbfs_list_mounts(NULL);

        g_assert_nonnull(dir);
        g_assert_cmpuint(listed->len, ==, 0);
        for (guint i = 0; i < host->len; i++) {
                const HugetlbfsMount *m = host->pdata[i];
                g_test_message("hugetlbfs %s: %" G_GUINT64_FORMAT " KiB pages", m->path, m->page_kib);
                g_assert_true(g_path_is_absolute(m->path));
                g_assert_cmpuint(m->page_kib, >=, 4);
        }
        g_test_message("default huge page size: %" G_GUINT64_FORMAT " KiB", hugetlbfs_default_page_kib());
        g_rmdir(dir);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/qemu-command-memory/backend", test_backend);
        g_test_add_func("/qemu-command-memory/old-machines", test_old_machines);
        g_test_add_func("/qemu-command-memory/path-escaped", test_path_escaped);
        g_test_add_func("/qemu-command-memory/refused", test_refused);
        g_test_add_func("/qemu-command-memory/base-page", test_base_page);
        g_test_add_func("/qemu-command-memory/pick", test_pick);
        g_test_add_func("/qemu-command-memory/list", test_list);
        return g_test_run();
}
