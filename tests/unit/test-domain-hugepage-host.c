/* Unit tests of what Start (and a migration's Prepare) asks of this host
 * for <hugepages/>: a hugetlbfs mount of the page size, or an
 * MD_ERROR_UNSUPPORTED that names what is missing, before anything of
 * the guest exists. */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "domain-devices.h"
#include "hugetlbfs.h"
#include "md-error.h"

static DomainDef *parse(const char *backing) {
        g_autofree char *xml = g_strdup_printf("<domain type='qemu'><name>h</name><memory unit='MiB'>64</memory>"
                                               "<memoryBacking>%s</memoryBacking><os><type>hvm</type></os>"
                                               "</domain>", backing);
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(xml, -1, &error);

        g_assert_no_error(error);
        return def;
}

static void assert_unsupported(const MdConfig *config, const DomainDef *def, const char *needle) {
        g_autoptr(GError) error = NULL;
        char *path = (char *) "unset";   /* the function sets it, whatever it was */

        g_assert_false(domain_devices_hugepage_path(config, def, &path, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_null(path);
        if (!strstr(error->message, needle) || !strstr(error->message, "Domain 'h'"))
                g_error("Message \"%s\" does not name \"%s\"", error->message, needle);
}

static void test_without_element(void) {
        g_autoptr(MdConfig) config = md_config_load_from_data("[qemu]\nhugetlbfs_mount=/nonexistent\n", NULL);
        g_autoptr(DomainDef) def = parse("<allocation mode='immediate'/>");
        g_autoptr(GError) error = NULL;
        char *path = (char *) "unset";

        g_assert_true(domain_devices_hugepage_path(config, def, &path, &error));
        g_assert_no_error(error);
        g_assert_null(path);
}

/* A <page> of the base page size needs no hugetlbfs (libvirt's ordinary
 * memory), whatever the host has. */
static void test_base_page(void) {
        g_autoptr(MdConfig) config = md_config_load_from_data("[qemu]\nhugetlbfs_mount=/nonexistent\n", NULL);
        g_autofree char *page = g_strdup_printf("<hugepages><page size='%ld' unit='KiB'/></hugepages>",
                                                sysconf(_SC_PAGESIZE) / 1024);
        g_autoptr(DomainDef) def = parse(page);
        g_autoptr(GError) error = NULL;
        char *path = (char *) "unset";

        g_assert_true(domain_devices_hugepage_path(config, def, &path, &error));
        g_assert_no_error(error);
        g_assert_null(path);
}

/* Configured paths that are no hugetlbfs: named, and nothing else tried. */
static void test_configured_none(void) {
        g_autofree char *dir = g_dir_make_tmp("hugepage-host-XXXXXX", NULL);
        g_autofree char *data = g_strdup_printf("[qemu]\nhugetlbfs_mount=%s;/nonexistent\n", dir);
        g_autoptr(MdConfig) config = md_config_load_from_data(data, NULL);
        g_autoptr(DomainDef) bare = parse("<hugepages/>");
        g_autoptr(DomainDef) sized = parse("<hugepages><page size='1' unit='G'/></hugepages>");
        g_autofree char *listed = g_strdup_printf("none of [qemu] hugetlbfs_mount (%s;/nonexistent) is one", dir);

        assert_unsupported(config, bare, listed);
        assert_unsupported(config, sized, listed);
        g_rmdir(dir);
}

/* The mount table: what this host has decides which error, if any. */
static void test_mount_table(void) {
        g_autoptr(MdConfig) config = md_config_load_from_data("", NULL);
        g_autoptr(DomainDef) bare = parse("<hugepages/>");
        g_autoptr(DomainDef) odd = parse("<hugepages><page size='16' unit='G'/></hugepages>");
        g_autoptr(GPtrArray) mounts = hugetlbfs_list_mounts(NULL);
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL;

        if (mounts->len == 0) {
                assert_unsupported(config, bare, "needs a hugetlbfs mount, and this host has none");
                assert_unsupported(config, odd, "needs a hugetlbfs mount, and this host has none");
                return;
        }
        g_assert_true(domain_devices_hugepage_path(config, bare, &path, &error));
        g_assert_no_error(error);
        g_assert_nonnull(path);
        /* No x86 host has 16 GiB pages. */
        assert_unsupported(config, odd, "huge pages of 16777216 KiB need a hugetlbfs mount of that page size");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/domain-hugepage-host/without-element", test_without_element);
        g_test_add_func("/domain-hugepage-host/base-page", test_base_page);
        g_test_add_func("/domain-hugepage-host/configured-none", test_configured_none);
        g_test_add_func("/domain-hugepage-host/mount-table", test_mount_table);
        return g_test_run();
}
