/* The cookie as one host sends and receives it: this host's identity in
 * what it sends, and the checks on what a peer sent that need to know who
 * we are. The host identity (hostname, host UUID) is read from the
 * configuration the caller passes, not from the daemon's state. */
#define G_LOG_DOMAIN "migrationd"

#include "domain-def.h"
#include "md-config.h"
#include "i18n.h"
#include "md-error.h"
#include "migration-cookie.h"

/* Optional features this side understands; a peer's mandatory feature
 * outside the list makes its cookie unusable. */
static const char *const known_features[] = { "stats", "persistent-xml", NULL };

MigrationCookie *migration_cookie_for_host(const MdConfig *host, const char *phase, const char *name,
                                           const char *uuid) {
        MigrationCookie *cookie = migration_cookie_new();

        cookie->phase = g_strdup(phase);
        cookie->name = g_strdup(name);
        cookie->uuid = g_strdup(uuid);
        cookie->hostname = g_strdup(host->hostname);
        cookie->host_uuid = g_strdup(host->host_uuid);
        cookie->protocol = 3;
        return cookie;
}

MigrationCookie *migration_cookie_from_peer(const MdConfig *host, GBytes *bytes, const char *uuid,
                                            GError **error) {
        gsize len = 0;
        const guint8 *data = bytes ? g_bytes_get_data(bytes, &len) : NULL;
        g_autoptr(MigrationCookie) cookie = NULL;

        if (len == 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                            _("The migration cookie is empty; pass the cookie the previous phase returned"));
                return NULL;
        }
        cookie = migration_cookie_decode(data, len, known_features, error);
        if (!cookie)
                return NULL;
        if (g_str_equal(cookie->host_uuid, host->host_uuid)) {
                g_set_error(error, MD_ERROR, MD_ERROR_SAME_HOST,
                            _("Source and destination are the same host (host UUID %s); migration "
                              "needs two hosts"), cookie->host_uuid);
                return NULL;
        }
        if (uuid && !g_str_equal(cookie->uuid, uuid)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                            _("The migration cookie is for domain %s, not %s"), cookie->uuid, uuid);
                return NULL;
        }
        return g_steal_pointer(&cookie);
}

gboolean migration_persistent_xml_check(const char *xml, const char *name, const char *uuid, GError **error) {
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, error);

        if (!def) {
                g_prefix_error(error, "persistent_xml: ");
                return FALSE;
        }
        if (!g_str_equal(def->uuid, uuid) || !g_str_equal(def->name, name)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("persistent_xml describes domain '%s' (UUID %s), but the migrated domain is "
                              "'%s' (UUID %s) on the destination; pass that domain's definition"), def->name,
                            def->uuid, name, uuid);
                return FALSE;
        }
        return TRUE;
}
