#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "md-config.h"
#include "i18n.h"
#include "md-error.h"

/* Each message is one whole translatable sentence naming the group and key. */
static G_GNUC_PRINTF(2, 3) gboolean fail(GError **error, const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error_literal(error, MD_ERROR, MD_ERROR_INVALID_ARGS, message);
        return FALSE;
}

static gboolean get_string(GKeyFile *kf, const char *group, const char *key, char **ret,
                           GError **error) {
        g_autoptr(GError) local = NULL;
        g_autofree char *value = g_key_file_get_string(kf, group, key, &local);

        if (!value) {
                if (g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND) ||
                    g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND))
                        return TRUE;
                return fail(error, _("Invalid configuration: [%s] %s %s"), group, key, local->message);
        }
        g_strstrip(value);
        if (*value == '\0')
                return TRUE;
        g_free(*ret);
        *ret = g_steal_pointer(&value);
        return TRUE;
}

static gboolean get_uint(GKeyFile *kf, const char *group, const char *key, guint64 min,
                         guint64 max, guint64 *ret, GError **error) {
        g_autofree char *text = NULL;
        guint64 value;

        if (!get_string(kf, group, key, &text, error))
                return FALSE;
        if (!text)
                return TRUE;
        if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL))
                return fail(error, _("Invalid configuration: [%s] %s must be a number from %llu to %llu, "
                                     "not '%s'"), group, key, (unsigned long long) min,
                            (unsigned long long) max, text);
        *ret = value;
        return TRUE;
}

static gboolean parse_protocols(const char *text, ProtocolMask *ret, GError **error) {
        g_auto(GStrv) items = g_strsplit(text, ",", -1);
        ProtocolMask mask = 0;

        for (char **i = items; *i; i++) {
                const char *item = g_strstrip(*i);
                if (g_str_equal(item, "3-params"))
                        mask |= PROTOCOL_V3_PARAMS;
                else if (g_str_equal(item, "3"))
                        mask |= PROTOCOL_V3;
                else if (g_str_equal(item, "2"))
                        mask |= PROTOCOL_V2;
                else
                        return fail(error, _("Invalid configuration: [migration] protocol_versions has "
                                             "unknown protocol '%s' (known: 3-params, 3, 2)"), item);
        }
        if (mask == 0)
                return fail(error, "%s", _("Invalid configuration: [migration] protocol_versions must name at "
                                           "least one protocol"));
        *ret = mask;
        return TRUE;
}

/* The host identity defaults to a UUID derived from /etc/machine-id, so it is
 * stable across restarts without configuration. */
/* The peer identity is three files or none: one alone names no identity. */
static gboolean check_tls_complete(const MdConfig *c, GError **error) {
        const char *keys[] = { "ca", "cert", "key" };
        const char *values[] = { c->tls_ca, c->tls_cert, c->tls_key };

        if (!c->tls_ca && !c->tls_cert && !c->tls_key)
                return TRUE;
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
                if (!values[i])
                        return fail(error, _("Invalid configuration: [tls] %s is missing: ca, cert and key "
                                             "are set together or not at all"), keys[i]);
        return TRUE;
}

static char *default_host_uuid(void) {
        g_autofree char *machine_id = NULL;

        if (g_file_get_contents("/etc/machine-id", &machine_id, NULL, NULL)) {
                g_strstrip(machine_id);
                if (strlen(machine_id) == 32)
                        return g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", machine_id,
                                               machine_id + 8, machine_id + 12,
                                               machine_id + 16, machine_id + 20);
        }
        return g_uuid_string_random();
}

/* A directory systemd can take in ReadWritePaths= as it is: absolute, in
 * canonical form, no whitespace, quotes, '\\' or '%' (unit file syntax),
 * and not / itself (that would undo ProtectSystem=). */
static gboolean storage_directory_is_valid(const char *dir) {
        g_autofree char *canonical = NULL;

        if (!g_path_is_absolute(dir) || strcmp(dir, "/") == 0 || !g_utf8_validate(dir, -1, NULL))
                return FALSE;
        canonical = g_canonicalize_filename(dir, "/");
        if (strcmp(canonical, dir) != 0)
                return FALSE;
        for (const char *p = dir; *p; p++)
                if (g_ascii_isspace(*p) || g_ascii_iscntrl(*p) || strchr("\"'\\%", *p))
                        return FALSE;
        return TRUE;
}

