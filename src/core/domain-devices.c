#define G_LOG_DOMAIN "migrationd"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "domain-devices.h"
#include "hugetlbfs.h"
#include "i18n.h"
#include "md-error.h"
#include "qemu-command.h"
#include "qemu-monitor.h"
#include "qemu-process.h"
#include "tap-device.h"

void domain_devices_free(DomainDevices *devices) {
        if (!devices)
                return;
        for (guint i = 0; i < devices->fds->len; i++)
                close(g_array_index(devices->fds, int, i));
        g_array_unref(devices->fds);
        g_ptr_array_unref(devices->tap_names);
        g_free(devices->net_fds);
        g_free(devices);
}

/* ---- Taps ---- */

static gboolean open_taps(DomainDevices *devices, const DomainDef *live, GError **error) {
        devices->n_nets = live->nets->len;
        devices->net_fds = g_new(int, live->nets->len);
        for (guint i = 0; i < live->nets->len; i++) {
                const DomainNet *net = live->nets->pdata[i];
                g_autofree char *name = NULL;
                int fd;

                devices->net_fds[i] = -1;
                if (net->type == DOMAIN_NET_USER)
                        continue;
                if (net->type == DOMAIN_NET_BRIDGE)
                        fd = tap_device_create_on_bridge(net->bridge, net->mac, &name, error);
                else {
                        fd = tap_device_open(net->target_dev, error);
                        name = g_strdup(net->target_dev);
                }
                if (fd < 0)
                        return FALSE;
                devices->net_fds[i] = QEMU_MONITOR_FD + 1 + (int) devices->fds->len;
                g_array_append_val(devices->fds, fd);
                g_ptr_array_add(devices->tap_names, g_steal_pointer(&name));
        }
        return TRUE;
}

/* ---- Display ports ---- */

static gboolean port_is_bindable(const char *address, int port) {
        g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(address ? address : "127.0.0.1");
        g_autoptr(GSocketAddress) sa = NULL;
        g_autoptr(GSocket) sock = NULL;

        if (!inet)
                return FALSE;
        sa = g_inet_socket_address_new(inet, (guint16) port);
        sock = g_socket_new(g_inet_address_get_family(inet), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
        return sock && g_socket_bind(sock, sa, TRUE, NULL);
}

/* The lowest port of the range that no other guest of this daemon has
 * (QEMU may not have bound it yet) and nothing else listens on. */
static gboolean choose_ports(const DomainDevicesContext *ctx, DomainDef *live, GError **error) {
        const MdConfig *c = ctx->config;
        GHashTable *mine = g_hash_table_new(NULL, NULL);
        gboolean ok = TRUE;

        for (guint i = 0; ok && i < live->graphics->len; i++) {
                DomainGraphics *g = live->graphics->pdata[i];
                int port;

                if (!g->autoport)
                        continue;
                ok = FALSE;
                for (port = c->graphics_port_min; !ok && port <= c->graphics_port_max; port++) {
                        if (g_hash_table_contains(mine, GINT_TO_POINTER(port)))
                                continue;
                        ok = !ctx->port_taken(port, live, ctx->user_data) && port_is_bindable(g->listen, port);
                        if (ok) {
                                domain_def_set_graphics_port(live, i, port);
                                g_hash_table_add(mine, GINT_TO_POINTER(port));
                        }
                }
                if (!ok)
                        g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL,
                                    "No free port for a display in [graphics] port_min..port_max (%u..%u)",
                                    c->graphics_port_min, c->graphics_port_max);
        }
        g_hash_table_unref(mine);
        return ok;
}

/* ---- Channel sockets ---- */

/* Under the runtime directory, named by the guest; a path the daemon chose
 * on another host (a migrated definition) is chosen again here. */
static void choose_channel_paths(const DomainDevicesContext *ctx, DomainDef *live) {
        for (guint i = 0; i < live->channels->len; i++) {
                DomainChannel *ch = live->channels->pdata[i];
                g_autofree char *file = g_strdup_printf("%s.ch%u.sock", live->uuid, i);
                g_autofree char *base = ch->path ? g_path_get_basename(ch->path) : NULL;
                g_autofree char *path = NULL;

                if (ch->path && g_strcmp0(base, file) != 0)
                        continue;
                path = g_build_filename(ctx->runtime_dir, file, NULL);
                domain_def_set_channel_path(live, i, path);
        }
}

DomainDevices *domain_devices_prepare(const DomainDevicesContext *ctx, DomainDef *live, GError **error) {
        g_autoptr(DomainDevices) devices = g_new0(DomainDevices, 1);

        devices->fds = g_array_new(FALSE, FALSE, sizeof(int));
        devices->tap_names = g_ptr_array_new_with_free_func(g_free);
        if (!choose_ports(ctx, live, error) || !open_taps(devices, live, error))
                return NULL;
        choose_channel_paths(ctx, live);
        return g_steal_pointer(&devices);
}

/* ---- Huge pages ---- */

gboolean domain_devices_hugepage_path(const MdConfig *config, const DomainDef *def, char **ret_path,
                                      GError **error) {
        const char *const *configured = (const char *const *) config->hugetlbfs_mounts;
        g_autoptr(GPtrArray) mounts = NULL;
        g_autofree char *mounted = NULL;
        const HugetlbfsMount *mount;

        *ret_path = NULL;
        if (!qemu_command_uses_hugepages(def))
                return TRUE;
        mounts = hugetlbfs_list_mounts(configured);
        mount = hugetlbfs_pick(mounts, def->mem_hugepage_kib, hugetlbfs_default_page_kib());
        if (mount) {
                *ret_path = g_strdup(mount->path);
                return TRUE;
        }
        if (mounts->len == 0 && configured && configured[0]) {
                g_autofree char *listed = g_strjoinv(";", (char **) configured);
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("Domain '%s' cannot be started: its <memoryBacking><hugepages/> needs a hugetlbfs "
                              "mount, and none of [qemu] hugetlbfs_mount (%s) is one"), def->name, listed);
                return FALSE;
        }
        if (mounts->len == 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("Domain '%s' cannot be started: its <memoryBacking><hugepages/> needs a hugetlbfs "
                              "mount, and this host has none (mount one, e.g. on /dev/hugepages, and reserve "
                              "pages in /proc/sys/vm/nr_hugepages)"), def->name);
                return FALSE;
        }
        mounted = hugetlbfs_describe(mounts);
        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                    _("Domain '%s' cannot be started: its huge pages of %llu KiB need a hugetlbfs mount of "
                      "that page size, and this host has only %s"),
                    def->name, (unsigned long long) def->mem_hugepage_kib, mounted);
        return FALSE;
}

/* ---- Passwords ---- */

static void on_password_set(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("Failed to set a display password, the display accepts no client: %s",
                          error->message);
}

void domain_devices_set_passwords(QmpClient *monitor, const DomainDef *live) {
        for (guint i = 0; i < live->graphics->len; i++) {
                const DomainGraphics *g = live->graphics->pdata[i];

                if (g->passwd)
                        qemu_monitor_set_password_async(monitor, domain_graphics_type_to_string(g->type),
                                                        g->passwd, on_password_set, NULL);
        }
}

/* ---- After a migration ---- */

static void on_announced(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("Failed to announce the migrated guest's NICs: %s, ignoring", error->message);
}

void domain_devices_announce(QmpClient *monitor, const DomainDef *live) {
        if (live && live->nets->len > 0)
                qemu_monitor_announce_self_async(monitor, on_announced, NULL);
}
