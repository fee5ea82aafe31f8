#include <string.h>
#include "md-config.h"
#include "md-error.h"

static void test_defaults(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MdConfig) c = md_config_load_from_data("", &error);

        g_assert_no_error(error);
        g_assert_true(g_uuid_string_is_valid(c->host_uuid));
        g_assert_nonnull(c->hostname);
        g_assert_cmpstr(c->qemu_binary, ==, "/usr/bin/qemu-system-x86_64");
        g_assert_cmpuint(c->port_min, ==, 49152);
        g_assert_cmpuint(c->port_max, ==, 49215);
        g_assert_cmpuint(c->graphics_port_min, ==, 5900);
        g_assert_cmpuint(c->graphics_port_max, ==, 65535);
        g_assert_cmpuint(c->max_jobs, ==, 8);
        g_assert_cmpuint(c->idle_timeout_s, ==, 120);
        g_assert_cmpuint(c->peer_idle_timeout_s, ==, 60);
        g_assert_cmpuint(c->peer_call_timeout_s, ==, 120);
        g_assert_cmpint(c->protocols, ==, PROTOCOL_V3_PARAMS | PROTOCOL_V3 | PROTOCOL_V2);
        g_assert_cmpstr(c->bridge_listen, ==, "127.0.0.1:16519");
        /* An empty allow-list refuses every peer. */
        g_assert_nonnull(c->allowed_peers);
        g_assert_null(c->allowed_peers[0]);
}

static void test_values(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MdConfig) c = md_config_load_from_data(
                "[host]\nuuid=6F6A2C3E-0D3B-4F0A-9C44-2E9B1C0D7A11\nhostname=src\n"
                "[qemu]\nbinary=/opt/qemu\n"
                "[migration]\nport_min=50000\nport_max=50010\nprotocol_versions=3, 2\nmax_jobs=2\n"
                "[bridge]\nallowed_peers=CN=a*;CN=b\n"
                "[daemon]\nidle_timeout=0\n"
                "[peer]\nidle_timeout= 7 \ncall_timeout=9\n", &error);

        g_assert_no_error(error);
        g_assert_cmpstr(c->host_uuid, ==, "6f6a2c3e-0d3b-4f0a-9c44-2e9b1c0d7a11");
        g_assert_cmpstr(c->hostname, ==, "src");
        g_assert_cmpstr(c->qemu_binary, ==, "/opt/qemu");
        g_assert_cmpuint(c->port_min, ==, 50000);
        g_assert_cmpuint(c->port_max, ==, 50010);
        g_assert_cmpint(c->protocols, ==, PROTOCOL_V3 | PROTOCOL_V2);
        g_assert_cmpuint(c->max_jobs, ==, 2);
        g_assert_cmpuint(c->idle_timeout_s, ==, 0);
        g_assert_cmpuint(c->peer_idle_timeout_s, ==, 7);
        g_assert_cmpuint(c->peer_call_timeout_s, ==, 9);
        g_assert_cmpstr(c->allowed_peers[0], ==, "CN=a*");
        g_assert_cmpstr(c->allowed_peers[1], ==, "CN=b");
        g_assert_null(c->allowed_peers[2]);
}

