/* migrationctl: migrate NAME --to=migration+tls://HOST[:PORT] --check.
 *
 * Starts nothing: the source's migrationd opens (or reuses) its link to the
 * peer (Manager.ConnectPeer) and this prints the preflight. Exits non-zero
 * when the domain is unknown here, the peer cannot be reached or trusted, or
 * a migration there would be refused (usable false). The link stays open
 * for the migration that follows. */
#include <errno.h>
#include <stdio.h>

#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-variant.h"
#include "i18n.h"

#define CHECK_LABEL_WIDTH 20

static const struct {
        const char *key;
        const char *label;
} check_fields[] = {
        { "hostname",          N_("Peer") },
        { "host_uuid",         N_("Peer host UUID") },
        { "peer_dn",           N_("Certificate") },
        { "peer_address",      N_("Address") },
        { "version",           N_("Peer version") },
        { "protocol",          N_("Protocol") },
        { "protocol_versions", N_("Peer protocols") },
        { "features",          N_("Peer features") },
        { "same_host",         N_("Same host") },
        { "free_ports",        N_("Free ports") },
        { "link_reused",       N_("Link reused") },
        { "usable",            N_("Usable") },
};

static void print_preflight(const char *name, const char *uuid, GVariant *preflight) {
        g_autoptr(GVariant) problems = g_variant_lookup_value(preflight, "problems", G_VARIANT_TYPE_STRING_ARRAY);
        g_autofree const char **list = problems ? g_variant_get_strv(problems, NULL) : NULL;

        ctl_print_field(CHECK_LABEL_WIDTH, _("Domain"), "%s (%s)", name, uuid);
        for (size_t i = 0; i < G_N_ELEMENTS(check_fields); i++) {
                g_autoptr(GVariant) present = g_variant_lookup_value(preflight, check_fields[i].key, NULL);
                g_autofree char *value = NULL;

                if (!present)
                        continue;
                value = ctl_dict_format_value(preflight, check_fields[i].key);
                ctl_print_field(CHECK_LABEL_WIDTH, _(check_fields[i].label), "%s", value);
        }
        for (size_t i = 0; list && list[i]; i++)
                ctl_print_field(CHECK_LABEL_WIDTH, _("Problem"), "%s", list[i]);
}

/* The domain's name and UUID as this host knows them. */
static int lookup(CtlContext *ctx, const char *name_or_uuid, GVariant **ret_properties) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autofree char *path = NULL;
        int r;

        r = ctl_lookup_domain(ctx->bus, name_or_uuid, &error, &path);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to find domain '%s'"), name_or_uuid);
        r = ctl_get_all_properties(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, &error, ret_properties);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to get the properties of '%s'"), name_or_uuid);
        return 0;
}

int verb_migrate_check(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GVariant) domain = NULL, preflight = NULL;
        int r;

        if (!ctx->peer_uri) {
                g_printerr(_("--check needs --to=migration+tls://HOST[:PORT], the peer to check.\n"));
                return -EINVAL;
        }
        r = lookup(ctx, argv[1], &domain);
        if (r < 0)
                return r;
        r = ctl_call(ctx->bus, MIGRATION1_MANAGER_PATH, MIGRATION1_MANAGER_INTERFACE, "ConnectPeer", &error, &reply,
                     "s", ctx->peer_uri);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to connect to the peer %s"), ctx->peer_uri);
        r = ctl_message_read_variant(reply, &preflight);
        if (r < 0)
                return ctl_log_error(r, NULL, _("Failed to read the preflight of %s"), ctx->peer_uri);
        if (ctx->json)
                ctl_json_print_variant(preflight);
        else
                print_preflight(ctl_dict_get_string(domain, "Name", argv[1]), ctl_dict_get_string(domain, "UUID", ""),
                                preflight);
        if (!ctl_dict_get_boolean(preflight, "usable", FALSE)) {
                g_printerr(_("'%s' cannot be migrated to %s now; see the problems above.\n"), argv[1],
                           ctx->peer_uri);
                return -EHOSTUNREACH;
        }
        return 0;
}
