/* disks_uri: see migration-disks-uri.h. GUri splits it; the rules are
 * libvirt's (tcp needs a host, unix a path) plus what QEMU needs (a port
 * in range, a socket path that fits). */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "domain-schema.h"
#include "i18n.h"
#include "md-error.h"
#include "migration-disks-uri.h"
#include "migration-flags.h"

gboolean migration_host_is_valid(const char *host) {
        size_t len = strlen(host);

        if (len == 0 || len > 255)
                return FALSE;
        if (g_hostname_is_ip_address(host))
                return TRUE;
        for (const char *p = host; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("-._", *p))
                        return FALSE;
        return host[0] != '-' && host[0] != '.';
}

static gboolean path_ok(const char *path) {
        if (!path || path[0] != '/' || g_str_has_suffix(path, "/") || strlen(path) > MIGRATION_DISKS_SOCKET_MAX)
                return FALSE;
        for (const char *p = path; *p; p++)
                if (g_ascii_iscntrl(*p))
                        return FALSE;
        return TRUE;
}

/* Each refusal is one whole sentence naming the URI as given (@q, quoted). */
#define REFUSE(error, message, q) \
        (g_set_error((error), MD_ERROR, MD_ERROR_INVALID_ARGS, (message), (q)), FALSE)

static gboolean check_tcp(const char *q, const char *host, const char *path, GError **error) {
        if (!host || !migration_host_is_valid(host))
                return REFUSE(error, _("Migration parameter 'disks_uri' '%s' names no valid host: use tcp://HOST[:PORT] with a host name or an IP address (IPv6 in brackets)"), q);
        if (path && path[0] != '\0' && strcmp(path, "/") != 0)
                return REFUSE(error, _("Migration parameter 'disks_uri' '%s' has a path: a tcp URI gives only a host and a port"), q);
        return TRUE;
}

static gboolean check_unix(const char *q, const char *host, int port, const char *path, GError **error) {
        if ((host && host[0] != '\0') || port != -1)
                return REFUSE(error, _("Migration parameter 'disks_uri' '%s' has a host or a port: a unix URI gives only the socket's path, as in unix:///run/nbd.sock"), q);
        if (!path_ok(path))
                return REFUSE(error, _("Migration parameter 'disks_uri' '%s' needs an absolute socket path of at most 107 bytes, without control characters"), q);
        return TRUE;
}

gboolean migration_disks_uri_parse(const char *uri, MigrationDisksUri *ret, GError **error) {
        g_autofree char *scheme = NULL, *userinfo = NULL, *host = NULL, *path = NULL;
        g_autofree char *query = NULL, *fragment = NULL;
        g_autofree char *q = domain_schema_quote(uri);
        gboolean tcp;
        int port = -1;

        if (!g_uri_split(uri, G_URI_FLAGS_NONE, &scheme, &userinfo, &host, &port, &path, &query, &fragment, NULL) ||
            !scheme || (g_ascii_strcasecmp(scheme, "tcp") != 0 && g_ascii_strcasecmp(scheme, "unix") != 0))
                return REFUSE(error, _("Migration parameter 'disks_uri' must be tcp://HOST[:PORT] or unix:///PATH, not '%s'"), q);
        if (userinfo || query || fragment)
                return REFUSE(error, _("Migration parameter 'disks_uri' '%s' has a user, a query or a fragment, which it cannot use"), q);
        tcp = g_ascii_strcasecmp(scheme, "tcp") == 0;
        if (tcp ? !check_tcp(q, host, path, error) : !check_unix(q, host, port, path, error))
                return FALSE;
        if (!ret)
                return TRUE;
        *ret = (MigrationDisksUri) { 0 };
        if (tcp) {
                ret->host = g_steal_pointer(&host);
                ret->port = port > 0 ? (guint16) port : 0;     /* libvirt: 0 chooses one */
        } else {
                ret->socket = g_steal_pointer(&path);
        }
        return TRUE;
}

void migration_disks_uri_clear(MigrationDisksUri *uri) {
        g_clear_pointer(&uri->host, g_free);
        g_clear_pointer(&uri->socket, g_free);
}

/* libvirt's rules for the NBD server's address: a disks_port (other than
 * 0, "choose one") and disks_uri exclude each other; TLS over a UNIX
 * socket is refused as unsupported, as libvirt does. */
gboolean migration_disks_params_check(gint32 port, const char *uri, guint flags, GError **error) {
        if (port != 0 && uri) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Migration parameters 'disks_port' and 'disks_uri' exclude each other; give the port in the URI"));
                return FALSE;
        }
        if (uri && (flags & MIGRATE_TLS) && g_ascii_strncasecmp(uri, "unix:", 5) == 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("Migration parameter 'disks_uri' names a UNIX socket, which cannot be used with migration flag TLS: the disks' NBD stream is encrypted over TCP only"));
                return FALSE;
        }
        return TRUE;
}