/* A ';'-separated list of directories (like [bridge] allowed_peers), blanks
 * around each and empty entries dropped, into *@ret_dirs (NULL-terminated).
 * FALSE with the first entry that is not storage_directory_is_valid() in
 * *@ret_bad. */
static gboolean parse_directories(const char *text, char ***ret_dirs, char **ret_bad) {
        g_auto(GStrv) dirs = g_strsplit(text ? text : "", ";", -1);
        g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);

        for (char **d = dirs; *d; d++) {
                g_strstrip(*d);
                if (!**d)
                        continue;
                if (!storage_directory_is_valid(*d)) {
                        *ret_bad = g_strdup(*d);
                        return FALSE;
                }
                g_ptr_array_add(kept, g_strdup(*d));
        }
        g_ptr_array_add(kept, NULL);
        *ret_dirs = (char **) g_ptr_array_free(g_steal_pointer(&kept), FALSE);
        return TRUE;
}

/* [storage] directories and [qemu] hugetlbfs_mount. */
static gboolean parse_directory_keys(GKeyFile *kf, MdConfig *c, GError **error) {
        g_autofree char *storage = NULL, *hugetlbfs = NULL, *bad = NULL;

        if (!get_string(kf, "storage", "directories", &storage, error) ||
            !get_string(kf, "qemu", "hugetlbfs_mount", &hugetlbfs, error))
                return FALSE;
        if (!parse_directories(storage, &c->storage_directories, &bad))
                return fail(error, _("Invalid configuration: [storage] directories: '%s' is not an "
                                     "absolute directory other than / in canonical form (no '.' or "
                                     "'..', no trailing '/', no whitespace, quotes, '\\' or '%%')"),
                            bad);
        if (!parse_directories(hugetlbfs, &c->hugetlbfs_mounts, &bad))
                return fail(error, _("Invalid configuration: [qemu] hugetlbfs_mount: '%s' is not an "
                                     "absolute directory other than / in canonical form (no '.' or "
                                     "'..', no trailing '/', no whitespace, quotes, '\\' or '%%')"),
                            bad);
        return TRUE;
}

/* [graphics]: the ports autoport displays take, libvirt's range by default. */
static gboolean graphics_from_keyfile(GKeyFile *kf, MdConfig *c, GError **error) {
        guint64 port_min = 5900, port_max = 65535;

        if (!get_uint(kf, "graphics", "port_min", 5900, 65535, &port_min, error) ||
            !get_uint(kf, "graphics", "port_max", 5900, 65535, &port_max, error))
                return FALSE;
        if (port_min > port_max)
                return fail(error, "%s", _("Invalid configuration: [graphics] port_min must not exceed port_max"));
        c->graphics_port_min = port_min;
        c->graphics_port_max = port_max;
        return TRUE;
}

