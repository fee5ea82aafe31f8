/* The two addresses of the peer link: where a source daemon connects
 * (migration+tls://HOST[:PORT]) and where the bridge listens
 * ([bridge] listen = IP[:PORT]). */
#define G_LOG_DOMAIN "migrationd-peer"

#include <string.h>

#include "md-error.h"
#include "peer-link.h"

/* For error messages: valid UTF-8, bounded. */
static char *quote(const char *text) {
        g_autofree char *valid = g_utf8_make_valid(text, -1), *head = NULL;

        if (g_utf8_strlen(valid, -1) <= 200)
                return g_steal_pointer(&valid);
        head = g_utf8_substring(valid, 0, 200);
        return g_strconcat(head, "…", NULL);
}

/* A DNS name (letters, digits, '-', '_', dots; labels of 1-63) or an IP
 * address literal. */
static gboolean host_is_valid(const char *host) {
        size_t len = strlen(host), label = 0;

        /* No IPv6 zone: the name must mean the same on every host. */
        if (strchr(host, '%'))
                return FALSE;
        if (g_hostname_is_ip_address(host))
                return TRUE;
        if (len == 0 || len > 253 || host[0] == '.' || host[0] == '-')
                return FALSE;
        for (const char *c = host; *c; c++) {
                if (*c == '.') {
                        if (label == 0)
                                return FALSE;
                        label = 0;
                        continue;
                }
                if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_')
                        return FALSE;
                if (++label > 63)
                        return FALSE;
        }
        return TRUE;
}

gboolean peer_uri_parse(const char *uri, char **ret_host, guint16 *ret_port, GError **error) {
        g_autofree char *scheme = NULL, *userinfo = NULL, *host = NULL, *path = NULL;
        g_autofree char *query = NULL, *fragment = NULL;
        int port = -1;

        if (!uri || !g_uri_split(uri, G_URI_FLAGS_NONE, &scheme, &userinfo, &host, &port, &path, &query,
                                 &fragment, NULL) ||
            !scheme || g_ascii_strcasecmp(scheme, PEER_URI_SCHEME) != 0 ||
            userinfo || query || fragment || (path && path[0] != '\0' && strcmp(path, "/") != 0) ||
            !host || !host_is_valid(host) || port == 0 || port > 65535) {
                g_autofree char *q = quote(uri ? uri : "");
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            "A peer URI must look like " PEER_URI_SCHEME "://HOST or " PEER_URI_SCHEME
                            "://HOST:PORT (IPv6 in brackets, port 1-65535, nothing after it), not '%s'", q);
                return FALSE;
        }
        if (ret_host)
                *ret_host = g_steal_pointer(&host);
        if (ret_port)
                *ret_port = port < 0 ? PEER_DEFAULT_PORT : (guint16) port;
        return TRUE;
}

gboolean peer_listen_parse(const char *listen, GSocketAddress **ret_address, GError **error) {
        g_autoptr(GSocketConnectable) parsed = NULL;
        g_autoptr(GInetAddress) ip = NULL;
        guint16 port = 0;

        /* g_network_address_parse() takes "HOST:PORT", "[V6]:PORT", "V6"
         * and "HOST" (default port); only IP literals make sense here. */
        if (listen && g_utf8_validate(listen, -1, NULL) && !strchr(listen, '/'))
                parsed = g_network_address_parse(listen, PEER_DEFAULT_PORT, NULL);
        if (parsed) {
                ip = g_inet_address_new_from_string(g_network_address_get_hostname(G_NETWORK_ADDRESS(parsed)));
                port = g_network_address_get_port(G_NETWORK_ADDRESS(parsed));
        }
        if (!ip || port == 0) {
                g_autofree char *q = quote(listen ? listen : "");
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            "Invalid configuration: [bridge] listen must be an IP address with an optional "
                            "port (IPv6 in brackets: [::1]:16519), not '%s'", q);
                return FALSE;
        }
        if (ret_address)
                *ret_address = g_inet_socket_address_new(ip, port);
        return TRUE;
}
