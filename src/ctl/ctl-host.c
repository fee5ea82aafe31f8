/* migrationctl: the host verbs (version, capabilities). */
#include <stdio.h>

#include "config.h"
#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-variant.h"
#include "i18n.h"

static int get_manager_properties(CtlContext *ctx, GVariant **ret_properties) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_get_all_properties(ctx->bus, MIGRATION1_MANAGER_PATH, MIGRATION1_MANAGER_INTERFACE,
                                   &error, ret_properties);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to get the properties of migrationd"));
        return 0;
}

int verb_version(CtlContext *ctx, int argc, char **argv) {
        g_autoptr(GVariant) properties = NULL;
        const char *daemon_version;
        int r;

        r = get_manager_properties(ctx, &properties);
        if (r < 0)
                return r;
        daemon_version = ctl_dict_get_string(properties, "Version", "-");

        if (ctx->json) {
                g_autoptr(JsonBuilder) builder = json_builder_new();
                g_autoptr(JsonNode) root = NULL;

                json_builder_begin_object(builder);
                json_builder_set_member_name(builder, "ClientVersion");
                json_builder_add_string_value(builder, PACKAGE_VERSION);
                json_builder_set_member_name(builder, "Version");
                json_builder_add_string_value(builder, daemon_version);
                json_builder_end_object(builder);

                root = json_builder_get_root(builder);
                ctl_json_print(root);
        } else {
                ctl_print_field(14, _("Client version"), "%s", PACKAGE_VERSION);
                ctl_print_field(14, _("Daemon version"), "%s", daemon_version);
        }
        return 0;
}

int verb_capabilities(CtlContext *ctx, int argc, char **argv) {
        static const struct {
                const char *property;
                const char *label;
        } fields[] = {
                { "Hostname",         N_("Hostname") },
                { "HostUUID",         N_("Host UUID") },
                { "Version",          N_("Version") },
                { "ProtocolVersions", N_("Protocol versions") },
                { "Features",         N_("Features") },
        };
        g_autoptr(GVariant) properties = NULL;
        int r;

        r = get_manager_properties(ctx, &properties);
        if (r < 0)
                return r;

        if (ctx->json) {
                ctl_json_print_variant(properties);
                return 0;
        }

        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
                g_autofree char *value = ctl_dict_format_value(properties, fields[i].property);

                ctl_print_field(17, _(fields[i].label), "%s", value);
        }
        return 0;
}