static MdConfig *config_from_keyfile(GKeyFile *kf, GError **error) {
        g_autoptr(MdConfig) c = g_new0(MdConfig, 1);
        g_autofree char *protocols = NULL, *peers = NULL;
        guint64 port_min = 49152, port_max = 49215, max_jobs = 8, phase_timeout = 120, idle_timeout = 120;
        guint64 keepalive_interval = 5, keepalive_timeout = 15, peer_idle_timeout = 60, peer_call_timeout = 120;

        c->qemu_binary = g_strdup(DEFAULT_QEMU_BINARY);
        c->bridge_listen = g_strdup("127.0.0.1:16519");
        c->protocols = PROTOCOL_V3_PARAMS | PROTOCOL_V3 | PROTOCOL_V2;

        if (!get_uint(kf, "daemon", "idle_timeout", 0, 86400, &idle_timeout, error) ||
            !get_string(kf, "host", "uuid", &c->host_uuid, error) ||
            !get_string(kf, "host", "hostname", &c->hostname, error) ||
            !get_string(kf, "qemu", "binary", &c->qemu_binary, error) ||
            !get_uint(kf, "migration", "port_min", 1, 65535, &port_min, error) ||
            !get_uint(kf, "migration", "port_max", 1, 65535, &port_max, error) ||
            !get_string(kf, "migration", "address", &c->migration_address, error) ||
            !get_string(kf, "migration", "protocol_versions", &protocols, error) ||
            !get_uint(kf, "migration", "max_jobs", 1, 1024, &max_jobs, error) ||
            !get_uint(kf, "migration", "phase_timeout", 1, 86400, &phase_timeout, error) ||
            !get_string(kf, "tls", "ca", &c->tls_ca, error) ||
            !get_string(kf, "tls", "cert", &c->tls_cert, error) ||
            !get_string(kf, "tls", "key", &c->tls_key, error) ||
            !get_string(kf, "bridge", "listen", &c->bridge_listen, error) ||
            !get_string(kf, "bridge", "allowed_peers", &peers, error) ||
            !get_uint(kf, "bridge", "keepalive_interval", 1, 3600, &keepalive_interval, error) ||
            !get_uint(kf, "bridge", "keepalive_timeout", 1, 86400, &keepalive_timeout, error) ||
            !get_uint(kf, "peer", "idle_timeout", 0, 86400, &peer_idle_timeout, error) ||
            !get_uint(kf, "peer", "call_timeout", 1, 86400, &peer_call_timeout, error) ||
            !graphics_from_keyfile(kf, c, error))
                return NULL;

        if (c->host_uuid) {
                if (!g_uuid_string_is_valid(c->host_uuid))
                        return fail(error, "%s", _("Invalid configuration: [host] uuid is not a UUID")), NULL;
                g_autofree char *lower = g_ascii_strdown(c->host_uuid, -1);
                g_free(c->host_uuid);
                c->host_uuid = g_steal_pointer(&lower);
        } else
                c->host_uuid = default_host_uuid();

        if (!c->hostname)
                c->hostname = g_strdup(g_get_host_name());
        if (!g_path_is_absolute(c->qemu_binary))
                return fail(error, "%s", _("Invalid configuration: [qemu] binary must be an absolute path")), NULL;
        if (port_min > port_max)
                return fail(error, "%s", _("Invalid configuration: [migration] port_min must not exceed port_max")),
                       NULL;
        c->port_min = port_min;
        c->port_max = port_max;
        c->max_jobs = max_jobs;
        c->phase_timeout_s = phase_timeout;
        c->idle_timeout_s = idle_timeout;
        /* A ping must have a chance to come back before the peer counts as gone. */
        if (keepalive_interval >= keepalive_timeout)
                return fail(error, "%s", _("Invalid configuration: [bridge] keepalive_interval must be less "
                                           "than keepalive_timeout")), NULL;
        c->keepalive_interval_s = keepalive_interval;
        if (!check_tls_complete(c, error))
                return NULL;
        c->keepalive_timeout_s = keepalive_timeout;
        c->peer_idle_timeout_s = peer_idle_timeout;
        c->peer_call_timeout_s = peer_call_timeout;
        if (protocols && !parse_protocols(protocols, &c->protocols, error))
                return NULL;
        c->allowed_peers = peers ? g_strsplit(peers, ";", -1) : g_new0(char *, 1);
        if (!parse_directory_keys(kf, c, error))
                return NULL;
        return g_steal_pointer(&c);
}

MdConfig *md_config_load_from_data(const char *data, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) local = NULL;

        if (!g_key_file_load_from_data(kf, data, -1, G_KEY_FILE_NONE, &local)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Invalid configuration: %s"), local->message);
                return NULL;
        }
        return config_from_keyfile(kf, error);
}

MdConfig *md_config_load(const char *path, gboolean must_exist, GError **error) {
        g_autofree char *data = NULL;
        g_autoptr(GError) local = NULL;

        if (path && !g_file_get_contents(path, &data, NULL, &local)) {
                if (must_exist || !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        /* A disk failure, not a bad argument; GLib's message names the
                         * path and the errno text. */
                        g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL,
                                    _("Failed to read configuration: %s"), local->message);
                        return NULL;
                }
        }
        return md_config_load_from_data(data ? data : "", error);
}

void md_config_free(MdConfig *c) {
        if (!c)
                return;
        g_free(c->host_uuid);
        g_free(c->hostname);
        g_free(c->qemu_binary);
        g_free(c->migration_address);
        g_free(c->tls_ca);
        g_free(c->tls_cert);
        g_free(c->tls_key);
        g_free(c->bridge_listen);
        g_strfreev(c->allowed_peers);
        g_strfreev(c->storage_directories);
        g_strfreev(c->hugetlbfs_mounts);
        g_free(c);
}
