/* The cookie's "graphics" member, libvirt's graphics cookie: the display of
 * the destination's QEMU, which Prepare3 answers with and the source hands
 * to its QEMU (client_migrate_info) before the stream starts, so that a
 * connected SPICE client follows the guest. Format (see migration-cookie.c):
 *
 *   "graphics": {"type": "spice", "listen": "192.0.2.7", "port": 5901, "tls_port": 5902}
 *
 * type 1 to 64 of A-Z a-z 0-9 . _ - (a receiver acts only on a type it
 * knows); listen optional, an IP address or a host name of at most 255
 * bytes, never a wildcard (this daemon always sends it; absent, the source
 * uses the cookie's "hostname", as libvirt does); port 1 to 65535; tls_port
 * optional, 1 to 65535. Unknown members inside are ignored, as at the top
 * level. */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "i18n.h"
#include "md-error.h"
#include "migration-cookie.h"
#include "migration-cookie-private.h"

#define HOST_MAX_BYTES 255
#define HOST_CHARS G_CSET_A_2_Z G_CSET_a_2_z G_CSET_DIGITS "._-"

void migration_cookie_graphics_free(MigrationCookieGraphics *graphics) {
        if (!graphics)
                return;
        g_free(graphics->type);
        g_free(graphics->listen);
        g_free(graphics);
}

static gboolean is_wildcard(const char *address) {
        return g_str_equal(address, "0.0.0.0") || g_str_equal(address, "::");
}

/* An IP address other than a wildcard, or a DNS-style host name. */
static gboolean is_host(const char *s) {
        size_t n = strspn(s, HOST_CHARS);

        if (g_hostname_is_ip_address(s))
                return !is_wildcard(s);
        return n > 0 && n <= HOST_MAX_BYTES && s[n] == '\0' && s[0] != '-' && s[0] != '.';
}

gboolean migration_cookie_check_graphics(const MigrationCookieGraphics *g, GError **error) {
        if (!g->type || !migration_cookie_is_identifier(g->type))
                return invalid(error, _("Migration cookie member 'graphics' has an invalid 'type'; a display type "
                                        "is 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'"),
                               IDENTIFIER_MAX_BYTES);
        if (g->listen && (!g_utf8_validate(g->listen, -1, NULL) || !is_host(g->listen)))
                return invalid(error, _("Migration cookie member 'graphics' has an invalid 'listen'; it must be an "
                                        "IP address other than a wildcard, or a host name of at most %d bytes"),
                               HOST_MAX_BYTES);
        if (g->port < 1 || g->port > 65535)
                return invalid(error, _("Migration cookie member 'graphics' has an invalid 'port'; it must be "
                                        "an integer from 1 to 65535"));
        if (g->tls_port < 0 || g->tls_port > 65535)
                return invalid(error, _("Migration cookie member 'graphics' has an invalid 'tls_port'; it must be "
                                        "an integer from 1 to 65535"));
        return TRUE;
}

static const char *member_string(JsonObject *object, const char *name) {
        JsonNode *node = json_object_get_member(object, name);

        return node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING
                ? json_node_get_string(node) : NULL;
}

/* An integer member, 0 when absent; FALSE when present but no integer. */
static gboolean member_integer(JsonObject *object, const char *name, gint64 *ret) {
        JsonNode *node = json_object_get_member(object, name);

        *ret = 0;
        if (!node)
                return TRUE;
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
                return FALSE;
        *ret = json_node_get_int(node);
        return TRUE;
}

gboolean migration_cookie_parse_graphics(JsonNode *node, MigrationCookieGraphics **ret, GError **error) {
        g_autoptr(MigrationCookieGraphics) g = g_new0(MigrationCookieGraphics, 1);
        JsonObject *object;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return invalid(error, _("Migration cookie member 'graphics' must be an object"));
        object = json_node_get_object(node);
        g->type = g_strdup(member_string(object, "type"));
        g->listen = g_strdup(member_string(object, "listen"));
        /* Present but not a string: "", which the check refuses. */
        if (!g->listen && json_object_has_member(object, "listen"))
                g->listen = g_strdup("");
        /* Absent port: 0, which the check refuses. */
        if (!member_integer(object, "port", &g->port))
                g->port = -1;
        if (!member_integer(object, "tls_port", &g->tls_port))
                g->tls_port = -1;
        if (json_object_has_member(object, "tls_port") && g->tls_port == 0)
                g->tls_port = -1;
        if (!migration_cookie_check_graphics(g, error))
                return FALSE;
        *ret = g_steal_pointer(&g);
        return TRUE;
}

void migration_cookie_add_graphics(JsonBuilder *builder, const MigrationCookieGraphics *g) {
        json_builder_set_member_name(builder, "graphics");
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "type");
        json_builder_add_string_value(builder, g->type);
        if (g->listen) {
                json_builder_set_member_name(builder, "listen");
                json_builder_add_string_value(builder, g->listen);
        }
        json_builder_set_member_name(builder, "port");
        json_builder_add_int_value(builder, g->port);
        if (g->tls_port > 0) {
                json_builder_set_member_name(builder, "tls_port");
                json_builder_add_int_value(builder, g->tls_port);
        }
        json_builder_end_object(builder);
}

/* ---- What the destination sends ---- */

MigrationCookieGraphics *migration_cookie_graphics_from_def(const DomainDef *live, const char *host) {
        const DomainGraphics *chosen = NULL;
        MigrationCookieGraphics *g;

        /* At most one of each type; SPICE is the one a client can follow. */
        for (guint i = 0; live && i < live->graphics->len; i++) {
                const DomainGraphics *candidate = live->graphics->pdata[i];

                if (candidate->port > 0 && (!chosen || candidate->type == DOMAIN_GRAPHICS_SPICE))
                        chosen = candidate;
        }
        if (!chosen)
                return NULL;
        g = g_new0(MigrationCookieGraphics, 1);
        g->type = g_strdup(domain_graphics_type_to_string(chosen->type));
        /* QEMU's default is libvirt's: 127.0.0.1. */
        g->listen = g_strdup(!chosen->listen ? "127.0.0.1" : is_wildcard(chosen->listen) ? host : chosen->listen);
        g->port = chosen->port;
        return g;
}