/* Each bad file is refused, with a message naming the group and key. */
static void test_invalid(void) {
        static const struct {
                const char *data;
                const char *mentions;
        } cases[] = {
                { "[host]\nuuid=not-a-uuid\n", "[host] uuid" },
                { "[qemu]\nbinary=qemu\n", "[qemu] binary" },
                { "[migration]\nport_min=0\n", "[migration] port_min" },
                { "[migration]\nport_max=70000\n", "[migration] port_max" },
                { "[migration]\nport_min=50001\nport_max=50000\n", "[migration] port_min" },
                { "[graphics]\nport_min=5899\n", "[graphics] port_min" },
                { "[graphics]\nport_max=65536\n", "[graphics] port_max" },
                { "[graphics]\nport_min=6000\nport_max=5999\n", "[graphics] port_min" },
                { "[graphics]\nport_min=-1\n", "[graphics] port_min" },
                { "[migration]\nprotocol_versions=4\n", "protocol_versions" },
                { "[migration]\nprotocol_versions=,\n", "protocol_versions" },
                { "[migration]\nmax_jobs=many\n", "[migration] max_jobs" },
                { "[migration]\nmax_jobs=0\n", "[migration] max_jobs" },
                { "[daemon]\nidle_timeout=-1\n", "[daemon] idle_timeout" },
                { "[daemon]\nidle_timeout=soon\n", "[daemon] idle_timeout" },
                { "[tls]\ncert=/etc/c.pem\n", "[tls] ca is missing" },
                { "[tls]\nca=/etc/ca.pem\ncert=/etc/c.pem\n", "[tls] key is missing" },
                { "[tls]\nca=/etc/ca.pem\nkey=/etc/k.pem\n", "[tls] cert is missing" },
                { "[peer]\nidle_timeout=-1\n", "[peer] idle_timeout" },
                { "[peer]\nidle_timeout=86401\n", "[peer] idle_timeout" },
                { "[peer]\nidle_timeout=18446744073709551617\n", "[peer] idle_timeout" },
                { "[peer]\nidle_timeout=1e3\n", "[peer] idle_timeout" },
                { "[peer]\nidle_timeout=0x10\n", "[peer] idle_timeout" },
                { "[peer]\nidle_timeout=60s\n", "[peer] idle_timeout" },
                { "[peer]\nidle_timeout=6\\n0\n", "[peer] idle_timeout" },
                { "[peer]\ncall_timeout=0\n", "[peer] call_timeout" },
                { "not a key file\n", "Invalid configuration" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(MdConfig) c = md_config_load_from_data(cases[i].data, &error);

                g_assert_null(c);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                if (!strstr(error->message, cases[i].mentions))
                        g_error("case %u: '%s' does not mention '%s'", i, error->message, cases[i].mentions);
        }
}

static void test_storage_directories(void) {
        static const char *const bad[] = {
                "relative", "/", "/srv/../etc", "/srv/a/", "/srv//a", "/srv/./a", "/srv/a\\sb",
                "/srv/%h", "/srv/\"q\"", "/srv/'q'", "/srv/a\\tb",
        };
        g_autoptr(GError) error = NULL;
        g_autoptr(MdConfig) none = md_config_load_from_data("", &error);
        g_autoptr(MdConfig) c = md_config_load_from_data(
                "[storage]\ndirectories= /var/lib/libvirt/images ;;/srv/nfs/vms;\n", &error);

        g_assert_no_error(error);
        g_assert_null(none->storage_directories[0]);
        g_assert_cmpstr(c->storage_directories[0], ==, "/var/lib/libvirt/images");
        g_assert_cmpstr(c->storage_directories[1], ==, "/srv/nfs/vms");
        g_assert_null(c->storage_directories[2]);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *data = g_strdup_printf("[storage]\ndirectories=/ok;%s\n", bad[i]);
                g_autoptr(MdConfig) refused = md_config_load_from_data(data, &error);

                g_assert_null(refused);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                g_assert_nonnull(strstr(error->message, "[storage] directories"));
                g_clear_error(&error);
        }
}

/* [qemu] hugetlbfs_mount: libvirt's qemu.conf key, a ';'-separated list
 * checked like [storage] directories; unset, the mount table is used. */
static void test_hugetlbfs_mount(void) {
        static const char *const bad[] = { "dev/hugepages", "/", "/dev/../hugepages", "/dev/hugepages/",
                                           "/mnt/huge pages", "/mnt/%h" };
        g_autoptr(GError) error = NULL;
        g_autoptr(MdConfig) none = md_config_load_from_data("", &error);
        g_autoptr(MdConfig) c = md_config_load_from_data(
                "[qemu]\nhugetlbfs_mount= /dev/hugepages ;/mnt/huge1G;\n", &error);

        g_assert_no_error(error);
        g_assert_null(none->hugetlbfs_mounts[0]);
        g_assert_cmpstr(c->hugetlbfs_mounts[0], ==, "/dev/hugepages");
        g_assert_cmpstr(c->hugetlbfs_mounts[1], ==, "/mnt/huge1G");
        g_assert_null(c->hugetlbfs_mounts[2]);
        g_assert_null(c->storage_directories[0]);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *data = g_strdup_printf("[qemu]\nhugetlbfs_mount=%s\n", bad[i]);
                g_autoptr(MdConfig) refused = md_config_load_from_data(data, &error);

                g_assert_null(refused);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS);
                g_assert_nonnull(strstr(error->message, "[qemu] hugetlbfs_mount"));
                g_clear_error(&error);
        }
}

static void test_missing_file(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(MdConfig) defaults = md_config_load("/nonexistent/migrationd.conf", FALSE, &error);
        g_autoptr(MdConfig) required = NULL;

        g_assert_no_error(error);
        g_assert_nonnull(defaults);
        required = md_config_load("/nonexistent/migrationd.conf", TRUE, &error);
        g_assert_null(required);
        g_assert_error(error, MD_ERROR, MD_ERROR_INTERNAL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/config/defaults", test_defaults);
        g_test_add_func("/config/values", test_values);
        g_test_add_func("/config/invalid", test_invalid);
        g_test_add_func("/config/missing-file", test_missing_file);
        g_test_add_func("/config/storage-directories", test_storage_directories);
        g_test_add_func("/config/hugetlbfs-mount", test_hugetlbfs_mount);
        return g_test_run();
}
